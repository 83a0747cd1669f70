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
 * Both are read from the certificate model: the signature algorithm's hash
 * (`signatureAlgorithm.hash`, for RSASSA-PSS from its parameters) against
 * `BROKEN_HASHES`, the key's type and size from `publicKey`.
 *
 * @module
 */

import { BROKEN_HASHES } from "../cert/algorithms.ts";
import type { Certificate } from "../cert/certificate.ts";
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
 * The signature algorithm of a certificate when its hash is broken;
 * `undefined` for every other algorithm (unknown ones are left to signature
 * verification, which refuses what it cannot check). RSASSA-PSS is weak when
 * its hash parameter is SHA-1 or MD5, or absent (the default is SHA-1,
 * RFC 4055 §3.1).
 *
 * @example
 * ```ts ignore
 * weakSignatureOf(readCertificate(der))?.hash; // "SHA-1" | "MD5" | undefined
 * ```
 */
export function weakSignatureOf(cert: Certificate): WeakSignature | undefined {
  const { hash, name, oid } = cert.signatureAlgorithm;
  return hash !== undefined && BROKEN_HASHES.has(hash) ? { hash, name, oid } : undefined;
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
export function weakKeyOf(cert: Certificate): string | undefined {
  const { type, bits = 0 } = cert.publicKey;
  if (type === "rsa" || type === "rsa-pss") {
    return bits < MIN_RSA_BITS ? `a ${bits}-bit RSA key` : undefined;
  }
  return type === "dsa" ? "a DSA key" : undefined;
}

/**
 * The refusal for a certificate signed with a broken hash, naming it, its
 * role and the issuer it names; `undefined` when its signature algorithm is
 * not refused.
 *
 * @example
 * ```ts ignore
 * checkSignatureStrength("Certificate", leaf)?.reason; // "weak_signature" | undefined
 * ```
 */
export function checkSignatureStrength(role: string, cert: Certificate): Refusal | undefined {
  const weak = weakSignatureOf(cert);
  if (!weak) return undefined;
  return {
    reason: "weak_signature",
    message:
      `${role} "${cert.subject.text}" is signed with ${weak.hash} (${weak.name}, ${weak.oid}) ` +
      `by "${cert.issuer.text}"; SHA-1 and MD5 signatures are not accepted`,
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
export function checkKeyStrength(role: string, cert: Certificate): Refusal | undefined {
  const weak = weakKeyOf(cert);
  if (!weak) return undefined;
  const why = weak === "a DSA key"
    ? "DSA keys are not accepted"
    : `at least ${MIN_RSA_BITS} bits are required`;
  return { reason: "weak_key", message: `${role} "${cert.subject.text}" has ${weak}; ${why}` };
}
