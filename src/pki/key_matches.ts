/**
 * Whether a private key belongs to a certificate.
 *
 * @module
 */
import { keyTypeOf } from "./key_type.ts";
import { type CertificateInput, toCertificate } from "./parse_certificates.ts";

/**
 * Whether `privateKey` is the key of `cert`'s public key, found by signing a
 * random challenge and verifying it with the certificate. Works for
 * non-extractable keys.
 *
 * @param cert read into the model, PEM or DER (the first certificate is used)
 * @param privateKey a signing key (ECDSA, Ed25519 or RSASSA-PKCS1-v1_5)
 * @returns `false` for a mismatch or a key of another algorithm
 *
 * @example Checking a CA key read from disk
 * ```ts
 * import { createRootCa, privateKeyMatchesCertificate } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * const other = await createRootCa();
 * console.log(await privateKeyMatchesCertificate(ca.certificate, ca.privateKey)); // true
 * console.log(await privateKeyMatchesCertificate(ca.certificate, other.privateKey)); // false
 * ```
 */
export async function privateKeyMatchesCertificate(
  cert: CertificateInput,
  privateKey: CryptoKey,
): Promise<boolean> {
  const keyType = keyTypeOf(privateKey);
  if (keyType === undefined) return false;
  const alg: Algorithm | EcdsaParams = keyType.startsWith("ec-")
    ? { name: "ECDSA", hash: "SHA-256" } as EcdsaParams
    : { name: privateKey.algorithm.name };
  try {
    // The certificate's SPKI imported under the private key's algorithm: a key
    // of another algorithm or curve fails to import, which is a mismatch too.
    const publicKey = await crypto.subtle.importKey(
      "spki",
      toCertificate(cert).publicKey.spki.slice(),
      privateKey.algorithm as Algorithm,
      false,
      ["verify"],
    );
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const signature = await crypto.subtle.sign(alg, privateKey, challenge);
    return await crypto.subtle.verify(alg, publicKey, signature, challenge);
  } catch {
    return false;
  }
}
