/**
 * The PKCS#12 key derivation (RFC 7292 appendix B.2) and the integrity MAC
 * keyed by it. Apart from the file format because two things use it: the MAC
 * over every file, and the legacy `-legacy` 3DES and RC2 encryption.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";

/** Digests by object identifier (WebCrypto and `node:crypto` names, output and block bytes). */
export const HASHES: Record<string, { name: string; node: string; size: number; block: number }> = {
  "1.3.14.3.2.26": { name: "SHA-1", node: "sha1", size: 20, block: 64 },
  "2.16.840.1.101.3.4.2.1": { name: "SHA-256", node: "sha256", size: 32, block: 64 },
  "2.16.840.1.101.3.4.2.2": { name: "SHA-384", node: "sha384", size: 48, block: 128 },
  "2.16.840.1.101.3.4.2.3": { name: "SHA-512", node: "sha512", size: 64, block: 128 },
};

/** Guards against a file that asks for billions of KDF rounds. */
export const MAX_ITERATIONS = 10_000_000;

/** RFC 7292 appendix B.2: the PKCS#12 key derivation, over the BMPString password. */
export function pkcs12Kdf(
  hash: { node: string; size: number; block: number },
  password: string,
  salt: Uint8Array,
  id: number,
  iterations: number,
  length: number,
): Uint8Array {
  const v = hash.block;
  const pw = new Uint8Array(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) {
    pw[i * 2] = password.charCodeAt(i) >> 8;
    pw[i * 2 + 1] = password.charCodeAt(i) & 0xff;
  }
  const fill = (src: Uint8Array) => {
    const out = new Uint8Array(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
    return out;
  };
  const I = Uint8Array.of(...fill(salt), ...fill(pw));
  const D = new Uint8Array(v).fill(id);
  const out = new Uint8Array(length);
  for (let done = 0; done < length;) {
    let A = new Uint8Array(createHash(hash.node).update(D).update(I).digest());
    for (let r = 1; r < iterations; r++) {
      A = new Uint8Array(createHash(hash.node).update(A).digest());
    }
    out.set(A.subarray(0, Math.min(A.length, length - done)), done);
    done += A.length;
    // I_j = (I_j + B + 1) mod 2^(8v), B being A repeated to v bytes.
    const B = fill(A).subarray(0, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return out;
}

/** The PFX MAC: HMAC over `content` with a key from {@link pkcs12Kdf} (ID 3). */
export function pkcs12Mac(
  hash: { node: string; size: number; block: number },
  password: string,
  salt: Uint8Array,
  iterations: number,
  content: Uint8Array,
): Uint8Array {
  const key = pkcs12Kdf(hash, password, salt, 3, iterations, hash.size);
  return new Uint8Array(createHmac(hash.node, key).update(content).digest());
}
