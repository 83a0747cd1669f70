import assert from "node:assert/strict";
import { isMtlsError } from "../../src/errors.ts";
import {
  createIntermediateCa,
  createRootCa,
  inspectCertificate,
  issueCertificate,
  needsRenewal,
  parseCertificates,
} from "../../src/pki/mod.ts";
import { opensslBytes, opensslOk } from "./_openssl.ts";

const DAY = 86_400_000;

Deno.test("inspectCertificate() reports names, serial, validity, key type, EKU, CA flag and pins", async () => {
  const ca = await createRootCa({ keyType: "ec-p384" });
  const leaf = await issueCertificate(ca, "server", {
    commonName: "api",
    subjectAltNames: "dns:api,ip:::1,uri:spiffe://x/y,email:a@b.example",
    keyType: "rsa-2048",
    days: 90,
  });
  const now = new Date(leaf.certificate.notBefore.getTime() + 10 * DAY);
  const info = await inspectCertificate(leaf.certificatePem, { now });
  assert.equal(info.subject, "CN=api");
  assert.equal(info.issuer, "CN=mcp-mtls Root CA");
  assert.deepEqual(info.subjectAltNames, [
    { type: "dns", value: "api" },
    { type: "ip", value: "::1" },
    { type: "uri", value: "spiffe://x/y" },
    { type: "email", value: "a@b.example" },
  ]);
  const opensslSerial = (await opensslOk(["x509", "-noout", "-serial"], leaf.certificatePem))
    .trim();
  assert.equal(info.serialNumber, opensslSerial.split("=")[1].toLowerCase().replace(/^00/, ""));
  assert.equal(info.keyType, "rsa-2048");
  assert.deepEqual(info.extendedKeyUsage, ["serverAuth"]);
  assert.equal(info.isCa, false);
  assert.equal(info.selfIssued, false);
  assert.match(info.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(info.secondsToExpiry, Math.floor((info.notAfter.getTime() - now.getTime()) / 1000));
  assert.equal(info.needsRenewal, false);
  const caInfo = await inspectCertificate(ca.certificate);
  assert.equal(caInfo.isCa, true);
  assert.equal(caInfo.keyType, "ec-p384");
  assert.deepEqual(caInfo.extendedKeyUsage, []);
  // JSON-ready: dates become ISO strings.
  assert.equal(JSON.parse(JSON.stringify(info)).notAfter, info.notAfter.toISOString());
});

Deno.test("needsRenewal() turns true once two thirds of the lifetime have passed, or at a given fraction", async () => {
  const ca = await createRootCa();
  const notBefore = new Date("2030-01-01T00:00:00Z");
  const leaf = await issueCertificate(ca, "client", {
    notBefore,
    notAfter: new Date(notBefore.getTime() + 90 * DAY),
  });
  const at = (days: number) => new Date(notBefore.getTime() + days * DAY);
  assert.equal(needsRenewal(leaf.certificate, { now: at(59) }), false);
  assert.equal(needsRenewal(leaf.certificate, { now: at(60) }), true);
  assert.equal(needsRenewal(leaf.certificate, { now: at(100) }), true);
  assert.equal(needsRenewal(leaf.certificate, { now: at(44), fraction: 0.5 }), false);
  assert.equal(needsRenewal(leaf.certificate, { now: at(45), fraction: 0.5 }), true);
  assert.throws(
    () => needsRenewal(leaf.certificate, { fraction: 0 }),
    (e) => isMtlsError(e, "invalid_argument"),
  );
  const info = await inspectCertificate(leaf.certificate, { now: at(91) });
  assert.equal(info.needsRenewal, true);
  assert.ok(info.secondsToExpiry < 0);
});

Deno.test("parseCertificates() reads a PEM chain in order, skipping other blocks, and DER", async () => {
  const root = await createRootCa();
  const intermediate = await createIntermediateCa(root);
  const leaf = await issueCertificate(intermediate, "server", { exportable: true });
  const chain = leaf.privateKeyPem + leaf.certificatePem + "\r\n" +
    intermediate.certificatePem.replaceAll("\n", "\r\n");
  const certs = parseCertificates(chain);
  assert.deepEqual(certs.map((c) => c.subject.text), [
    "CN=localhost",
    "CN=mcp-mtls Intermediate CA",
  ]);
  const der = await opensslBytes(["x509", "-outform", "der"], root.certificatePem);
  assert.equal(parseCertificates(der)[0].subject.text, "CN=mcp-mtls Root CA");
});

Deno.test("parseCertificates() reads a certificate openssl made", async () => {
  const pem = await opensslOk([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "/dev/null",
    "-subj",
    "/CN=openssl-made",
    "-days",
    "1",
    "-addext",
    "subjectAltName=DNS:made.example,IP:10.1.2.3",
  ]);
  const [cert] = parseCertificates(pem);
  const info = await inspectCertificate(cert);
  assert.equal(info.subject, "CN=openssl-made");
  assert.equal(info.keyType, "ec-p256");
  assert.deepEqual(info.subjectAltNames, [
    { type: "dns", value: "made.example" },
    { type: "ip", value: "10.1.2.3" },
  ]);
});

Deno.test("parseCertificates() rejects garbage with clear messages", () => {
  const cases: [string | Uint8Array, string, string][] = [
    ["hello", "invalid_pem", 'No PEM "CERTIFICATE" block in "x.crt"'],
    [
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      "invalid_pem",
      'No PEM "CERTIFICATE" block in "x.crt" (found "PRIVATE KEY")',
    ],
    [
      "-----BEGIN CERTIFICATE-----\nTUlJQmVm\n-----END CERTIFICATE-----\n",
      "invalid_pem",
      'PEM block 1 in "x.crt" is not a valid certificate',
    ],
    [
      new Uint8Array([0x30, 0x03, 1, 2, 3]),
      "invalid_der",
      'Cannot parse "x.crt": not a PEM or DER certificate',
    ],
    [new Uint8Array(0), "invalid_der", 'Cannot parse "x.crt": not a PEM or DER certificate'],
  ];
  for (const [input, code, message] of cases) {
    assert.throws(
      () => parseCertificates(input, { source: "x.crt" }),
      (e) => isMtlsError(e) && e.code === code && e.message === message,
      message,
    );
  }
});
