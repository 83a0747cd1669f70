/**
 * Helpers for the operations tests: a raw `node:tls` look at the certificate
 * a server presents, and new server credentials from the fixture CA.
 */

import { X509Certificate } from "node:crypto";
import tls from "node:tls";
import { issueCertificate } from "../../src/pki/mod.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { type ObservableMcpServer, serveMcp } from "../../src/mcp/server.ts";
import type { ServeMcpOptions } from "../../src/mcp/server_options.ts";
import type { TlsServerOptions } from "../../src/tls/server/options.ts";
import { collectingLogger, type Credential, type Fixtures } from "../server/_fixtures.ts";

/** SHA-256 fingerprint of the certificate the server at `port` presents now. */
export function servedFingerprint(fx: Fixtures, port: number, cred?: Credential): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: fx.ca,
      ...(cred ? { cert: cred.cert, key: cred.key } : {}),
      rejectUnauthorized: false,
    }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256;
      socket.destroy();
      if (fp) resolve(fp);
      else reject(new Error("no server certificate"));
    });
    socket.once("error", reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error("timed out reading the served certificate"));
    }, 5000);
  });
}

/** A new server certificate and key for localhost/127.0.0.1 from the fixture CA. */
export async function newServerCredential(
  fx: Fixtures,
  extra: { notAfter?: Date } = {},
): Promise<{ cert: string; key: string; fingerprint: string }> {
  const b = await issueCertificate(fx.caAsClient.bundle, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
    ...extra,
  });
  return {
    cert: b.certificatePem,
    key: b.privateKeyPem!,
    fingerprint: new X509Certificate(b.certificatePem).fingerprint256,
  };
}

/** Polls `f` until it returns a value or `ms` pass. */
export async function waitFor<T>(
  f: () => T | undefined | Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts a server with the demo tools on a free port with a collecting logger. */
export async function startOpsServer(
  fx: Fixtures,
  options: Omit<Partial<ServeMcpOptions>, "tls"> & { tls?: Partial<TlsServerOptions> } = {},
): Promise<{ server: ObservableMcpServer; log: ReturnType<typeof collectingLogger> }> {
  const log = collectingLogger();
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    logger: log,
    ...options,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca, ...options.tls },
  });
  return { server, log };
}
