/**
 * `serve -- COMMAND` (a stdio MCP server behind mTLS) and the child process
 * handling under it.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { splitStdioCommand } from "../../src/cli/serve_stdio.ts";
import { serve } from "../../src/cli/serve.ts";
import { spawnStdioChild } from "../../src/mcp/bridge_child.ts";
import type { BridgeMessage } from "../../src/mcp/bridge_identity.ts";
import { createStdioBridge } from "../../src/mcp/bridge_stdio_server.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { collectingLogger, makeFixtures } from "../server/_fixtures.ts";
import { STDIO_SERVER, text, waitFor } from "./_helpers.ts";

const fx = await makeFixtures();

Deno.test("serve -- COMMAND prints the URL, serves the stdio server, and stops cleanly on abort", async () => {
  let out = "";
  let err = "";
  const io: CliIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: () => undefined,
  };
  const stop = new AbortController();
  const running = serve(
    ["--certs", fx.dir, "--port", "0", "--", ...STDIO_SERVER],
    io,
    { signal: stop.signal },
  );
  try {
    await waitFor(() => out.includes("https://"), "the URL");
    const url = /(https:\/\/\S+)/.exec(out)![1];
    const client = await connectMcpClient(url, {
      cert: fx.alice.cert,
      key: fx.alice.key,
      ca: fx.ca,
    });
    try {
      const who = JSON.parse(text(await client.callTool({ name: "whoami", arguments: {} })));
      assert.equal(who.fromMeta.commonName, "alice");
    } finally {
      await client.close();
    }
  } finally {
    stop.abort();
  }
  assert.equal(await running, 0);
  assert.match(err, /bridging to a stdio MCP server/);
  assert.match(err, /Stopping/);
});

Deno.test("serve -- COMMAND with a command that does not exist exits 1 with one line", async () => {
  let err = "";
  const io: CliIo = { stdout: () => {}, stderr: (t) => void (err += t), env: () => undefined };
  const code = await serve(["--certs", fx.dir, "--port", "0", "--", "no-such-mcp-server-here"], io);
  assert.equal(code, 1);
  assert.match(err, /mcp-mtls: Cannot run stdio server "no-such-mcp-server-here": not found\n$/);
});

Deno.test("serve --child-mode needs a command after -- and only takes per-session or shared", async () => {
  let err = "";
  const io: CliIo = { stdout: () => {}, stderr: (t) => void (err += t), env: () => undefined };
  assert.equal(await serve(["--certs", fx.dir, "--child-mode", "shared"], io), 2);
  assert.equal(
    err,
    'mcp-mtls: Option "--child-mode" needs a stdio server command after "--"\n',
  );
  err = "";
  assert.equal(await serve(["--certs", fx.dir, "--child-mode", "pooled", "--", "x"], io), 2);
  assert.equal(
    err,
    'mcp-mtls: Invalid --child-mode "pooled": expected per-session or shared\n',
  );
});

Deno.test("splitStdioCommand separates serve's options from the command after --", () => {
  assert.deepEqual(splitStdioCommand(["--port", "0"]), { args: ["--port", "0"] });
  assert.deepEqual(splitStdioCommand(["--port", "0", "--", "node", "s.js", "--", "x"]), {
    args: ["--port", "0"],
    command: ["node", "s.js", "--", "x"],
  });
  assert.throws(() => splitStdioCommand(["--"]), /Missing stdio server command/);
});

Deno.test("createStdioBridge refuses an empty or missing command at construction", () => {
  assert.throws(() => createStdioBridge([]), ConfigError);
  assert.throws(() => createStdioBridge(["/no/such/file"]), /Cannot run stdio server/);
});

Deno.test("a child gets our environment without MCP_MTLS_* secrets, and its stderr goes to the debug log", async () => {
  Deno.env.set("MCP_MTLS_TEST_SECRET", "hunter2");
  const log = collectingLogger();
  try {
    const child = spawnStdioChild([
      "sh",
      "-c",
      'printf \'{"jsonrpc":"2.0","method":"env","params":{"secret":"%s","peer":"%s","path":"%s"}}\\n\' "$MCP_MTLS_TEST_SECRET" "$MCP_MTLS_PEER_CN" "$PATH"; echo oops >&2',
    ], { logger: log, env: { MCP_MTLS_PEER_CN: "alice" } });
    const messages: BridgeMessage[] = [];
    child.onmessage = (m) => messages.push(m);
    const exit = await child.exited;
    assert.deepEqual(exit, { code: 0, signal: null, stderrTail: ["oops"] });
    assert.equal(messages.length, 1);
    assert.equal(messages[0].params?.secret, "");
    assert.equal(messages[0].params?.peer, "alice");
    assert.equal(messages[0].params?.path, Deno.env.get("PATH"));
    assert.ok(log.records.some((r) => r.level === "debug" && r.fields.line === "oops"));
    await child.close();
  } finally {
    Deno.env.delete("MCP_MTLS_TEST_SECRET");
  }
});

Deno.test("closing a child that ignores end of input escalates to SIGTERM", async () => {
  const child = spawnStdioChild(["sleep", "30"], {
    logger: collectingLogger(),
    closeTimeoutMs: 100,
  });
  const exit = await child.close();
  // Killed, not waited for: `sleep 30` exiting by itself would report no signal.
  assert.deepEqual([exit.code, exit.signal], [143, "SIGTERM"]);
});

Deno.test("a line on the child's stdout that is not JSON is logged and skipped", async () => {
  const log = collectingLogger();
  const child = spawnStdioChild([
    "sh",
    "-c",
    'echo "hello"; echo \'{"jsonrpc":"2.0","id":1,"result":{}}\'',
  ], {
    logger: log,
  });
  const messages: BridgeMessage[] = [];
  child.onmessage = (m) => messages.push(m);
  await child.exited;
  assert.deepEqual(messages, [{ jsonrpc: "2.0", id: 1, result: {} }]);
  assert.ok(log.records.some((r) => r.level === "warn" && r.fields.line === "hello"));
});
