/**
 * Password-based encryption of PKCS#12 bags: PBES2 (PBKDF2 with AES or 3DES)
 * both ways, and the PKCS#12 v1 schemes of `openssl pkcs12 -legacy` (3DES and
 * RC2) for reading. Apart from the file format so the list of schemes we
 * accept, and why the others are refused, reads in one place.
 *
 * @module
 */
import * as asn1js from "asn1js";
import type { AlgorithmIdentifier } from "pkijs";
import { createDecipheriv } from "node:crypto";
import { Buffer } from "node:buffer";
import { octets, OID, oid, sequence, toArrayBuffer } from "./pkcs12_asn1.ts";
import { HASHES, pkcs12Kdf } from "./pkcs12_kdf.ts";
import { type Fail, unsupported } from "./pkcs12_read.ts";
import { rc2CbcDecrypt } from "./rc2.ts";

const PRFS: Record<string, string> = {
  "1.2.840.113549.2.7": "1.3.14.3.2.26",
  "1.2.840.113549.2.9": "2.16.840.1.101.3.4.2.1",
  "1.2.840.113549.2.10": "2.16.840.1.101.3.4.2.2",
  "1.2.840.113549.2.11": "2.16.840.1.101.3.4.2.3",
};
const PBES2_CIPHERS: Record<string, { node: string; keyLength: number }> = {
  "2.16.840.1.101.3.4.1.2": { node: "aes-128-cbc", keyLength: 16 },
  "2.16.840.1.101.3.4.1.22": { node: "aes-192-cbc", keyLength: 24 },
  "2.16.840.1.101.3.4.1.42": { node: "aes-256-cbc", keyLength: 32 },
  "1.2.840.113549.3.7": { node: "des-ede3-cbc", keyLength: 24 },
};
/** PKCS#12 v1 password-based encryption (`openssl pkcs12 -legacy`), all with SHA-1. */
const LEGACY_PBE: Record<string, { label: string; keyLength: number; rc2Bits?: number }> = {
  "1.2.840.113549.1.12.1.3": { label: "pbeWithSHAAnd3-KeyTripleDES-CBC", keyLength: 24 },
  "1.2.840.113549.1.12.1.4": { label: "pbeWithSHAAnd2-KeyTripleDES-CBC", keyLength: 16 },
  "1.2.840.113549.1.12.1.5": { label: "pbeWithSHAAnd128BitRC2-CBC", keyLength: 16, rc2Bits: 128 },
  "1.2.840.113549.1.12.1.6": { label: "pbeWithSHAAnd40BitRC2-CBC", keyLength: 5, rc2Bits: 40 },
};
/** Names for schemes we recognise but cannot decrypt (no RC4 or single DES in WebCrypto or Deno). */
const UNSUPPORTED_NAMES: Record<string, string> = {
  "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
  "1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
  "1.2.840.113549.1.5.3": "pbeWithMD5AndDES-CBC",
  "1.2.840.113549.1.5.6": "pbeWithMD5AndRC2-CBC",
  "1.2.840.113549.1.5.10": "pbeWithSHA1AndDES-CBC",
  "1.2.840.113549.1.5.11": "pbeWithSHA1AndRC2-CBC",
};

/**
 * Decrypts one encrypted bag or EncryptedData content with the scheme its
 * AlgorithmIdentifier names.
 *
 * @param algorithm the encryption AlgorithmIdentifier from the file
 * @param ciphertext the encrypted bytes
 * @param password the file's password
 * @param checkIter bounds an iteration count read from the file
 * @param what the file, for messages
 * @param fail builds the file's `invalid_der` / `bad_password` errors
 * @returns the plaintext
 * @throws {CertificateError} `bad_password` when decryption fails, `unsupported_key` for an unknown scheme
 */
export async function pbeDecrypt(
  algorithm: AlgorithmIdentifier,
  ciphertext: Uint8Array,
  password: string,
  checkIter: (n: number) => number,
  what: string,
  fail: Fail,
): Promise<Uint8Array> {
  const id = algorithm.algorithmId;
  let cipher: string, key: Uint8Array, iv: Uint8Array;
  const legacy = LEGACY_PBE[id];
  if (id === OID.pbes2) {
    const params = algorithm.algorithmParams as asn1js.Sequence;
    ({ cipher, key, iv } = await pbes2Key(params, password, checkIter, what));
  } else if (legacy) {
    const [saltNode, iterNode] = (algorithm.algorithmParams as asn1js.Sequence).valueBlock.value;
    const salt = (saltNode as asn1js.OctetString).valueBlock.valueHexView;
    const iterations = checkIter((iterNode as asn1js.Integer).valueBlock.valueDec);
    const sha1 = HASHES["1.3.14.3.2.26"];
    key = pkcs12Kdf(sha1, password, salt, 1, iterations, legacy.keyLength);
    iv = pkcs12Kdf(sha1, password, salt, 2, iterations, 8);
    if (legacy.rc2Bits) {
      try {
        return rc2CbcDecrypt(key, legacy.rc2Bits, iv, ciphertext);
      } catch (err) {
        throw fail("bad_password", "wrong password (decryption failed)", err);
      }
    }
    if (legacy.keyLength === 16) key = Uint8Array.of(...key, ...key.subarray(0, 8));
    cipher = "des-ede3-cbc";
  } else {
    throw unsupported(what, `encryption "${UNSUPPORTED_NAMES[id] ?? id}"`);
  }
  try {
    const d = createDecipheriv(cipher, key, iv);
    return new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  } catch (err) {
    throw fail("bad_password", "wrong password (decryption failed)", err);
  }
}

/** PBES2 parameters (RFC 8018): the PBKDF2-derived key, the IV and the `node:crypto` cipher. */
async function pbes2Key(
  params: asn1js.Sequence,
  password: string,
  checkIter: (n: number) => number,
  what: string,
): Promise<{ cipher: string; key: Uint8Array; iv: Uint8Array }> {
  const [kdf, scheme] = params.valueBlock.value as asn1js.Sequence[];
  const kdfOid = (kdf.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue();
  if (kdfOid !== OID.pbkdf2) throw unsupported(what, `key derivation "${kdfOid}"`);
  const schemeOid = (scheme.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue();
  const spec = PBES2_CIPHERS[schemeOid];
  if (!spec) throw unsupported(what, `cipher "${schemeOid}"`);
  const kdfParams = (kdf.valueBlock.value[1] as asn1js.Sequence).valueBlock.value;
  const salt = (kdfParams[0] as asn1js.OctetString).valueBlock.valueHexView;
  const iterations = checkIter((kdfParams[1] as asn1js.Integer).valueBlock.valueDec);
  const prfNode = kdfParams.find((n) => n instanceof asn1js.Sequence) as
    | asn1js.Sequence
    | undefined;
  const prfOid = prfNode
    ? (prfNode.valueBlock.value[0] as asn1js.ObjectIdentifier).getValue()
    : "1.2.840.113549.2.7";
  const hash = HASHES[PRFS[prfOid]];
  if (!hash) throw unsupported(what, `PBKDF2 pseudo-random function "${prfOid}"`);
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    [
      "deriveBits",
    ],
  );
  const key = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: hash.name, salt: toArrayBuffer(salt), iterations },
      base,
      spec.keyLength * 8,
    ),
  );
  const iv = (scheme.valueBlock.value[1] as asn1js.OctetString).valueBlock.valueHexView;
  return { cipher: spec.node, key, iv };
}

/**
 * Encrypts with PBES2 the way OpenSSL 3 does by default: PBKDF2-HMAC-SHA256
 * with a fresh 16-byte salt, AES-256-CBC with a fresh IV.
 *
 * @param plaintext the bytes to encrypt
 * @param password the password's UTF-8 bytes
 * @param iterations the PBKDF2 iteration count
 * @returns the PBES2 AlgorithmIdentifier and the ciphertext
 */
export async function pbes2Encrypt(
  plaintext: ArrayBuffer | Uint8Array,
  password: Uint8Array,
  iterations: number,
): Promise<{ algorithm: asn1js.Sequence; data: Uint8Array }> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const base = await crypto.subtle.importKey("raw", toArrayBuffer(password), "PBKDF2", false, [
    "deriveKey",
  ]);
  const key = await crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-CBC", length: 256 },
    false,
    ["encrypt"],
  );
  const data = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-CBC", iv },
      key,
      toArrayBuffer(new Uint8Array(plaintext)),
    ),
  );
  const algorithm = sequence(
    oid(OID.pbes2),
    sequence(
      sequence(
        oid(OID.pbkdf2),
        sequence(
          octets(salt),
          new asn1js.Integer({ value: iterations }),
          sequence(oid(OID.hmacSha256), new asn1js.Null()),
        ),
      ),
      sequence(oid(OID.aes256Cbc), octets(iv)),
    ),
  );
  return { algorithm, data };
}
