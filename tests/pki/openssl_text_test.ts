import assert from "node:assert/strict";
import { createIntermediateCa, createRootCa, issueCertificate } from "../../src/pki/mod.ts";
import { opensslOk } from "./_openssl.ts";

function text(pem: string): Promise<string> {
  return opensslOk(["x509", "-text", "-noout"], pem);
}

/** The line after `heading` in openssl's text output, trimmed. */
function after(out: string, heading: string): string {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => l.trim().startsWith(heading));
  assert.ok(i >= 0, `no "${heading}" in:\n${out}`);
  return `${lines[i].trim()} | ${lines[i + 1].trim()}`;
}

Deno.test("openssl shows root and intermediate CA extensions: critical basicConstraints, pathlen, keyCertSign, SKI/AKI", async () => {
  const root = await createRootCa({ commonName: "Test Root", pathLength: 1 });
  const intermediate = await createIntermediateCa(root, { commonName: "Test Intermediate" });
  const rootText = await text(root.certificatePem);
  assert.equal(
    after(rootText, "X509v3 Basic Constraints"),
    "X509v3 Basic Constraints: critical | CA:TRUE, pathlen:1",
  );
  assert.equal(
    after(rootText, "X509v3 Key Usage"),
    "X509v3 Key Usage: critical | Digital Signature, Certificate Sign, CRL Sign",
  );
  assert.match(rootText, /Subject: CN = Test Root/);
  const rootSki = after(rootText, "X509v3 Subject Key Identifier").split(" | ")[1];

  const intText = await text(intermediate.certificatePem);
  assert.equal(
    after(intText, "X509v3 Basic Constraints"),
    "X509v3 Basic Constraints: critical | CA:TRUE, pathlen:0",
  );
  assert.equal(after(intText, "X509v3 Authority Key Identifier").split(" | ")[1], rootSki);
  assert.match(intText, /Issuer: CN = Test Root/);
});

Deno.test("openssl shows server extensions: EKU serverAuth, SANs of every kind, CRL DP and OCSP", async () => {
  const ca = await createRootCa();
  const server = await issueCertificate(ca, "server", {
    commonName: "api.example.com",
    subjectAltNames:
      "dns:api.example.com,ip:127.0.0.1,ip:::1,uri:spiffe://example.org/api,email:ops@example.com",
    crlDistributionPoints: ["http://127.0.0.1:8080/ca.crl"],
    ocspUrl: "http://127.0.0.1:8081/ocsp",
  });
  const out = await text(server.certificatePem);
  assert.match(out, /Subject: CN = api\.example\.com/);
  assert.equal(
    after(out, "X509v3 Basic Constraints"),
    "X509v3 Basic Constraints: critical | CA:FALSE",
  );
  assert.equal(after(out, "X509v3 Key Usage"), "X509v3 Key Usage: critical | Digital Signature");
  assert.equal(
    after(out, "X509v3 Extended Key Usage"),
    "X509v3 Extended Key Usage: | TLS Web Server Authentication",
  );
  assert.equal(
    after(out, "X509v3 Subject Alternative Name").split(" | ")[1],
    "DNS:api.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, URI:spiffe://example.org/api, email:ops@example.com",
  );
  assert.match(
    out,
    /X509v3 CRL Distribution Points:\s+Full Name:\s+URI:http:\/\/127\.0\.0\.1:8080\/ca\.crl/,
  );
  assert.match(out, /Authority Information Access:\s+OCSP - URI:http:\/\/127\.0\.0\.1:8081\/ocsp/);
  assert.match(out, /X509v3 Subject Key Identifier/);
  assert.match(out, /X509v3 Authority Key Identifier/);
});

Deno.test("openssl shows an RSA server with keyEncipherment and an RSA client without it", async () => {
  const ca = await createRootCa();
  const server = await issueCertificate(ca, "server", { keyType: "rsa-2048" });
  const client = await issueCertificate(ca, "client", { keyType: "rsa-2048" });
  assert.equal(
    after(await text(server.certificatePem), "X509v3 Key Usage"),
    "X509v3 Key Usage: critical | Digital Signature, Key Encipherment",
  );
  const clientText = await text(client.certificatePem);
  assert.equal(
    after(clientText, "X509v3 Key Usage"),
    "X509v3 Key Usage: critical | Digital Signature",
  );
  assert.equal(
    after(clientText, "X509v3 Extended Key Usage"),
    "X509v3 Extended Key Usage: | TLS Web Client Authentication",
  );
  assert.match(clientText, /Signature Algorithm: ecdsa-with-SHA256/);
});

Deno.test("openssl shows an overridden EKU (serverAuth-only client) and P-384 signing with SHA-384", async () => {
  const ca = await createRootCa({ keyType: "ec-p384" });
  const client = await issueCertificate(ca, "client", { extendedKeyUsage: ["serverAuth"] });
  const out = await text(client.certificatePem);
  assert.equal(
    after(out, "X509v3 Extended Key Usage"),
    "X509v3 Extended Key Usage: | TLS Web Server Authentication",
  );
  assert.match(out, /Signature Algorithm: ecdsa-with-SHA384/);
});
