/**
 * The certificate bundle every creator returns, and the options they take.
 *
 * @module
 */
import type { KeyType } from "./key_type.ts";
import type { SubjectAltName } from "./subject_alt_names.ts";
import type { Certificate } from "../cert/certificate.ts";

/**
 * A certificate with its private key.
 *
 * @example Handing a bundle to node:tls
 * ```ts
 * import { createRootCa, issueCertificate } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * const server = await issueCertificate(ca, "server", { exportable: true });
 * const tlsOptions = { cert: server.certificatePem, key: server.privateKeyPem, ca: ca.certificatePem };
 * ```
 */
export interface CertificateBundle {
  /** The certificate, read into the model (`certificate.der` is its DER). */
  certificate: Certificate;
  /** The certificate as PEM, ending with a newline. */
  certificatePem: string;
  /** The private key (non-extractable unless created with `exportable: true`). */
  privateKey: CryptoKey;
  /** PKCS#8 PEM of the private key; present only when created with `exportable: true`. */
  privateKeyPem?: string;
  /** The key type of the certificate's key. */
  keyType: KeyType;
}

/**
 * Validity and key options shared by every creator.
 *
 * @example A short-lived Ed25519 leaf
 * ```ts
 * import type { ValidityOptions } from "@mtls/mcp/pki";
 * const o: ValidityOptions = { days: 30, keyType: "ed25519" };
 * ```
 */
export interface ValidityOptions {
  /** Key type of the new key pair (independent of the issuer's). @default {"ec-p256"} */
  keyType?: KeyType;
  /**
   * Certify this existing key pair instead of generating one, e.g. to renew a
   * certificate while keeping its SPKI pin. Its key type must be one of
   * {@link KeyType}; `keyType`, when also given, must match it. With
   * `exportable`, the private key must be extractable.
   * @default {undefined} (a new key pair)
   */
  keyPair?: CryptoKeyPair;
  /**
   * Lifetime in days, counted from `notBefore` (or from now when `notBefore` is
   * not given). Ignored when `notAfter` is given.
   * @default {3650} for a root CA, {1825} for an intermediate, {365} for a leaf
   */
  days?: number;
  /** Start of validity. @default {undefined} (now minus 5 minutes, for clock skew) */
  notBefore?: Date;
  /** End of validity; overrides `days`. @default {undefined} (from `days`) */
  notAfter?: Date;
  /** Make the private key extractable and fill `privateKeyPem`. @default {false} */
  exportable?: boolean;
  /** Serial number as hex, at most 20 octets. @default {undefined} (128-bit random, positive) */
  serialNumber?: string;
}

/**
 * Options for {@link createRootCa} and {@link createIntermediateCa}.
 *
 * @example A P-384 root CA for ten years
 * ```ts
 * import type { CaOptions } from "@mtls/mcp/pki";
 * const o: CaOptions = { commonName: "Example Root CA", keyType: "ec-p384", days: 3650 };
 * ```
 */
export interface CaOptions extends ValidityOptions {
  /** Subject common name. @default {"mcp-mtls Root CA"} or {"mcp-mtls Intermediate CA"} */
  commonName?: string;
  /**
   * Most intermediate CAs allowed below this one.
   * @default {undefined} (no limit) for a root CA, {0} for an intermediate
   */
  pathLength?: number;
}

/**
 * Extended key usages a leaf certificate can carry.
 *
 * @example A certificate for both roles
 * ```ts
 * import type { ExtendedKeyUsageName } from "@mtls/mcp/pki";
 * const eku: ExtendedKeyUsageName[] = ["serverAuth", "clientAuth"];
 * ```
 */
export type ExtendedKeyUsageName = "serverAuth" | "clientAuth" | "ocspSigning" | "codeSigning";

/**
 * Options for {@link issueCertificate} and {@link createSelfSignedCertificate}.
 *
 * @example A SPIFFE client valid for 30 days
 * ```ts
 * import type { LeafOptions } from "@mtls/mcp/pki";
 * const o: LeafOptions = {
 *   commonName: "agent-1",
 *   subjectAltNames: "uri:spiffe://example.org/agent-1",
 *   days: 30,
 * };
 * ```
 */
export interface LeafOptions extends ValidityOptions {
  /** Subject common name (the subject is `CN=<commonName>`). @default {"localhost"} for a server, {"mcp-client"} for a client */
  commonName?: string;
  /**
   * Subject alternative names, as `"dns:a,ip:1.2.3.4,uri:spiffe://x/y,email:e@x"` or a list.
   * @default {undefined} (a server gets `dns:<commonName>` or `ip:<commonName>` when the
   * common name is a host name or address; a client gets none)
   */
  subjectAltNames?: string | SubjectAltName[];
  /**
   * Extended key usages, replacing the role's default.
   * @default {undefined} (`["serverAuth"]` for a server, `["clientAuth"]` for a client)
   */
  extendedKeyUsage?: ExtendedKeyUsageName[];
  /** CRL distribution point URLs. @default {undefined} (none) */
  crlDistributionPoints?: string[];
  /** OCSP responder URL, in the authority information access extension. @default {undefined} (none) */
  ocspUrl?: string;
}
