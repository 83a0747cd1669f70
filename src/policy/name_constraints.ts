/**
 * RFC 5280 name constraints (§4.2.1.10), applied down a built chain as
 * §6.1.3 (b) and (c) say: every CA's permitted and excluded subtrees bind
 * every certificate below it, so checking each CA's constraints on its own
 * is the intersection (permitted) and union (excluded) of §6.1.4 (g).
 *
 * What is checked, for each certificate below a constraining CA (a
 * self-issued intermediate is skipped, §6.1.3 (b)):
 * - every subjectAltName: dNSName, rfc822Name, uniformResourceIdentifier,
 *   iPAddress (IPv4 and IPv6, with masks) and directoryName;
 * - the subject, when not empty, against directoryName constraints;
 * - every emailAddress attribute of the subject against rfc822Name
 *   constraints (§4.2.1.10 asks this when there is no SAN; OpenSSL always);
 * - for the leaf without a DNS SAN, a CN that looks like a host name against
 *   dNSName constraints. RFC 5280 does not ask this; OpenSSL does
 *   (`NAME_CONSTRAINTS_check_CN`), Go's crypto/x509 (since 1.15) and
 *   rustls-webpki do not. We do, because a CN can be the identity a client
 *   is authorised by, and so that we refuse every chain OpenSSL refuses.
 *
 * Refused with `unknown_ca`, and never ignored: a name outside the permitted
 * or inside an excluded subtree; a name of a form we do not match (otherName,
 * x400Address, ediPartyName, registeredID) under a constraint of that form;
 * a name that cannot be parsed under a constraint of its form (a DNS name
 * with an empty label, a URI without a host or with an IP host); a malformed
 * extension (no subtrees, an empty list, minimum or maximum set, an IP
 * constraint that is not 8 or 32 bytes or has a non-contiguous mask, an
 * empty email or URI constraint); and more than
 * {@link MAX_NAME_CONSTRAINT_COMPARISONS} comparisons, a work budget per
 * verification as in Go (`MaxConstraintComparisions`) and rustls-webpki
 * (`name_constraint_comparisons`), both 250,000.
 *
 * Runtime-neutral. Certificates come from the model (`src/cert/`): their
 * SANs as it decoded them, their subject and issuer as the Name DER it
 * holds, their nameConstraints extension's value; `asn1js` decodes that
 * value, the Names and the rarer SAN forms the model only counts
 * (directoryName, otherName...), and nothing re-reads a certificate.
 *
 * @module
 */

import type * as asn1js from "asn1js";
import type { Certificate } from "../cert/certificate.ts";
import { EXTENSION_OIDS } from "../cert/extensions.ts";
import { parseIpAddress } from "../cert/ip_address.ts";
import { LruMap } from "../limits/lru.ts";
import {
  childrenOf,
  decodeDer,
  isContext,
  isUniversal,
  NameSyntaxError,
  readName,
} from "./distinguished_name.ts";
import {
  constraintFormName,
  GN,
  OID_SMTP_UTF8_MAILBOX,
  presentedIp,
  type PresentedName,
  presentedName,
  presentedText,
  subjectNames,
  type Subtree,
  subtreeBase,
} from "./general_names.ts";
import { mappedIpv4, within } from "./name_match.ts";
import type { Refusal } from "./verify_chain.ts";

/**
 * Most name comparisons one chain verification may make (Go and rustls-webpki
 * use the same number); a chain that needs more is refused.
 *
 * @example
 * ```ts ignore
 * import { MAX_NAME_CONSTRAINT_COMPARISONS } from "./name_constraints.ts";
 * console.log(MAX_NAME_CONSTRAINT_COMPARISONS); // 250000
 * ```
 */
export const MAX_NAME_CONSTRAINT_COMPARISONS = 250_000;

/**
 * A parsed nameConstraints extension.
 *
 * @example
 * ```ts ignore
 * const nc: NameConstraints = readNameConstraints(extnValue);
 * console.log(nc.permitted.map((s) => s.text)); // ["DNS:.example.com"]
 * ```
 */
export interface NameConstraints {
  /** permittedSubtrees (empty when absent). */
  permitted: Subtree[];
  /** excludedSubtrees (empty when absent). */
  excluded: Subtree[];
}

/**
 * Options of {@link checkNameConstraints}.
 *
 * @example
 * ```ts ignore
 * const o: CheckNameConstraintsOptions = { maxComparisons: 1000 };
 * ```
 */
export interface CheckNameConstraintsOptions {
  /** Work budget. @default {MAX_NAME_CONSTRAINT_COMPARISONS} */
  maxComparisons?: number;
}

/** GeneralName forms we cannot compare: a constraint of such a form refuses every such name. */
const UNSUPPORTED = new Set<number>([
  GN.otherName,
  GN.x400Address,
  GN.ediPartyName,
  GN.registeredID,
]);

/**
 * Reads a nameConstraints extension value (RFC 5280 §4.2.1.10):
 * `SEQUENCE { permittedSubtrees [0] OPTIONAL, excludedSubtrees [1] OPTIONAL }`.
 *
 * @throws {NameSyntaxError} for a malformed extension (see the module doc)
 *
 * @example
 * ```ts ignore
 * const nc = readNameConstraints(extnValue);
 * ```
 */
export function readNameConstraints(extnValue: Uint8Array): NameConstraints {
  const seq = decodeDer(extnValue, "the extension");
  if (!isUniversal(seq, 16)) throw new NameSyntaxError("it is not a SEQUENCE");
  const parts = childrenOf(seq);
  let i = 0;
  const permitted = isContext(parts[i], 0) ? subtrees(parts[i++], "permittedSubtrees") : undefined;
  const excluded = isContext(parts[i], 1) ? subtrees(parts[i++], "excludedSubtrees") : undefined;
  if (i !== parts.length) throw new NameSyntaxError("it has an unexpected element");
  // §4.2.1.10: "either the permittedSubtrees field or the excludedSubtrees field MUST be present".
  if (!permitted && !excluded) {
    throw new NameSyntaxError("it has neither permittedSubtrees nor excludedSubtrees");
  }
  return { permitted: permitted ?? [], excluded: excluded ?? [] };
}

/** GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree */
function subtrees(node: asn1js.AsnType, field: string): Subtree[] {
  const items = childrenOf(node);
  if (!node.idBlock.isConstructed || items.length === 0) {
    throw new NameSyntaxError(`${field} is empty`);
  }
  return items.map((item) => {
    if (!isUniversal(item, 16)) throw new NameSyntaxError(`${field} holds a non-SEQUENCE`);
    const [base, ...rest] = childrenOf(item);
    if (!base) throw new NameSyntaxError(`${field} holds a subtree without a base`);
    // §4.2.1.10: "the minimum MUST be zero, and maximum MUST be absent" (an
    // explicit minimum of 0 is tolerated, as OpenSSL does).
    for (const r of rest) {
      const zero = isContext(r, 0) && !r.idBlock.isConstructed &&
        (r as asn1js.Primitive).valueBlock.valueHexView.every((b) => b === 0);
      if (!zero) throw new NameSyntaxError(`${field} sets a minimum or maximum`);
    }
    return subtreeBase(base);
  });
}

/** What a certificate brings to the check, read once. */
interface CertificateNames {
  /** Every name it claims (see the module doc). */
  names: PresentedName[];
  /** Issuer and subject match: skipped as an intermediate (§6.1.3 (b)). */
  selfIssued: boolean;
  /** Its own constraints, by form, or why they are malformed; absent without any. */
  constraints?: Map<string, Group> | { malformed: string };
}

/**
 * The SANs of `cert`: the forms the model decoded (email, DNS, URI, IP, in
 * that order), then the rarer forms it only counts, decoded from the
 * extension's value, in certificate order.
 */
function sansOf(cert: Certificate): PresentedName[] {
  const { dns, ip, uri, email, other } = cert.subjectAltNames;
  const out = [
    ...email.map((n) => presentedText(GN.rfc822Name, n)),
    ...dns.map((n) => presentedText(GN.dNSName, n)),
    ...uri.map((n) => presentedText(GN.uniformResourceIdentifier, n)),
    // The model gives canonical text, which parses back to the same bytes.
    ...ip.map((n) => presentedIp(parseIpAddress(n)!)),
  ];
  if (other === 0) return out;
  const ext = cert.extensions.find((e) => e.oid === EXTENSION_OIDS.subjectAltName)!;
  for (const gn of childrenOf(decodeDer(ext.value, "subjectAltName"))) {
    const tag = gn.idBlock.tagClass === 3 ? gn.idBlock.tagNumber : -1;
    if (!MODEL_FORMS.has(tag)) out.push(presentedName(gn));
  }
  return out;
}

/** SAN forms the certificate model decodes itself. */
const MODEL_FORMS = new Set<number>([
  GN.rfc822Name,
  GN.dNSName,
  GN.uniformResourceIdentifier,
  GN.iPAddress,
]);

/**
 * What `cert` brings to the check (`leaf`: a host-like CN counts as a DNS
 * name when there is no DNS SAN). Its subject and issuer are decoded from the
 * Name DER the model holds, as directoryName constraints are, so that both
 * sides of a comparison are read alike.
 */
function namesOf(cert: Certificate, leaf: boolean): CertificateNames {
  const subject = readName(decodeDer(cert.subject.der, "the subject"));
  let constraints: CertificateNames["constraints"];
  if (cert.nameConstraints) {
    try {
      constraints = groupsOf(readNameConstraints(cert.nameConstraints.value));
    } catch (e) {
      constraints = { malformed: why(e) };
    }
  }
  const hasDnsSan = cert.subjectAltNames.dns.length > 0;
  return {
    names: [...sansOf(cert), ...subjectNames(subject, { hostLikeCommonNames: leaf && !hasDnsSan })],
    // §6.1.3 (b): self-issued means issuer and subject match (§7.1 comparison).
    selfIssued: !leaf &&
      JSON.stringify(readName(decodeDer(cert.issuer.der, "the issuer")).rdns) ===
        JSON.stringify(subject.rdns),
    constraints,
  };
}

// Decoding names and constraints with asn1js costs tens of µs; CA
// certificates recur across clients, so theirs are read once and
// remembered by fingerprint. Bounded: the least recently used goes first. Leaves are
// not: a returning client is found in the policy's verdict cache.
const CA_MEMO_MAX = 1_024;
const caMemo = new LruMap<CertificateNames>({ max: CA_MEMO_MAX });

function readCa(c: Certificate): CertificateNames {
  let v = caMemo.get(c.fingerprint);
  if (v === undefined) {
    v = namesOf(c, false);
    caMemo.set(c.fingerprint, v);
  }
  return v;
}

/** Constraints of one form (otherName: of one type), from one CA. */
interface Group {
  permitted: Subtree[];
  excluded: Subtree[];
}

const groupKey = (tag: number, otherType?: string) =>
  tag === GN.otherName ? `0:${otherType}` : String(tag);

function groupsOf(nc: NameConstraints): Map<string, Group> {
  const groups = new Map<string, Group>();
  const add = (s: Subtree, field: keyof Group) => {
    const key = groupKey(s.tag, s.otherType);
    let g = groups.get(key);
    if (!g) groups.set(key, g = { permitted: [], excluded: [] });
    g[field].push(s);
  };
  for (const s of nc.permitted) add(s, "permitted");
  for (const s of nc.excluded) add(s, "excluded");
  return groups;
}

/** Who is checked, by whom: for messages. */
interface Parties {
  cert: string;
  ca: string;
}

const list = (subtrees: Subtree[]) =>
  subtrees.slice(0, 3).map((s) => s.text).join(", ") +
  (subtrees.length > 3 ? ` and ${subtrees.length - 3} more` : "");

function refuse(message: string): Refusal {
  return { reason: "unknown_ca", message };
}

/** One name against one CA's constraints; `budget.left` is spent on every comparison. */
function checkName(
  name: PresentedName,
  groups: Map<string, Group>,
  budget: { left: number },
  p: Parties,
): Refusal | undefined {
  const g = groups.get(groupKey(name.tag, name.otherType));
  // An SmtpUTF8Mailbox is an email address (RFC 9598) we cannot compare.
  const email = name.otherType === OID_SMTP_UTF8_MAILBOX ? groups.get("1") : undefined;
  const n = (g ? g.permitted.length + g.excluded.length : 0) + (email ? 1 : 0);
  budget.left -= Math.max(n, 1);
  if (budget.left < 0) return undefined; // reported once by the caller
  if (!g && !email) return undefined;
  if (UNSUPPORTED.has(name.tag)) {
    const form = email ? "email" : constraintFormName(name.tag);
    return refuse(
      `${p.cert} has ${name.what}, and ${p.ca} has ${form} name constraints, ` +
        `which are not supported (refused rather than ignored)`,
    );
  }
  if (!g) return undefined;
  if (name.invalid) {
    return refuse(
      `${p.cert} has ${name.what}, which cannot be checked against the ${
        constraintFormName(name.tag)
      } name constraints of ${p.ca}: ${name.invalid}`,
    );
  }
  const excludedBy = g.excluded.find((s) => within(name, s));
  if (excludedBy) {
    return refuse(`${p.cert} has ${name.what}, which ${p.ca} excludes (${excludedBy.text})`);
  }
  if (g.permitted.length > 0 && !g.permitted.some((s) => within(name, s))) {
    return refuse(
      `${p.cert} has ${name.what}, which ${p.ca} does not permit (permitted: ${list(g.permitted)})`,
    );
  }
  // An IPv4-mapped IPv6 address reaches the IPv4 host: excluded IPv4 ranges
  // apply to it too (stricter than OpenSSL and Go, which compare lengths).
  const v4 = name.ip && mappedIpv4(name.ip);
  const by = v4 && g.excluded.find((s) => within({ ...name, ip: v4 }, s));
  if (by) {
    return refuse(
      `${p.cert} has ${name.what}, an IPv4-mapped address ${p.ca} excludes (${by.text})`,
    );
  }
  return undefined;
}

/**
 * Applies the name constraints of every CA in `chain` (leaf first, trust
 * anchor last) to every certificate below it.
 *
 * @returns `undefined` when every name is allowed, else an `unknown_ca` refusal
 *
 * @example A chain whose intermediate permits only `.example.com`
 * ```ts ignore
 * import { readCertificate } from "@mtls/mcp/cert";
 * const r = checkNameConstraints([leafPem, intPem, rootPem].map((p) => readCertificate(p)));
 * if (r) console.log(r.message);
 * ```
 */
export function checkNameConstraints(
  chain: readonly Certificate[],
  options: CheckNameConstraintsOptions = {},
): Refusal | undefined {
  const { maxComparisons = MAX_NAME_CONSTRAINT_COMPARISONS } = options;
  const budget = { left: maxComparisons };
  const read: CertificateNames[] = [];
  const subjects = chain.map((c) => c.subject.text.split("\n").join(", "));
  const certName = (j: number) => `${j === 0 ? "Certificate" : "Intermediate CA"} "${subjects[j]}"`;
  for (let k = 0; k < chain.length; k++) {
    try {
      read[k] = k === 0 ? namesOf(chain[0], true) : readCa(chain[k]);
    } catch (e) {
      return refuse(`${certName(k)} cannot be read for name constraints: ${why(e)}`);
    }
  }
  for (let k = 1; k < chain.length; k++) {
    const groups = read[k].constraints;
    if (!groups) continue;
    const ca = `${k === chain.length - 1 ? "trusted CA" : "intermediate CA"} "${subjects[k]}"`;
    if (!(groups instanceof Map)) {
      return refuse(
        `${capital(ca)} has a malformed nameConstraints extension: ${groups.malformed}`,
      );
    }
    for (let j = 0; j < k; j++) {
      // §6.1.3 (b): a self-issued intermediate is not checked.
      if (j > 0 && read[j].selfIssued) continue;
      const cert = certName(j);
      for (const name of read[j].names) {
        const r = checkName(name, groups, budget, { cert, ca });
        if (budget.left < 0) {
          return refuse(
            `Too many name constraint checks for "${
              subjects[0]
            }": more than ${maxComparisons} comparisons`,
          );
        }
        if (r) return r;
      }
    }
  }
  return undefined;
}

/**
 * Why a CA's nameConstraints extension cannot be used, or `undefined` when it
 * has none or it is sound: for checking a trust anchor when it is loaded.
 *
 * @example
 * ```ts ignore
 * const problem = nameConstraintsProblem(readCertificate(caPem));
 * if (problem) throw new Error(problem);
 * ```
 */
export function nameConstraintsProblem(cert: Certificate): string | undefined {
  if (!cert.nameConstraints) return undefined;
  try {
    readNameConstraints(cert.nameConstraints.value);
    return undefined;
  } catch (e) {
    return why(e);
  }
}

const capital = (s: string) => s[0].toUpperCase() + s.slice(1);

function why(e: unknown): string {
  if (e instanceof NameSyntaxError) return e.message;
  return `unreadable DER (${e instanceof Error ? e.message : String(e)})`;
}
