/**
 * Server process for `bench/mcp.ts`: the demo MCP server, one flavour per
 * process (so CPU and memory are the server's own):
 *
 * - `mtls`: `serveMcp` over mutual TLS (what users run);
 * - `plain`: the very same `serveMcp` code without TLS: `node:https`'s
 *   `createServer` is swapped for `node:http`'s in this process only, and
 *   every accepted TCP socket is handed to serveMcp's admission as if its
 *   handshake had presented the bench client certificate (so policy check,
 *   identity, idle timers, body limit, authorization and session binding all
 *   run as with TLS). The only difference left is TLS itself;
 * - `sdk`: the SDK's own Node-style transport as its examples use it
 *   (`handleRequest(req, res)` reads the body itself), stateful sessions, on
 *   `node:http`, without any of our code on the request path.
 *
 * - `json`: `mtls` with the `jsonResponse` option: a POSTed request is
 *   answered with one JSON body instead of an SSE stream.
 *
 * - `bareplain`: the same as `bare` on `node:http`, without TLS: with `bare`,
 *   what Deno's TLS alone costs per request.
 *
 * - `bare`: Deno's `node:https` alone requiring a client certificate
 *   (verified by the TLS stack), answering a small JSON body: the floor that
 *   Deno's TLS sets for any server written on it.
 *
 * Prints one JSON line `{"url": ...}`, then runs until stdin closes (a "gc"
 * line on stdin collects garbage first, for the idle-memory measurement).
 *
 * Usage: deno run -A bench/_mcp_server.ts mtls|plain|sdk|json|bare|bareplain CERT_DIR
 */
import http from "node:http";
import https from "node:https";
import { randomUUID, X509Certificate } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { demoServerFactory, serveMcp } from "../src/mcp/mod.ts";
import { silentLogger } from "../src/log/mod.ts";

const [mode, dir] = Deno.args;
const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
/**
 * Runs until the parent closes our stdin. A "gc" line (with `--v8-flags=--expose-gc`) collects
 * garbage twice and answers "gc HEAP_USED_BYTES", so RSS read next counts what is kept, not
 * garbage yet to go, and the JS heap's share can be told apart from native memory.
 */
const untilStdinCloses = async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    if (line.includes("gc")) {
      gc?.();
      gc?.();
      console.log(`gc ${Deno.memoryUsage().heapUsed}`);
    }
  }
};

/** Makes `https.createServer` return a plain HTTP server whose sockets "present" `clientPem`. */
function withoutTls(clientPem: string) {
  const leaf = new X509Certificate(clientPem);
  const presented = { raw: leaf.raw, issuerCertificate: undefined };
  (https as unknown as { createServer: unknown }).createServer = () => {
    const server = http.createServer();
    server.on("connection", (socket: Socket) => {
      socket.setNoDelay(true); // node:tls sockets send at once; plain ones would wait for Nagle
      Object.assign(socket, {
        getPeerX509Certificate: () => leaf,
        getPeerCertificate: () => presented,
      });
      // After serveMcp's own "connection" listener (the accept gate) has run.
      queueMicrotask(() => {
        if (!socket.destroyed) server.emit("secureConnection", socket);
      });
    });
    return server;
  };
}

if (mode === "mtls" || mode === "plain" || mode === "json") {
  if (mode === "plain") withoutTls(read("client.crt"));
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    tls: { cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt") },
    logger: silentLogger,
    jsonResponse: mode === "json",
    // No per-address connection rate limit (default 50/min): every load connection comes from
    // 127.0.0.1, and the references have none either.
    // One certificate for every load client: no per-identity session cap (16 by default) either.
    limits: {
      maxConnections: 4096,
      maxSessions: 4096,
      maxSessionsPerIdentity: 4096,
      connectionsPerAddress: false,
    },
  });
  const url = mode === "plain" ? server.url.replace(/^https:/, "http:") : server.url;
  console.log(JSON.stringify({ url }));
  await untilStdinCloses();
  await server.close();
  Deno.exit(0);
}

if (mode === "bare" || mode === "bareplain") {
  const body = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ping"}]}}';
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(body));
  };
  const server = mode === "bareplain" ? http.createServer(handler) : https.createServer({
    cert: read("server.crt"),
    key: read("server.key"),
    ca: read("ca.crt"),
    requestCert: true,
    rejectUnauthorized: true,
  }, handler);
  // As long as ours (idleTimeoutMs 30 s): with Deno's 5 s default the idle-memory test's
  // connections would start closing while the 1,000 are still being opened.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  console.log(
    JSON.stringify({
      url: `${mode === "bare" ? "https" : "http"}://127.0.0.1:${
        (server.address() as AddressInfo).port
      }/`,
    }),
  );
  await untilStdinCloses();
  server.closeAllConnections();
  server.close();
  Deno.exit(0);
}

// "sdk": the SDK transport as in its README example, stateful sessions.
const sessions = new Map<string, StreamableHTTPServerTransport>();
const plain = http.createServer(async (req, res) => {
  if ((req.url ?? "").split("?")[0] !== "/mcp") {
    res.writeHead(404).end();
    return;
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
  await transport.handleRequest(req, res);
});
// Deno's node:http leaves Nagle on; node:tls sockets do not wait, so neither does this baseline.
plain.on("connection", (socket: Socket) => socket.setNoDelay(true));
await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
console.log(
  JSON.stringify({ url: `http://127.0.0.1:${(plain.address() as AddressInfo).port}/mcp` }),
);
await untilStdinCloses();
plain.closeAllConnections();
plain.close();
