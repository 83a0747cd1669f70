import assert from "node:assert/strict";
import { createMtlsFetch, type MtlsFetchOptions } from "../../src/mcp/mod.ts";
import { fixtures, startServer } from "./_helpers.ts";

function rejects(
  options: MtlsFetchOptions,
  expected: { name: string; code: string; message: string },
) {
  assert.throws(() => createMtlsFetch(options), (e: unknown) => {
    const err = e as { name: string; code: string; message: string };
    assert.deepEqual(
      { name: err.name, code: err.code, message: err.message },
      expected,
    );
    return true;
  });
}

Deno.test("createMtlsFetch() refuses a certificate without its key", async () => {
  const f = await fixtures();
  rejects({ cert: f.client.cert }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "key" is required when "cert" is given',
  });
  rejects({ key: f.client.key }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "cert" is required when "key" is given',
  });
});

Deno.test("createMtlsFetch() refuses unreadable PEM and a file path given as PEM", async () => {
  const f = await fixtures();
  rejects({ ...f.client, ca: "certs/ca.crt" }, {
    name: "CertificateError",
    code: "invalid_pem",
    message:
      'Option "ca" is not PEM text (no "-----BEGIN" line); pass the file\'s contents, not its path',
  });
  rejects({ ...f.client, ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }, {
    name: "CertificateError",
    code: "invalid_pem",
    message: 'Option "ca" holds a certificate that cannot be read (PEM block 1)',
  });
  rejects({ ...f.client, ca: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, {
    name: "CertificateError",
    code: "invalid_pem",
    message: 'Option "ca" holds no PEM "CERTIFICATE" block',
  });
  rejects({
    cert: f.client.cert,
    key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  }, {
    name: "CertificateError",
    code: "invalid_key",
    message:
      'Option "key" is not a readable private key (PEM "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY")',
  });
});

Deno.test("createMtlsFetch() refuses a key that belongs to another certificate", async () => {
  const f = await fixtures();
  rejects({ cert: f.client.cert, key: f.server.key }, {
    name: "CertificateError",
    code: "key_mismatch",
    message: 'Option "key" does not belong to the certificate in "cert" ("CN=agent-1")',
  });
});

Deno.test("createMtlsFetch() refuses an unknown policy, TLS version or malformed pin", () => {
  rejects({ policy: "lax" as "strict" }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "policy" must be "strict" or "demo", got "lax"',
  });
  rejects({ minVersion: "TLSv1.1" as "TLSv1.2" }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "minVersion" must be "TLSv1.2" or "TLSv1.3", got "TLSv1.1"',
  });
  rejects({ minVersion: "TLSv1.3", maxVersion: "TLSv1.2" }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "minVersion" "TLSv1.3" is above "maxVersion" "TLSv1.2"',
  });
  rejects({ pins: ["sha1/abc"] }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "pins" holds an invalid pin: Invalid pin "sha1/abc": expected ' +
      '"sha256/<base64 SPKI SHA-256>" (44 characters after the slash) or ' +
      '"cert-sha256/<certificate SHA-256 in hex>" (64 hex digits, colons allowed)',
  });
  rejects({ keepAliveTimeout: -1 }, {
    name: "ConfigError",
    code: "invalid_config",
    message: 'Option "keepAliveTimeout" must be a positive number of milliseconds, got "-1"',
  });
});

Deno.test("createMtlsFetch() accepts DER bytes for the certificate, key and CA", async () => {
  const f = await fixtures();
  const der = (pem: string) =>
    Uint8Array.from(
      atob(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "")),
      (c) => c.charCodeAt(0),
    );
  const server = await startServer({ ...f.server, ca: f.ca });
  const fetch = createMtlsFetch({
    cert: der(f.client.cert),
    key: der(f.client.key),
    ca: der(f.ca),
  });
  try {
    // The DER CA verified the server, and the server saw the DER client certificate.
    assert.equal(await (await fetch(server.url)).text(), "ok");
    assert.deepEqual(server.clientSubjects, ["agent-1"]);
  } finally {
    await fetch.close();
    await server.close();
  }
});
