/**
 * `mcp-mtls connect` on bad input and refused handshakes: one line on
 * standard error naming the reason, a non-zero exit, nothing on stdout.
 */
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { makeFixtures, run } from "../server/_fixtures.ts";
import { connectArgs, startBridge } from "./_helpers.ts";

const fx = await makeFixtures();

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

function oneLine(text: string): string {
  const lines = text.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got ${JSON.stringify(text)}`);
  return lines[0];
}

Deno.test("connect refuses to start with a certificate from another CA: one line with the reason, exit 1", async () => {
  const { server } = await startBridge(fx);
  try {
    const r = await run(Deno.execPath(), connectArgs(fx, server.url, fx.otherCaClient), {
      stdin: "",
    });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(oneLine(r.stderr), /^mcp-mtls: refused \(unknown_ca\): /);
  } finally {
    await server.close();
  }
});

Deno.test("connect without a client certificate: one line with no_client_cert, exit 1", async () => {
  const { server } = await startBridge(fx);
  try {
    const r = await run(Deno.execPath(), connectArgs(fx, server.url), { stdin: "" });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(oneLine(r.stderr), /^mcp-mtls: refused \(no_client_cert\): /);
  } finally {
    await server.close();
  }
});

Deno.test("connect to a server that does not chain to --ca: refused (unknown_ca) before sending anything", async () => {
  const { server, log } = await startBridge(fx);
  const otherCaFile = `${fx.dir}/other-ca.crt`;
  await Deno.writeTextFile(otherCaFile, fx.otherCa);
  try {
    const args = connectArgs(fx, server.url, fx.alice);
    args[args.indexOf("--ca") + 1] = otherCaFile;
    const r = await run(Deno.execPath(), args, { stdin: "" });
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^mcp-mtls: refused \(unknown_ca\): /);
    assert.equal(server.sessionCount, 0);
    assert.ok(!log.records.some((r) => r.msg === "session opened"));
  } finally {
    await server.close();
  }
});

Deno.test("connect with a wrong pin: refused (pin_mismatch)", async () => {
  const { server } = await startBridge(fx);
  try {
    const args = [...connectArgs(fx, server.url, fx.alice), "--pin", "A".repeat(43) + "="];
    const r = await run(Deno.execPath(), args, { stdin: "" });
    assert.equal(r.code, 1);
    assert.match(oneLine(r.stderr), /^mcp-mtls: refused \(pin_mismatch\): /);
  } finally {
    await server.close();
  }
});

Deno.test("connect to a port nobody listens on: one line, exit 1", async () => {
  // Bound and released at once, used only to expect a refusal: nothing listens on it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const r = await run(
    Deno.execPath(),
    connectArgs(fx, `https://127.0.0.1:${port}/mcp`, fx.alice),
    { stdin: "" },
  );
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /^mcp-mtls: cannot connect \(connection_failed\): /);
});

Deno.test("connect driven by a pipe answers every request on stdout, ends the session at EOF and exits 0", async () => {
  const { server } = await startBridge(fx);
  try {
    const lines = [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "pipe", version: "1.0.0" },
        },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "whoami", arguments: {} } },
    ].map((m) => JSON.stringify(m) + "\n").join("");
    const r = await run(Deno.execPath(), connectArgs(fx, server.url, fx.alice), { stdin: lines });
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    // Every stdout line is a JSON-RPC message: nothing else may be written there.
    const out = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(out.map((m) => m.id).sort(), [1, 2, 3]);
    assert.ok(out.every((m) => m.jsonrpc === "2.0" && (m.result || m.error)));
    const who = JSON.parse(out.find((m) => m.id === 3).result.content[0].text);
    assert.equal(who.fromMeta.commonName, "alice");
    assert.equal(server.sessionCount, 0, "the session was ended (DELETE) at EOF");
  } finally {
    await server.close();
  }
});

Deno.test("connect --help prints usage on stdout and exits 0", async () => {
  const io = captureIo();
  assert.equal(await main(["connect", "--help"], io), 0);
  assert.match(io.out, /^Usage: mcp-mtls connect URL/);
  assert.equal(io.err, "");
});

Deno.test("connect with bad arguments exits 2 with one line", async () => {
  const cases: [string[], RegExp][] = [
    [["connect", "https://127.0.0.1:1/mcp", "--bogus"], /Unknown option "--bogus"/],
    [["connect"], /Missing URL/],
    [["connect", "http://127.0.0.1:1/mcp"], /Invalid URL "http:/],
    [["connect", "https://127.0.0.1:1/mcp", "--cert", "x.crt"], /"--cert" and "--key"/],
    [["connect", "https://a/mcp", "https://b/mcp"], /Unexpected argument "https:\/\/b\/mcp"/],
    [["connect", "https://127.0.0.1:1/mcp", "--pin", "abc"], /pin/i],
    [["connect", "https://127.0.0.1:1/mcp", "--log-level", "loud"], /Invalid --log-level "loud"/],
  ];
  for (const [args, expected] of cases) {
    const io = captureIo();
    assert.equal(await main(args, io), 2, args.join(" "));
    assert.match(oneLine(io.err), expected);
    assert.match(io.err, /^mcp-mtls: /);
    assert.equal(io.out, "");
  }
});

Deno.test("the CLI overview lists connect", async () => {
  const io = captureIo();
  await main(["--help"], io);
  assert.match(io.out, /connect +URL/);
});
