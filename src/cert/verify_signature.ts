/**
 * Signature checks on the model: whether a certificate names a candidate as
 * its issuer, and whether the candidate's key signed it; and the same check
 * for any signed structure (CRLs, OCSP responses). Synchronous
 * (`node:crypto`), so the chain validator can run inside a handshake
 * callback; the same on Deno, Node.js and Bun.
 *
 * `crypto.verify` over the tbsCertificate is used rather than
 * `X509Certificate#verify`: on Deno 2.9.6 the latter re-parses the
 * certificate and costs ~690 µs for a P-256 leaf, `crypto.verify` ~530 µs
 * (`deno run -A bench/cert_parse.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { constants, createPublicKey, type KeyObject, verify } from "node:crypto";
import type { Certificate } from "./certificate.ts";
import type { DistinguishedName } from "./names.ts";
import type { PublicKeyInfo } from "./public_key.ts";
import type { SignatureAlgorithm } from "./algorithms.ts";

const KEYS = new WeakMap<PublicKeyInfo, KeyObject | null>();

/** The key object of `key`, made once; `null` when the runtime cannot import it. */
function keyObject(key: PublicKeyInfo): KeyObject | null {
  let k = KEYS.get(key);
  if (k === undefined) {
    try {
      k = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
    } catch {
      k = null;
    }
    KEYS.set(key, k);
  }
  return k;
}

const HASH: Record<string, string> = {
  "SHA-1": "sha1",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
  "MD5": "md5",
};

/**
 * Whether `signature` over `data` was made by `key` under `algorithm`: the
 * one signature check of the project (certificates through
 * {@link signedBy}, CRLs, OCSP responses). The key's type must fit the
 * algorithm; signatures are as X.509 carries them (DER for ECDSA and DSA).
 * `false` for a bad signature, an unsupported algorithm or a key that does
 * not fit or cannot be imported — never a throw, so hostile input cannot
 * break the caller.
 *
 * @example
 * ```ts ignore
 * import { verifySignature } from "@mtls/mcp/cert";
 * const ok = verifySignature(crlAlgorithm, ca.publicKey, crlTbs, crlSignature);
 * ```
 */
export function verifySignature(
  algorithm: SignatureAlgorithm,
  key: PublicKeyInfo,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const k = keyObject(key);
  if (!k) return false;
  const hash = HASH[algorithm.hash ?? ""];
  try {
    switch (algorithm.kind) {
      case "ecdsa":
        return key.type === "ec" && hash !== undefined && verify(hash, data, k, signature);
      case "rsa":
        return key.type === "rsa" && hash !== undefined && verify(hash, data, k, signature);
      case "rsa-pss":
        return (key.type === "rsa" || key.type === "rsa-pss") && hash !== undefined &&
          verify(hash, data, {
            key: k,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_AUTO,
          }, signature);
      case "ed25519":
        return key.type === "ed25519" && verify(null, data, k, signature);
      case "ed448":
        return key.type === "ed448" && verify(null, data, k, signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/**
 * Whether `key` made the signature of `cert` (the algorithm is the
 * certificate's own; the key's type must fit it): {@link verifySignature}
 * over the tbsCertificate. Never throws.
 *
 * @example
 * ```ts ignore
 * if (!signedBy(leaf, ca.publicKey)) refuse("unknown_ca");
 * ```
 */
export function signedBy(cert: Certificate, key: PublicKeyInfo): boolean {
  return verifySignature(cert.signatureAlgorithm, key, cert.tbs, cert.signature);
}

/** Attribute values compared as RFC 5280 §7.1 asks in practice: case and runs of spaces folded. */
function fold(v: string): string {
  return v.trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * Whether two names are the same: byte-equal, or equal attribute by
 * attribute after folding case and spaces (RFC 5280 §7.1; OpenSSL compares
 * canonical encodings the same way).
 *
 * @example
 * ```ts ignore
 * sameName(leaf.issuer, ca.subject);
 * ```
 */
export function sameName(a: DistinguishedName, b: DistinguishedName): boolean {
  if (a.der.length === b.der.length && a.der.every((x, i) => x === b.der[i])) return true;
  if (a.rdns.length !== b.rdns.length) return false;
  return a.rdns.every((rdn, i) => {
    const other = b.rdns[i];
    if (rdn.length !== other.length) return false;
    const key = (x: { oid: string; value: string }) => `${x.oid}=${fold(x.value)}`;
    const set = new Set(other.map(key));
    return rdn.every((x) => set.has(key(x)));
  });
}

/**
 * Whether `parent` may be the issuer of `child` by name and key identifier:
 * `child`'s issuer is `parent`'s subject, and when both carry key
 * identifiers, they match (as OpenSSL's `X509_check_issued`). Does not check
 * the signature: see {@link signedBy}.
 *
 * @example
 * ```ts ignore
 * const issuer = candidates.find((c) => namesIssuer(leaf, c) && signedBy(leaf, c.publicKey));
 * ```
 */
export function namesIssuer(child: Certificate, parent: Certificate): boolean {
  if (!sameName(child.issuer, parent.subject)) return false;
  const aki = child.authorityKeyId, ski = parent.subjectKeyId;
  return aki === undefined || ski === undefined || aki === ski;
}
