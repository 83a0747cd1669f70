// The client refusing servers: each case asserts the reason code, the message,
// and that no HTTP request reached the server.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import type https from "node:https";
import { createMtlsFetch, type MtlsFetchOptions } from "../../src/mcp/mod.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { fixtures, type Pair, recordingLogger, startServer } from "./_helpers.ts";

function pinOf(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return "sha256/" + createHash("sha256").update(spki).digest("base64");
}

/** Runs one request from a client with `client` options to a server with `server` options. */
async function attempt(
  server: https.ServerOptions & Partial<Pair>,
  client: MtlsFetchOptions,
): Promise<{ result: unknown; requests: number; port: number; logs: string[] }> {
  const f = await fixtures();
  const srv = await startServer({ ...f.server, ca: f.ca, ...server });
  const logger = recordingLogger();
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca, logger, ...client });
  try {
    let result: unknown;
    try {
      result = await (await fetch(srv.url)).text();
    } catch (e) {
      result = e;
    }
    return {
      result,
      requests: srv.requests,
      port: srv.port,
      logs: logger.records.filter((r) => r.level === "warn").map((r) => r.msg),
    };
  } finally {
    await fetch.close();
    await srv.close();
  }
}

function assertRefused(
  r: { result: unknown; requests: number },
  code: string,
  message: RegExp,
): void {
  assert.ok(r.result instanceof PeerRejectedError, `expected a PeerRejectedError, got ${r.result}`);
  assert.equal(r.result.code, code);
  assert.match(r.result.message, message);
  assert.equal(r.requests, 0, "no HTTP request may reach a refused server");
}

Deno.test("createMtlsFetch() refuses a server from an unknown CA with unknown_ca", async () => {
  const f = await fixtures();
  const r = await attempt(f.otherCaServer, {});
  assertRefused(
    r,
    "unknown_ca",
    new RegExp(
      `^Server "127\\.0\\.0\\.1:${r.port}" certificate does not chain to a trusted CA ` +
        `\\(UNABLE_TO_GET_ISSUER_CERT_LOCALLY: unable to get local issuer certificate\\)$`,
    ),
  );
  assert.equal((r.result as PeerRejectedError).peer, `127.0.0.1:${r.port}`);
});

Deno.test("createMtlsFetch() refuses a self-signed server with unknown_ca", async () => {
  const f = await fixtures();
  const r = await attempt(f.selfSigned, {});
  assertRefused(r, "unknown_ca", /\(DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate\)$/);
});

Deno.test("createMtlsFetch() refuses an expired server certificate with expired", async () => {
  const f = await fixtures();
  const r = await attempt(f.expiredServer, {});
  assertRefused(
    r,
    "expired",
    /^Server "127\.0\.0\.1:\d+" certificate \("CN=localhost"\) expired on \d{4}-/,
  );
});

Deno.test("createMtlsFetch() refuses a not yet valid server certificate with not_yet_valid", async () => {
  const f = await fixtures();
  const r = await attempt(f.notYetValidServer, {});
  assertRefused(r, "not_yet_valid", /certificate \("CN=localhost"\) is not valid before \d{4}-/);
});

Deno.test("createMtlsFetch() refuses a certificate for another host name with hostname_mismatch", async () => {
  const f = await fixtures();
  const r = await attempt(f.wrongName, {});
  assertRefused(
    r,
    "hostname_mismatch",
    /^Server "127\.0\.0\.1:\d+" certificate \("CN=example\.com"\) is not valid for "127\.0\.0\.1" \(it names "DNS:example\.com"\)$/,
  );
});

Deno.test("createMtlsFetch({ serverName }) checks the certificate against that name instead", async () => {
  const f = await fixtures();
  const ok = await attempt(f.wrongName, { serverName: "example.com" });
  assert.equal(ok.result, "ok");
  const bad = await attempt(f.server, { serverName: "example.com" });
  assertRefused(bad, "hostname_mismatch", /is not valid for "example\.com"/);
});

Deno.test("createMtlsFetch() refuses a server certificate without serverAuth EKU with bad_key_usage", async () => {
  const f = await fixtures();
  const r = await attempt(f.clientAuthOnlyServer, {});
  assertRefused(
    r,
    "bad_key_usage",
    /^Server "127\.0\.0\.1:\d+" certificate \("CN=localhost"\) lacks extended key usage serverAuth \(has "1\.3\.6\.1\.5\.5\.7\.3\.2"\)$/,
  );
});

Deno.test("createMtlsFetch() with a wrong pin refuses before any HTTP request is sent", async () => {
  const f = await fixtures();
  const r = await attempt(f.server, { pins: [pinOf(f.backupServer.cert)] });
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  assertRefused(
    r,
    "pin_mismatch",
    new RegExp(
      `^Pin mismatch for "127\\.0\\.0\\.1:\\d+": presented ${esc(pinOf(f.server.cert))} ` +
        `\\(certificate cert-sha256/[0-9a-f]{64}\\), expected ${esc(pinOf(f.backupServer.cert))}$`,
    ),
  );
});

Deno.test("createMtlsFetch() admits a server matching the pin or the backup pin", async () => {
  const f = await fixtures();
  const pins = [pinOf(f.backupServer.cert), pinOf(f.server.cert)];
  assert.equal((await attempt(f.server, { pins })).result, "ok");
  assert.equal((await attempt(f.backupServer, { pins })).result, "ok");
});

Deno.test("createMtlsFetch({ maxVersion: TLSv1.2 }) against a TLS 1.3-only server fails with protocol_version", async () => {
  const r = await attempt({ minVersion: "TLSv1.3" }, { maxVersion: "TLSv1.2" });
  assertRefused(
    r,
    "protocol_version",
    /^Server "127\.0\.0\.1:\d+" supports no TLS version in TLSv1\.2 \(alert "protocol_version"\)$/,
  );
});

Deno.test("createMtlsFetch() against a server capped at TLS 1.1 fails with protocol_version", async () => {
  const r = await attempt({ minVersion: "TLSv1", maxVersion: "TLSv1.1" }, {});
  assertRefused(
    r,
    "protocol_version",
    /^Server "127\.0\.0\.1:\d+" closed the connection during the handshake: it likely supports no TLS version in TLSv1\.2\.\.TLSv1\.3$/,
  );
});

Deno.test("demo policy admits a self-signed server and warns at creation and on every connection", async () => {
  const f = await fixtures();
  const srv = await startServer({ ...f.selfSigned, ca: f.ca });
  const logger = recordingLogger();
  const fetch = createMtlsFetch({
    ...f.client,
    ca: f.ca,
    policy: "demo",
    logger,
    keepAlive: false,
  });
  try {
    assert.equal(logger.records.filter((r) => r.level === "warn").length, 1);
    assert.match(
      logger.records[0].msg,
      /^DEMO POLICY IN EFFECT \(client\): .*Never use this in production\.$/,
    );
    for (let i = 0; i < 3; i++) assert.equal(await (await fetch(srv.url)).text(), "ok");
    const perConnection = logger.records.filter((r) =>
      r.msg === "demo policy: accepting an unverified server certificate"
    );
    assert.equal(perConnection.length, 3);
  } finally {
    await fetch.close();
    await srv.close();
  }
});

Deno.test("demo policy skips the host name check, with a warning", async () => {
  const f = await fixtures();
  const r = await attempt(f.wrongName, { policy: "demo" });
  assert.equal(r.result, "ok");
  assert.ok(r.logs.includes("demo policy: accepting a server certificate for another host name"));
});

Deno.test("demo policy still refuses an expired server and one without serverAuth", async () => {
  const f = await fixtures();
  assertRefused(await attempt(f.expiredServer, { policy: "demo" }), "expired", /expired on/);
  assertRefused(
    await attempt(f.clientAuthOnlyServer, { policy: "demo" }),
    "bad_key_usage",
    /lacks extended key usage serverAuth/,
  );
});

Deno.test("diagnosing an expired server certificate completes no handshake with our certificate and sends no request", async () => {
  const f = await fixtures();
  const srv = await startServer({
    ...f.expiredServer,
    ca: f.ca,
    requestCert: true,
    rejectUnauthorized: false,
  });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
  try {
    await assert.rejects(fetch(srv.url), { name: "PeerRejectedError", code: "expired" });
    assert.equal(srv.requests, 0);
    // The refused handshake stops before our certificate is sent; the probe sends none.
    assert.deepEqual(srv.clientSubjects.filter((s) => s !== undefined), []);
  } finally {
    await fetch.close();
    await srv.close();
  }
});
