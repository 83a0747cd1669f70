/**
 * Test peers for the connection-budget tests (tests/server and
 * tests/hostile): a real OpenSSL peer (Node.js) that opens N TLS connections
 * from one loopback source address, and an SDK client that calls `whoami`.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { McpMtlsServer } from "../../src/mcp/server.ts";
import { clientFetch, type Credential, type Fixtures, run } from "./_fixtures.ts";

// N TLS connections from one source address, one after the other, with or
// without a client certificate. Each sends one request once its handshake
// completes; prints how many got an HTTP answer.
const LOOP = `
const tls = require("node:tls");
const fs = require("node:fs");
const [port, from, n, ca, cert, key] = process.argv.slice(1);
const opts = { host: "127.0.0.1", port: +port, localAddress: from, ca: fs.readFileSync(ca),
  servername: "localhost", ...(cert ? { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } : {}) };
let answered = 0, closed = 0;
const one = () => new Promise((resolve) => {
  let got = false;
  const s = tls.connect(opts, () => {
    s.write("GET /elsewhere HTTP/1.1\\r\\nhost: localhost:" + port + "\\r\\n\\r\\n");
    s.once("data", () => { got = true; s.destroy(); });
  });
  s.on("error", () => {});
  s.on("close", () => { got ? answered++ : closed++; resolve(); });
});
(async () => {
  for (let i = 0; i < +n; i++) await one();
  console.log(JSON.stringify({ answered, closed }));
})();
`;

/** `n` sequential TLS connections from `from` (presenting `cred`, if given): how many got an answer. */
export async function loop(
  fx: Fixtures,
  port: number,
  from: string,
  n: number,
  cred?: Credential,
): Promise<{ answered: number; closed: number }> {
  const r = await run("node", [
    "-e",
    LOOP,
    String(port),
    from,
    String(n),
    fx.caFile,
    cred?.certFile ?? "",
    cred?.keyFile ?? "",
  ], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { answered: number; closed: number };
}

/** initialize + tools/call whoami with the SDK client; the common name whoami reports. */
export async function whoami(
  fx: Fixtures,
  server: McpMtlsServer,
  cred: Credential,
): Promise<string> {
  const fetch = clientFetch(fx, cred);
  const client = new Client({ name: "budget-test", version: "1.0.0" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch }));
    const r = await client.callTool({ name: "whoami", arguments: {} });
    const text = (r as { content: { text: string }[] }).content[0].text;
    return JSON.parse(text).identity.commonName;
  } finally {
    await client.close();
    await fetch.close();
  }
}
