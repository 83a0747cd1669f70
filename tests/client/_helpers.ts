// Shared fixtures for the client tests: certificates from our PKI and real
// node:https servers on 127.0.0.1 that count what reaches them.
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { IncomingMessage, ServerResponse } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";
import {
  type CertificateBundle,
  createRootCa,
  createSelfSignedCertificate,
  issueCertificate,
  type LeafOptions,
} from "../../src/pki/mod.ts";
import type { Logger, LogLevel } from "../../src/log/mod.ts";

export interface Pair {
  cert: string;
  key: string;
}

function pair(b: CertificateBundle): Pair {
  return { cert: b.certificatePem, key: b.privateKeyPem! };
}

export interface Fixtures {
  ca: string;
  /** The CA itself (certificate and key), for signing CRLs and intermediates. */
  caBundle: CertificateBundle;
  otherCa: string;
  server: Pair;
  client: Pair;
  otherClient: Pair;
  otherCaServer: Pair;
  selfSigned: Pair;
  wrongName: Pair;
  clientAuthOnlyServer: Pair;
  expiredServer: Pair;
  notYetValidServer: Pair;
  /** A second server key under the same CA (for backup pins). */
  backupServer: Pair;
}

let cached: Promise<Fixtures> | undefined;

/** Certificates for every test, made once per process (ec-p256). */
export function fixtures(): Promise<Fixtures> {
  cached ??= (async () => {
    const ca = await createRootCa({ commonName: "Client Test CA" });
    const other = await createRootCa({ commonName: "Other CA" });
    const leaf = async (issuer: CertificateBundle, role: "server" | "client", o: LeafOptions) =>
      pair(await issueCertificate(issuer, role, { exportable: true, ...o }));
    const local = "dns:localhost,ip:127.0.0.1";
    const day = 86_400_000;
    return {
      ca: ca.certificatePem,
      caBundle: ca,
      otherCa: other.certificatePem,
      server: await leaf(ca, "server", { commonName: "localhost", subjectAltNames: local }),
      backupServer: await leaf(ca, "server", { commonName: "backup", subjectAltNames: local }),
      client: await leaf(ca, "client", { commonName: "agent-1" }),
      otherClient: await leaf(other, "client", { commonName: "intruder" }),
      otherCaServer: await leaf(other, "server", {
        commonName: "localhost",
        subjectAltNames: local,
      }),
      selfSigned: pair(
        await createSelfSignedCertificate("server", {
          commonName: "localhost",
          subjectAltNames: local,
          exportable: true,
        }),
      ),
      wrongName: await leaf(ca, "server", {
        commonName: "example.com",
        subjectAltNames: "dns:example.com",
      }),
      clientAuthOnlyServer: await leaf(ca, "server", {
        commonName: "localhost",
        subjectAltNames: local,
        extendedKeyUsage: ["clientAuth"],
      }),
      expiredServer: await leaf(ca, "server", {
        commonName: "localhost",
        subjectAltNames: local,
        notBefore: new Date(Date.now() - 30 * day),
        notAfter: new Date(Date.now() - day),
      }),
      notYetValidServer: await leaf(ca, "server", {
        commonName: "localhost",
        subjectAltNames: local,
        notBefore: new Date(Date.now() + day),
        notAfter: new Date(Date.now() + 30 * day),
      }),
    };
  })();
  return cached;
}

export interface TestServer {
  url: string;
  port: number;
  /** HTTP requests that reached the handler. */
  requests: number;
  /** Completed TLS handshakes ('secureConnection'). */
  connections: number;
  /** Client certificate subject CN seen on each handshake (`undefined` when none was sent). */
  clientSubjects: (string | undefined)[];
  /** Serves another certificate and key from now on (same port). */
  setSecureContext(options: https.ServerOptions): void;
  close(): Promise<void>;
}

/** An mTLS node:https server on 127.0.0.1 that answers "ok" (or runs `handler`). */
export async function startServer(
  options: https.ServerOptions,
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const sockets = new Set<TLSSocket>();
  const state = { requests: 0, connections: 0 };
  const clientSubjects: (string | undefined)[] = [];
  const server = https.createServer(
    { requestCert: true, rejectUnauthorized: true, ...options },
    (req, res) => {
      state.requests++;
      if (handler) handler(req, res);
      else res.end("ok");
    },
  );
  server.on("secureConnection", (s: TLSSocket) => {
    state.connections++;
    clientSubjects.push(s.getPeerCertificate()?.subject?.CN);
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/`,
    port,
    get requests() {
      return state.requests;
    },
    get connections() {
      return state.connections;
    },
    clientSubjects,
    setSecureContext: (o) => server.setSecureContext(o),
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An SDK McpServer (stateless) with `whoami` and `echo`, served over mTLS. */
export function startMcpServer(options: https.ServerOptions): Promise<TestServer> {
  return startServer(options, async (req, res) => {
    const mcp = new McpServer({ name: "client-test-server", version: "1.0.0" });
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    mcp.registerTool("whoami", { description: "Caller identity" }, () => ({
      content: [{ type: "text", text: JSON.stringify({ commonName: peer?.subject?.CN }) }],
    }));
    mcp.registerTool(
      "echo",
      { description: "Echoes text", inputSchema: { text: z.string() } },
      ({ text }: { text: string }) => ({ content: [{ type: "text", text }] }),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      transport.close();
      mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
}

export interface LogRecord {
  level: LogLevel;
  msg: string;
}

/** A logger that keeps its records. */
export function recordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogLevel) => (msg: string) => void records.push({ level, msg });
  return {
    records,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}
