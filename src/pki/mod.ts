/**
 * In-process PKI on WebCrypto: key pairs, root and intermediate CAs, server
 * and client certificates, PEM/DER reading and writing, fingerprints and SPKI
 * pins, inspection and renewal checks. Certificates made here pass
 * `openssl verify` and work with `node:tls`; they are handed out as the
 * certificate model's `Certificate` (`@mtls/mcp/cert`), and every function
 * taking a certificate accepts one, PEM text or DER bytes.
 *
 * @example A CA, a server and a client certificate
 * ```ts
 * import { createRootCa, inspectCertificate, issueCertificate, spkiPin } from "@mtls/mcp/pki";
 *
 * const ca = await createRootCa({ commonName: "Example Root CA" });
 * const server = await issueCertificate(ca, "server", {
 *   subjectAltNames: "dns:localhost,ip:127.0.0.1,ip:::1",
 *   exportable: true,
 * });
 * const client = await issueCertificate(ca, "client", { commonName: "agent-1", exportable: true });
 *
 * console.log((await inspectCertificate(client.certificate)).extendedKeyUsage); // ["clientAuth"]
 * console.log("server pin:", await spkiPin(server.certificate));
 * ```
 *
 * @module
 */
export { createRootCa } from "./create_root_ca.ts";
export { createIntermediateCa } from "./create_intermediate_ca.ts";
export { issueCertificate } from "./issue_certificate.ts";
export { createSelfSignedCertificate } from "./create_self_signed.ts";
export type {
  CaOptions,
  CertificateBundle,
  ExtendedKeyUsageName,
  LeafOptions,
  ValidityOptions,
} from "./options.ts";
export { KEY_TYPES, parseKeyType } from "./key_type.ts";
export type { KeyType } from "./key_type.ts";
export { parseSubjectAltNames } from "./subject_alt_names.ts";
export type { SubjectAltName } from "./subject_alt_names.ts";
export { parseCertificates } from "./parse_certificates.ts";
export type { CertificateInput, ParseCertificatesOptions } from "./parse_certificates.ts";
export { exportPrivateKeyPem, importPrivateKey } from "./private_key.ts";
export type { ImportedPrivateKey, ImportPrivateKeyOptions } from "./private_key.ts";
export { certificateFingerprint, spkiPin } from "./fingerprints.ts";
export { inspectCertificate } from "./inspect_certificate.ts";
export type { CertificateInfo, InspectOptions } from "./inspect_certificate.ts";
export { needsRenewal } from "./needs_renewal.ts";
export type { NeedsRenewalOptions } from "./needs_renewal.ts";
export type { Role } from "./leaf_extensions.ts";
export { privateKeyMatchesCertificate } from "./key_matches.ts";
export {
  fromPkcs12,
  type FromPkcs12Options,
  type Pkcs12Contents,
  type Pkcs12Input,
  type Pkcs12KeyType,
  toPkcs12,
  type ToPkcs12Options,
} from "./pkcs12.ts";
export { createCrl, crlToPem } from "./crl.ts";
export type { CreateCrlOptions, CrlEntryInput, CrlIssuer, CrlReason } from "./crl.ts";
