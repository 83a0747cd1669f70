/**
 * Signature and key strength of the certificates in a client chain: SHA-1,
 * MD5, MD4 and MD2 signatures are refused (`weak_signature`), and so are RSA
 * keys under 2048 bits and DSA keys (`weak_key`).
 *
 * Why these lines: a certificate signed with MD5 or SHA-1 can be forged with a
 * chosen-prefix collision (the rogue MD5 CA, 2008; "SHA-1 is a Shambles",
 * 2020), and OpenSSL 3 refuses both from security level 1 up. RSA under 2048 bits is below 112-bit
 * security, OpenSSL's level 2 (Debian's default) and NIST's floor since 2013.
 * DSA is gone from TLS 1.3, unsupported by rustls/webpki and by Go's
 * `crypto/x509` (since 1.16), and barred by Mozilla's root store policy;
 * Deno cannot even verify a DSA signature.
 *
 * The signature algorithm is read from the certificate's DER with the shared
 * reader (`X509Certificate` has no portable accessor for it); the key from
 * `publicKey.asymmetricKeyDetails`.
 *
 * @module
 */

import type { X509Certificate } from "node:crypto";
import { children, DerError, expectTlv, readOid, readTlv, type Tlv } from "../pki/der.ts";
import type { Refusal } from "./verify_chain.ts";

/**
 * Smallest RSA modulus accepted anywhere in a client chain, in bits.
 *
 * @example
 * ```ts
 * import { MIN_RSA_BITS } from "./signature_strength.ts";
 * console.assert(MIN_RSA_BITS === 2048);
 * ```
 */
export const MIN_RSA_BITS = 2048;

/** Signature algorithms whose hash is broken, by OID: [name, hash]. */
const WEAK_SIGNATURES: Record<string, readonly [string, string]> = {
  "1.2.840.113549.1.1.2": ["md2WithRSAEncryption", "MD2"],
  "1.2.840.113549.1.1.3": ["md4WithRSAEncryption", "MD4"],
  "1.2.840.113549.1.1.4": ["md5WithRSAEncryption", "MD5"],
  "1.2.840.113549.1.1.5": ["sha1WithRSAEncryption", "SHA-1"],
  "1.3.14.3.2.3": ["md5WithRSA", "MD5"],
  "1.3.14.3.2.29": ["sha1WithRSASignature", "SHA-1"],
  "1.2.840.10045.4.1": ["ecdsa-with-SHA1", "SHA-1"],
  "1.2.840.10040.4.3": ["dsa-with-SHA1", "SHA-1"],
  "1.3.14.3.2.27": ["dsaWithSHA1", "SHA-1"],
};

const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";

/** Hash algorithms that make an RSASSA-PSS signature weak, by OID. */
const WEAK_HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "SHA-1",
  "1.2.840.113549.2.5": "MD5",
  "1.2.840.113549.2.4": "MD4",
  "1.2.840.113549.2.2": "MD2",
};

/**
 * A certificate's signature algorithm as named in a refusal: the broken hash
 * (`SHA-1`, `MD5`, ...) and the algorithm's name and OID.
 *
 * @example
 * ```ts
 * import type { WeakSignature } from "./signature_strength.ts";
 * const w: WeakSignature = { hash: "SHA-1", name: "sha1WithRSAEncryption", oid: "1.2.840.113549.1.1.5" };
 * ```
 */
export interface WeakSignature {
  /** The broken hash. */
  hash: string;
  /** The signature algorithm's name. */
  name: string;
  /** The signature algorithm's OID. */
  oid: string;
}

/**
 * The signature algorithm of a DER certificate when its hash is broken;
 * `undefined` for every other algorithm (unknown ones are left to signature
 * verification, which refuses what it cannot check). RSASSA-PSS is weak when
 * its hash parameter is SHA-1 or MD5, or absent (the default is SHA-1,
 * RFC 4055 §3.1).
 *
 * @throws {DerError} when the certificate's outer structure cannot be read
 *
 * @example
 * ```ts ignore
 * weakSignatureOf(new Uint8Array(cert.raw))?.hash; // "SHA-1" | "MD5" | undefined
 * ```
 */
export function weakSignatureOf(der: Uint8Array): WeakSignature | undefined {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  const outer = expectTlv(der, 0, 0x30);
  const tbs = readTlv(der, outer.valueStart, outer.end);
  const alg = expectTlv(der, tbs.end, 0x30, outer.end);
  const [id, params] = children(der, alg);
  if (!id) throw new DerError("empty signature algorithm", "malformed", alg.start);
  const oid = readOid(der, id);
  const known = WEAK_SIGNATURES[oid];
  if (known) return { hash: known[1], name: known[0], oid };
  if (oid !== OID_RSASSA_PSS) return undefined;
  const hash = pssHash(der, params);
  const weak = hash === undefined ? "SHA-1" : WEAK_HASHES[hash];
  return weak ? { hash: weak, name: "RSASSA-PSS", oid } : undefined;
}

/** The hashAlgorithm OID of RSASSA-PSS-params, `undefined` when defaulted. */
function pssHash(der: Uint8Array, params: Tlv | undefined): string | undefined {
  if (!params || params.tag !== 0x30) return undefined;
  // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
  const explicit = children(der, params).find((t) => t.tag === 0xa0);
  if (!explicit) return undefined;
  const hashAlg = expectTlv(der, explicit.valueStart, 0x30, explicit.end);
  return readOid(der, readTlv(der, hashAlg.valueStart, hashAlg.end));
}

/**
 * Why a certificate's key is refused, as a phrase (`a 1024-bit RSA key`,
 * `a DSA key`), or `undefined` when it is strong enough. Only RSA and DSA
 * keys are judged; EC and EdDSA keys are left to the TLS stack and signature
 * verification, which accept only the strong curves.
 *
 * @example
 * ```ts ignore
 * weakKeyOf(cert); // "a 1024-bit RSA key" | "a DSA key" | undefined
 * ```
 */
export function weakKeyOf(cert: X509Certificate): string | undefined {
  const key = cert.publicKey;
  const type = key.asymmetricKeyType;
  if (type === "rsa" || type === "rsa-pss") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits < MIN_RSA_BITS ? `a ${bits}-bit RSA key` : undefined;
  }
  return type === "dsa" ? "a DSA key" : undefined;
}

/**
 * The refusal for a certificate signed with a broken hash, naming it, its
 * role and the issuer it names; `undefined` when its signature algorithm is
 * not refused. A certificate whose outer structure cannot be read is refused
 * as `unknown_ca`, as every unreadable certificate of a chain is.
 *
 * @example
 * ```ts ignore
 * checkSignatureStrength("Certificate", leaf)?.reason; // "weak_signature" | undefined
 * ```
 */
export function checkSignatureStrength(role: string, cert: X509Certificate): Refusal | undefined {
  let weak: WeakSignature | undefined;
  try {
    weak = weakSignatureOf(new Uint8Array(cert.raw));
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    return {
      reason: "unknown_ca",
      message: `Certificate "${cert.subject}" in the chain cannot be read: ${cause.message}`,
    };
  }
  if (!weak) return undefined;
  return {
    reason: "weak_signature",
    message: `${role} "${cert.subject}" is signed with ${weak.hash} (${weak.name}, ${weak.oid}) ` +
      `by "${cert.issuer}"; SHA-1 and MD5 signatures are not accepted`,
  };
}

/**
 * The refusal for a certificate whose key is weak, or `undefined` when its
 * key is strong enough.
 *
 * @example
 * ```ts ignore
 * checkKeyStrength("Intermediate CA", mid)?.reason; // "weak_key" | undefined
 * ```
 */
export function checkKeyStrength(role: string, cert: X509Certificate): Refusal | undefined {
  const weak = weakKeyOf(cert);
  if (!weak) return undefined;
  const why = weak === "a DSA key"
    ? "DSA keys are not accepted"
    : `at least ${MIN_RSA_BITS} bits are required`;
  return { reason: "weak_key", message: `${role} "${cert.subject}" has ${weak}; ${why}` };
}
