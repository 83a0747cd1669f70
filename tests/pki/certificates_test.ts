import assert from "node:assert/strict";
import { signedBy } from "../../src/cert/verify_signature.ts";
import { isMtlsError } from "../../src/errors.ts";
import {
  createIntermediateCa,
  createRootCa,
  createSelfSignedCertificate,
  inspectCertificate,
  issueCertificate,
  type KeyType,
  spkiPin,
} from "../../src/pki/mod.ts";

const DAY = 86_400_000;

Deno.test("issueCertificate() makes 128-bit random positive serials, distinct per certificate", async () => {
  const ca = await createRootCa();
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const leaf = await issueCertificate(ca, "client");
    const serial = leaf.certificate.serialNumber.toLowerCase();
    // 16 random octets; a leading 00 is only there to keep a high bit positive.
    const octets = serial.replace(/^00(?=[89a-f])/, "");
    assert.equal(octets.length, 32, serial);
    assert.notEqual(octets.slice(0, 2), "00");
    serials.add(serial);
  }
  assert.equal(serials.size, 20);
});

Deno.test("issueCertificate() backdates notBefore by about five minutes and honours days", async () => {
  const ca = await createRootCa();
  const before = Date.now();
  const leaf = await issueCertificate(ca, "server", { days: 30 });
  const { notBefore, notAfter } = leaf.certificate;
  assert.ok(before - notBefore.getTime() >= 5 * 60_000 - 1000, notBefore.toISOString());
  assert.ok(before - notBefore.getTime() <= 5 * 60_000 + 5000);
  assert.ok(Math.abs(notAfter.getTime() - (before + 30 * DAY)) < 5000, notAfter.toISOString());
});

Deno.test("issueCertificate() clamps a days-based lifetime to the issuer's notAfter but keeps an explicit one", async () => {
  const ca = await createRootCa({ days: 10 });
  const leaf = await issueCertificate(ca, "server", { days: 365 });
  assert.equal(leaf.certificate.notAfter.getTime(), ca.certificate.notAfter.getTime());
  const notBefore = new Date("2020-01-01T00:00:00Z");
  const notAfter = new Date("2020-02-01T00:00:00Z");
  const expired = await issueCertificate(ca, "client", { notBefore, notAfter });
  assert.equal(expired.certificate.notBefore.toISOString(), notBefore.toISOString());
  assert.equal(expired.certificate.notAfter.toISOString(), notAfter.toISOString());
});

Deno.test("issueCertificate() defaults: server CN localhost with a matching SAN, client CN mcp-client without SAN", async () => {
  const ca = await createRootCa();
  const server = await inspectCertificate((await issueCertificate(ca, "server")).certificate);
  assert.equal(server.subject, "CN=localhost");
  assert.deepEqual(server.subjectAltNames, [{ type: "dns", value: "localhost" }]);
  assert.deepEqual(server.extendedKeyUsage, ["serverAuth"]);
  const byIp = await inspectCertificate(
    (await issueCertificate(ca, "server", { commonName: "10.0.0.1" })).certificate,
  );
  assert.deepEqual(byIp.subjectAltNames, [{ type: "ip", value: "10.0.0.1" }]);
  const client = await inspectCertificate((await issueCertificate(ca, "client")).certificate);
  assert.equal(client.subject, "CN=mcp-client");
  assert.deepEqual(client.subjectAltNames, []);
  assert.deepEqual(client.extendedKeyUsage, ["clientAuth"]);
  assert.equal(client.isCa, false);
});

Deno.test("private keys are non-extractable unless exportable is true", async () => {
  const ca = await createRootCa();
  const locked = await issueCertificate(ca, "client");
  assert.equal(locked.privateKey.extractable, false);
  assert.equal(locked.privateKeyPem, undefined);
  const open = await issueCertificate(ca, "client", { exportable: true, keyType: "ed25519" });
  assert.equal(open.privateKey.extractable, true);
  assert.ok(open.privateKeyPem?.startsWith("-----BEGIN PRIVATE KEY-----"));
  assert.equal(open.keyType, "ed25519");
});

Deno.test("createSelfSignedCertificate() is self-issued, not a CA, and carries the role's EKU", async () => {
  const self = await createSelfSignedCertificate("client", { commonName: "solo" });
  const info = await inspectCertificate(self.certificate);
  assert.equal(info.subject, "CN=solo");
  assert.equal(info.issuer, "CN=solo");
  assert.equal(info.selfIssued, true);
  assert.equal(info.isCa, false);
  assert.deepEqual(info.extendedKeyUsage, ["clientAuth"]);
  assert.ok(signedBy(self.certificate, self.certificate.publicKey));
});

Deno.test("a common name with a comma stays one CN attribute", async () => {
  const ca = await createRootCa({ commonName: "Acme, Inc. Root" });
  assert.deepEqual(
    ca.certificate.subject.rdns.map((rdn) => rdn.map((a) => [a.name, a.value])),
    [[["CN", "Acme, Inc. Root"]]],
  );
});

Deno.test("issueCertificate() refuses a non-CA issuer and an intermediate below path length 0", async () => {
  const root = await createRootCa();
  const leaf = await issueCertificate(root, "server");
  await assert.rejects(
    issueCertificate(leaf, "client"),
    (e) =>
      isMtlsError(e, "invalid_argument") &&
      e.message === 'Certificate "CN=localhost" is not a CA and cannot issue certificates',
  );
  const intermediate = await createIntermediateCa(root);
  await assert.rejects(
    createIntermediateCa(intermediate),
    (e) =>
      isMtlsError(e, "invalid_argument") &&
      e.message ===
        'CA "CN=mcp-mtls Intermediate CA" has path length 0 and cannot issue an intermediate CA',
  );
});

Deno.test("creators reject bad options with exact messages", async () => {
  const ca = await createRootCa();
  const cases: [Promise<unknown>, string][] = [
    [createRootCa({ days: 0 }), 'Invalid days "0": expected a whole number from 1 to 36500'],
    [createRootCa({ days: 1.5 }), 'Invalid days "1.5": expected a whole number from 1 to 36500'],
    [
      createRootCa({ keyType: "dsa" as KeyType }),
      'Unknown key type "dsa": expected one of ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096',
    ],
    [
      createRootCa({ pathLength: -1 }),
      'Invalid path length "-1": expected a whole number from 0 to 16',
    ],
    [createRootCa({ commonName: "" }), 'Invalid common name "": expected 1 to 64 characters'],
    [
      issueCertificate(ca, "server", { subjectAltNames: "foo:bar" }),
      'Invalid SAN "foo:bar": expected dns:, ip:, uri: or email:',
    ],
    [
      issueCertificate(ca, "server", { ocspUrl: "ftp://x" }),
      'Invalid OCSP URL "ftp://x": expected an http(s) URL',
    ],
    [
      issueCertificate(ca, "server", { serialNumber: "xyz" }),
      'Invalid serial number "xyz": expected 1 to 40 hex digits, not zero',
    ],
    [
      issueCertificate(ca, "admin" as "server"),
      'Invalid role "admin": expected "server" or "client"',
    ],
    [
      issueCertificate(ca, "client", {
        notBefore: new Date("2030-01-02"),
        notAfter: new Date("2030-01-01"),
      }),
      'Invalid validity: notAfter "2030-01-01T00:00:00.000Z" is not after notBefore "2030-01-02T00:00:00.000Z"',
    ],
  ];
  for (const [promise, message] of cases) {
    await assert.rejects(
      promise,
      (e) => isMtlsError(e, "invalid_argument") && e.message === message,
      message,
    );
  }
});

Deno.test("issueCertificate() uses a given serial number", async () => {
  const ca = await createRootCa();
  const leaf = await issueCertificate(ca, "client", { serialNumber: "0a1b2c" });
  assert.equal(leaf.certificate.serialNumber.toLowerCase(), "0a1b2c");
});

Deno.test("issueCertificate() with keyPair certifies that key, so a renewal keeps the SPKI pin", async () => {
  const ca = await createRootCa();
  const first = await issueCertificate(ca, "server", { keyType: "ec-p384" });
  const keyPair = {
    privateKey: first.privateKey,
    publicKey: await crypto.subtle.importKey(
      "spki",
      first.certificate.publicKey.spki.slice(),
      { name: "ECDSA", namedCurve: "P-384" },
      true,
      ["verify"],
    ),
  };
  const renewed = await issueCertificate(ca, "server", { keyPair, days: 30 });
  assert.equal(renewed.keyType, "ec-p384");
  assert.equal(renewed.privateKey, first.privateKey);
  assert.equal(await spkiPin(renewed.certificate), await spkiPin(first.certificate));
  assert.notEqual(renewed.certificate.serialNumber, first.certificate.serialNumber);
  await assert.rejects(
    issueCertificate(ca, "server", { keyPair, keyType: "ec-p256" }),
    (e) =>
      isMtlsError(e, "invalid_argument") &&
      e.message === 'Key type "ec-p256" does not match the given key pair ("ec-p384")',
  );
  await assert.rejects(
    issueCertificate(ca, "server", { keyPair, exportable: true }),
    (e) => isMtlsError(e, "invalid_key"),
  );
});
