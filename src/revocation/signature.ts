/**
 * Verifies an X.509-style signature (CRL, OCSP response, certificate) with
 * WebCrypto, from the signer's SubjectPublicKeyInfo and the signature
 * algorithm OID. ECDSA signatures are converted from DER to the raw form
 * WebCrypto expects.
 *
 * @module
 */
import { children, content, DerError, expectTlv, readOid, readTlv } from "./der.ts";

const CURVES: Record<string, { name: string; size: number }> = {
  "1.2.840.10045.3.1.7": { name: "P-256", size: 32 },
  "1.3.132.0.34": { name: "P-384", size: 48 },
  "1.3.132.0.35": { name: "P-521", size: 66 },
};

const SIG_ALGS: Record<string, { kind: "ecdsa" | "rsa" | "ed25519"; hash?: string }> = {
  "1.2.840.10045.4.1": { kind: "ecdsa", hash: "SHA-1" },
  "1.2.840.10045.4.3.2": { kind: "ecdsa", hash: "SHA-256" },
  "1.2.840.10045.4.3.3": { kind: "ecdsa", hash: "SHA-384" },
  "1.2.840.10045.4.3.4": { kind: "ecdsa", hash: "SHA-512" },
  "1.2.840.113549.1.1.5": { kind: "rsa", hash: "SHA-1" },
  "1.2.840.113549.1.1.11": { kind: "rsa", hash: "SHA-256" },
  "1.2.840.113549.1.1.12": { kind: "rsa", hash: "SHA-384" },
  "1.2.840.113549.1.1.13": { kind: "rsa", hash: "SHA-512" },
  "1.3.101.112": { kind: "ed25519" },
};

/** The algorithm OID of an AlgorithmIdentifier node's bytes. */
export function algorithmOid(algId: Uint8Array): string {
  const seq = expectTlv(algId, 0, 0x30);
  return readOid(algId, readTlv(algId, seq.valueStart, seq.end));
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` to fixed-width `r || s`. */
function ecdsaRaw(sig: Uint8Array, size: number): Uint8Array {
  const seq = expectTlv(sig, 0, 0x30);
  const [r, s] = children(sig, seq);
  if (!r || !s || r.tag !== 2 || s.tag !== 2) throw new DerError("bad ECDSA signature");
  const out = new Uint8Array(size * 2);
  for (const [i, t] of [[0, r], [1, s]] as const) {
    let v = content(sig, t);
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) throw new DerError("bad ECDSA signature");
    out.set(v, (i + 1) * size - v.length);
  }
  return out;
}

/**
 * Whether `signature` over `data` verifies with the key in `spki` under the
 * algorithm `sigOid`. Throws {@link DerError} for unsupported or malformed
 * input; resolves `false` when the signature simply does not match.
 */
export async function verifySignature(
  spki: Uint8Array,
  sigOid: string,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const alg = SIG_ALGS[sigOid];
  if (!alg) throw new DerError(`unsupported signature algorithm ${sigOid}`);
  const spkiSeq = expectTlv(spki, 0, 0x30);
  const keyAlg = expectTlv(spki, spkiSeq.valueStart, 0x30);
  const [keyOidTlv, params] = children(spki, keyAlg);
  const keyOid = readOid(spki, keyOidTlv);
  const buf = (u: Uint8Array) => u.slice() as Uint8Array<ArrayBuffer>;
  try {
    if (alg.kind === "ecdsa") {
      if (keyOid !== "1.2.840.10045.2.1" || !params || params.tag !== 6) return false;
      const curve = CURVES[readOid(spki, params)];
      if (!curve) throw new DerError(`unsupported curve ${readOid(spki, params)}`);
      const key = await crypto.subtle.importKey(
        "spki",
        buf(spki),
        { name: "ECDSA", namedCurve: curve.name },
        false,
        ["verify"],
      );
      let raw: Uint8Array;
      try {
        raw = ecdsaRaw(signature, curve.size);
      } catch {
        return false;
      }
      return await crypto.subtle.verify(
        { name: "ECDSA", hash: alg.hash! },
        key,
        buf(raw),
        buf(data),
      );
    }
    if (alg.kind === "rsa") {
      if (keyOid !== "1.2.840.113549.1.1.1") return false;
      const key = await crypto.subtle.importKey(
        "spki",
        buf(spki),
        { name: "RSASSA-PKCS1-v1_5", hash: alg.hash! },
        false,
        ["verify"],
      );
      return await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, buf(signature), buf(data));
    }
    if (keyOid !== "1.3.101.112") return false;
    const key = await crypto.subtle.importKey("spki", buf(spki), { name: "Ed25519" }, false, [
      "verify",
    ]);
    return await crypto.subtle.verify("Ed25519", key, buf(signature), buf(data));
  } catch (err) {
    if (err instanceof DerError) throw err;
    throw new DerError(`cannot verify signature: ${(err as Error).message}`);
  }
}
