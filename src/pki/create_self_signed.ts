/**
 * Self-signed server and client certificates, for pinning without a CA.
 *
 * @module
 */
import { buildCertificate } from "./build_certificate.ts";
import { planLeaf, type Role } from "./leaf_extensions.ts";
import type { CertificateBundle, LeafOptions } from "./options.ts";

/**
 * Creates a self-signed server or client certificate with the same
 * extensions as {@link issueCertificate}. Peers trust it by pinning it (SPKI
 * or fingerprint) or by listing it as a CA.
 *
 * @param role `"server"` or `"client"`
 * @param options names, key type, validity, EKU override
 * @returns the bundle
 * @throws {CertificateError} `invalid_argument` for a bad option
 *
 * @example A pinned development server
 * ```ts
 * import { createSelfSignedCertificate, spkiPin } from "@mtls/mcp/pki";
 * const server = await createSelfSignedCertificate("server", {
 *   commonName: "localhost",
 *   subjectAltNames: "dns:localhost,ip:127.0.0.1",
 * });
 * console.log(await spkiPin(server.certificate));
 * ```
 */
export async function createSelfSignedCertificate(
  role: Role,
  options: LeafOptions = {},
): Promise<CertificateBundle> {
  const plan = planLeaf(role, options);
  return await buildCertificate({
    commonName: plan.commonName,
    options,
    defaultDays: 365,
    extensions: plan.extensions,
  });
}
