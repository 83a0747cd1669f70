/**
 * Server process for `bench/mcp.ts`: the demo MCP server twice, in one
 * process — over mTLS with `serveMcp`, and over plain HTTP with the same SDK
 * server factory and stateful session handling on `node:http` (serveMcp has
 * no plain-HTTP mode). Prints one JSON line with both URLs, then runs until
 * stdin closes.
 *
 * Usage: deno run -A bench/_mcp_server.ts CERT_DIR
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import { Buffer } from "node:buffer";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { demoServerFactory, serveMcp } from "../src/mcp/mod.ts";
import { silentLogger } from "../src/log/mod.ts";

const dir = Deno.args[0];
const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);

const tlsServer = await serveMcp(demoServerFactory, {
  port: 0,
  tls: { cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt") },
  logger: silentLogger,
  limits: { maxConnections: 4096, maxSessions: 4096 },
});

// The same SDK server and session handling, without TLS.
const sessions = new Map<string, StreamableHTTPServerTransport>();
const plain = http.createServer(async (req, res) => {
  if ((req.url ?? "").split("?")[0] !== "/mcp") {
    res.writeHead(404).end();
    return;
  }
  // Like serveMcp: read and parse the body here, hand it to the transport parsed.
  let body: unknown;
  if (req.method === "POST") {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk as Uint8Array);
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  }
  const header = req.headers["mcp-session-id"];
  const id = Array.isArray(header) ? header[0] : header;
  let transport = id ? sessions.get(id) : undefined;
  if (!transport) {
    if (id || req.method !== "POST") {
      res.writeHead(400, { "content-type": "application/json" });
      res.end('{"jsonrpc":"2.0","error":{"code":-32000,"message":"No session"},"id":null}');
      return;
    }
    const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid: string) => void sessions.set(sid, t),
    });
    t.onclose = () => t.sessionId && sessions.delete(t.sessionId);
    await demoServerFactory().connect(t);
    transport = t;
  }
  await transport.handleRequest(req, res, body);
});
// No-delay on the plain sockets too, so the baseline is not held back by Nagle (on loopback the
// measured effect was within noise; the body handling above is what made the baselines comparable).
plain.on("connection", (socket: Socket) => socket.setNoDelay(true));
await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
const plainPort = (plain.address() as AddressInfo).port;

console.log(JSON.stringify({ tls: tlsServer.url, plain: `http://127.0.0.1:${plainPort}/mcp` }));

// Run until the parent closes our stdin.
for await (const _ of Deno.stdin.readable) { /* drain */ }
await tlsServer.close();
plain.closeAllConnections();
plain.close();
