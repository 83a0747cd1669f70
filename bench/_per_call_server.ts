/**
 * Server process for `bench/per_call.ts`: one flavour of our mTLS MCP server
 * per process, so its CPU (read from /proc by the parent) is its own:
 *
 * - `stateful`: `serveMcp` with the demo tools, one SDK server per session;
 * - `stateless`: the same with `sessions: "stateless"` (one per request);
 * - `bridge`: `serveStdioMcp` in front of examples/stdio_server.ts, one child
 *   per session (the parent counts the children's CPU apart);
 * - `bridge-shared`: the same with one shared child for every session;
 * - `gateway`: `serveGateway` (`serve --upstream URL`) in front of the SDK
 *   upstream at UPSTREAM_URL (bench/gateway.ts's `upstream` role, started by
 *   the parent).
 *
 * Limits as in bench/_mcp_server.ts (one client certificate for every load
 * client). Prints one JSON line `{"url": ...}`, then runs until stdin closes.
 *
 * Usage: deno run -A bench/_per_call_server.ts MODE CERT_DIR [UPSTREAM_URL]
 */
import { demoServerFactory, serveMcp, serveStdioMcp } from "../src/mcp/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { serveGateway } from "../src/gateway/mod.ts";

const [mode, dir, upstream] = Deno.args;
const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
const options = {
  port: 0,
  tls: { cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt") },
  logger: silentLogger,
  sessions: mode === "stateless" ? "stateless" as const : "stateful" as const,
  limits: {
    maxConnections: 4096,
    maxSessions: 4096,
    maxSessionsPerIdentity: 4096,
    connectionsPerAddress: false as const,
  },
};
const stdioServer = [
  Deno.execPath(),
  "run",
  "-A",
  new URL("../examples/stdio_server.ts", import.meta.url).pathname,
];
const server = mode === "gateway"
  ? await serveGateway(upstream, { ...options, sessions: "stateful" })
  : mode.startsWith("bridge")
  ? await serveStdioMcp(stdioServer, {
    ...options,
    child: { mode: mode === "bridge-shared" ? "shared" : "per-session", closeTimeoutMs: 500 },
  })
  : await serveMcp(demoServerFactory, options);
console.log(JSON.stringify({ url: server.url }));
for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
await server.close();
Deno.exit(0);
