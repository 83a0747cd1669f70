/**
 * Distinguished names (RFC 5280 §4.1.2.4) read for comparison as §7.1 says:
 * one normalised key per RDN (string values case-folded with insignificant
 * white space removed, the attributes of a multi-valued RDN in any order),
 * plus the few `asn1js` helpers the name modules share. `asn1js` decodes the
 * DER; nothing here reads lengths or tags by hand.
 *
 * Runtime-neutral (plain bytes and strings).
 *
 * @module
 */

import * as asn1js from "asn1js";

const OID_EMAIL_ADDRESS = "1.2.840.113549.1.9.1";
const OID_CN = "2.5.4.3";

/**
 * Thrown for DER or a constraint this module cannot accept.
 *
 * @example
 * ```ts ignore
 * throw new NameSyntaxError("IP constraint of 5 bytes (expected 8 or 32)");
 * ```
 */
export class NameSyntaxError extends Error {
  /** The reason, as a message fragment. */
  constructor(message: string) {
    super(message);
    this.name = "NameSyntaxError";
  }
}

/**
 * Decodes one complete DER element; trailing bytes are refused.
 *
 * @example
 * ```ts ignore
 * const cert = decodeDer(der, "the certificate");
 * ```
 */
export function decodeDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  const r = asn1js.fromBER(bytes);
  if (r.offset === -1 || r.offset !== bytes.length) {
    throw new NameSyntaxError(`${what} is not valid DER`);
  }
  return r.result;
}

/**
 * Children of a constructed element (none for a primitive one).
 *
 * @example
 * ```ts ignore
 * const [tbs] = childrenOf(decodeDer(der, "the certificate"));
 * ```
 */
export function childrenOf(node: asn1js.AsnType): asn1js.AsnType[] {
  const block = (node as asn1js.Constructed).valueBlock;
  return node.idBlock.isConstructed && Array.isArray(block.value) ? block.value : [];
}

/**
 * Content bytes of a primitive element.
 *
 * @example
 * ```ts ignore
 * bytesOf(dnsNameNode); // the IA5String bytes
 * ```
 */
export function bytesOf(node: asn1js.AsnType): Uint8Array {
  return (node as asn1js.Primitive).valueBlock.valueHexView ?? new Uint8Array();
}

/**
 * Whether `node` is a context-specific [n] element.
 *
 * @example
 * ```ts ignore
 * isContext(tbs[0], 0); // a version field
 * ```
 */
export function isContext(node: asn1js.AsnType | undefined, n: number): boolean {
  return node?.idBlock.tagClass === 3 && node.idBlock.tagNumber === n;
}

/**
 * Whether `node` is a universal element with tag number `n`.
 *
 * @example
 * ```ts ignore
 * isUniversal(node, 16); // a SEQUENCE
 * ```
 */
export function isUniversal(node: asn1js.AsnType | undefined, n: number): boolean {
  return node?.idBlock.tagClass === 1 && node.idBlock.tagNumber === n;
}

/**
 * Text of an OBJECT IDENTIFIER element.
 *
 * @example
 * ```ts ignore
 * oidOf(extension[0]); // "2.5.29.30"
 * ```
 */
export function oidOf(node: asn1js.AsnType | undefined): string {
  if (!(node instanceof asn1js.ObjectIdentifier)) throw new NameSyntaxError("missing OID");
  return node.valueBlock.toString();
}

/**
 * IA5String content as text; `undefined` when a byte is not ASCII.
 *
 * @example
 * ```ts ignore
 * ia5(new Uint8Array([0x61])); // "a"
 * ```
 */
export function ia5(bytes: Uint8Array): string | undefined {
  let s = "";
  for (const b of bytes) {
    if (b > 0x7f) return undefined;
    s += String.fromCharCode(b);
  }
  return s;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf16 = new TextDecoder("utf-16be", { fatal: true });
const latin1 = new TextDecoder("latin1");

/** A DirectoryString-like value (RFC 5280 §4.1.2.4) as text, by its universal tag. */
function stringValue(tag: number, b: Uint8Array): string | undefined {
  try {
    switch (tag) {
      case 12: // UTF8String
        return utf8.decode(b);
      case 30: // BMPString
        return b.length % 2 === 0 ? utf16.decode(b) : undefined;
      case 28: { // UniversalString
        if (b.length % 4 !== 0) return undefined;
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        let s = "";
        for (let i = 0; i < b.length; i += 4) s += String.fromCodePoint(view.getUint32(i));
        return s;
      }
      case 20: // TeletexString, read as Latin-1 as OpenSSL does
        return latin1.decode(b);
      case 18: // NumericString
      case 19: // PrintableString
      case 22: // IA5String
      case 26: // VisibleString
        return ia5(b);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * RFC 5280 §7.1 comparison form of a string attribute: leading and trailing
 * white space removed, inner runs collapsed to one space, ASCII upper case
 * folded (what OpenSSL's canonical name encoding does).
 */
function foldString(s: string): string {
  return s.trim().replace(/\s+/g, " ").replace(/[A-Z]/g, (c) => c.toLowerCase());
}

const SHORT_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "0.9.2342.19200300.100.1.25": "DC",
  [OID_EMAIL_ADDRESS]: "emailAddress",
};

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * A distinguished name read from an RDNSequence element.
 *
 * @example
 * ```ts ignore
 * const dn: DistinguishedName = readName(subjectNode);
 * console.log(dn.text); // "/C=US/O=Example/CN=agent"
 * ```
 */
export interface DistinguishedName {
  /** One normalised key per RDN, in certificate order. */
  rdns: string[];
  /** `/C=US/O=Example/CN=agent`, OpenSSL's one-line form. */
  text: string;
  /** Values of the emailAddress attributes (`undefined` for one that is not an IA5String). */
  emails: (string | undefined)[];
  /** Values of the CN attributes that are text. */
  commonNames: string[];
}

/**
 * Reads an RDNSequence (RFC 5280 §4.1.2.4).
 *
 * @example
 * ```ts ignore
 * readName(subjectNode).rdns.length; // 3
 * ```
 */
export function readName(node: asn1js.AsnType): DistinguishedName {
  if (!isUniversal(node, 16)) throw new NameSyntaxError("a name is not a SEQUENCE");
  const out: DistinguishedName = { rdns: [], text: "", emails: [], commonNames: [] };
  for (const rdn of childrenOf(node)) {
    if (!isUniversal(rdn, 17)) throw new NameSyntaxError("an RDN is not a SET");
    const keys: string[] = [];
    const parts: string[] = [];
    for (const atv of childrenOf(rdn)) {
      const [type, value, extra] = childrenOf(atv);
      if (!value || extra) throw new NameSyntaxError("malformed attribute in a name");
      const oid = oidOf(type);
      const tag = value.idBlock.tagClass === 1 ? value.idBlock.tagNumber : -1;
      const raw = bytesOf(value);
      const s = value.idBlock.isConstructed ? undefined : stringValue(tag, raw);
      keys.push(
        s === undefined
          ? `${oid}=#${value.idBlock.tagClass}.${tag}.${hex(raw)}`
          : `${oid}=${foldString(s)}`,
      );
      parts.push(`${SHORT_NAMES[oid] ?? oid}=${s ?? `#${hex(raw)}`}`);
      if (oid === OID_EMAIL_ADDRESS) out.emails.push(tag === 22 ? s : undefined);
      if (oid === OID_CN && s !== undefined) out.commonNames.push(s);
    }
    // The attributes of a multi-valued RDN match in any order (RFC 5280 §7.1).
    out.rdns.push(JSON.stringify(keys.sort()));
    out.text += "/" + parts.join("+");
  }
  return out;
}
