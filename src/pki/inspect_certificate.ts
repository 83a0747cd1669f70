/**
 * What a certificate says, as plain data for text or JSON output.
 *
 * @module
 */
import { CertificateError, MtlsError } from "../errors.ts";
import { certificateFingerprint, spkiPin } from "./fingerprints.ts";
import { canonicalIpAddress } from "./ip_address.ts";
import type { KeyType } from "./key_type.ts";
import { needsRenewal } from "./needs_renewal.ts";
import { type CertificateInput, toCertificate } from "./parse_certificates.ts";
import type { SubjectAltName } from "./subject_alt_names.ts";
import {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  SubjectAlternativeNameExtension,
  type X509Certificate,
} from "./x509.ts";

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
  /** Subject DN, e.g. `CN=localhost`. */
  subject: string;
  /** Issuer DN. */
  issuer: string;
  /** DNS, IP (canonical RFC 5952 text), URI and email SANs (other kinds are left out). */
  subjectAltNames: SubjectAltName[];
  /** Serial number, lowercase hex. */
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
  /** Whether issuer and subject are the same name. */
  selfIssued: boolean;
  /** SHA-256 of the DER certificate, lowercase hex. */
  fingerprint: string;
  /** Base64 SHA-256 of the SPKI (see {@link spkiPin}). */
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
 * @param cert parsed, PEM or DER (the first certificate is used)
 * @param options the clock
 * @returns the facts, ready for `JSON.stringify`
 * @throws {CertificateError} when `cert` cannot be parsed
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
export async function inspectCertificate(
  cert: CertificateInput,
  options: InspectOptions = {},
): Promise<CertificateInfo> {
  const { now = new Date() } = options;
  const c = toCertificate(cert);
  try {
    return await describe(c, now);
  } catch (cause) {
    if (cause instanceof MtlsError) throw cause;
    // Extensions are decoded lazily: a malformed one surfaces here as a raw ASN.1 error.
    throw new CertificateError(
      "invalid_certificate",
      `Cannot inspect certificate "${c.subject}": ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
}

async function describe(c: X509Certificate, now: Date): Promise<CertificateInfo> {
  const eku = c.getExtension(ExtendedKeyUsageExtension);
  return {
    subject: c.subject,
    issuer: c.issuer,
    subjectAltNames: subjectAltNames(c),
    serialNumber: c.serialNumber.toLowerCase(),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    keyType: certificateKeyType(c),
    extendedKeyUsage: Array.from(eku?.usages ?? [], (u) => EKU_NAMES[String(u)] ?? String(u)),
    isCa: c.getExtension(BasicConstraintsExtension)?.ca ?? false,
    selfIssued: c.subject === c.issuer,
    fingerprint: await certificateFingerprint(c),
    spkiPin: await spkiPin(c),
    secondsToExpiry: Math.floor((c.notAfter.getTime() - now.getTime()) / 1000),
    needsRenewal: needsRenewal(c, { now }),
  };
}

function subjectAltNames(c: X509Certificate): SubjectAltName[] {
  let ext: SubjectAlternativeNameExtension | null;
  try {
    ext = c.getExtension(SubjectAlternativeNameExtension);
  } catch {
    return []; // a SAN kind x509 cannot represent (x400, EDI) – nothing we report anyway
  }
  const out: SubjectAltName[] = [];
  for (const name of ext?.names.items ?? []) {
    if (name.type === "ip") {
      // The one text form every reader uses (RFC 5952; x509 writes ::ffff:1.2.3.4 in hex).
      out.push({ type: "ip", value: canonicalIpAddress(name.value) ?? name.value });
    } else if (name.type === "dns" || name.type === "email") {
      out.push({ type: name.type, value: name.value });
    } else if (name.type === "url") {
      out.push({ type: "uri", value: name.value });
    }
  }
  return out;
}

/** Key type from the SPKI algorithm identifier, without importing the key. */
function certificateKeyType(c: X509Certificate): KeyType | "unknown" {
  const alg = c.publicKey.algorithm as Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>;
  if (alg.name === "ECDSA" && alg.namedCurve === "P-256") return "ec-p256";
  if (alg.name === "ECDSA" && alg.namedCurve === "P-384") return "ec-p384";
  if (alg.name === "Ed25519") return "ed25519";
  if (alg.name?.startsWith("RSA") && [2048, 3072, 4096].includes(alg.modulusLength ?? 0)) {
    return `rsa-${alg.modulusLength}` as KeyType;
  }
  return "unknown";
}
