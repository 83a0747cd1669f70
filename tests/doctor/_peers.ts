// Fixtures for the doctor tests: certificates from our PKI written to one temp
// folder, and real peers on 127.0.0.1 (serveMcp, node:https, openssl s_server)
// that each test stops, even when it fails.
import https from "node:https";
import net from "node:net";
import { demoServerFactory, serveMcp } from "../../src/mcp/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import {
  type CertificateBundle,
  createCrl,
  createRootCa,
  issueCertificate,
} from "../../src/pki/mod.ts";
import { computePins } from "../../src/pins/mod.ts";
import { doctor } from "../../src/cli/doctor.ts";
import { captureIo } from "../cli/_io.ts";
import { moduleTempDir } from "../_temp_dir.ts";
import { startOpensslServer } from "../_openssl_s_server.ts";

export interface Pair {
  cert: string;
  key: string;
}

export interface Files {
  dir: string;
  ca: string;
  otherCa: string;
  server: Pair;
  client: Pair;
  otherClient: Pair;
  otherCaServer: Pair;
  wrongName: Pair;
  expiredServer: Pair;
  /** PEM texts by file path, for servers. */
  pem: (path: string) => string;
  /** The SPKI pin of the good server certificate. */
  serverPin: string;
  /** The SPKI pin of another key. */
  otherPin: string;
  /** A CRL from our CA that lists the good server certificate, and one that lists nothing. */
  revokedCrl: string;
  emptyCrl: string;
}

let cached: Promise<Files> | undefined;

/** Certificates for every doctor test, written once per process. */
export function files(): Promise<Files> {
  cached ??= (async () => {
    const dir = await moduleTempDir("mcp-mtls-doctor-");
    const texts = new Map<string, string>();
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      texts.set(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    };
    const writeBytes = async (name: string, data: Uint8Array) => {
      await Deno.writeFile(`${dir}/${name}`, data);
      return `${dir}/${name}`;
    };
    const pair = async (name: string, b: CertificateBundle): Promise<Pair> => ({
      cert: await write(`${name}.crt`, b.certificatePem),
      key: await write(`${name}.key`, b.privateKeyPem!),
    });
    const ca = await createRootCa({ commonName: "Doctor CA" });
    const other = await createRootCa({ commonName: "Other CA" });
    const local = "dns:localhost,ip:127.0.0.1";
    const leaf = (issuer: CertificateBundle, role: "server" | "client", o = {}) =>
      issueCertificate(issuer, role, { exportable: true, subjectAltNames: local, ...o });
    const day = 86_400_000;
    const server = await leaf(ca, "server", { commonName: "localhost" });
    const otherCaServer = await leaf(other, "server", { commonName: "localhost" });
    return {
      dir,
      ca: await write("ca.crt", ca.certificatePem),
      otherCa: await write("other-ca.crt", other.certificatePem),
      server: await pair("server", server),
      client: await pair("client", await leaf(ca, "client", { commonName: "agent-1" })),
      otherClient: await pair(
        "intruder",
        await leaf(other, "client", { commonName: "intruder" }),
      ),
      otherCaServer: await pair("other-ca-server", otherCaServer),
      wrongName: await pair(
        "wrong-name",
        await leaf(ca, "server", { commonName: "example.com", subjectAltNames: "dns:example.com" }),
      ),
      expiredServer: await pair(
        "expired",
        await leaf(ca, "server", {
          commonName: "localhost",
          notBefore: new Date(Date.now() - 30 * day),
          notAfter: new Date(Date.now() - day),
        }),
      ),
      pem: (path: string) => texts.get(path)!,
      serverPin: computePins(server.certificate.der).spki,
      otherPin: computePins(otherCaServer.certificate.der).spki,
      revokedCrl: await writeBytes(
        "revoked.crl",
        await createCrl(ca, [{
          serialNumber: server.certificate.serialNumber,
          revocationDate: new Date(Date.now() - 3_600_000),
          reason: "keyCompromise",
        }], { crlNumber: 2 }),
      ),
      emptyCrl: await writeBytes("empty.crl", await createCrl(ca, [], { crlNumber: 1 })),
    };
  })();
  return cached;
}

/** Runs `doctor` in-process; returns the exit code and what it printed. */
export async function runDoctor(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const code = await doctor(args, io);
  return { code, out: io.out, err: io.err };
}

/** The client options every healthy run passes. */
export async function clientArgs(): Promise<string[]> {
  const f = await files();
  return ["--cert", f.client.cert, "--key", f.client.key, "--ca", f.ca];
}

/** serveMcp with the demo tools, `server` as its certificate, trusting client certificates from our CA. */
export async function withServeMcp(
  server: Pair,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const f = await files();
  const mcp = await serveMcp(demoServerFactory, {
    port: 0,
    tls: { cert: f.pem(server.cert), key: f.pem(server.key), ca: f.pem(f.ca) },
    logger: silentLogger,
  });
  try {
    await run(mcp.url);
  } finally {
    await mcp.close();
  }
}

/** A Deno node:https server that does not ask for client certificates. */
export async function withPlainHttps(run: (url: string) => Promise<void>): Promise<void> {
  const f = await files();
  const server = https.createServer(
    { cert: f.pem(f.server.cert), key: f.pem(f.server.key) },
    (_req, res) => res.end("ok"),
  );
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`https://127.0.0.1:${(server.address() as net.AddressInfo).port}/mcp`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * A port nothing listens on: bound and released at once. Only for expecting a
 * refusal ("nothing is listening"), never to listen on later.
 */
export function releasedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** `openssl s_server -www` with the good server certificate, plus `args`. */
export async function withOpenSsl(
  args: string[],
  run: (url: string) => Promise<void>,
): Promise<void> {
  const f = await files();
  const server = await startOpensslServer([
    "-cert",
    f.server.cert,
    "-key",
    f.server.key,
    "-CAfile",
    f.ca,
    ...args,
  ]);
  try {
    await run(`https://127.0.0.1:${server.port}/`);
  } finally {
    await server.stop();
  }
}

/** The step of a `--json` result named `name`. */
export function step(
  json: string,
  name: string,
): { status: string; code?: string; summary: string; fix?: string } {
  const found = JSON.parse(json).steps.find((s: { name: string }) => s.name === name);
  if (!found) throw new Error(`No step "${name}" in ${json}`);
  return found;
}
