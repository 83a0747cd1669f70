/**
 * Distinguished names (RFC 5280 §4.1.2.4) as the certificate model holds
 * them: the RDN structure (attribute OIDs and decoded values), the DER as
 * signed (for issuer/subject matching and OCSP name hashes), and one text
 * form that is the same on every runtime.
 *
 * @module
 */
import { children, content, readOid, type Tlv, whole } from "./der.ts";

/**
 * One attribute of a name: `CN=agent-1` is `{ oid: "2.5.4.3", name: "CN", value: "agent-1" }`.
 *
 * @example
 * ```ts
 * import type { NameAttribute } from "@mtls/mcp/cert";
 * const cn: NameAttribute = { oid: "2.5.4.3", name: "CN", value: "agent-1", tag: 0x0c };
 * ```
 */
export interface NameAttribute {
  /** The attribute type OID. */
  readonly oid: string;
  /** Its short name (`CN`, `O`, `emailAddress`...), or the OID when it has none. */
  readonly name: string;
  /** The value as text (DirectoryString decoded by its string type). */
  readonly value: string;
  /** The ASN.1 tag of the value (0x0c UTF8String, 0x13 PrintableString, 0x16 IA5String...). */
  readonly tag: number;
}

/**
 * A distinguished name: its RDNs in certificate order, each a set of one or
 * more attributes.
 *
 * @example
 * ```ts
 * import type { DistinguishedName } from "@mtls/mcp/cert";
 * const cnOf = (n: DistinguishedName) => n.attributes.find((a) => a.name === "CN")?.value;
 * ```
 */
export interface DistinguishedName {
  /** The Name as signed, DER. */
  readonly der: Uint8Array;
  /** The RDNs in order; an RDN with several attributes is multi-valued (`CN=a+O=b`). */
  readonly rdns: readonly (readonly NameAttribute[])[];
  /** Every attribute, flattened in order. */
  readonly attributes: readonly NameAttribute[];
  /**
   * One line per RDN, `name=value`, multi-valued RDNs joined with ` + `
   * (`C=US\nO=Acme\nCN=agent-1`), as Deno's `node:crypto` prints names;
   * control characters and backslashes in values are escaped (`\0a`), so a
   * value can never forge a line.
   */
  readonly text: string;
}

const SHORT: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.42": "GN",
  "2.5.4.43": "initials",
  "2.5.4.44": "generationQualifier",
  "2.5.4.46": "dnQualifier",
  "2.5.4.65": "pseudonym",
  "2.5.4.97": "organizationIdentifier",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress",
};

const utf8 = new TextDecoder();

/**
 * A DirectoryString as text, by its tag: BMPString is UTF-16BE and
 * UniversalString UTF-32BE, so a CN "admin" reads "admin" whichever string
 * type the CA chose; the other string types are decoded as UTF-8.
 *
 * @example
 * ```ts
 * import { directoryString } from "./names.ts";
 * console.log(directoryString(0x1e, new Uint8Array([0, 0x61]))); // "a"
 * ```
 */
export function directoryString(tag: number, bytes: Uint8Array): string {
  if (tag === 0x1e && bytes.length % 2 === 0) return new TextDecoder("utf-16be").decode(bytes);
  if (tag === 0x1c && bytes.length % 4 === 0) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let out = "";
    for (let i = 0; i < bytes.length; i += 4) {
      const cp = view.getUint32(i);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
    }
    return out;
  }
  return utf8.decode(bytes);
}

/** Backslash, C0/C1 controls, DEL and the Unicode line separators, as `\xx` hex. */
function escapeValue(v: string): string {
  return v.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => c === "\\" ? "\\\\" : `\\${c.codePointAt(0)!.toString(16).padStart(2, "0")}`,
  );
}

/**
 * Reads the Name at `t` of `der`.
 *
 * @throws {DerError} when the Name is malformed
 *
 * @example
 * ```ts ignore
 * const subject = readName(der, subjectTlv);
 * console.log(subject.text);
 * ```
 */
export function readName(der: Uint8Array, t: Tlv): DistinguishedName {
  const rdns: NameAttribute[][] = [];
  for (const set of children(der, t)) {
    const rdn: NameAttribute[] = [];
    for (const atv of children(der, set)) {
      const [type, value] = children(der, atv);
      if (!type || !value) continue;
      const oid = readOid(der, type);
      rdn.push({
        oid,
        name: SHORT[oid] ?? oid,
        value: directoryString(value.tag, content(der, value)),
        tag: value.tag,
      });
    }
    rdns.push(rdn);
  }
  return {
    der: whole(der, t),
    rdns,
    attributes: rdns.flat(),
    text: rdns.map((rdn) => rdn.map((a) => `${a.name}=${escapeValue(a.value)}`).join(" + "))
      .join("\n"),
  };
}
