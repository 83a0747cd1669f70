/**
 * Server and client certificates signed by a CA.
 *
 * @module
 */
import { assertCanIssue, buildCertificate } from "./build_certificate.ts";
import { planLeaf, type Role } from "./leaf_extensions.ts";
import type { CertificateBundle, LeafOptions } from "./options.ts";

/**
 * Issues a server or client certificate signed by `issuer`: basicConstraints
 * `cA:FALSE`, keyUsage `digitalSignature` (plus `keyEncipherment` for an RSA
 * server), extendedKeyUsage `serverAuth` or `clientAuth`, subject and
 * authority key identifiers, SANs, and optional CRL and OCSP URLs. The
 * subject is `CN=<commonName>`. The leaf's key type is independent of the
 * issuer's; its lifetime never exceeds the issuer's unless `notAfter` says so.
 *
 * @param issuer the signing CA
 * @param role `"server"` (serverAuth) or `"client"` (clientAuth)
 * @param options names, key type, validity, EKU override, revocation URLs
 * @returns the leaf bundle
 * @throws {CertificateError} `invalid_argument` when `issuer` is not a CA or an option is bad
 *
 * @example A SPIFFE client certificate with an RSA key from an EC CA
 * ```ts
 * import { createRootCa, issueCertificate } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * const agent = await issueCertificate(ca, "client", {
 *   commonName: "agent-1",
 *   subjectAltNames: "uri:spiffe://example.org/agent-1",
 *   keyType: "rsa-2048",
 *   exportable: true,
 * });
 * console.log(agent.certificate.subject.text); // "CN=agent-1"
 * ```
 */
export async function issueCertificate(
  issuer: CertificateBundle,
  role: Role,
  options: LeafOptions = {},
): Promise<CertificateBundle> {
  const plan = planLeaf(role, options);
  assertCanIssue(issuer, false);
  return await buildCertificate({
    commonName: plan.commonName,
    options,
    defaultDays: 365,
    issuer,
    extensions: plan.extensions,
  });
}
