/**
 * The one signature verifier (`verifySignature`, which `signedBy` and the
 * CRL and OCSP checks call) against signatures made by the real `openssl`
 * (`openssl dgst -sign`, `openssl pkeyutl -sign -rawin` for Ed25519): each
 * key type verifies, a tampered message or signature does not, and a key
 * that is garbage or of the wrong type gives `false`, never a throw.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readTlv } from "../../src/cert/der.ts";
import { type PublicKeyInfo, readPublicKey } from "../../src/cert/public_key.ts";
import type { SignatureAlgorithm } from "../../src/cert/algorithms.ts";
import { verifySignature } from "../../src/cert/verify_signature.ts";
import { opensslOk, withTempDir } from "../pki/_openssl.ts";

interface Case {
  name: string;
  genkey: string[];
  sign: (key: string, data: string, sig: string) => string[];
  algorithm: SignatureAlgorithm;
}

const dgst = (hash: string, ...opts: string[]) => (key: string, data: string, sig: string) => [
  "dgst",
  `-${hash}`,
  ...opts,
  "-sign",
  key,
  "-out",
  sig,
  data,
];

const CASES: Case[] = [
  {
    name: "RSA 2048, PKCS#1 v1.5, SHA-256",
    genkey: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    sign: dgst("sha256"),
    algorithm: {
      oid: "1.2.840.113549.1.1.11",
      name: "sha256WithRSAEncryption",
      hash: "SHA-256",
      kind: "rsa",
    },
  },
  {
    name: "RSA 2048, PSS, SHA-256",
    genkey: ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    sign: dgst("sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"),
    algorithm: {
      oid: "1.2.840.113549.1.1.10",
      name: "RSASSA-PSS",
      hash: "SHA-256",
      kind: "rsa-pss",
    },
  },
  {
    name: "ECDSA P-256, SHA-256",
    genkey: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    sign: dgst("sha256"),
    algorithm: {
      oid: "1.2.840.10045.4.3.2",
      name: "ecdsa-with-SHA256",
      hash: "SHA-256",
      kind: "ecdsa",
    },
  },
  {
    name: "ECDSA P-384, SHA-384",
    genkey: ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    sign: dgst("sha384"),
    algorithm: {
      oid: "1.2.840.10045.4.3.3",
      name: "ecdsa-with-SHA384",
      hash: "SHA-384",
      kind: "ecdsa",
    },
  },
  {
    name: "Ed25519",
    genkey: ["-algorithm", "ED25519"],
    sign: (
      key,
      data,
      sig,
    ) => ["pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", data, "-out", sig],
    algorithm: { oid: "1.3.101.112", name: "ED25519", kind: "ed25519" },
  },
];

/** An openssl key pair, a message and openssl's signature of it. */
async function signed(dir: string, c: Case) {
  const key = join(dir, "key.pem"), pub = join(dir, "pub.der");
  const data = join(dir, "data.bin"), sig = join(dir, "sig.bin");
  await opensslOk(["genpkey", ...c.genkey, "-out", key]);
  await opensslOk(["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", pub]);
  const message = crypto.getRandomValues(new Uint8Array(300));
  await Deno.writeFile(data, message);
  await opensslOk(c.sign(key, data, sig));
  const spki = await Deno.readFile(pub);
  return {
    key: readPublicKey(spki, readTlv(spki, 0)),
    message,
    signature: await Deno.readFile(sig),
  };
}

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 0x01;
  return out;
}

for (const c of CASES) {
  Deno.test(`verifySignature() accepts an openssl ${c.name} signature and refuses a tampered one`, async () => {
    await withTempDir(async (dir) => {
      const { key, message, signature } = await signed(dir, c);
      assert.equal(verifySignature(c.algorithm, key, message, signature), true);
      assert.equal(verifySignature(c.algorithm, key, flipped(message, 7), signature), false);
      assert.equal(
        verifySignature(c.algorithm, key, message, flipped(signature, signature.length - 1)),
        false,
      );
      assert.equal(verifySignature(c.algorithm, key, message, new Uint8Array()), false);
    });
  });
}

Deno.test("verifySignature() with a key of another type, or a hash the key's algorithm does not take, is false", async () => {
  await withTempDir(async (dir) => {
    const [rsa, ec, ed] = [CASES[0], CASES[2], CASES[4]];
    const ecSigned = await signed(dir, ec);
    const edSigned = await signed(dir, ed);
    // The ECDSA signature checked as RSA, and with an RSA algorithm name on an EC key.
    assert.equal(
      verifySignature(rsa.algorithm, ecSigned.key, ecSigned.message, ecSigned.signature),
      false,
    );
    // An Ed25519 signature presented as ECDSA with the Ed25519 key.
    assert.equal(
      verifySignature(ec.algorithm, edSigned.key, edSigned.message, edSigned.signature),
      false,
    );
    // The right key type, the wrong hash (SHA-384 for a SHA-256 signature).
    const sha384 = CASES[3].algorithm;
    assert.equal(
      verifySignature(sha384, ecSigned.key, ecSigned.message, ecSigned.signature),
      false,
    );
    // An algorithm the table does not know.
    const unknown: SignatureAlgorithm = { oid: "1.2.3.4", name: "1.2.3.4", kind: "unknown" };
    assert.equal(
      verifySignature(unknown, ecSigned.key, ecSigned.message, ecSigned.signature),
      false,
    );
  });
});

Deno.test("verifySignature() with a garbage key is false, not a throw", () => {
  const garbage: PublicKeyInfo = {
    spki: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]),
    subjectPublicKey: new Uint8Array([0x04, 0x01, 0x02]),
    algorithm: "1.2.840.10045.2.1",
    type: "ec",
    curve: "P-256",
    bits: 256,
  };
  const alg = CASES[2].algorithm;
  assert.equal(verifySignature(alg, garbage, new Uint8Array([1, 2, 3]), new Uint8Array(70)), false);
  const empty: PublicKeyInfo = { ...garbage, spki: new Uint8Array() };
  assert.equal(verifySignature(alg, empty, new Uint8Array(), new Uint8Array()), false);
});
