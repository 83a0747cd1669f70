import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import {
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  MCP_HEADERS,
  parseMcpBody,
  rawPost,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

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

async function waitFor<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("serve --certs DIR serves the demo tools, prints the URL and stops on abort", async () => {
  const ac = new AbortController();
  const io = captureIo();
  const done = serve(["--certs", fx.dir, "--port", "0"], io, { signal: ac.signal });
  try {
    const url = await waitFor(() => /at (https:\S+)/.exec(io.out)?.[1]);
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const res = await rawPost(fx, url, fx.alice, INITIALIZE, MCP_HEADERS);
    assert.equal(res.status, 200);
    assert.equal((parseMcpBody(res.text) as { id: number }).id, 1);
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
});

Deno.test("serve exits 1 with one line when the certificate directory is missing", async () => {
  const io = captureIo();
  const code = await serve(["--certs", `${fx.dir}/nope`, "--port", "0"], io);
  assert.equal(code, 1);
  assert.equal(
    io.err,
    `mcp-mtls: Config key "certs" is "${fx.dir}/nope": cannot read "${fx.dir}/nope/server.crt" (no such file; run "mcp-mtls certs init --dir ${fx.dir}/nope" first)\n`,
  );
});

Deno.test("serve refuses a bare -- with one line", async () => {
  const io = captureIo();
  const code = await serve(["--certs", fx.dir, "--"], io);
  assert.equal(code, 2);
  assert.equal(
    io.err,
    'mcp-mtls: Missing stdio server command after "--" (e.g. "serve -- node server.js")\n',
  );
});

Deno.test("serve rejects an unknown policy", async () => {
  const io = captureIo();
  assert.equal(await serve(["--policy", "lax"], io), 2);
  assert.equal(io.err, 'mcp-mtls: Invalid --policy "lax": expected strict or demo\n');
});

Deno.test("serve stops cleanly on SIGTERM (child process)", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../src/cli/serve.ts", import.meta.url).pathname,
      "--certs",
      fx.dir,
      "--port",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/https:\S+/.test(out)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    assert.match(out, /Serving MCP over mutual TLS at https:\/\/127\.0\.0\.1:\d+\/mcp/);
    child.kill("SIGTERM");
    reader.releaseLock();
    const status = await child.status;
    assert.equal(status.code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  }
});

Deno.test("serve exits 1 with one line when the port is taken, leaving no signal listener behind", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const io = captureIo();
    const code = await serve(["--certs", fx.dir, "--port", String(blocker.addr.port)], io);
    assert.equal(code, 1);
    // Start-up info lines (the watched, still absent ca.crl) may come first; the failure is one line.
    const lines = io.err.trimEnd().split("\n");
    assert.match(lines.at(-1)!, /^mcp-mtls: .*(in use|EADDRINUSE).*$/);
    assert.deepEqual(lines.slice(0, -1).filter((l) => !/ INFO /.test(l)), []);
  } finally {
    blocker.close();
  }
});
