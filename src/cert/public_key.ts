/**
 * The subject public key as the model describes it: the SPKI as signed, its
 * algorithm, curve and size, so strength checks need no key object.
 *
 * @module
 */
import { children, content, readOid, readTlv, type Tlv, whole } from "./der.ts";

/**
 * A certificate's public key.
 *
 * @example
 * ```ts
 * import type { PublicKeyInfo } from "@mtls/mcp/cert";
 * const strong = (k: PublicKeyInfo) => k.type !== "rsa" || (k.bits ?? 0) >= 2048;
 * ```
 */
export interface PublicKeyInfo {
  /** SubjectPublicKeyInfo, DER (what SPKI pins and `createPublicKey` take). */
  readonly spki: Uint8Array;
  /** The subjectPublicKey BIT STRING content without the unused-bits octet (what OCSP key hashes cover). */
  readonly subjectPublicKey: Uint8Array;
  /** The algorithm OID. */
  readonly algorithm: string;
  /** The key type; `unknown` for algorithms not listed. */
  readonly type: "rsa" | "rsa-pss" | "ec" | "ed25519" | "ed448" | "dsa" | "unknown";
  /** For EC keys, the curve (`P-256`, `P-384`, `P-521`, or the curve OID). */
  readonly curve?: string;
  /** RSA modulus length or EC field size, in bits; `undefined` when not read. */
  readonly bits?: number;
}

const TYPES: Record<string, PublicKeyInfo["type"]> = {
  "1.2.840.113549.1.1.1": "rsa",
  "1.2.840.113549.1.1.10": "rsa-pss",
  "1.2.840.10045.2.1": "ec",
  "1.3.101.112": "ed25519",
  "1.3.101.113": "ed448",
  "1.2.840.10040.4.1": "dsa",
};

const CURVES: Record<string, readonly [string, number]> = {
  "1.2.840.10045.3.1.7": ["P-256", 256],
  "1.3.132.0.34": ["P-384", 384],
  "1.3.132.0.35": ["P-521", 521],
};

/**
 * Reads the SubjectPublicKeyInfo at `t` of `der`.
 *
 * @throws {DerError} when it is malformed
 *
 * @example
 * ```ts ignore
 * const key = readPublicKey(der, spkiTlv);
 * ```
 */
export function readPublicKey(der: Uint8Array, t: Tlv): PublicKeyInfo {
  const [alg, bitString] = children(der, t);
  const [id, params] = children(der, alg);
  const algorithm = readOid(der, id);
  const type = TYPES[algorithm] ?? "unknown";
  const subjectPublicKey = der.subarray(bitString.valueStart + 1, bitString.end);
  const info = { spki: whole(der, t), subjectPublicKey, algorithm, type };
  if (type === "ec" && params?.tag === 0x06) {
    const oid = readOid(der, params);
    const [curve, bits] = CURVES[oid] ?? [oid, undefined];
    return { ...info, curve, bits };
  }
  if (type === "ed25519") return { ...info, bits: 256 };
  if (type === "rsa" || type === "rsa-pss") return { ...info, bits: rsaBits(subjectPublicKey) };
  return info;
}

/** Bit length of the modulus of an RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }. */
function rsaBits(key: Uint8Array): number | undefined {
  try {
    const [modulus] = children(key, readTlv(key, 0, key.length));
    let m = content(key, modulus);
    while (m.length > 0 && m[0] === 0) m = m.subarray(1);
    return m.length === 0 ? 0 : (m.length - 1) * 8 + (32 - Math.clz32(m[0]));
  } catch {
    return undefined; // an unreadable RSA key is refused by signature verification
  }
}
