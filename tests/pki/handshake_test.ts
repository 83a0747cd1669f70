import assert from "node:assert/strict";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import {
  type CertificateBundle,
  createRootCa,
  issueCertificate,
  type KeyType,
} from "../../src/pki/mod.ts";

interface ServerHandle {
  port: number;
  /** Subjects of accepted clients, and errors of refused handshakes. */
  accepted: string[];
  refused: Error[];
  close(): Promise<void>;
}

/** A node:tls server that requires and verifies client certificates from `ca`. */
async function startServer(
  server: CertificateBundle,
  ca: CertificateBundle,
): Promise<ServerHandle> {
  const accepted: string[] = [];
  const refused: Error[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const srv = tls.createServer({
    cert: server.certificatePem,
    key: server.privateKeyPem,
    ca: ca.certificatePem,
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    sockets.add(socket);
    const cn = socket.authorized ? String(socket.getPeerCertificate().subject?.CN) : "unauthorized";
    accepted.push(cn);
    socket.end(`hello ${cn}\n`);
  });
  srv.on("tlsClientError", (err) => refused.push(err));
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return {
    port: (srv.address() as AddressInfo).port,
    accepted,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** Connects as a client; resolves to what the server sent, or the error. */
function connect(
  port: number,
  ca: CertificateBundle,
  client?: CertificateBundle,
): Promise<{ data: string; error?: Error }> {
  return new Promise((resolve) => {
    let data = "";
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, error });
    };
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: ca.certificatePem,
      cert: client?.certificatePem,
      key: client?.privateKeyPem,
    });
    const timer = setTimeout(() => done(new Error("timeout")), 5000);
    socket.on("data", (chunk) => data += chunk.toString());
    socket.on("end", () => done());
    socket.on("close", () => done());
    socket.on("error", (err) => done(err));
  });
}

async function pki(serverKey: KeyType, clientKey: KeyType) {
  const ca = await createRootCa();
  const server = await issueCertificate(ca, "server", {
    subjectAltNames: "dns:localhost,ip:127.0.0.1,ip:::1",
    keyType: serverKey,
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", {
    commonName: "agent-1",
    keyType: clientKey,
    exportable: true,
  });
  return { ca, server, client };
}

for (const [serverKey, clientKey] of [["ec-p256", "ec-p256"], ["rsa-2048", "ed25519"]] as const) {
  Deno.test(`node:tls on 127.0.0.1 accepts our ${clientKey} client certificate at a ${serverKey} server`, async () => {
    const { ca, server, client } = await pki(serverKey, clientKey);
    const srv = await startServer(server, ca);
    try {
      const result = await connect(srv.port, ca, client);
      assert.equal(result.error, undefined);
      assert.equal(result.data, "hello agent-1\n");
      assert.deepEqual(srv.accepted, ["agent-1"]);
    } finally {
      await srv.close();
    }
  });
}

Deno.test("node:tls refuses a client certificate from another CA, and a client without one", async () => {
  const { ca, server } = await pki("ec-p256", "ec-p256");
  const otherCa = await createRootCa({ commonName: "Other CA" });
  const stranger = await issueCertificate(otherCa, "client", {
    commonName: "stranger",
    exportable: true,
  });
  const srv = await startServer(server, ca);
  try {
    const withStranger = await connect(srv.port, ca, stranger);
    assert.equal(withStranger.data, "");
    const withNone = await connect(srv.port, ca);
    assert.equal(withNone.data, "");
    assert.deepEqual(srv.accepted, []);
    // Give the server a moment to report both failed handshakes.
    for (let i = 0; i < 50 && srv.refused.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(srv.refused.length, 2, srv.refused.map((e) => e.message).join("; "));
  } finally {
    await srv.close();
  }
});

Deno.test("node:tls client refuses our server when it trusts another CA", async () => {
  const { ca, server, client } = await pki("ec-p256", "ec-p256");
  const otherCa = await createRootCa({ commonName: "Other CA" });
  const srv = await startServer(server, ca);
  try {
    const result = await connect(srv.port, otherCa, client);
    assert.equal(result.data, "");
    assert.ok(result.error, "the client should fail the handshake");
  } finally {
    await srv.close();
  }
});
