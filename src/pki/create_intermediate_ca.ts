/**
 * Intermediate certificate authorities.
 *
 * @module
 */
import { assertCanIssue, buildCertificate } from "./build_certificate.ts";
import { caExtensions } from "./ca_extensions.ts";
import { checkPathLength } from "./create_root_ca.ts";
import type { CaOptions, CertificateBundle } from "./options.ts";

/**
 * Creates an intermediate CA signed by `issuer`, with path length 0 unless
 * asked (it may issue leaves but no further CAs). Its lifetime never
 * exceeds the issuer's unless `notAfter` says so.
 *
 * @param issuer the signing CA (a root or another intermediate)
 * @param options common name, key type, validity, path length, exportability
 * @returns the intermediate bundle
 * @throws {CertificateError} `invalid_argument` when `issuer` is not a CA, its path
 * length forbids another CA, or an option is bad
 *
 * @example Issuing through an intermediate
 * ```ts
 * import { createIntermediateCa, createRootCa, issueCertificate } from "@mtls/mcp/pki";
 * const root = await createRootCa();
 * const intermediate = await createIntermediateCa(root);
 * const client = await issueCertificate(intermediate, "client", { commonName: "agent-1" });
 * console.log(client.certificate.issuer.text); // "CN=mcp-mtls Intermediate CA"
 * ```
 */
export async function createIntermediateCa(
  issuer: CertificateBundle,
  options: CaOptions = {},
): Promise<CertificateBundle> {
  const { commonName = "mcp-mtls Intermediate CA", pathLength = 0 } = options;
  checkPathLength(pathLength);
  assertCanIssue(issuer, true);
  return await buildCertificate({
    commonName,
    options,
    defaultDays: 1825,
    issuer,
    extensions: () => caExtensions(pathLength),
  });
}
