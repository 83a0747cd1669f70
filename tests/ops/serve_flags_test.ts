import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { waitFor } from "./_ops.ts";

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

Deno.test("serve --log-format json --health-port 0 writes JSON log lines and announces the health URL", async () => {
  const ac = new AbortController();
  const io = captureIo();
  const done = serve(
    ["--certs", fx.dir, "--port", "0", "--log-format", "json", "--health-port", "0"],
    io,
    { signal: ac.signal },
  );
  try {
    const health = await waitFor(() =>
      /Health checks \(plain HTTP\) at (http:\S+)/.exec(io.out)?.[1]
    );
    const res = await fetch(health);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
  const lines = io.err.trimEnd().split("\n").filter((l) => l !== "Stopping...");
  assert.ok(lines.length > 2);
  for (const l of lines) assert.equal(typeof JSON.parse(l).msg, "string", l);
  assert.ok(lines.some((l) => l.includes("health endpoint is UNAUTHENTICATED")));
});

Deno.test("serve rejects a bad --log-format or --health-port with one line", async () => {
  let io = captureIo();
  assert.equal(await serve(["--log-format", "xml"], io), 2);
  assert.equal(io.err, 'mcp-mtls: Invalid --log-format "xml": expected pretty or json\n');
  io = captureIo();
  assert.equal(await serve(["--health-port", "99999"], io), 2);
  assert.equal(io.err, 'mcp-mtls: Invalid --health-port "99999": expected 0 to 65535\n');
  io = captureIo();
  assert.equal(await serve(["--log-level", "loud"], io), 2);
  assert.equal(
    io.err,
    'mcp-mtls: Invalid --log-level "loud": expected debug, info, warn or error\n',
  );
  io = captureIo();
  assert.equal(await serve(["--help"], io), 0);
  assert.match(io.out, /--detailed-tls/);
  assert.match(io.out, /--health-port N/);
});
