/**
 * Reads the few X.509 fields Deno's `node:crypto` `X509Certificate` does not
 * expose reliably: extended key usage, basic constraints (cA and
 * pathLenConstraint), key usage, every subject alternative name, the subject
 * CN, which extensions are critical and whether name or policy constraints are
 * present, with the shared DER reader (`../pki/der.ts`).
 *
 * Runtime-neutral (plain bytes).
 *
 * @module
 */

import { CertificateError } from "../errors.ts";
import { ipAddressText } from "../pki/ip_address.ts";
import {
  children,
  content,
  decodeOid,
  DerError,
  type DerErrorKind,
  readTlv,
  type Tlv,
} from "../pki/der.ts";

/**
 * The shared reader's failures in the words this module has always used
 * (`high_tag` is the one new refusal: the old private reader misread a
 * multi-byte tag as a single-byte one).
 */
const REASONS: Partial<Record<DerErrorKind, string>> = {
  truncated: "truncated element",
  high_tag: "unsupported high tag number",
  length: "bad length",
  overrun: "element overruns its parent",
};

function invalid(what: string): CertificateError {
  return new CertificateError("invalid_der", `Cannot read certificate DER: ${what}`);
}

/** OID text of a node's content, whatever its tag (as this reader always did). */
function oid(bytes: Uint8Array, t: Tlv): string {
  return decodeOid(content(bytes, t));
}

const text = new TextDecoder();

/**
 * A DirectoryString (RFC 5280 §4.1.2.4) as text, by its tag: BMPString is
 * UTF-16BE and UniversalString UTF-32BE, so a CN "admin" reads "admin"
 * whichever string type the CA chose (as `node:crypto` prints it); the other
 * string types are decoded as UTF-8, as this reader always did.
 */
function directoryString(tag: number, bytes: Uint8Array): string {
  if (tag === 0x1e && bytes.length % 2 === 0) {
    return new TextDecoder("utf-16be").decode(bytes);
  }
  if (tag === 0x1c && bytes.length % 4 === 0) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let out = "";
    for (let i = 0; i < bytes.length; i += 4) {
      const cp = view.getUint32(i);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
    }
    return out;
  }
  return text.decode(bytes);
}

/** An iPAddress SAN in the one canonical text form; 4 or 16 bytes (RFC 5280 §4.2.1.6). */
function ipText(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) {
    throw invalid(`iPAddress SAN of ${b.length} bytes (expected 4 or 16)`);
  }
  return ipAddressText(b);
}

/**
 * Subject alternative names, one list per kind.
 *
 * @example
 * ```ts
 * import type { SubjectAltNames } from "@mtls/mcp/policy";
 * const sans: SubjectAltNames = { dns: ["localhost"], ip: ["127.0.0.1"], uri: [], email: [] };
 * ```
 */
export interface SubjectAltNames {
  /** dNSName entries. */
  dns: string[];
  /**
   * iPAddress entries: dotted IPv4, or RFC 5952 IPv6 with IPv4-mapped
   * addresses as `::ffff:1.2.3.4` (see `ipAddressText` in `../pki/ip_address.ts`).
   */
  ip: string[];
  /** uniformResourceIdentifier entries (SPIFFE IDs live here). */
  uri: string[];
  /** rfc822Name entries. */
  email: string[];
}

/**
 * The X.509 fields the verification policy needs, read straight from the DER.
 *
 * @example
 * ```ts
 * import type { CertificateFields } from "@mtls/mcp/policy";
 * const f: Pick<CertificateFields, "isCa"> = { isCa: false };
 * ```
 */
export interface CertificateFields {
  /**
   * Subject common name when the subject has exactly one CN attribute;
   * `undefined` when it has none or several (see `commonNames`), so a
   * caller never silently picks one of two names.
   */
  commonName?: string;
  /** Every subject CN attribute value, in certificate order. */
  commonNames: string[];
  /**
   * Whether a CN attribute shares a multi-valued RDN (`CN=a+O=b`) with other
   * attributes: software disagrees on how to order and print those.
   */
  commonNameInMultiValuedRdn: boolean;
  /** Every SAN, by kind. */
  subjectAltNames: SubjectAltNames;
  /** Extended key usage OIDs, or `undefined` when the extension is absent. */
  extendedKeyUsage?: string[];
  /** Basic constraints cA flag (false when absent). */
  isCa: boolean;
  /** Whether a keyUsage extension is present and has digitalSignature set; `undefined` when absent. */
  digitalSignature?: boolean;
  /** Whether a keyUsage extension is present and has keyCertSign set; `undefined` when absent. */
  keyCertSign?: boolean;
  /**
   * Basic constraints pathLenConstraint: how many non-self-issued intermediate
   * CA certificates may follow this CA; `undefined` when absent (no limit).
   */
  pathLength?: number;
  /** OIDs of every extension marked critical, in certificate order. */
  criticalExtensions: string[];
  /** Whether a nameConstraints extension (2.5.29.30) is present, critical or not. */
  hasNameConstraints: boolean;
  /** Whether a policyConstraints extension (2.5.29.36) is present, critical or not. */
  hasPolicyConstraints: boolean;
}

const OID_CN = "2.5.4.3";
const OID_SAN = "2.5.29.17";
const OID_EKU = "2.5.29.37";
const OID_BC = "2.5.29.19";
const OID_KU = "2.5.29.15";
const OID_NAME_CONSTRAINTS = "2.5.29.30";
const OID_POLICY_CONSTRAINTS = "2.5.29.36";

/**
 * Reads {@link CertificateFields} from a DER certificate.
 *
 * @example Reading a certificate's SANs
 * ```ts ignore
 * import { readCertificateFields } from "@mtls/mcp/policy";
 * const fields = readCertificateFields(derBytes);
 * console.log(fields.subjectAltNames.uri);
 * ```
 */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  try {
    return readFields(der);
  } catch (e) {
    if (e instanceof DerError) throw invalid(REASONS[e.kind] ?? e.message);
    throw e;
  }
}

function readFields(der: Uint8Array): CertificateFields {
  const cert = readTlv(der, 0, der.length);
  const [tbs] = children(der, cert);
  if (!tbs) throw invalid("no tbsCertificate");
  const items = children(der, tbs);
  // version [0] is optional: subject sits at index 5 with it, 4 without.
  const base = items[0]?.tag === 0xa0 ? 1 : 0;
  const subject = items[base + 4];
  const fields: CertificateFields = {
    commonNames: [],
    commonNameInMultiValuedRdn: false,
    subjectAltNames: { dns: [], ip: [], uri: [], email: [] },
    isCa: false,
    criticalExtensions: [],
    hasNameConstraints: false,
    hasPolicyConstraints: false,
  };
  if (subject) {
    // Every CN is kept: which one "wins" must never depend on order (issue 10).
    for (const rdn of children(der, subject)) {
      const atvs = children(der, rdn);
      for (const atv of atvs) {
        const [type, value] = children(der, atv);
        if (type && value && oid(der, type) === OID_CN) {
          fields.commonNames.push(directoryString(value.tag, content(der, value)));
          if (atvs.length > 1) fields.commonNameInMultiValuedRdn = true;
        }
      }
    }
    if (fields.commonNames.length === 1) fields.commonName = fields.commonNames[0];
  }
  const extsWrapper = items.find((t) => t.tag === 0xa3);
  if (!extsWrapper) return fields;
  const [exts] = children(der, extsWrapper);
  for (const ext of exts ? children(der, exts) : []) {
    const parts = children(der, ext);
    // extnID, optional critical, extnValue: fewer than two parts is malformed.
    if (parts.length < 2) throw invalid("extension without an identifier and a value");
    const id = oid(der, parts[0]);
    // critical BOOLEAN DEFAULT FALSE sits between the identifier and the value.
    const flag = parts.length > 2 ? parts[1] : undefined;
    if (flag?.tag === 0x01 && flag.end > flag.valueStart && der[flag.valueStart] !== 0) {
      fields.criticalExtensions.push(id);
    }
    if (id === OID_NAME_CONSTRAINTS) fields.hasNameConstraints = true;
    if (id === OID_POLICY_CONSTRAINTS) fields.hasPolicyConstraints = true;
    const valueTlv = parts[parts.length - 1];
    const inner = readTlv(der, valueTlv.valueStart, valueTlv.end);
    if (id === OID_SAN) readSans(der, inner, fields.subjectAltNames);
    else if (id === OID_EKU) fields.extendedKeyUsage = children(der, inner).map((t) => oid(der, t));
    else if (id === OID_BC) readBasicConstraints(der, inner, fields);
    else if (id === OID_KU) {
      // BIT STRING: first content byte is the unused-bits count; digitalSignature is
      // bit 0 (0x80 of the first data byte), keyCertSign bit 5 (0x04).
      const hasBits = inner.end - inner.valueStart > 1;
      fields.digitalSignature = hasBits && (der[inner.valueStart + 1] & 0x80) !== 0;
      fields.keyCertSign = hasBits && (der[inner.valueStart + 1] & 0x04) !== 0;
    }
  }
  return fields;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function readBasicConstraints(der: Uint8Array, seq: Tlv, fields: CertificateFields): void {
  for (const t of children(der, seq)) {
    if (t.tag === 0x01) fields.isCa = t.end > t.valueStart && der[t.valueStart] !== 0;
    else if (t.tag === 0x02) {
      const bytes = content(der, t);
      // A negative or empty pathLen is malformed: refuse rather than guess.
      if (bytes.length === 0 || (bytes[0] & 0x80) !== 0) throw invalid("bad pathLenConstraint");
      let n = 0;
      for (const b of bytes) n = Math.min(n * 256 + b, Number.MAX_SAFE_INTEGER);
      fields.pathLength = n;
    }
  }
}

function readSans(der: Uint8Array, seq: Tlv, out: SubjectAltNames): void {
  for (const gn of children(der, seq)) {
    const value = content(der, gn);
    switch (gn.tag) {
      case 0x81:
        out.email.push(text.decode(value));
        break;
      case 0x82:
        out.dns.push(text.decode(value));
        break;
      case 0x86:
        out.uri.push(text.decode(value));
        break;
      case 0x87:
        out.ip.push(ipText(value));
        break;
    }
  }
}
