/**
 * `serve --workers 2` in the Bun single binary, built as `deno task
 * compile:bun` builds it (the CLI and the worker's module as two entry
 * points): new connections land on both workers, and every call of a
 * session opened on one of them is answered, those forwarded from the other
 * included; SIGTERM drains both and exits 0. Needs `deno task build:npm`
 * (skipped otherwise, as tests/compile/bun_binary_test.ts is).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { agentFor, callTool, certsDir, initialize } from "./_pool.ts";

const root = new URL("../../", import.meta.url).pathname;
const bun = `${root}npm/node_modules/.bin/bun`;
const entry = `${root}npm/build/src/cli/bin.js`;
const worker = `${root}npm/build/src/workers/worker_main.js`;
const ready = existsSync(bun) && existsSync(entry) && existsSync(worker);

Deno.test({
  name:
    "the Bun single binary serves --workers 2: sessions continue across workers, SIGTERM exits 0",
  ignore: !ready,
  async fn() {
    const fx: Fixtures = await makeFixtures();
    const dir = await certsDir(fx);
    const bin = `${dir}/mcp-mtls`;
    const built = await new Deno.Command(bun, {
      args: ["build", "--compile", entry, worker, "--outfile", bin],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    const child = new Deno.Command(bin, {
      args: ["serve", "--certs", dir, "--port", "0", "--workers", "2"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const agents = [agentFor(fx, fx.alice)];
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      reader.releaseLock();
      const url = /at (https:\S+) \(2 workers\)/.exec(out)?.[1];
      assert.ok(url, `announced: ${out}`);
      const sid = await initialize(url, agents[0]);
      for (let i = 0; i < 16; i++) {
        const fresh = agentFor(fx, fx.alice); // a new connection: the kernel picks the worker
        agents.push(fresh);
        assert.equal((await callTool(url, fresh, sid, "whoami")).status, 200);
        fresh.destroy();
      }
      agents[0].destroy();
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
      const admittedBy = new Set(
        err.split("\n").filter((l) => l.includes("client admitted")).map((l) =>
          /worker=(\d)/.exec(l)?.[1]
        ),
      );
      // 17 connections all on one worker has odds of 2^-16: some calls were forwarded.
      assert.deepEqual([...admittedBy].sort(), ["0", "1"]);
      await child.stdout.cancel().catch(() => {});
    } finally {
      for (const a of agents) a.destroy();
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
  },
});
