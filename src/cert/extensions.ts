/**
 * The X.509 v3 extensions as the model holds them: every extension with its
 * criticality and value, and the ones admission, revocation and inspection
 * read, decoded (RFC 5280 §4.2).
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { children, content, DerError, readOid, readTlv, type Tlv, toHex } from "./der.ts";
import { ipAddressText } from "./ip_address.ts";

/**
 * One extension as signed.
 *
 * @example
 * ```ts
 * import type { CertificateExtension } from "@mtls/mcp/cert";
 * const isCritical = (e: CertificateExtension) => e.critical;
 * ```
 */
export interface CertificateExtension {
  /** extnID. */
  readonly oid: string;
  /** Whether it is marked critical. */
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content: the extension's own DER. */
  readonly value: Uint8Array;
}

/**
 * Subject alternative names, one list per kind.
 *
 * @example
 * ```ts
 * import type { SubjectAltNames } from "@mtls/mcp/cert";
 * const sans: SubjectAltNames = { dns: ["localhost"], ip: ["127.0.0.1"], uri: [], email: [], other: 0 };
 * ```
 */
export interface SubjectAltNames {
  /** dNSName entries. */
  readonly dns: readonly string[];
  /**
   * iPAddress entries: dotted IPv4, or RFC 5952 IPv6 with IPv4-mapped
   * addresses as `::ffff:1.2.3.4`.
   */
  readonly ip: readonly string[];
  /** uniformResourceIdentifier entries (SPIFFE IDs live here). */
  readonly uri: readonly string[];
  /** rfc822Name entries. */
  readonly email: readonly string[];
  /** How many entries of other forms (otherName, directoryName, x400Address...) there are. */
  readonly other: number;
}

/**
 * Basic constraints (RFC 5280 §4.2.1.9).
 *
 * @example
 * ```ts
 * import type { BasicConstraints } from "@mtls/mcp/cert";
 * const bc: BasicConstraints = { ca: true, pathLength: 0 };
 * ```
 */
export interface BasicConstraints {
  /** The cA flag. */
  readonly ca: boolean;
  /** pathLenConstraint: how many non-self-issued intermediates may follow; absent = no limit. */
  readonly pathLength?: number;
}

/**
 * Key usage bit numbers (RFC 5280 §4.2.1.3).
 *
 * @example
 * ```ts
 * import { KEY_USAGE } from "@mtls/mcp/cert";
 * console.log(KEY_USAGE.keyCertSign); // 5
 * ```
 */
export const KEY_USAGE = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

/**
 * The extension-derived part of a certificate.
 *
 * @example
 * ```ts
 * import type { CertificateExtensions } from "@mtls/mcp/cert";
 * const isCa = (c: CertificateExtensions) => c.basicConstraints?.ca === true;
 * ```
 */
export interface CertificateExtensions {
  /** Every extension, in certificate order. */
  readonly extensions: readonly CertificateExtension[];
  /** Every SAN, by kind (empty lists when the extension is absent). */
  readonly subjectAltNames: SubjectAltNames;
  /** Basic constraints, when present. */
  readonly basicConstraints?: BasicConstraints;
  /** The key usage bits set (see {@link KEY_USAGE}), when the extension is present. */
  readonly keyUsage?: ReadonlySet<number>;
  /** Extended key usage OIDs, when the extension is present. */
  readonly extendedKeyUsage?: readonly string[];
  /** Subject key identifier, lowercase hex. */
  readonly subjectKeyId?: string;
  /** Authority key identifier's keyIdentifier, lowercase hex. */
  readonly authorityKeyId?: string;
  /** OCSP responder URLs (Authority Information Access). */
  readonly ocspUrls: readonly string[];
  /** CA issuer certificate URLs (Authority Information Access). */
  readonly caIssuerUrls: readonly string[];
  /** Full-name URLs of the CRL distribution points. */
  readonly crlUrls: readonly string[];
  /** OIDs of the extensions marked critical, in order. */
  readonly criticalExtensions: readonly string[];
  /** The nameConstraints extension, when present (decoded by the policy's name-constraint code). */
  readonly nameConstraints?: CertificateExtension;
  /** Whether a policyConstraints extension is present (the validator fails closed on it). */
  readonly hasPolicyConstraints: boolean;
}

/**
 * Extension OIDs by name.
 *
 * @example
 * ```ts
 * import { EXTENSION_OIDS } from "@mtls/mcp/cert";
 * console.log(EXTENSION_OIDS.subjectAltName); // "2.5.29.17"
 * ```
 */
export const EXTENSION_OIDS = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  policyMappings: "2.5.29.33",
  authorityKeyIdentifier: "2.5.29.35",
  policyConstraints: "2.5.29.36",
  extKeyUsage: "2.5.29.37",
  inhibitAnyPolicy: "2.5.29.54",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
} as const;

const O = EXTENSION_OIDS;
const utf8 = new TextDecoder();

function invalid(what: string): CertificateError {
  return new CertificateError("invalid_der", `Cannot read certificate DER: ${what}`);
}

/**
 * Reads the `[3] Extensions` wrapper at `wrapper` of `der` (absent: no extensions).
 *
 * @throws {CertificateError} `invalid_der` for a malformed extension the model decodes
 * @throws {DerError} for malformed structure
 *
 * @example
 * ```ts ignore
 * const ext = readExtensions(der, extensionsTlv);
 * ```
 */
export function readExtensions(der: Uint8Array, wrapper: Tlv | undefined): CertificateExtensions {
  const extensions: CertificateExtension[] = [];
  const criticalExtensions: string[] = [];
  const sans = {
    dns: [] as string[],
    ip: [] as string[],
    uri: [] as string[],
    email: [] as string[],
  };
  let other = 0;
  const ocspUrls: string[] = [], caIssuerUrls: string[] = [], crlUrls: string[] = [];
  const out: {
    -readonly [K in keyof CertificateExtensions]: CertificateExtensions[K];
  } = {
    extensions,
    subjectAltNames: sans as unknown as SubjectAltNames,
    ocspUrls,
    caIssuerUrls,
    crlUrls,
    criticalExtensions,
    hasPolicyConstraints: false,
  };
  const [list] = wrapper ? children(der, wrapper) : [];
  for (const ext of list ? children(der, list) : []) {
    const parts = children(der, ext);
    // extnID, optional critical, extnValue: fewer than two parts is malformed.
    if (parts.length < 2) throw invalid("extension without an identifier and a value");
    const oid = readOid(der, parts[0]);
    const flag = parts.length > 2 ? parts[1] : undefined;
    const critical = flag?.tag === 0x01 && flag.end > flag.valueStart && der[flag.valueStart] !== 0;
    const octets = parts[parts.length - 1];
    if (octets.tag !== 0x04) {
      throw new DerError(`expected an OCTET STRING at offset ${octets.start}`);
    }
    const value = content(der, octets);
    const e: CertificateExtension = { oid, critical, value };
    extensions.push(e);
    if (critical) criticalExtensions.push(oid);
    const inner = () => readTlv(der, octets.valueStart, octets.end);
    switch (oid) {
      case O.subjectAltName:
        for (const gn of children(der, inner())) {
          const v = content(der, gn);
          if (gn.tag === 0x81) sans.email.push(utf8.decode(v));
          else if (gn.tag === 0x82) sans.dns.push(utf8.decode(v));
          else if (gn.tag === 0x86) sans.uri.push(utf8.decode(v));
          else if (gn.tag === 0x87) {
            if (v.length !== 4 && v.length !== 16) {
              throw invalid(`iPAddress SAN of ${v.length} bytes (expected 4 or 16)`);
            }
            sans.ip.push(ipAddressText(v));
          } else other++;
        }
        break;
      case O.basicConstraints:
        out.basicConstraints = basicConstraints(der, inner());
        break;
      case O.keyUsage: {
        const bits = inner();
        // X.690 §8.6.2.2: the unused-bits octet is 0 to 7 (OpenSSL refuses the
        // certificate in verification otherwise), so refuse it when read.
        if (bits.tag !== 0x03 || bits.end === bits.valueStart) {
          throw invalid("keyUsage is not a BIT STRING");
        }
        const unused = der[bits.valueStart];
        if (unused > 7) throw invalid(`keyUsage BIT STRING claims ${unused} unused bits`);
        const set = new Set<number>();
        // BIT STRING: the first content octet counts unused bits; bit 0 is 0x80 of the next.
        for (let i = 0; i < (bits.end - bits.valueStart - 1) * 8; i++) {
          if (der[bits.valueStart + 1 + (i >> 3)] & (0x80 >> (i & 7))) set.add(i);
        }
        out.keyUsage = set;
        break;
      }
      case O.extKeyUsage:
        out.extendedKeyUsage = children(der, inner()).map((t) => readOid(der, t));
        break;
      case O.subjectKeyIdentifier:
        out.subjectKeyId = toHex(content(der, inner()));
        break;
      case O.authorityKeyIdentifier: {
        const id = children(der, inner()).find((t) => t.tag === 0x80);
        if (id) out.authorityKeyId = toHex(content(der, id));
        break;
      }
      case O.authorityInfoAccess:
        for (const ad of children(der, inner())) {
          const [method, name] = children(der, ad);
          if (!method || name?.tag !== 0x86) continue;
          const m = readOid(der, method);
          const url = utf8.decode(content(der, name));
          if (m === "1.3.6.1.5.5.7.48.1") ocspUrls.push(url);
          else if (m === "1.3.6.1.5.5.7.48.2") caIssuerUrls.push(url);
        }
        break;
      case O.crlDistributionPoints:
        for (const dp of children(der, inner())) {
          const dpName = children(der, dp).find((t) => t.tag === 0xa0);
          const full = dpName && children(der, dpName).find((t) => t.tag === 0xa0);
          for (const n of full ? children(der, full) : []) {
            if (n.tag === 0x86) crlUrls.push(utf8.decode(content(der, n)));
          }
        }
        break;
      case O.nameConstraints:
        out.nameConstraints = e;
        break;
      case O.policyConstraints:
        out.hasPolicyConstraints = true;
        break;
    }
  }
  out.subjectAltNames = { ...sans, other };
  return out;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function basicConstraints(der: Uint8Array, seq: Tlv): BasicConstraints {
  let ca = false;
  let pathLength: number | undefined;
  for (const t of children(der, seq)) {
    if (t.tag === 0x01) ca = t.end > t.valueStart && der[t.valueStart] !== 0;
    else if (t.tag === 0x02) {
      const bytes = content(der, t);
      // A negative or empty pathLen is malformed: refuse rather than guess.
      if (bytes.length === 0 || (bytes[0] & 0x80) !== 0) throw invalid("bad pathLenConstraint");
      let n = 0;
      for (const b of bytes) n = Math.min(n * 256 + b, Number.MAX_SAFE_INTEGER);
      pathLength = n;
    }
  }
  return pathLength === undefined ? { ca } : { ca, pathLength };
}
