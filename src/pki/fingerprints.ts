/**
 * Fingerprints: the certificate SHA-256 and the SPKI SHA-256 pin, as the
 * certificate model computes them (`Certificate.fingerprint`, `.spkiPin`).
 *
 * @module
 */
import { type CertificateInput, toCertificate } from "./parse_certificates.ts";

/**
 * The SPKI pin of a certificate: base64 of the SHA-256 of its DER
 * SubjectPublicKeyInfo. It survives re-issuing with the same key, and equals
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.
 *
 * @param cert read into the model, PEM or DER (the first certificate is used)
 * @returns 44 characters of base64 (`Certificate.spkiPin` without its `sha256/` prefix)
 * @throws {CertificateError} when `cert` cannot be parsed
 *
 * @example Pinning a server
 * ```ts
 * import { createSelfSignedCertificate, spkiPin } from "@mtls/mcp/pki";
 * const server = await createSelfSignedCertificate("server", { commonName: "localhost" });
 * console.log(await spkiPin(server.certificate)); // e.g. "q3v0...=" (44 characters)
 * ```
 */
// deno-lint-ignore require-await -- async since before the model; a bad input rejects
export async function spkiPin(cert: CertificateInput): Promise<string> {
  return toCertificate(cert).spkiPin.slice("sha256/".length);
}

/**
 * The SHA-256 fingerprint of a certificate's DER, lowercase hex without
 * separators (what `openssl x509 -fingerprint -sha256` prints, without colons).
 *
 * @param cert read into the model, PEM or DER (the first certificate is used)
 * @returns 64 hex characters (`Certificate.fingerprint`)
 * @throws {CertificateError} when `cert` cannot be parsed
 *
 * @example Comparing with openssl x509 -fingerprint -sha256
 * ```ts
 * import { certificateFingerprint, createRootCa } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * console.log((await certificateFingerprint(ca.certificate)).length); // 64
 * ```
 */
// deno-lint-ignore require-await -- async since before the model; a bad input rejects
export async function certificateFingerprint(cert: CertificateInput): Promise<string> {
  return toCertificate(cert).fingerprint;
}
