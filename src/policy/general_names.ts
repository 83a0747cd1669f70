/**
 * The names a certificate claims, and the name constraints a CA sets, read
 * for RFC 5280 §4.2.1.10 matching into plain data that `name_constraints.ts`
 * compares: the SANs the certificate model decoded (DNS, email, URI, IP) as
 * they are, and the GeneralName (§4.2.1.6) values and distinguished names
 * (§4.1.2.4) of constraints and of the rarer SAN forms decoded by `asn1js`
 * (no hand-written DER reader).
 *
 * Every name is parsed once, into the form its matching rule needs: DNS and
 * host labels lower-cased (ASCII only, RFC 4343), mailboxes split into a
 * case-sensitive local part and a host, IP addresses as bytes, distinguished
 * names as one normalised key per RDN (RFC 5280 §7.1: case-insensitive,
 * insignificant white space ignored, the attributes of a multi-valued RDN in
 * any order). A name that cannot be parsed keeps the reason, so that it is
 * refused only when a constraint of its form applies to it.
 *
 * Runtime-neutral (plain bytes and strings).
 *
 * @module
 */

import type * as asn1js from "asn1js";
import { ipAddressText } from "../cert/ip_address.ts";
import {
  bytesOf,
  childrenOf,
  type DistinguishedName,
  ia5,
  NameSyntaxError,
  oidOf,
  readName,
} from "./distinguished_name.ts";

/**
 * GeneralName CHOICE tags (RFC 5280 §4.2.1.6).
 *
 * @example
 * ```ts ignore
 * GN.dNSName; // 2
 * ```
 */
export const GN = {
  otherName: 0,
  rfc822Name: 1,
  dNSName: 2,
  x400Address: 3,
  directoryName: 4,
  ediPartyName: 5,
  uniformResourceIdentifier: 6,
  iPAddress: 7,
  registeredID: 8,
} as const;

/**
 * id-on-SmtpUTF8Mailbox (RFC 9598): an email address in an otherName.
 *
 * @example
 * ```ts ignore
 * name.otherType === OID_SMTP_UTF8_MAILBOX;
 * ```
 */
export const OID_SMTP_UTF8_MAILBOX = "1.3.6.1.5.5.7.8.9";

/**
 * A DNS name or host as its labels, lower-case, most significant first.
 *
 * @example
 * ```ts ignore
 * const l: Labels = ["com", "example", "www"];
 * ```
 */
export type Labels = string[];

/**
 * How a host or domain constraint matches (see {@link Subtree}).
 *
 * @example
 * ```ts ignore
 * const s: Scope = "below"; // ".example.com"
 * ```
 */
export type Scope = "exact" | "below" | "atOrBelow";

/**
 * One name claimed by a certificate (a SAN, its subject, a subject
 * emailAddress or a host-like CN), parsed for matching.
 *
 * @example
 * ```ts ignore
 * const n: PresentedName = { tag: 2, what: 'DNS name "a.example.com"', labels: ["com", "example", "a"] };
 * ```
 */
export interface PresentedName {
  /** GeneralName tag of the form it is checked as. */
  tag: number;
  /** How the name reads in a message: `DNS name "a.example.com"`. */
  what: string;
  /** Why it cannot be checked against a constraint of its form, if it cannot. */
  invalid?: string;
  /** dNSName, and the host of a URI or mailbox. */
  labels?: Labels;
  /** Mailbox local part, case-sensitive (RFC 5280 §4.2.1.10). */
  local?: string;
  /** iPAddress bytes (4 or 16). */
  ip?: Uint8Array;
  /** directoryName: one normalised key per RDN. */
  rdns?: string[];
  /** otherName type identifier. */
  otherType?: string;
}

/**
 * One permitted or excluded subtree, parsed and validated.
 *
 * @example
 * ```ts ignore
 * const s: Subtree = { tag: 2, text: "DNS:.example.com", labels: ["com", "example"], scope: "below" };
 * ```
 */
export interface Subtree {
  /** GeneralName tag of the form it constrains. */
  tag: number;
  /** The constraint as OpenSSL prints it: `DNS:.example.com`, `IP:10.0.0.0/8`. */
  text: string;
  /** DNS/URI/email host or domain labels; empty for the empty DNS constraint (all names). */
  labels?: Labels;
  /**
   * How a host matches `labels`: `exact`, `below` (at least one label added
   * on the left: the leading-dot form) or `atOrBelow` (a DNS constraint
   * without a leading dot).
   */
  scope?: Scope;
  /** email: a whole mailbox, whose local part must match exactly. */
  local?: string;
  /** iPAddress network and mask (4 or 16 bytes each). */
  ip?: Uint8Array;
  mask?: Uint8Array;
  /** directoryName: normalised RDN keys that must start the name. */
  rdns?: string[];
  /** otherName type identifier. */
  otherType?: string;
}

/**
 * DNS labels, most significant first, lower-case; `undefined` plus a reason
 * when the text is no DNS name (an empty label, a trailing dot, a space or
 * a control character), like Go's `domainToReverseLabels`.
 */
function labelsOf(text: string): { labels?: Labels; invalid?: string } {
  if (text === "") return { invalid: "it is empty" };
  const labels = text.split(".").reverse();
  if (labels.some((l) => l === "")) return { invalid: "it has an empty label" };
  if (!/^[\x21-\x7e]+$/.test(text)) return { invalid: "it has a character not allowed in a host" };
  return { labels: labels.map((l) => l.replace(/[A-Z]/g, (c) => c.toLowerCase())) };
}

/** A mailbox `local@host` (RFC 5280 §4.2.1.6 via RFC 2821 §4.1.2), unquoted local parts only. */
function mailboxOf(text: string): { local?: string; labels?: Labels; invalid?: string } {
  const at = text.indexOf("@");
  if (at <= 0 || text.indexOf("@", at + 1) !== -1) {
    return { invalid: "it is not a mailbox local@host" };
  }
  const local = text.slice(0, at);
  // A quoted or escaped local part could hide an "@"; none is needed in practice.
  if (/["\\\s]/.test(local)) return { invalid: "its local part is quoted or escaped" };
  const host = labelsOf(text.slice(at + 1));
  return host.labels ? { local, labels: host.labels } : { invalid: `its host: ${host.invalid}` };
}

/**
 * The host of a URI (RFC 3986 §3.2): after `scheme://` and any userinfo,
 * before a port, path, query or fragment. RFC 5280 §4.2.1.10: a URI without
 * a host name, or whose host is an IP address, cannot satisfy a constraint.
 */
function uriHostOf(uri: string): { labels?: Labels; invalid?: string } {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (!m) return { invalid: "it has no authority (//host)" };
  const hostPort = m[1].slice(m[1].lastIndexOf("@") + 1);
  if (hostPort.startsWith("[")) return { invalid: "its host is an IP address" };
  const host = hostPort.split(":")[0];
  if (host === "") return { invalid: "its host is empty" };
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return { invalid: "its host is an IP address" };
  if (host.includes("%")) return { invalid: "its host is percent-encoded" };
  const l = labelsOf(host);
  return l.labels ? l : { invalid: `its host: ${l.invalid}` };
}

const FORM_NAMES: Record<number, string> = {
  [GN.otherName]: "otherName",
  [GN.rfc822Name]: "email address",
  [GN.dNSName]: "DNS name",
  [GN.x400Address]: "x400Address",
  [GN.directoryName]: "directory name",
  [GN.ediPartyName]: "ediPartyName",
  [GN.uniformResourceIdentifier]: "URI",
  [GN.iPAddress]: "IP address",
  [GN.registeredID]: "registeredID",
};

/** What a name form is called in messages. */
function formName(tag: number): string {
  return FORM_NAMES[tag] ?? `GeneralName [${tag}]`;
}

const CONSTRAINT_FORMS: Record<number, string> = {
  [GN.rfc822Name]: "email",
  [GN.dNSName]: "DNS",
  [GN.directoryName]: "directoryName",
  [GN.uniformResourceIdentifier]: "URI",
  [GN.iPAddress]: "IP",
};

/**
 * What constraints of a form are called in messages: "the DNS name constraints".
 *
 * @example
 * ```ts ignore
 * constraintFormName(GN.dNSName); // "DNS"
 * ```
 */
export function constraintFormName(tag: number): string {
  return CONSTRAINT_FORMS[tag] ?? formName(tag);
}

/** The Name inside a directoryName [4] (an explicit tag: X.680 §31.2.7). */
function directoryNameOf(node: asn1js.AsnType): DistinguishedName {
  const [inner, extra] = childrenOf(node);
  if (!inner || extra) throw new NameSyntaxError("malformed directoryName");
  return readName(inner);
}

/** The GeneralName tag of `node`, or -1 when it is not context-specific. */
function tagOf(node: asn1js.AsnType): number {
  return node.idBlock.tagClass === 3 ? node.idBlock.tagNumber : -1;
}

/**
 * A dNSName, rfc822Name or uniformResourceIdentifier SAN, as the certificate
 * model decoded it, as a presented name. These are IA5Strings: a name with a
 * character outside ASCII cannot be compared (the model decodes the bytes as
 * UTF-8, so any byte over 0x7f shows as such a character).
 *
 * @example
 * ```ts ignore
 * presentedText(GN.dNSName, "a.example.com").labels; // ["com", "example", "a"]
 * ```
 */
export function presentedText(
  tag: typeof GN.dNSName | typeof GN.rfc822Name | typeof GN.uniformResourceIdentifier,
  text: string,
): PresentedName {
  const what = formName(tag);
  // deno-lint-ignore no-control-regex -- ASCII is the point
  if (/[^\x00-\x7f]/.test(text)) return { tag, what, invalid: "it is not ASCII" };
  const parsed = tag === GN.dNSName
    ? labelsOf(text)
    : tag === GN.rfc822Name
    ? mailboxOf(text)
    : uriHostOf(text);
  return { tag, what: `${what} "${text}"`, ...parsed };
}

/**
 * An iPAddress SAN (4 or 16 bytes) as a presented name.
 *
 * @example
 * ```ts ignore
 * presentedIp(new Uint8Array([10, 0, 0, 1])).what; // 'IP address "10.0.0.1"'
 * ```
 */
export function presentedIp(ip: Uint8Array): PresentedName {
  const tag = GN.iPAddress;
  if (ip.length !== 4 && ip.length !== 16) {
    return {
      tag,
      what: formName(tag),
      invalid: `it is ${ip.length} bytes long (expected 4 or 16)`,
    };
  }
  return { tag, what: `${formName(tag)} "${ipAddressText(ip)}"`, ip };
}

/**
 * Reads a GeneralName element as a presented name.
 *
 * @example
 * ```ts ignore
 * const sans = childrenOf(decodeDer(sanExtnValue, "subjectAltName")).map(presentedName);
 * ```
 */
export function presentedName(node: asn1js.AsnType): PresentedName {
  const tag = tagOf(node);
  const what = formName(tag);
  switch (tag) {
    case GN.dNSName:
    case GN.rfc822Name:
    case GN.uniformResourceIdentifier: {
      const text = ia5(bytesOf(node));
      if (text === undefined) return { tag, what, invalid: "it is not ASCII" };
      return presentedText(tag, text);
    }
    case GN.iPAddress:
      return presentedIp(bytesOf(node));
    case GN.directoryName: {
      const dn = directoryNameOf(node);
      return { tag, what: `${what} "${dn.text}"`, rdns: dn.rdns };
    }
    case GN.otherName: {
      const otherType = oidOf(childrenOf(node)[0]);
      return { tag, what: `${what} of type ${otherType}`, otherType };
    }
    default:
      // x400Address, ediPartyName, registeredID: compared by form only.
      if (tag < 0 || tag > 8) throw new NameSyntaxError("a name is not a GeneralName");
      return { tag, what };
  }
}

/** Whether every bit set in `mask` is left of every bit clear (a prefix mask). */
function contiguous(mask: Uint8Array): boolean {
  let zero = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit & 1) === 1;
      if (one && zero) return false;
      if (!one) zero = true;
    }
  }
  return true;
}

/** Prefix length of a contiguous mask. */
function prefixLength(mask: Uint8Array): number {
  let n = 0;
  for (const byte of mask) for (let bit = 7; bit >= 0; bit--) n += byte >> bit & 1;
  return n;
}

/**
 * Labels of a `host` or `.domain` constraint, or why it is malformed. A
 * leading dot means "below"; without one, a DNS constraint also matches the
 * names below it (§4.2.1.10: labels added on the left), an email or URI
 * constraint only that host.
 */
function domainConstraint(text: string, form: string): { labels: Labels; scope: Scope } {
  const below = text.startsWith(".");
  const l = labelsOf(below ? text.slice(1) : text);
  if (!l.labels) {
    throw new NameSyntaxError(`${form} constraint "${text}" is malformed: ${l.invalid}`);
  }
  return { labels: l.labels, scope: below ? "below" : form === "DNS" ? "atOrBelow" : "exact" };
}

/**
 * Reads the base of a GeneralSubtree, refusing what RFC 5280 §4.2.1.10 does
 * not define: an IP constraint that is not 8 or 32 bytes or whose mask is
 * not contiguous, an empty rfc822Name or URI constraint (OpenSSL reads it as
 * matching nothing, Go as matching everything), a malformed host.
 *
 * @example
 * ```ts ignore
 * subtreeBase(generalSubtree.base).text; // "DNS:.example.com"
 * ```
 */
export function subtreeBase(node: asn1js.AsnType): Subtree {
  const tag = tagOf(node);
  switch (tag) {
    case GN.dNSName: {
      const text = ia5(bytesOf(node));
      if (text === undefined) throw new NameSyntaxError("DNS constraint is not ASCII");
      // The empty DNS constraint matches every DNS name (OpenSSL, Go, NSS; the
      // CA/Browser Forum uses an excluded empty dNSName for "no DNS names").
      if (text === "") return { tag, text: "DNS:", labels: [], scope: "atOrBelow" };
      return { tag, text: `DNS:${text}`, ...domainConstraint(text, "DNS") };
    }
    case GN.rfc822Name: {
      const text = ia5(bytesOf(node));
      if (!text) throw new NameSyntaxError("email constraint is empty or not ASCII");
      if (text.includes("@")) {
        const m = mailboxOf(text);
        if (!m.labels) {
          throw new NameSyntaxError(`email constraint "${text}" is malformed: ${m.invalid}`);
        }
        return { tag, text: `email:${text}`, local: m.local, labels: m.labels, scope: "exact" };
      }
      return { tag, text: `email:${text}`, ...domainConstraint(text, "email") };
    }
    case GN.uniformResourceIdentifier: {
      const text = ia5(bytesOf(node));
      if (!text) throw new NameSyntaxError("URI constraint is empty or not ASCII");
      return { tag, text: `URI:${text}`, ...domainConstraint(text, "URI") };
    }
    case GN.iPAddress: {
      const b = bytesOf(node);
      if (b.length !== 8 && b.length !== 32) {
        throw new NameSyntaxError(`IP constraint of ${b.length} bytes (expected 8 or 32)`);
      }
      const ip = b.slice(0, b.length / 2);
      const mask = b.slice(b.length / 2);
      if (!contiguous(mask)) {
        throw new NameSyntaxError(
          `IP constraint mask "${ipAddressText(mask)}" of "${ipAddressText(ip)}" is not contiguous`,
        );
      }
      return { tag, text: `IP:${ipAddressText(ip)}/${prefixLength(mask)}`, ip, mask };
    }
    case GN.directoryName: {
      const dn = directoryNameOf(node);
      return { tag, text: `DirName:${dn.text}`, rdns: dn.rdns };
    }
    case GN.otherName: {
      const otherType = oidOf(childrenOf(node)[0]);
      return { tag, text: `otherName:${otherType}`, otherType };
    }
    default:
      if (tag < 0 || tag > 8) throw new NameSyntaxError("unknown GeneralName form");
      return { tag, text: formName(tag) };
  }
}

/**
 * Every name `names` claims besides its SANs: subject, emailAddress attributes, host-like CNs.
 *
 * @example
 * ```ts ignore
 * subjectNames(readName(subjectNode), { hostLikeCommonNames: true });
 * ```
 */
export function subjectNames(
  dn: DistinguishedName,
  options: { hostLikeCommonNames: boolean },
): PresentedName[] {
  const out: PresentedName[] = [];
  // §4.2.1.10: directoryName constraints apply to a non-empty subject.
  if (dn.rdns.length > 0) {
    out.push({ tag: GN.directoryName, what: `subject "${dn.text}"`, rdns: dn.rdns });
  }
  // §4.2.1.10 applies rfc822Name constraints to emailAddress attributes when
  // there is no SAN; like OpenSSL we apply them always.
  for (const e of dn.emails) {
    out.push(
      e === undefined
        ? { tag: GN.rfc822Name, what: "subject emailAddress", invalid: "it is not an IA5String" }
        : { tag: GN.rfc822Name, what: `subject emailAddress "${e}"`, ...mailboxOf(e) },
    );
  }
  if (options.hostLikeCommonNames) {
    for (const cn of dn.commonNames) {
      if (hostLike(cn)) {
        out.push({
          tag: GN.dNSName,
          what: `subject CN "${cn}" (a host name, checked as a DNS name)`,
          ...labelsOf(cn),
        });
      }
    }
  }
  return out;
}

/**
 * OpenSSL's test for a CN that "looks like a host name" (`cn2dnsid` in
 * crypto/x509/v3_ncons.c): letters, digits, `_`, inner `-` and `.`, no `.`
 * next to `.` or `-`, and at least two labels.
 */
function hostLike(cn: string): boolean {
  if (!/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(cn)) return false;
  return cn.includes(".") && !/\.\.|\.-|-\./.test(cn);
}
