/**
 * The certificate model against independent readers: certificates made by
 * `openssl` (not by our PKI), read by `readCertificate` and compared field by
 * field with `node:crypto`'s `X509Certificate` and `openssl x509` output.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { readCertificate, readCertificates } from "../../src/cert/mod.ts";
import { namesIssuer, signedBy } from "../../src/cert/verify_signature.ts";
import { CertificateError } from "../../src/errors.ts";
import { opensslOk, withTempDir } from "../pki/_openssl.ts";

function assertThrows(fn: () => unknown, type: typeof CertificateError): CertificateError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof type, `expected a ${type.name}, got ${e}`);
    return e;
  }
  throw new assert.AssertionError({ message: "expected a throw" });
}

interface Made {
  der: Uint8Array;
  pem: string;
  caPem: string;
}

/** A CA and a leaf made by openssl with `keyArgs`, subject and extensions. */
async function make(dir: string, keyArgs: string[], subj: string, ext: string): Promise<Made> {
  const ca = join(dir, "ca"), leaf = join(dir, "leaf");
  await opensslOk([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${ca}.key`,
    "-out",
    `${ca}.pem`,
    "-subj",
    "/CN=Model Test CA",
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE,pathlen:1",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]); // deno-fmt-ignore
  await opensslOk(["req", "-new", ...keyArgs, "-nodes", "-keyout", `${leaf}.key`, "-out", `${leaf}.csr`, "-subj", subj]); // deno-fmt-ignore
  await Deno.writeTextFile(`${leaf}.ext`, ext);
  await opensslOk([
    "x509",
    "-req",
    "-in",
    `${leaf}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${leaf}.ext`,
    "-out",
    `${leaf}.pem`,
  ]); // deno-fmt-ignore
  const pem = await Deno.readTextFile(`${leaf}.pem`);
  const der = new Uint8Array(new X509Certificate(pem).raw);
  return { der, pem, caPem: await Deno.readTextFile(`${ca}.pem`) };
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];
const RSA = ["-newkey", "rsa:2048"];
const ED = ["-newkey", "ed25519"];

Deno.test("readCertificate() reads what node:crypto reads, for openssl-made EC, RSA and Ed25519 leaves", async () => {
  await withTempDir(async (dir) => {
    for (
      const [keyArgs, type, bits] of [[EC, "ec", 384], [RSA, "rsa", 2048], [
        ED,
        "ed25519",
        256,
      ]] as const
    ) {
      const m = await make(
        dir,
        [...keyArgs],
        "/C=US/O=Acme, Inc./CN=agent-1",
        "subjectAltName=DNS:a.example,IP:127.0.0.1,IP:2001:db8::1,URI:spiffe://acme/agent,email:a@acme.test\n" +
          "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n" +
          "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp,caIssuers;URI:http://127.0.0.1:9/ca.crt\n" +
          "crlDistributionPoints=URI:http://127.0.0.1:9/ca.crl\n",
      );
      const node = new X509Certificate(m.der);
      const c = readCertificate(m.der);
      assert.deepEqual(c.version, 3);
      // The same integer. node:crypto on Deno drops a leading zero nibble ("9266..." for the
      // bytes 09 26 66 ...) and a sign byte; we keep whole bytes, so the text has an even length.
      assert.equal(BigInt(`0x${c.serialNumber}`), BigInt(`0x${node.serialNumber}`));
      assert.equal(c.serialNumber.length % 2, 0);
      assert.deepEqual(c.fingerprint, node.fingerprint256.replaceAll(":", "").toLowerCase());
      assert.deepEqual(c.notAfter.getTime(), new Date(node.validTo).getTime());
      assert.deepEqual(c.notBefore.getTime(), new Date(node.validFrom).getTime());
      assert.deepEqual(c.subject.text, "C=US\nO=Acme, Inc.\nCN=agent-1");
      assert.deepEqual(c.issuer.text, "CN=Model Test CA");
      assert.deepEqual(c.subjectAltNames, {
        dns: ["a.example"],
        ip: ["127.0.0.1", "2001:db8::1"],
        uri: ["spiffe://acme/agent"],
        email: ["a@acme.test"],
        other: 0,
      });
      assert.deepEqual(c.extendedKeyUsage, ["1.3.6.1.5.5.7.3.2"]);
      assert.deepEqual([...c.keyUsage!], [0]);
      assert.deepEqual(c.criticalExtensions, ["2.5.29.15"]);
      assert.deepEqual(c.ocspUrls, ["http://127.0.0.1:9/ocsp"]);
      assert.deepEqual(c.caIssuerUrls, ["http://127.0.0.1:9/ca.crt"]);
      assert.deepEqual(c.crlUrls, ["http://127.0.0.1:9/ca.crl"]);
      assert.deepEqual(c.basicConstraints, undefined);
      assert.deepEqual(c.publicKey.type, type);
      assert.deepEqual(c.publicKey.bits, bits);
      assert.deepEqual(node.publicKey.asymmetricKeyType, type);
      const spki = node.publicKey.export({ type: "spki", format: "der" });
      assert.deepEqual(Buffer.from(c.publicKey.spki).equals(spki), true);
      assert.deepEqual(c.signatureAlgorithm.name, "ecdsa-with-SHA256");
      const ca = readCertificate(m.caPem);
      assert.deepEqual(ca.basicConstraints, { ca: true, pathLength: 1 });
      assert.deepEqual([...ca.keyUsage!].sort(), [5, 6]);
      assert.deepEqual(ca.selfIssued, true);
      assert(namesIssuer(c, ca));
      assert(signedBy(c, ca.publicKey));
      assert(signedBy(ca, ca.publicKey));
      assert(!signedBy(ca, c.publicKey), "a leaf's key did not sign the CA");
      assert.deepEqual(node.checkIssued(new X509Certificate(m.caPem)), true);
    }
  });
});

Deno.test("readCertificate() keeps the RDN structure: multi-valued RDNs, several CNs, BMPString", async () => {
  await withTempDir(async (dir) => {
    const m = await make(
      dir,
      EC,
      "/CN=a+OU=b/CN=second/emailAddress=x@y.z",
      "keyUsage=digitalSignature\n",
    );
    const c = readCertificate(m.der);
    assert.deepEqual(c.subject.rdns.map((r) => r.map((a) => `${a.name}=${a.value}`)), [
      ["CN=a", "OU=b"],
      ["CN=second"],
      ["emailAddress=x@y.z"],
    ]);
    assert.deepEqual(c.subject.text, "CN=a + OU=b\nCN=second\nemailAddress=x@y.z");
    assert.deepEqual(c.subjectAltNames, { dns: [], ip: [], uri: [], email: [], other: 0 });
  });
});

Deno.test("readCertificate() escapes control characters so a name cannot forge a line", async () => {
  await withTempDir(async (dir) => {
    const m = await make(dir, EC, "/CN=evil\nCN=admin", "keyUsage=digitalSignature\n");
    const c = readCertificate(m.der);
    assert.deepEqual(c.subject.attributes.length, 1);
    assert.deepEqual(c.subject.attributes[0].value, "evil\nCN=admin");
    assert.deepEqual(c.subject.text, "CN=evil\\0aCN=admin");
  });
});

Deno.test("readCertificate() parses a DER once and hands back the same object", async () => {
  await withTempDir(async (dir) => {
    const m = await make(dir, EC, "/CN=once", "keyUsage=digitalSignature\n");
    const a = readCertificate(m.der);
    assert(readCertificate(m.der.slice()) === a, "same DER in another buffer: same model");
    assert(readCertificate(m.pem) === a, "the same certificate as PEM: same model");
    assert.deepEqual(readCertificates(m.pem + m.caPem).map((c) => c.subject.text), [
      "CN=once",
      "CN=Model Test CA",
    ]);
  });
});

Deno.test("readCertificate() refuses what is not a certificate with invalid_der or invalid_pem", () => {
  const bad: [Uint8Array | string, string, string][] = [
    [new Uint8Array([0x30, 0x00]), "invalid_der", "Cannot read certificate DER: truncated element"],
    [
      new Uint8Array([0x30, 0x02, 0x05, 0x00]),
      "invalid_der",
      "Cannot read certificate DER: expected tag 0x30 at offset 2, found 0x5",
    ],
    [
      new Uint8Array([0x30, 0x05, 0x01]),
      "invalid_der",
      "Cannot read certificate DER: element overruns its parent",
    ],
    [new Uint8Array([]), "invalid_der", "Cannot read certificate DER: truncated element"],
    ["no pem", "invalid_pem", "No CERTIFICATE block in PEM input"],
    [
      "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
      "invalid_pem",
      "Malformed PEM in input: a block is not base64 between matching BEGIN and END lines",
    ],
    [
      "-----BEGIN CERTIFICATE-----\nMAA=\n-----END X509 CRL-----\n",
      "invalid_pem",
      "Malformed PEM in input: a block is not base64 between matching BEGIN and END lines",
    ],
  ]; // deno-fmt-ignore
  for (const [input, code, message] of bad) {
    const e = assertThrows(() => readCertificate(input), CertificateError);
    assert.deepEqual([e.code, e.message], [code, message], String(input));
  }
});

Deno.test("readCertificate() refuses an iPAddress SAN that is neither 4 nor 16 bytes", async () => {
  await withTempDir(async (dir) => {
    // A 5-byte iPAddress can only be written as raw DER: [7] 01 02 03 04 05.
    const m = await make(dir, EC, "/CN=ip", "subjectAltName=DER:30:07:87:05:01:02:03:04:05\n");
    const e = assertThrows(() => readCertificate(m.der), CertificateError);
    assert.deepEqual(
      e.message,
      "Cannot read certificate DER: iPAddress SAN of 5 bytes (expected 4 or 16)",
    );
  });
});
