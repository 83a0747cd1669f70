// Server process for `bench/mcp.ts` targets `node` and `bun`: the same serveMcp
// as target `ours` (mTLS, demo tools, the same limits), loaded from the npm
// build (npm/build, made by `deno task build:npm`) and run by Node.js or Bun.
// Prints one JSON line {"url": ...}, then runs until stdin closes; a "gc" line
// collects garbage (node --expose-gc, or Bun.gc) and answers "gc HEAP_USED".
//
// "gateway" (bench/per_call.ts) serves `serveGateway` in front of UPSTREAM_URL instead.
//
// Usage: node --expose-gc bench/_runtime_server.mjs CERT_DIR [stateless | gateway UPSTREAM_URL]
//        bun bench/_runtime_server.mjs CERT_DIR [stateless | gateway UPSTREAM_URL]
import { readFileSync } from "node:fs";
import process from "node:process";
import { createInterface } from "node:readline";
import { demoServerFactory, serveMcp } from "../npm/build/src/mcp/mod.js";
import { silentLogger } from "../npm/build/src/log/mod.js";
import { serveGateway } from "../npm/build/src/gateway/mod.js";

const dir = process.argv[2];
// Optional: "stateless" (bench/per_call.ts) serves with `sessions: "stateless"`.
const sessions = process.argv[3] === "stateless" ? "stateless" : "stateful";
const read = (name) => readFileSync(`${dir}/${name}`, "utf8");
const options = {
  port: 0,
  tls: { cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt") },
  logger: silentLogger,
  sessions,
  limits: {
    maxConnections: 4096,
    maxSessions: 4096,
    maxSessionsPerIdentity: 4096,
    connectionsPerAddress: false,
  },
};
const server = process.argv[3] === "gateway"
  ? await serveGateway(process.argv[4], { ...options, sessions: "stateful" })
  : await serveMcp(demoServerFactory, options);
console.log(JSON.stringify({ url: server.url }));
const collect = () => {
  if (globalThis.Bun) globalThis.Bun.gc(true);
  else globalThis.gc?.();
};
for await (const line of createInterface({ input: process.stdin })) {
  if (line.includes("gc")) {
    collect();
    collect();
    console.log(`gc ${process.memoryUsage().heapUsed}`);
  }
}
await server.close();
process.exit(0);
