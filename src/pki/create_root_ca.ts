/**
 * Root certificate authorities.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { buildCertificate } from "./build_certificate.ts";
import { caExtensions } from "./ca_extensions.ts";
import type { CaOptions, CertificateBundle } from "./options.ts";

/**
 * Creates a self-signed root CA: a new key pair and a certificate with
 * basicConstraints `cA:TRUE` (critical), keyUsage `keyCertSign, cRLSign,
 * digitalSignature` (critical) and a subject key identifier.
 *
 * @param options common name, key type, validity, path length, exportability
 * @returns the CA bundle, ready for {@link issueCertificate}
 * @throws {CertificateError} `invalid_argument` for a bad option
 *
 * @example Making a CA and a server certificate
 * ```ts
 * import { createRootCa, issueCertificate } from "@mtls/mcp/pki";
 * const ca = await createRootCa({ commonName: "Example Root CA", keyType: "ec-p384" });
 * const server = await issueCertificate(ca, "server", { subjectAltNames: "dns:localhost" });
 * console.log(server.certificate.issuer.text); // "CN=Example Root CA"
 * ```
 */
export async function createRootCa(options: CaOptions = {}): Promise<CertificateBundle> {
  const { commonName = "mcp-mtls Root CA", pathLength } = options;
  checkPathLength(pathLength);
  return await buildCertificate({
    commonName,
    options,
    defaultDays: 3650,
    extensions: () => caExtensions(pathLength),
  });
}

/** Throws unless `pathLength` is undefined or a small non-negative integer. */
export function checkPathLength(pathLength: number | undefined): void {
  if (pathLength === undefined) return;
  if (!Number.isInteger(pathLength) || pathLength < 0 || pathLength > 16) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid path length "${pathLength}": expected a whole number from 0 to 16`,
    );
  }
}
