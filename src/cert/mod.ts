/**
 * The certificate model every part of mcp-mtls reads: a certificate parsed
 * once per distinct DER into plain data (names with their RDN structure,
 * SANs, extensions with criticality, key, signature algorithm, validity,
 * fingerprint and pins), the same on Deno, Node.js and Bun.
 *
 * @example Read a certificate and look at it
 * ```ts
 * import { createRootCa } from "@mtls/mcp/pki";
 * import { readCertificate } from "@mtls/mcp/cert";
 *
 * const ca = await createRootCa({ commonName: "Example Root CA" });
 * const cert = readCertificate(ca.certificate.der);
 * console.log(cert.subject.text); // "CN=Example Root CA"
 * console.log(cert.basicConstraints?.ca, cert.spkiPin);
 * ```
 *
 * @module
 */
export { derBuffer, readCertificate, readCertificates } from "./certificate.ts";
export type { Certificate } from "./certificate.ts";
export type { DistinguishedName, NameAttribute } from "./names.ts";
export { EXTENSION_OIDS, KEY_USAGE } from "./extensions.ts";
export type {
  BasicConstraints,
  CertificateExtension,
  CertificateExtensions,
  SubjectAltNames,
} from "./extensions.ts";
export type { PublicKeyInfo } from "./public_key.ts";
export type { SignatureAlgorithm } from "./algorithms.ts";
export { namesIssuer, sameName, signedBy, verifySignature } from "./verify_signature.ts";
