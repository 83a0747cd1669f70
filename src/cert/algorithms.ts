/**
 * Signature algorithms by OID: their names, their hash, and which hashes are
 * broken. One table for the chain validator, revocation and inspection.
 *
 * @module
 */
import { children, readOid, readTlv, type Tlv } from "./der.ts";

/**
 * A signature algorithm as the model names it.
 *
 * @example
 * ```ts
 * import type { SignatureAlgorithm } from "@mtls/mcp/cert";
 * const a: SignatureAlgorithm = { oid: "1.2.840.10045.4.3.2", name: "ecdsa-with-SHA256", hash: "SHA-256", kind: "ecdsa" };
 * ```
 */
export interface SignatureAlgorithm {
  /** The algorithm OID. */
  readonly oid: string;
  /** Its name (`sha256WithRSAEncryption`, `ecdsa-with-SHA256`, `ED25519`...), or the OID. */
  readonly name: string;
  /** The hash (`SHA-256`...), for RSASSA-PSS from its parameters (SHA-1 when absent, RFC 4055). */
  readonly hash?: string;
  /** The family; `unknown` for anything this table does not know. */
  readonly kind: "rsa" | "rsa-pss" | "ecdsa" | "ed25519" | "ed448" | "dsa" | "unknown";
}

type Entry = readonly [name: string, kind: SignatureAlgorithm["kind"], hash?: string];

const ALGORITHMS: Record<string, Entry> = {
  "1.2.840.113549.1.1.2": ["md2WithRSAEncryption", "rsa", "MD2"],
  "1.2.840.113549.1.1.3": ["md4WithRSAEncryption", "rsa", "MD4"],
  "1.2.840.113549.1.1.4": ["md5WithRSAEncryption", "rsa", "MD5"],
  "1.2.840.113549.1.1.5": ["sha1WithRSAEncryption", "rsa", "SHA-1"],
  "1.3.14.3.2.3": ["md5WithRSA", "rsa", "MD5"],
  "1.3.14.3.2.29": ["sha1WithRSASignature", "rsa", "SHA-1"],
  "1.2.840.113549.1.1.11": ["sha256WithRSAEncryption", "rsa", "SHA-256"],
  "1.2.840.113549.1.1.12": ["sha384WithRSAEncryption", "rsa", "SHA-384"],
  "1.2.840.113549.1.1.13": ["sha512WithRSAEncryption", "rsa", "SHA-512"],
  "1.2.840.113549.1.1.10": ["RSASSA-PSS", "rsa-pss"],
  "1.2.840.10045.4.1": ["ecdsa-with-SHA1", "ecdsa", "SHA-1"],
  "1.2.840.10045.4.3.2": ["ecdsa-with-SHA256", "ecdsa", "SHA-256"],
  "1.2.840.10045.4.3.3": ["ecdsa-with-SHA384", "ecdsa", "SHA-384"],
  "1.2.840.10045.4.3.4": ["ecdsa-with-SHA512", "ecdsa", "SHA-512"],
  "1.2.840.10040.4.3": ["dsa-with-SHA1", "dsa", "SHA-1"],
  "1.3.14.3.2.27": ["dsaWithSHA1", "dsa", "SHA-1"],
  "1.3.101.112": ["ED25519", "ed25519"],
  "1.3.101.113": ["ED448", "ed448"],
};

/** Hash algorithm OIDs (as RSASSA-PSS parameters name them). */
const HASHES: Record<string, string> = {
  "1.3.14.3.2.26": "SHA-1",
  "1.2.840.113549.2.5": "MD5",
  "1.2.840.113549.2.4": "MD4",
  "1.2.840.113549.2.2": "MD2",
  "2.16.840.1.101.3.4.2.1": "SHA-256",
  "2.16.840.1.101.3.4.2.2": "SHA-384",
  "2.16.840.1.101.3.4.2.3": "SHA-512",
};

/**
 * Hashes no signature may rely on.
 *
 * @example
 * ```ts
 * import { BROKEN_HASHES } from "./algorithms.ts";
 * console.log(BROKEN_HASHES.has("SHA-1")); // true
 * ```
 */
export const BROKEN_HASHES: ReadonlySet<string> = new Set(["MD2", "MD4", "MD5", "SHA-1"]);

/**
 * Reads the AlgorithmIdentifier at `t` of `der`.
 *
 * @throws {DerError} when it is malformed
 *
 * @example
 * ```ts ignore
 * const alg = signatureAlgorithm(der, algorithmTlv);
 * ```
 */
export function signatureAlgorithm(der: Uint8Array, t: Tlv): SignatureAlgorithm {
  const [id, params] = children(der, t);
  const oid = readOid(der, id);
  const known = ALGORITHMS[oid];
  if (!known) return { oid, name: oid, kind: "unknown" };
  const [name, kind, hash] = known;
  if (kind !== "rsa-pss") return { oid, name, kind, hash };
  return { oid, name, kind, hash: pssHash(der, params) };
}

/** The hash of RSASSA-PSS-params; SHA-1 when defaulted (RFC 4055 §3.1). */
function pssHash(der: Uint8Array, params: Tlv | undefined): string {
  if (!params || params.tag !== 0x30) return "SHA-1";
  // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
  const explicit = children(der, params).find((p) => p.tag === 0xa0);
  if (!explicit) return "SHA-1";
  const hashAlg = readTlv(der, explicit.valueStart, explicit.end);
  const oid = readOid(der, readTlv(der, hashAlg.valueStart, hashAlg.end));
  return HASHES[oid] ?? oid;
}
