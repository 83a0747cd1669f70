/**
 * Test fixtures for the server tests: one certificate set per test file
 * (built with src/pki, ec-p256), written to a temporary directory for the
 * external peers (curl, openssl, node) that is removed when the test module
 * unloads, plus helpers to start a server with a log collector and to make a
 * client.
 */

import { Agent, fetch as undiciFetch } from "undici";
import { createMtlsFetch, type MtlsFetch } from "../../src/mcp/client_fetch.ts";
import type { LogFields, Logger } from "../../src/log/logger.ts";
import { createRootCa, createSelfSignedCertificate, issueCertificate } from "../../src/pki/mod.ts";
import type { CertificateBundle } from "../../src/pki/mod.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { type McpMtlsServer, serveMcp } from "../../src/mcp/server.ts";
import type { McpServerFactory, ServeMcpOptions } from "../../src/mcp/server_options.ts";
import type { TlsServerOptions } from "../../src/tls/server/options.ts";
import { moduleTempDir } from "../_temp_dir.ts";

/** A certificate and key, as PEM and as files in the fixture directory. */
export interface Credential {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  bundle: CertificateBundle;
}

/** Every certificate a server test needs. */
export interface Fixtures {
  dir: string;
  ca: string;
  caFile: string;
  otherCa: string;
  server: Credential;
  /** CN alice, spiffe://example.org/agent, DNS alice.local, email, IP. */
  alice: Credential;
  /** CN bob, spiffe://example.org/bob. */
  bob: Credential;
  otherCaClient: Credential;
  selfSigned: Credential;
  expired: Credential;
  notYetValid: Credential;
  serverAuthOnly: Credential;
  caAsClient: Credential;
}

const DAY = 86_400_000;

/**
 * Builds the fixture set (about 20 ms of key generation with ec-p256). Its
 * directory lives until the test module unloads (see ../_temp_dir.ts).
 */
export async function makeFixtures(): Promise<Fixtures> {
  const dir = await moduleTempDir("mcp-mtls-server-test-");
  const ca = await createRootCa({ commonName: "Test Root CA", exportable: true });
  const otherCa = await createRootCa({ commonName: "Other Root CA" });
  const now = Date.now();
  const save = async (name: string, bundle: CertificateBundle): Promise<Credential> => {
    const certFile = `${dir}/${name}.crt`;
    const keyFile = `${dir}/${name}.key`;
    await Deno.writeTextFile(certFile, bundle.certificatePem);
    await Deno.writeTextFile(keyFile, bundle.privateKeyPem!, { mode: 0o600 });
    return { cert: bundle.certificatePem, key: bundle.privateKeyPem!, certFile, keyFile, bundle };
  };
  const client = (commonName: string, extra: Record<string, unknown> = {}) =>
    issueCertificate(ca, "client", { commonName, exportable: true, ...extra });
  const caFile = `${dir}/ca.crt`;
  await Deno.writeTextFile(caFile, ca.certificatePem);
  const fx: Fixtures = {
    dir,
    ca: ca.certificatePem,
    caFile,
    otherCa: otherCa.certificatePem,
    server: await save(
      "server",
      await issueCertificate(ca, "server", {
        commonName: "localhost",
        subjectAltNames: "dns:localhost,ip:127.0.0.1",
        exportable: true,
      }),
    ),
    alice: await save(
      "alice",
      await client("alice", {
        subjectAltNames:
          "uri:spiffe://example.org/agent,dns:alice.local,email:alice@example.org,ip:10.0.0.7",
      }),
    ),
    bob: await save(
      "bob",
      await client("bob", { subjectAltNames: "uri:spiffe://example.org/bob" }),
    ),
    otherCaClient: await save(
      "other-ca-client",
      await issueCertificate(otherCa, "client", { commonName: "mallory", exportable: true }),
    ),
    selfSigned: await save(
      "self-signed",
      await createSelfSignedCertificate("client", { commonName: "selfie", exportable: true }),
    ),
    expired: await save(
      "expired",
      await client("expired", {
        notBefore: new Date(now - 30 * DAY),
        notAfter: new Date(now - DAY),
      }),
    ),
    notYetValid: await save(
      "not-yet-valid",
      await client("future", {
        notBefore: new Date(now + DAY),
        notAfter: new Date(now + 30 * DAY),
      }),
    ),
    serverAuthOnly: await save(
      "server-auth-only",
      await client("server-auth-only", { extendedKeyUsage: ["serverAuth"] }),
    ),
    caAsClient: await save("ca-as-client", ca),
  };
  return fx;
}

/** A log record as collected by {@link collectingLogger}. */
export interface LogRecord {
  level: string;
  msg: string;
  fields: LogFields;
}

/** A logger that keeps records, with helpers to find refusal reasons. */
export function collectingLogger(): Logger & {
  records: LogRecord[];
  reasons(): string[];
  waitForReason(reason: string, timeoutMs?: number): Promise<LogRecord>;
} {
  const records: LogRecord[] = [];
  const push = (level: string) => (msg: string, fields: LogFields = {}) => {
    records.push({ level, msg, fields });
    if (Deno.env.get("MCP_MTLS_TEST_LOG")) console.error(level, msg, fields);
  };
  return {
    records,
    debug: push("debug"),
    info: push("info"),
    warn: push("warn"),
    error: push("error"),
    reasons: () =>
      records.filter((r) => r.msg.endsWith("refused")).map((r) => String(r.fields.reason)),
    async waitForReason(reason, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = records.find((r) => r.msg.endsWith("refused") && r.fields.reason === reason);
        if (hit) return hit;
        if (Date.now() > end) {
          throw new Error(
            `No refusal with reason "${reason}" logged; got ${JSON.stringify(records)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Starts a server on an ephemeral port with the demo tools and a collecting logger. */
export async function startServer(
  fx: Fixtures,
  options: Omit<Partial<ServeMcpOptions>, "tls"> & { tls?: Partial<TlsServerOptions> } = {},
  factory: McpServerFactory = demoServerFactory,
): Promise<{ server: McpMtlsServer; log: ReturnType<typeof collectingLogger> }> {
  const log = collectingLogger();
  const server = await serveMcp(factory, {
    port: 0,
    logger: log,
    ...options,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca, ...options.tls },
  });
  return { server, log };
}

/** An mTLS fetch presenting `cred` (or no certificate) and trusting the test CA. */
export function clientFetch(fx: Fixtures, cred?: Credential): MtlsFetch {
  return createMtlsFetch({
    ca: fx.ca,
    ...(cred ? { cert: cred.cert, key: cred.key } : {}),
    keepAlive: false,
    logger: collectingLogger(),
  });
}

/** JSON-RPC `initialize` request body. */
export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "test", version: "1.0.0" },
  },
};

/** Headers the Streamable HTTP transport requires on a POST. */
export const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** Parses a Streamable HTTP response body (JSON or one SSE `data:` line). */
export function parseMcpBody(text: string): unknown {
  const t = text.trim();
  if (t.startsWith("{") || t.startsWith("[")) return JSON.parse(t);
  const data = t.split("\n").find((l) => l.startsWith("data: "));
  if (!data) throw new Error(`No JSON-RPC message in ${JSON.stringify(text)}`);
  return JSON.parse(data.slice(6));
}

/** Runs a command, returning exit code and output; never throws on non-zero exit. */
export async function run(
  cmd: string,
  args: string[],
  options: { stdin?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, options.timeoutMs ?? 15_000);
  try {
    if (options.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(options.stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A plain undici POST presenting `cred`: shows the wire (status, headers,
 * body) without the client library's mapping of refusals to errors.
 */
export async function rawPost(
  fx: Fixtures,
  url: string,
  cred: Credential | undefined,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const agent = new Agent({
    connect: { ca: fx.ca, ...(cred ? { cert: cred.cert, key: cred.key } : {}) },
  });
  try {
    const res = await undiciFetch(url, {
      method: "POST",
      headers: { ...MCP_HEADERS, ...headers },
      body: JSON.stringify(body),
      dispatcher: agent,
    });
    return {
      status: res.status,
      headers: res.headers as unknown as Headers,
      text: await res.text(),
    };
  } finally {
    await agent.close();
  }
}

/** Status of an `initialize` POST, or "refused" when the connection was closed on us. */
export async function tryInitialize(
  fx: Fixtures,
  url: string,
  cred: Pick<Credential, "cert" | "key">,
): Promise<number | "refused"> {
  try {
    return (await rawPost(fx, url, cred as Credential, INITIALIZE, MCP_HEADERS)).status;
  } catch {
    return "refused";
  }
}

/** The server's "connection refused" records with `reason`. */
export function refusals(log: ReturnType<typeof collectingLogger>, reason: string) {
  return log.records.filter((r) => r.msg === "connection refused" && r.fields.reason === reason);
}
