/**
 * Fixtures of the portable server tests (Deno, Node.js, Bun): certificates
 * from our PKI, `serveMcp` with the demo tools and a logger whose `write`
 * keeps its JSON lines, `openssl s_client` as a hostile peer, and a good
 * client that must still be served after each refusal. Only `node:`
 * built-ins and the library.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger, type LogLevel } from "../../src/log/logger.ts";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { type McpMtlsServer, serveMcp } from "../../src/mcp/server.ts";
import type { McpServerFactory, ServeMcpOptions } from "../../src/mcp/server_options.ts";
import type { TlsServerOptions } from "../../src/tls/server/options.ts";
import {
  type CertificateBundle,
  createRootCa,
  issueCertificate,
  type LeafOptions,
} from "../../src/pki/mod.ts";
import type { Pair } from "./_client_fixtures.ts";

/** Certificates of the server tests. */
export interface ServerFixtures {
  ca: string;
  /** The CA with its key: signs CRLs, and presents itself as a client. */
  caBundle: CertificateBundle;
  server: Pair;
  /** CN alice, `spiffe://example.org/agent`. */
  alice: Pair;
  /** CN bob, `spiffe://example.org/bob`. */
  bob: Pair;
  /** Issues a client certificate under `ca`. */
  issueClient(o: LeafOptions): Promise<Pair>;
  otherCaClient: Pair;
  expired: Pair;
  notYetValid: Pair;
  serverAuthOnly: Pair;
  caAsClient: Pair;
}

let cached: Promise<ServerFixtures> | undefined;

/** Made once per process (ec-p256). */
export function serverFixtures(): Promise<ServerFixtures> {
  cached ??= (async () => {
    const ca = await createRootCa({ commonName: "Portable Server CA", exportable: true });
    const other = await createRootCa({ commonName: "Portable Other CA" });
    const pair = (b: CertificateBundle) => ({ cert: b.certificatePem, key: b.privateKeyPem! });
    const client = async (o: LeafOptions) =>
      pair(await issueCertificate(ca, "client", { exportable: true, ...o }));
    const day = 86_400_000;
    return {
      ca: ca.certificatePem,
      caBundle: ca,
      server: pair(
        await issueCertificate(ca, "server", {
          commonName: "localhost",
          subjectAltNames: "dns:localhost,ip:127.0.0.1",
          exportable: true,
        }),
      ),
      alice: await client({
        commonName: "alice",
        subjectAltNames: "uri:spiffe://example.org/agent",
      }),
      bob: await client({ commonName: "bob", subjectAltNames: "uri:spiffe://example.org/bob" }),
      issueClient: client,
      otherCaClient: pair(
        await issueCertificate(other, "client", { commonName: "mallory", exportable: true }),
      ),
      expired: await client({
        commonName: "expired",
        notBefore: new Date(Date.now() - 30 * day),
        notAfter: new Date(Date.now() - day),
      }),
      notYetValid: await client({
        commonName: "future",
        notBefore: new Date(Date.now() + day),
        notAfter: new Date(Date.now() + 30 * day),
      }),
      serverAuthOnly: await client({
        commonName: "server-auth-only",
        extendedKeyUsage: ["serverAuth"],
      }),
      caAsClient: pair(ca),
    };
  })();
  return cached;
}

/** A line the server logged (format "json"), parsed. */
export interface LogLine {
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

/** A running `serveMcp` and the lines it logged. */
export interface RunningServer {
  server: McpMtlsServer;
  lines: LogLine[];
  /** Its "connection refused" lines (any reason). */
  refusals(): LogLine[];
  /** Waits until a "connection refused" line with `reason` is logged (10 s at most: only stops a hang). */
  waitForRefusal(reason: string): Promise<LogLine>;
}

/**
 * Starts `serveMcp` with the demo tools (or `factory`) on 127.0.0.1, port 0, presenting
 * `fx.server` and trusting `fx.ca` unless `options.tls` says otherwise.
 */
export async function startMcp(
  fx: ServerFixtures,
  options: Omit<Partial<ServeMcpOptions>, "tls"> & { tls?: Partial<TlsServerOptions> } = {},
  factory: McpServerFactory = demoServerFactory,
): Promise<RunningServer> {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level: "debug",
    format: "json",
    write: (line) => void lines.push(JSON.parse(line)),
  });
  const server = await serveMcp(factory, {
    hostname: "127.0.0.1",
    port: 0,
    logger,
    ...options,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca, ...options.tls },
  });
  const refusals = () => lines.filter((l) => l.msg === "connection refused");
  return {
    server,
    lines,
    refusals,
    async waitForRefusal(reason) {
      for (let i = 0; i < 500; i++) {
        const hit = refusals().find((l) => l.reason === reason);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`No refusal "${reason}" logged; got ${JSON.stringify(lines)}`);
    },
  };
}

/** JSON-RPC `initialize`. */
export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "portable-test", version: "1.0.0" },
  },
};

/**
 * One `initialize` POST from a fresh client presenting `pair`: the HTTP
 * status, or the error the client rejected with.
 */
export async function initialize(
  fx: ServerFixtures,
  url: string,
  pair: Pair,
): Promise<number | Error> {
  const fetch = createMtlsFetch({ ...pair, ca: fx.ca, keepAlive: false });
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(INITIALIZE),
    });
    const text = await res.text();
    if (res.status === 200) assert.match(text, /"serverInfo":\{"name":"mcp-mtls-demo"/);
    return res.status;
  } catch (e) {
    return e as Error;
  } finally {
    await fetch.close();
  }
}

/** Asserts that alice is still served: `initialize` answered 200 with the server's info. */
export async function assertGoodClientServed(fx: ServerFixtures, url: string): Promise<void> {
  assert.equal(await initialize(fx, url, fx.alice), 200);
}

/** Writes `pair` to `dir` as `name.crt` / `name.key`, for openssl; returns the paths. */
export async function writePair(
  dir: string,
  name: string,
  pair: Pair,
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await writeFile(cert, pair.cert);
  await writeFile(key, pair.key, { mode: 0o600 });
  return { cert, key };
}

/**
 * Runs `openssl s_client` against 127.0.0.1:`port` with `args`, sends an
 * HTTP request once connected, and waits until the server closes (or 15 s:
 * only stops a hang). Returns its exit code and everything it printed.
 */
export function sClient(port: number, args: string[]): Promise<{ code: number; wire: string }> {
  const child = spawn("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
    "-ign_eof",
    ...args,
  ], { stdio: ["pipe", "pipe", "pipe"] });
  let wire = "";
  child.stdout!.on("data", (c) => wire += c);
  child.stderr!.on("data", (c) => wire += c);
  child.stdin!.on("error", () => {}); // the server may close before we finish writing
  child.stdin!.end("GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  return new Promise((resolve, reject) => {
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, wire });
    });
  });
}
