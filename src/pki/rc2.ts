/**
 * RC2-CBC decryption (RFC 2268), kept apart from the PKCS#12 reader because it
 * is a cipher, not a file format: no runtime here ships RC2, and
 * `openssl pkcs12 -legacy` encrypts certificates with it.
 *
 * @module
 */

const PITABLE = Uint8Array.from(
  (
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32" +
    "bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626" +
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a" +
    "961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731" +
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e" +
    "c5f3db47e5a59c770aa62068fe7fc1ad"
  ).match(/../g)!,
  (h) => parseInt(h, 16),
);

/**
 * Decrypts RC2-CBC with PKCS#7 padding.
 *
 * @param key the RC2 key
 * @param bits the effective key length in bits (40 or 128 in PKCS#12)
 * @param iv the 8-byte initialisation vector
 * @param data the ciphertext, a whole number of 8-byte blocks
 * @returns the plaintext, padding removed
 * @throws {Error} for a ragged ciphertext or bad padding (the caller reports a wrong password)
 */
export function rc2CbcDecrypt(
  key: Uint8Array,
  bits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  if (data.length === 0 || data.length % 8) {
    throw new Error("ciphertext is not a whole number of blocks");
  }
  const L = new Uint8Array(128);
  L.set(key);
  const t8 = (bits + 7) >> 3;
  const tm = 255 % (1 << (8 + bits - 8 * t8));
  for (let i = key.length; i < 128; i++) L[i] = PITABLE[(L[i - 1] + L[i - key.length]) & 255];
  L[128 - t8] = PITABLE[L[128 - t8] & tm];
  for (let i = 127 - t8; i >= 0; i--) L[i] = PITABLE[L[i + 1] ^ L[i + t8]];
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = L[2 * i] | (L[2 * i + 1] << 8);
  const ror = (x: number, n: number) => ((x >>> n) | (x << (16 - n))) & 0xffff;
  const out = new Uint8Array(data.length);
  let prev = iv;
  for (let off = 0; off < data.length; off += 8) {
    const b = data.subarray(off, off + 8);
    let [r0, r1, r2, r3] = [b[0] | b[1] << 8, b[2] | b[3] << 8, b[4] | b[5] << 8, b[6] | b[7] << 8];
    let j = 63;
    for (let round = 15; round >= 0; round--) {
      if (round === 4 || round === 10) {
        r3 = (r3 - K[r2 & 63]) & 0xffff;
        r2 = (r2 - K[r1 & 63]) & 0xffff;
        r1 = (r1 - K[r0 & 63]) & 0xffff;
        r0 = (r0 - K[r3 & 63]) & 0xffff;
      }
      r3 = (ror(r3, 5) - K[j--] - (r2 & r1) - (~r2 & r0)) & 0xffff;
      r2 = (ror(r2, 3) - K[j--] - (r1 & r0) - (~r1 & r3)) & 0xffff;
      r1 = (ror(r1, 2) - K[j--] - (r0 & r3) - (~r0 & r2)) & 0xffff;
      r0 = (ror(r0, 1) - K[j--] - (r3 & r2) - (~r3 & r1)) & 0xffff;
    }
    const words = [r0, r1, r2, r3];
    for (let i = 0; i < 8; i++) out[off + i] = ((words[i >> 1] >> ((i & 1) * 8)) & 0xff) ^ prev[i];
    prev = b;
  }
  const pad = out[out.length - 1];
  if (pad < 1 || pad > 8 || out.subarray(out.length - pad).some((x) => x !== pad)) {
    throw new Error("bad padding");
  }
  return out.slice(0, out.length - pad);
}
