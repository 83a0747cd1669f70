/**
 * `mcp-mtls serve --workers N` from the command line: the URL announced once,
 * a session served (the gateway's too), SIGTERM drains and exits 0; bad
 * values refused with one line.
 */
import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { startUpstream } from "../gateway/_upstream.ts";
import { agentFor, callTool, certsDir, initialize } from "./_pool.ts";

const fx: Fixtures = await makeFixtures();
const dir = await certsDir(fx);
const main = new URL("../../src/cli/main.ts", import.meta.url).pathname;

function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: () => undefined,
  };
  return io;
}

Deno.test("serve --workers 2 (MCP_MTLS_WORKERS too) serves sessions and drains on SIGTERM, exit 0", async () => {
  for (const how of ["flag", "env"] as const) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        main,
        "serve",
        "--certs",
        dir,
        "--port",
        "0",
        "--log-level",
        "warn",
        ...(how === "flag" ? ["--workers", "2"] : []),
      ],
      env: how === "env" ? { MCP_MTLS_WORKERS: "2" } : {},
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const agent = agentFor(fx, fx.alice);
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
      const sid = await initialize(url, agent);
      assert.equal((await callTool(url, agent, sid, "whoami")).status, 200);
      agent.destroy();
      child.kill("SIGTERM");
      const { code } = await child.status;
      assert.equal(code, 0);
      const err = new TextDecoder().decode(
        (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
      );
      assert.match(err, /Stopping\.\.\./);
      await child.stdout.cancel().catch(() => {});
    } finally {
      agent.destroy();
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
  }
});

Deno.test("serve --workers refuses 0 and a word with one usage line (exit 2)", async () => {
  for (const bad of ["0", "two", "65"]) {
    const io = captureIo();
    assert.equal(await serve(["--certs", dir, "--workers", bad], io), 2);
    assert.equal(io.err, `mcp-mtls: Invalid --workers "${bad}": expected 1 to 64\n`);
  }
});

Deno.test("serve --workers 2 --upstream URL serves the gateway: a session opened through the CLI's workers reaches the upstream", async () => {
  const upstream = await startUpstream();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      main,
      "serve",
      "--certs",
      dir,
      "--port",
      "0",
      "--log-level",
      "warn",
      "--workers",
      "2",
      "--upstream",
      upstream.url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const agent = agentFor(fx, fx.alice);
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
    const sid = await initialize(url, agent);
    assert.ok(upstream.sessions.has(sid), "the upstream holds the session");
    const r = await callTool(url, agent, sid, "echo", { text: "hi" });
    assert.equal(r.status, 200, r.text);
    agent.destroy();
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await child.stderr.cancel().catch(() => {});
    await child.stdout.cancel().catch(() => {});
  } finally {
    agent.destroy();
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await upstream.close();
  }
});
