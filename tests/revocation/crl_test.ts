import assert from "node:assert/strict";
import { readCertificate } from "../../src/cert/certificate.ts";
import { createCrl, crlToPem } from "../../src/pki/crl.ts";
import { isMtlsError } from "../../src/errors.ts";
import { normalizeSerial, parseCrl, verifyCrl } from "../../src/revocation/mod.ts";
import { makeOpensslCa, openssl } from "./_openssl.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-crl-");

const pemBody = (pem: string) =>
  Uint8Array.from(
    atob(pem.replace(/-----[^-]+-----/g, "").replace(/\s/g, "")),
    (c) => c.charCodeAt(0),
  );

/** A self-signed CA made by openssl with the given `-newkey` spec, imported for createCrl. */
async function opensslCa(
  name: string,
  newkey: string[],
  alg: AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams,
) {
  await openssl([
    "req",
    "-x509",
    "-nodes",
    ...newkey,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-subj",
    `/CN=${name}`,
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], root);
  const certificate = readCertificate(await Deno.readTextFile(`${root}/${name}.crt`));
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pemBody(await Deno.readTextFile(`${root}/${name}.key`)),
    alg,
    false,
    ["sign"],
  );
  return { certificate, privateKey, path: `${root}/${name}.crt` };
}

const KEYS = [
  ["ec-p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], {
    name: "ECDSA",
    namedCurve: "P-256",
  }],
  ["ec-p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], {
    name: "ECDSA",
    namedCurve: "P-384",
  }],
  ["rsa-2048", ["-newkey", "rsa:2048"], { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }],
  ["ed25519", ["-newkey", "ed25519"], { name: "Ed25519" }],
] as const;

for (const [name, newkey, alg] of KEYS) {
  Deno.test(`createCrl() with an ${name} CA is accepted by openssl crl -verify and read back`, async () => {
    const ca = await opensslCa(name, [...newkey], alg);
    const der = await createCrl(ca, [
      {
        serialNumber: "1A:2B",
        revocationDate: new Date("2026-01-02T03:04:05Z"),
        reason: "keyCompromise",
      },
      { serialNumber: "ff01", revocationDate: new Date("2026-01-03T00:00:00Z") },
    ], { crlNumber: 42n });
    await Deno.writeTextFile(`${root}/${name}.crl`, crlToPem(der));
    const out = await openssl([
      "crl",
      "-in",
      `${name}.crl`,
      "-CAfile",
      ca.path,
      "-verify",
      "-noout",
    ], root);
    assert.match(out, /verify OK/);
    const text = await openssl(["crl", "-in", `${name}.crl`, "-noout", "-text"], root);
    assert.match(text, /X509v3 CRL Number: \n\s+42/);
    assert.match(text, /X509v3 Authority Key Identifier/);

    const crl = parseCrl(await Deno.readFile(`${root}/${name}.crl`), `${name}.crl`);
    await verifyCrl(crl, await Deno.readTextFile(ca.path));
    assert.equal(crl.crlNumber, 42n);
    assert.equal(crl.size, 2);
    assert.deepEqual(crl.lookup("1a2b"), {
      serial: "1a2b",
      revokedAt: new Date("2026-01-02T03:04:05Z"),
      reason: "keyCompromise",
    });
    assert.deepEqual(crl.lookup("00:FF:01"), {
      serial: "ff01",
      revokedAt: new Date("2026-01-03T00:00:00Z"),
    });
    assert.equal(crl.lookup("1a2c"), undefined);
  });
}

Deno.test("parseCrl() reads a CRL made by openssl ca -gencrl, with reasons and CRL number", async () => {
  const ca = await makeOpensslCa(root, "GenCA");
  const alice = await ca.issue("alice");
  const bob = await ca.issue("bob");
  await ca.revoke(alice.path, "superseded");
  const path = await ca.gencrl();
  const crl = parseCrl(await Deno.readFile(path), path);
  await verifyCrl(crl, ca.caDer);
  assert.equal(crl.crlNumber, 1n);
  assert.equal(crl.lookup(alice.serial)?.reason, "superseded");
  assert.equal(crl.lookup(bob.serial), undefined);
  assert.ok(crl.nextUpdate! > new Date());
});

Deno.test("parseCrl() refuses bytes that are neither PEM nor DER", () => {
  assert.throws(
    () => parseCrl(new TextEncoder().encode("hello, not a CRL"), "bad.crl"),
    (e) =>
      isMtlsError(e, "crl_invalid") &&
      e.message === 'Cannot load CRL "bad.crl": no "X509 CRL" PEM block and not DER',
  );
});

Deno.test("parseCrl() refuses a truncated CRL", async () => {
  const ca = await opensslCa("trunc", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], {
    name: "ECDSA",
    namedCurve: "P-256",
  });
  const der = await createCrl(ca, [], { crlNumber: 1 });
  assert.throws(
    () => parseCrl(der.subarray(0, 40), "cut.crl"),
    (e) =>
      isMtlsError(e, "crl_invalid") &&
      e.message === 'Cannot load CRL "cut.crl": DER value at offset 0 overruns its container',
  );
  assert.throws(
    () => parseCrl(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), "int.crl"),
    (e) => isMtlsError(e, "crl_invalid") && e.message === 'Cannot load CRL "int.crl": not a CRL',
  );
});

Deno.test("verifyCrl() refuses a CRL signed by another key with the CA's name", async () => {
  const ca = await opensslCa("Victim", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], {
    name: "ECDSA",
    namedCurve: "P-256",
  });
  const rogue = await opensslCa("Rogue", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], {
    name: "ECDSA",
    namedCurve: "P-256",
  });
  const forged = await createCrl(
    { certificate: ca.certificate, privateKey: rogue.privateKey },
    [],
    { crlNumber: 9 },
  );
  const crl = parseCrl(forged, "forged.crl");
  await assert.rejects(
    verifyCrl(crl, await Deno.readTextFile(ca.path)),
    (e) =>
      isMtlsError(e, "crl_invalid") &&
      e.message === 'Cannot load CRL "forged.crl": signature does not verify',
  );
  assert.equal(crl.verifiedBy, undefined);
});

/** An RSA CA made by openssl, and a CRL it signs with `openssl ca -gencrl` and `signArgs`. */
async function opensslSignedCrl(name: string, signArgs: string[]) {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  await openssl([
    "req",
    "-x509",
    "-nodes",
    "-newkey",
    "rsa:2048",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-subj",
    `/CN=${name}`,
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
  await Deno.writeTextFile(`${dir}/index.txt`, "");
  await Deno.writeTextFile(`${dir}/crlnumber`, "01\n");
  await Deno.writeTextFile(
    `${dir}/ca.cnf`,
    "[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_crl_days = 1\n",
  );
  await openssl(
    [
      "ca",
      "-gencrl",
      "-config",
      "ca.cnf",
      "-keyfile",
      "ca.key",
      "-cert",
      "ca.crt",
      ...signArgs,
      "-out",
      "ca.crl",
    ],
    dir,
  );
  // openssl itself accepts the signature: a refusal below is about the algorithm.
  assert.match(
    await openssl(["crl", "-in", "ca.crl", "-CAfile", "ca.crt", "-verify", "-noout"], dir),
    /verify OK/,
  );
  return {
    crl: await Deno.readFile(`${dir}/ca.crl`),
    ca: await Deno.readTextFile(`${dir}/ca.crt`),
  };
}

Deno.test("verifyCrl() refuses an MD5-signed CRL that openssl verifies, naming the algorithm", async () => {
  const { crl: der, ca } = await opensslSignedCrl("Md5CA", ["-md", "md5"]);
  const crl = parseCrl(der, "md5.crl");
  assert.equal(crl.signatureAlgorithm.name, "md5WithRSAEncryption");
  await assert.rejects(
    verifyCrl(crl, ca),
    (e) =>
      isMtlsError(e, "crl_invalid") &&
      e.message ===
        'Cannot load CRL "md5.crl": unsupported signature algorithm 1.2.840.113549.1.1.4',
  );
  assert.equal(crl.verifiedBy, undefined);
});

Deno.test("verifyCrl() accepts an RSASSA-PSS CRL made by openssl", async () => {
  const { crl: der, ca } = await opensslSignedCrl("PssCA", [
    "-md",
    "sha256",
    "-sigopt",
    "rsa_padding_mode:pss",
    "-sigopt",
    "rsa_pss_saltlen:32",
  ]);
  const crl = parseCrl(der, "pss.crl");
  assert.deepEqual(
    [crl.signatureAlgorithm.kind, crl.signatureAlgorithm.hash],
    ["rsa-pss", "SHA-256"],
  );
  await verifyCrl(crl, ca);
  assert.equal(crl.verifiedBy, readCertificate(ca).spkiPin);
});

Deno.test("verifyCrl() refuses a CRL from another CA", async () => {
  const a = await opensslCa("CA-A", ["-newkey", "ed25519"], { name: "Ed25519" });
  const b = await opensslCa("CA-B", ["-newkey", "ed25519"], { name: "Ed25519" });
  const crl = parseCrl(await createCrl(b, [], { crlNumber: 1 }), "b.crl");
  await assert.rejects(
    verifyCrl(crl, await Deno.readTextFile(a.path)),
    (e) =>
      isMtlsError(e, "crl_invalid") &&
      e.message === 'Cannot load CRL "b.crl": issuer name does not match the CA',
  );
});

Deno.test("createCrl() refuses a non-hex serial and a nextUpdate before thisUpdate", async () => {
  const ca = await opensslCa("Args", ["-newkey", "ed25519"], { name: "Ed25519" });
  await assert.rejects(
    createCrl(ca, [{ serialNumber: "xyz", revocationDate: new Date() }], { crlNumber: 1 }),
    (e) => isMtlsError(e, "invalid_argument") && e.message === 'Serial number "xyz" is not hex',
  );
  const t = new Date("2026-01-01T00:00:00Z");
  await assert.rejects(
    createCrl(ca, [], { crlNumber: 1, thisUpdate: t, nextUpdate: t }),
    (e) =>
      isMtlsError(e, "invalid_argument") &&
      e.message ===
        'CRL nextUpdate "2026-01-01T00:00:00.000Z" is not after thisUpdate "2026-01-01T00:00:00.000Z"',
  );
});

Deno.test("normalizeSerial() accepts colons, 0x and leading zeros and rejects non-hex", () => {
  assert.equal(normalizeSerial("00:1A:2B"), "1a2b");
  assert.equal(normalizeSerial("0x0001"), "1");
  assert.equal(normalizeSerial("000"), "0");
  assert.equal(normalizeSerial("12g"), undefined);
});

Deno.test("createCrl() signs 50,000 entries and openssl verifies the result", async () => {
  const ca = await opensslCa("Big", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], {
    name: "ECDSA",
    namedCurve: "P-256",
  });
  const at = new Date("2026-06-01T00:00:00Z");
  const entries = Array.from({ length: 50_000 }, (_, i) => ({
    serialNumber: (0x80000000 + i).toString(16), // high bit set: needs a leading zero octet
    revocationDate: at,
    reason: i % 2 ? "superseded" as const : undefined,
  }));
  // How long it takes is measured in bench/timings.ts, not asserted here.
  const der = await createCrl(ca, entries, { crlNumber: 2n ** 70n });
  await Deno.writeFile(`${root}/big.crl`, der);
  const out = await openssl([
    "crl",
    "-inform",
    "DER",
    "-in",
    "big.crl",
    "-CAfile",
    ca.path,
    "-verify",
    "-noout",
  ], root);
  assert.match(out, /verify OK/);
  const crl = parseCrl(der, "big.crl");
  await verifyCrl(crl, await Deno.readTextFile(ca.path));
  assert.equal(crl.size, 50_000);
  assert.equal(crl.crlNumber, 2n ** 70n);
  assert.deepEqual(crl.lookup("80000001"), {
    serial: "80000001",
    revokedAt: at,
    reason: "superseded",
  });
  assert.deepEqual(crl.lookup("80000000"), { serial: "80000000", revokedAt: at });
});
