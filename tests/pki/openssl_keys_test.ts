import assert from "node:assert/strict";
import { encodePem } from "../../src/cert/pem.ts";
import { isMtlsError } from "../../src/errors.ts";
import {
  createRootCa,
  exportPrivateKeyPem,
  importPrivateKey,
  issueCertificate,
  type KeyType,
  parseCertificates,
  privateKeyMatchesCertificate,
} from "../../src/pki/mod.ts";
import { openssl, opensslBytes, opensslOk, withTempDir } from "./_openssl.ts";

const OPENSSL_KEYS: [string, string[], KeyType, string][] = [
  [
    "PKCS#8 EC P-256",
    ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ec-p256",
    "PRIVATE KEY",
  ],
  [
    "SEC1 EC P-384 with EC PARAMETERS",
    ["ecparam", "-name", "secp384r1", "-genkey"],
    "ec-p384",
    "EC PRIVATE KEY",
  ],
  [
    "SEC1 EC P-256 (-noout)",
    ["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
    "ec-p256",
    "EC PRIVATE KEY",
  ],
  [
    "PKCS#1 RSA 2048 (genrsa -traditional)",
    ["genrsa", "-traditional", "2048"],
    "rsa-2048",
    "RSA PRIVATE KEY",
  ],
  [
    "PKCS#8 RSA 2048",
    ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa-2048",
    "PRIVATE KEY",
  ],
  ["PKCS#8 Ed25519", ["genpkey", "-algorithm", "ED25519"], "ed25519", "PRIVATE KEY"],
];

for (const [label, args, keyType, block] of OPENSSL_KEYS) {
  Deno.test(`importPrivateKey() reads an openssl ${label} key as PEM and as DER`, async () => {
    const pem = await opensslOk(args);
    assert.match(pem, new RegExp(`-----BEGIN ${block}-----`));
    const fromPem = await importPrivateKey(pem);
    assert.equal(fromPem.keyType, keyType);
    assert.equal(fromPem.privateKey.extractable, false);

    // DER in the same encoding as the PEM (traditional stays traditional).
    const keyOnly = pem.slice(pem.indexOf(`-----BEGIN ${block}-----`));
    const derArgs = block === "EC PRIVATE KEY"
      ? ["ec", "-outform", "der"]
      : block === "RSA PRIVATE KEY"
      ? ["rsa", "-traditional", "-outform", "der"]
      : ["pkey", "-outform", "der"];
    const der = await opensslBytes(derArgs, keyOnly);
    const fromDer = await importPrivateKey(der, { extractable: true });
    assert.equal(fromDer.keyType, keyType);

    // Round trip: our PKCS#8 export is what openssl reads, and the same key.
    const ours = await exportPrivateKeyPem(fromDer.privateKey);
    assert.equal(
      await opensslOk(["pkey", "-pubout"], ours),
      await opensslOk(["pkey", "-pubout"], keyOnly),
    );
  });
}

Deno.test("issueCertificate() signs with a CA that openssl made (PKCS#1 key), and openssl verifies the leaf", async () => {
  await withTempDir(async (dir) => {
    await opensslOk(["genrsa", "-traditional", "-out", `${dir}/ca.key`, "2048"]);
    await opensslOk([
      "req",
      "-x509",
      "-new",
      "-key",
      `${dir}/ca.key`,
      "-subj",
      "/O=Acme/CN=Acme Root",
      "-days",
      "30",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      `${dir}/ca.crt`,
    ]);
    const [certificate] = parseCertificates(await Deno.readTextFile(`${dir}/ca.crt`));
    const { privateKey, keyType } = await importPrivateKey(
      await Deno.readTextFile(`${dir}/ca.key`),
    );
    assert.equal(certificate.subject.text, "O=Acme\nCN=Acme Root");
    assert.ok(await privateKeyMatchesCertificate(certificate, privateKey));
    const certificatePem = encodePem(certificate.der, "CERTIFICATE");
    const ca = { certificate, certificatePem, privateKey, keyType };
    const leaf = await issueCertificate(ca, "client", { commonName: "agent" });
    await Deno.writeTextFile(`${dir}/leaf.crt`, leaf.certificatePem);
    const r = await openssl([
      "verify",
      "-CAfile",
      `${dir}/ca.crt`,
      "-purpose",
      "sslclient",
      `${dir}/leaf.crt`,
    ]);
    assert.equal(r.stdout.trim(), `${dir}/leaf.crt: OK`, r.stderr);
    assert.equal(leaf.certificate.issuer.text, "O=Acme\nCN=Acme Root");
    // The issuer name is the CA's subject byte for byte (OpenSSL chains by it).
    assert.deepEqual(leaf.certificate.issuer.der, certificate.subject.der);
  });
});

Deno.test("exportPrivateKeyPem() writes PKCS#8 that openssl matches to the certificate, for every fast key type", async () => {
  const ca = await createRootCa();
  for (const keyType of ["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const) {
    const leaf = await issueCertificate(ca, "server", { keyType, exportable: true });
    assert.ok(leaf.privateKeyPem!.startsWith("-----BEGIN PRIVATE KEY-----\n"));
    assert.equal(
      await opensslOk(["pkey", "-pubout"], leaf.privateKeyPem!),
      await opensslOk(["x509", "-pubkey", "-noout"], leaf.certificatePem),
      keyType,
    );
  }
});

Deno.test("exportPrivateKeyPem() refuses a non-extractable key with a clear message", async () => {
  const ca = await createRootCa();
  assert.equal(ca.privateKeyPem, undefined);
  await assert.rejects(
    exportPrivateKeyPem(ca.privateKey),
    (e) =>
      isMtlsError(e, "invalid_key") &&
      e.message === "Private key is not extractable: create it with { exportable: true }",
  );
});

Deno.test("importPrivateKey() rejects encrypted, unsupported and corrupt keys with clear codes", async () => {
  const encrypted = await opensslOk([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-aes256",
    "-pass",
    "pass:x",
  ]);
  await assert.rejects(
    importPrivateKey(encrypted, { source: "k.key" }),
    (e) =>
      isMtlsError(e, "unsupported_key") &&
      e.message ===
        'Encrypted private key in "k.key" is not supported: decrypt it with "openssl pkey"',
  );
  const p521 = await opensslOk([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-521",
  ]);
  await assert.rejects(
    importPrivateKey(p521),
    (e) =>
      isMtlsError(e, "unsupported_key") &&
      e.message === 'Unsupported EC curve "1.3.132.0.35" in input: use P-256 or P-384',
  );
  const rsa1024 = await opensslOk(["genrsa", "1024"]);
  await assert.rejects(
    importPrivateKey(rsa1024),
    (e) =>
      isMtlsError(e, "unsupported_key") &&
      e.message.startsWith('Unsupported key type "RSA 1024-bit" in input'),
  );
  await assert.rejects(
    importPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    (e) => isMtlsError(e, "invalid_key"),
  );
  await assert.rejects(
    importPrivateKey(new Uint8Array([1, 2, 3, 4])),
    (e) => isMtlsError(e, "invalid_key") && e.message === "Cannot parse input: not a private key",
  );
  const ca = await createRootCa();
  await assert.rejects(
    importPrivateKey(ca.certificatePem, { source: "ca.crt" }),
    (e) =>
      isMtlsError(e, "invalid_pem") &&
      e.message === 'No PEM private key block in "ca.crt" (found "CERTIFICATE")',
  );
});
