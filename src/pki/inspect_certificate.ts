/**
 * What a certificate says, as plain data for text or JSON output.
 *
 * @module
 */
import type { Certificate } from "../cert/certificate.ts";
import type { DistinguishedName } from "../cert/names.ts";
import type { KeyType } from "./key_type.ts";
import { needsRenewal } from "./needs_renewal.ts";
import { type CertificateInput, toCertificate } from "./parse_certificates.ts";
import type { SubjectAltName } from "./subject_alt_names.ts";

/**
 * Everything {@link inspectCertificate} reports. Dates are `Date` objects
 * (ISO strings in JSON).
 *
 * @example Warning before expiry
 * ```ts
 * import type { CertificateInfo } from "@mtls/mcp/pki";
 * function expiresSoon(info: CertificateInfo): boolean {
 *   return info.secondsToExpiry < 7 * 86_400;
 * }
 * ```
 */
export interface CertificateInfo {
  /**
   * Subject DN on one line, RDNs in certificate order joined by `, `
   * (`CN=localhost`, `C=US, O=Acme, CN=agent-1`); control characters in
   * values escaped as in `Certificate.subject.text`.
   */
  subject: string;
  /** Issuer DN, as `subject`. */
  issuer: string;
  /** DNS, IP (canonical RFC 5952 text), URI and email SANs (other kinds are left out). */
  subjectAltNames: SubjectAltName[];
  /** Serial number, lowercase hex without leading zero bytes. */
  serialNumber: string;
  /** Start of validity. */
  notBefore: Date;
  /** End of validity. */
  notAfter: Date;
  /** Key type, or `"unknown"` for keys mcp-mtls does not generate. */
  keyType: KeyType | "unknown";
  /** Extended key usages by name (`serverAuth`, `clientAuth`, ...), unknown ones as OIDs. */
  extendedKeyUsage: string[];
  /** Whether basicConstraints says `cA:TRUE`. */
  isCa: boolean;
  /** Whether issuer and subject are the same name (the same DER). */
  selfIssued: boolean;
  /** SHA-256 of the DER certificate, lowercase hex. */
  fingerprint: string;
  /** Base64 SHA-256 of the SPKI, without the `sha256/` prefix (see {@link spkiPin}). */
  spkiPin: string;
  /** Seconds until notAfter, negative once expired. */
  secondsToExpiry: number;
  /** Whether two thirds of the lifetime have elapsed (see {@link needsRenewal}). */
  needsRenewal: boolean;
}

/**
 * Options for {@link inspectCertificate}.
 *
 * @example Inspecting at a fixed time
 * ```ts
 * import type { InspectOptions } from "@mtls/mcp/pki";
 * const o: InspectOptions = { now: new Date("2030-01-01T00:00:00Z") };
 * ```
 */
export interface InspectOptions {
  /** The clock for `secondsToExpiry` and `needsRenewal`. @default {new Date()} */
  now?: Date;
}

const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "ocspSigning",
};

/**
 * Reads subject, issuer, SANs, serial, validity, key type, EKU, CA flag,
 * fingerprints and time to expiry from a certificate.
 *
 * @param cert read into the model, PEM or DER (the first certificate is used)
 * @param options the clock
 * @returns the facts, ready for `JSON.stringify`
 * @throws {CertificateError} when `cert` cannot be read
 *
 * @example Inspecting a server certificate
 * ```ts
 * import { createRootCa, inspectCertificate, issueCertificate } from "@mtls/mcp/pki";
 * const ca = await createRootCa();
 * const server = await issueCertificate(ca, "server", { subjectAltNames: "dns:localhost,ip:::1" });
 * const info = await inspectCertificate(server.certificate);
 * console.log(info.subjectAltNames); // [{ type: "dns", value: "localhost" }, { type: "ip", value: "::1" }]
 * ```
 */
// deno-lint-ignore require-await -- async since before the model; callers await it
export async function inspectCertificate(
  cert: CertificateInput,
  options: InspectOptions = {},
): Promise<CertificateInfo> {
  const { now = new Date() } = options;
  // The model reads every field up front: a malformed extension fails in
  // readCertificate (invalid_der), never here.
  const c = toCertificate(cert);
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    subjectAltNames: subjectAltNames(c),
    serialNumber: c.serialNumber.toLowerCase(),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    keyType: certificateKeyType(c),
    extendedKeyUsage: (c.extendedKeyUsage ?? []).map((oid) => EKU_NAMES[oid] ?? oid),
    isCa: c.basicConstraints?.ca ?? false,
    selfIssued: c.selfIssued,
    fingerprint: c.fingerprint,
    spkiPin: c.spkiPin.slice("sha256/".length),
    secondsToExpiry: Math.floor((c.notAfter.getTime() - now.getTime()) / 1000),
    needsRenewal: needsRenewal(c, { now }),
  };
}

/** A name's model text on one line: its RDNs joined by `, ` (values cannot hold a raw line break). */
function oneLine(name: DistinguishedName): string {
  return name.text.replaceAll("\n", ", ");
}

/** DNS, IP, URI and email SANs in that order of kinds (other kinds are left out). */
function subjectAltNames(c: Certificate): SubjectAltName[] {
  const { dns, ip, uri, email } = c.subjectAltNames;
  return [
    ...dns.map((value) => ({ type: "dns" as const, value })),
    ...ip.map((value) => ({ type: "ip" as const, value })),
    ...uri.map((value) => ({ type: "uri" as const, value })),
    ...email.map((value) => ({ type: "email" as const, value })),
  ];
}

/** Key type from the SPKI algorithm identifier, without importing the key. */
function certificateKeyType(c: Certificate): KeyType | "unknown" {
  const { type, curve, bits } = c.publicKey;
  if (type === "ec" && curve === "P-256") return "ec-p256";
  if (type === "ec" && curve === "P-384") return "ec-p384";
  if (type === "ed25519") return "ed25519";
  if ((type === "rsa" || type === "rsa-pss") && (bits === 2048 || bits === 3072 || bits === 4096)) {
    return `rsa-${bits}`;
  }
  return "unknown";
}
