/**
 * What CRLs and OCSP responses share on top of the project's one DER reader
 * (`../cert/der.ts`) and PEM codec (`../cert/pem.ts`): one item given as PEM
 * or DER, and the SIGNED{} wrapper (to-be-signed part, algorithm, signature)
 * checked with the one signature verifier (`../cert/verify_signature.ts`).
 * Certificates are never read here: they go through `readCertificate`.
 *
 * @module
 */
import { type SignatureAlgorithm, signatureAlgorithm } from "../cert/algorithms.ts";
import { children, DerError, type Tlv, whole } from "../cert/der.ts";
import { pemOrDerItems } from "../cert/pem.ts";
import type { PublicKeyInfo } from "../cert/public_key.ts";
import { verifySignature } from "../cert/verify_signature.ts";

/**
 * The DER of the first PEM block labelled `label`, or DER bytes as given
 * (not copied: a CRL can be tens of MB).
 *
 * @throws {DerError} when the input is neither, e.g. `no "X509 CRL" PEM block and not DER`
 * @throws {CertificateError} `invalid_pem` for a malformed PEM block
 *
 * @example
 * ```ts
 * import { pemOrDer } from "./der.ts";
 * console.log(pemOrDer(new Uint8Array([0x30, 0x00]), "X509 CRL").length); // 2
 * ```
 */
export function pemOrDer(input: Uint8Array | string, label: string): Uint8Array {
  if (typeof input !== "string" && input[0] === 0x30) return input;
  const [der] = pemOrDerItems(input, label, "input");
  if (der === undefined || der[0] !== 0x30) {
    throw new DerError(`no "${label}" PEM block and not DER`);
  }
  return der;
}

/**
 * The parts of a SIGNED{} structure (RFC 5280 §4.1.1.3, RFC 6960 §4.2.1):
 * the exact bytes signed, the algorithm and the signature value.
 *
 * @example
 * ```ts ignore
 * const { tbs, algorithm, signature } = readSigned(der, readTlv(der, 0), "CRL");
 * ```
 */
export interface SignedParts {
  /** The to-be-signed SEQUENCE, DER, as signed. */
  readonly tbs: Uint8Array;
  /** The outer signature algorithm. */
  readonly algorithm: SignatureAlgorithm;
  /** The BIT STRING's content without the unused-bits octet. */
  readonly signature: Uint8Array;
  /** The algorithm's AlgorithmIdentifier, DER (a CRL repeats it inside its tbs). */
  readonly algorithmDer: Uint8Array;
}

/**
 * Reads the first three children of the SEQUENCE `top` of `der` as
 * tbs, AlgorithmIdentifier and BIT STRING.
 *
 * @throws {DerError} `not a <what>` when they are not there
 *
 * @example
 * ```ts ignore
 * const signed = readSigned(crlDer, readTlv(crlDer, 0), "CRL");
 * ```
 */
export function readSigned(der: Uint8Array, top: Tlv, what: string): SignedParts {
  const [tbsT, algT, sigT] = children(der, top);
  if (!sigT || tbsT.tag !== 0x30 || algT.tag !== 0x30 || sigT.tag !== 0x03) {
    throw new DerError(`not a ${what}`);
  }
  return {
    tbs: whole(der, tbsT),
    algorithm: signatureAlgorithm(der, algT),
    signature: der.subarray(Math.min(sigT.valueStart + 1, sigT.end), sigT.end),
    algorithmDer: whole(der, algT),
  };
}

/** Hashes refused for CRL and OCSP signatures (what the WebCrypto verifier before the model refused; SHA-1 still passes). */
const REFUSED_HASHES = new Set(["MD2", "MD4", "MD5"]);

/**
 * Why revocation does not take signatures made with `algorithm`, or
 * `undefined` when it does: ECDSA, RSA (PKCS#1 v1.5 and PSS), Ed25519 and
 * Ed448 with SHA-1 or SHA-2.
 *
 * @example
 * ```ts
 * import { unsupportedAlgorithm } from "./der.ts";
 * console.log(unsupportedAlgorithm({ oid: "1.2.3", name: "1.2.3", kind: "unknown" }));
 * // "unsupported signature algorithm 1.2.3"
 * ```
 */
export function unsupportedAlgorithm(algorithm: SignatureAlgorithm): string | undefined {
  const { kind, hash, oid } = algorithm;
  if (kind === "unknown" || kind === "dsa" || (hash && REFUSED_HASHES.has(hash))) {
    return `unsupported signature algorithm ${oid}`;
  }
  return undefined;
}

/**
 * Whether `key` made the signature of `signed`, with an algorithm
 * revocation takes (see {@link unsupportedAlgorithm}). Never throws.
 *
 * @example
 * ```ts ignore
 * if (!verifySigned(readSigned(der, top, "CRL"), ca.publicKey)) refuse();
 * ```
 */
export function verifySigned(signed: SignedParts, key: PublicKeyInfo): boolean {
  return unsupportedAlgorithm(signed.algorithm) === undefined &&
    verifySignature(signed.algorithm, key, signed.tbs, signed.signature);
}
