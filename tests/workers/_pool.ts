/**
 * Helpers of the worker tests: a certificate folder of their own (so a CRL
 * written there reaches only these servers), a pool of workers started as
 * `serve --workers N` starts them, each on a port of its own so that a test
 * chooses the worker a connection lands on, and a small HTTPS client with
 * one keep-alive connection per agent.
 */
import https from "node:https";
import { Buffer } from "node:buffer";
import { resolveServeConfig } from "../../src/config/resolve_serve_config.ts";
import { startWorkerPool, type WorkerPool } from "../../src/workers/pool.ts";
import { moduleTempDir } from "../_temp_dir.ts";
import {
  collectingLogger,
  type Credential,
  type Fixtures,
  INITIALIZE,
} from "../server/_fixtures.ts";

/** A copy of the fixtures' server material and CA in a folder of its own. */
export async function certsDir(fx: Fixtures): Promise<string> {
  const dir = await moduleTempDir("mcp-mtls-workers-test-");
  await Deno.copyFile(fx.server.certFile, `${dir}/server.crt`);
  await Deno.copyFile(fx.server.keyFile, `${dir}/server.key`);
  await Deno.copyFile(fx.caFile, `${dir}/ca.crt`);
  return dir;
}

/** A started pool, its primary's log, and a URL per worker. */
export interface TestPool {
  pool: WorkerPool;
  log: ReturnType<typeof collectingLogger>;
  url(worker: number): string;
}

/**
 * Starts `count` workers serving `dir` with `config` (written as a config
 * file), each on a port of its own.
 */
export async function startTestPool(
  dir: string,
  config: Record<string, unknown> = {},
  count = 2,
  separatePorts = true,
): Promise<TestPool> {
  const file = `${dir}/config-${crypto.randomUUID()}.json`;
  await Deno.writeTextFile(file, JSON.stringify({ log: { level: "warn" }, ...config }));
  const args = ["--certs", dir, "--port", "0", "--config", file];
  const { options } = await resolveServeConfig({
    configFile: file,
    env: {},
    cliOverrides: { certs: dir, port: 0 },
    logWrite: () => {},
  });
  const log = collectingLogger();
  const pool = await startWorkerPool({ args, count, options, logger: log, separatePorts });
  return { pool, log, url: (w) => `https://127.0.0.1:${pool.ports[w]}/mcp` };
}

/** One client: one keep-alive TLS connection (per agent) presenting `cred`. */
export function agentFor(fx: Fixtures, cred: Credential): https.Agent {
  return new https.Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: fx.ca,
    cert: cred.cert,
    key: cred.key,
    servername: "localhost",
  });
}

/** An answer, read whole. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A request to `url` through `agent`; rejects when the connection is closed on it. */
export function call(
  url: string,
  agent: https.Agent,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      agent,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(payload ? { "content-length": String(payload.length) } : {}),
        ...headers,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString(),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** Opens a session through `url`; returns its id. */
export async function initialize(url: string, agent: https.Agent): Promise<string> {
  const r = await call(url, agent, "POST", {}, INITIALIZE);
  if (r.status !== 200) throw new Error(`initialize: HTTP ${r.status} ${r.text}`);
  const sid = r.headers["mcp-session-id"];
  if (typeof sid !== "string") throw new Error("initialize: no session id");
  await call(url, agent, "POST", { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" }, {
    jsonrpc: "2.0",
    method: "notifications/initialized",
  });
  return sid;
}

/** `tools/call` of `name` in session `sid`. */
export function callTool(
  url: string,
  agent: https.Agent,
  sid: string,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Answer> {
  return call(url, agent, "POST", { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" }, {
    jsonrpc: "2.0",
    id: 2,
    method: "tools/call",
    params: { name, arguments: args },
  });
}
