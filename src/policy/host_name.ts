/**
 * Whether a server certificate is valid for the host name or IP address the
 * client asked for, per RFC 9525 (which obsoletes RFC 6125). One function for
 * every transport and for `doctor`, so a certificate is judged the same way
 * on Deno, Node.js and Bun, whatever the TLS stack's own check would say.
 *
 * - Only subject alternative names identify a server: a certificate without
 *   a DNS or IP SAN names nothing, whatever its subject CN says (RFC 9525 §2:
 *   "The Common Name RDN MUST NOT be used to identify a service").
 * - DNS names (DNS-ID) compare label by label, case-insensitive ASCII; U-labels
 *   in the reference are turned into A-labels first (§6.3). A trailing dot on
 *   the reference is dropped; a presented name with one is malformed (RFC 5280
 *   §4.2.1.6 preferred name syntax) and ignored, as OpenSSL does.
 * - A wildcard counts only as the whole leftmost label (`*.example.com`) and
 *   stands for exactly one label (§6.3). Partial-label wildcards (`ba*`, `*ba`,
 *   `b*a`, `xn--*`), a second `*` or a `*` further right make the name invalid,
 *   and an invalid presented name "MUST be ignored" (§6.3). `*.xn--…` is a
 *   whole-label wildcard and valid; the `*` may stand for an A-label.
 * - A wildcard over a public suffix (`*.com`, `*.co.uk`) is ignored. RFC 9525
 *   §7.1 leaves this out of scope, and no Public Suffix List ships here (the
 *   maintained one, `tldts`, is 3 MB unpacked and its list goes stale), so the
 *   rule is: at least two labels after the `*` (as OpenSSL requires), and not
 *   a generic second-level label under a two-letter country code (`*.co.uk`,
 *   `*.com.au`). Other public suffixes (`*.github.io`) are not recognised.
 * - IP addresses (IP-ID) match iPAddress SANs only, byte for byte in canonical
 *   form (§6.4), never a DNS SAN spelling the address; an IPv4 address does not
 *   match its IPv4-mapped IPv6 form.
 *
 * Runtime-neutral: plain strings.
 *
 * @module
 */

import { canonicalIpAddress } from "../cert/ip_address.ts";
import type { Certificate } from "../cert/certificate.ts";
import type { SubjectAltNames } from "../cert/extensions.ts";
import { commonNamesOf } from "./identity.ts";

/**
 * The names a certificate presents: the DNS and IP SANs, and the subject CNs
 * (only to say they are not used). A `Certificate` of the model gives them.
 *
 * @example
 * ```ts
 * import type { PresentedNames } from "./host_name.ts";
 * const names: PresentedNames = {
 *   subjectAltNames: { dns: ["localhost"], ip: ["127.0.0.1"] },
 *   commonNames: ["localhost"],
 * };
 * ```
 */
export interface PresentedNames {
  /** DNS and IP SANs (IP addresses in canonical text, as the certificate model gives them). */
  subjectAltNames: Pick<SubjectAltNames, "dns" | "ip">;
  /** Every subject CN, in certificate order: never matched, only named in the refusal. */
  commonNames?: readonly string[];
}

/**
 * Why a certificate is not valid for a host: the `hostname_mismatch`
 * reason, a sentence for logs, and the parenthesis that explains it
 * (what the certificate names and which of its names were ignored).
 *
 * @example
 * ```ts
 * import type { HostNameMismatch } from "./host_name.ts";
 * const m: HostNameMismatch = {
 *   reason: "hostname_mismatch",
 *   host: "localhost",
 *   names: "DNS:example.com",
 *   notes: [],
 *   detail: 'it names "DNS:example.com"',
 *   message: 'Certificate is not valid for "localhost" (it names "DNS:example.com")',
 * };
 * ```
 */
export interface HostNameMismatch {
  /** Always `hostname_mismatch`. */
  reason: "hostname_mismatch";
  /** The reference identifier as asked for (not normalised). */
  host: string;
  /** The certificate's DNS and IP SANs, `DNS:a, IP:b`; empty when it has none. */
  names: string;
  /** Why names were ignored or could not match, one sentence each (may be empty). */
  notes: string[];
  /** What the certificate names and why none matched, for messages. */
  detail: string;
  /** `Certificate is not valid for "HOST" (DETAIL)`. */
  message: string;
}

/** Generic second-level labels that registries sell under country codes (`co.uk`, `com.au`). */
const REGISTRY_SECOND_LEVEL = new Set(["ac", "co", "com", "edu", "gov", "mil", "net", "org"]);

/** A DNS label as compared here: LDH, plus `_`, which private PKIs issue. */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A presented DNS name that cannot match anything, and why (for the refusal). */
type Invalid = { name: string; why: string };

const WHOLE_LABEL = "a wildcard must be the whole leftmost label (RFC 9525 §6.3)";
const PUBLIC_SUFFIX = "a wildcard must not cover a public suffix";
const MALFORMED = "not a valid DNS name";

/**
 * A presented dNSName as lowercase labels, with `"*"` as the first label of
 * a valid wildcard; or why it is ignored.
 */
function presentedLabels(name: string): string[] | Invalid {
  // IA5String: anything outside printable ASCII is not a host name.
  if (!/^[\x21-\x7e]+$/.test(name) || name.length > 253) return { name, why: MALFORMED };
  const labels = name.toLowerCase().split(".");
  const [first, ...rest] = labels;
  if (first.includes("*")) {
    if (first !== "*" || rest.some((l) => l.includes("*"))) return { name, why: WHOLE_LABEL };
  } else if (rest.some((l) => l.includes("*"))) return { name, why: WHOLE_LABEL };
  if ((first === "*" ? rest : labels).some((l) => !LABEL.test(l))) return { name, why: MALFORMED };
  if (first === "*" && publicSuffix(rest)) return { name, why: PUBLIC_SUFFIX };
  return labels;
}

/** Whether `labels` (what follows `*.`) look like a public suffix; see the module doc. */
function publicSuffix(labels: readonly string[]): boolean {
  if (labels.length < 2) return true;
  const [second, top] = labels.slice(-2);
  return labels.length === 2 && top.length === 2 && REGISTRY_SECOND_LEVEL.has(second);
}

/**
 * The reference name as lowercase A-labels without a trailing dot, or
 * `undefined` when it is not a host name (a `*` in it included: wildcards
 * belong to presented names only, RFC 9525 §6.3).
 */
function referenceLabels(host: string): string[] | undefined {
  let name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (!/^[\x21-\x7e]*$/.test(name)) {
    // U-labels to A-labels (§6.3), by the WHATWG URL host parser every runtime has.
    try {
      name = new URL(`http://${name}/`).hostname;
    } catch {
      return undefined;
    }
  }
  const labels = name.toLowerCase().split(".");
  return name.length <= 253 && labels.every((l) => LABEL.test(l)) ? labels : undefined;
}

/** Whether presented `pattern` (a `*` first label stands for one label) matches `ref`. */
function matchesLabels(pattern: readonly string[], ref: readonly string[]): boolean {
  if (pattern.length !== ref.length) return false;
  return pattern.every((label, i) => label === ref[i] || (i === 0 && label === "*"));
}

/**
 * The canonical text of `host` when it is an IP address (IPv6 may be in
 * brackets), `null` when it looks like one but is not valid, `undefined` for
 * a DNS name.
 */
function referenceIp(host: string): string | null | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const ip = canonicalIpAddress(bare);
  if (ip !== undefined) return ip;
  return bare.includes(":") ? null : undefined;
}

/**
 * Checks that a certificate presenting `names` is valid for `host` (a DNS
 * name or an IP address, as the client asked for it), per RFC 9525: SANs
 * only, a wildcard only as the whole leftmost label and not over a public
 * suffix, IP addresses only against iPAddress SANs. See the module doc for
 * every rule.
 *
 * @param host the reference identifier: the URL's host, or the configured server name
 * @param names the certificate (of the model), or its SANs and subject CNs
 * @returns `undefined` when a SAN matches, else the refusal
 *
 * @example A certificate with no SAN names nothing, whatever its CN says
 * ```ts
 * import { checkHostName } from "./host_name.ts";
 * const names = { subjectAltNames: { dns: [], ip: [] }, commonNames: ["localhost"] };
 * checkHostName("localhost", names)?.detail;
 * // 'it has no subject alternative name; its subject CN "localhost" is not used (RFC 9525 §2)'
 * ```
 *
 * @example Wildcards: one whole leftmost label, standing for one label
 * ```ts
 * import { checkHostName } from "./host_name.ts";
 * const sans = (dns: string[]) => ({ subjectAltNames: { dns, ip: [] } });
 * checkHostName("a.example.com", sans(["*.example.com"])); // undefined: valid
 * checkHostName("a.b.example.com", sans(["*.example.com"]))?.reason; // "hostname_mismatch"
 * checkHostName("bar.example.com", sans(["ba*.example.com"]))?.reason; // "hostname_mismatch"
 * ```
 */
export function checkHostName(
  host: string,
  names: PresentedNames | Certificate,
): HostNameMismatch | undefined {
  const { dns, ip } = names.subjectAltNames;
  const refIp = referenceIp(host);
  if (typeof refIp === "string" && ip.includes(refIp)) return undefined;
  const invalid: Invalid[] = [];
  const ref = refIp === undefined ? referenceLabels(host) : undefined;
  for (const name of dns) {
    const labels = presentedLabels(name);
    if (!Array.isArray(labels)) invalid.push(labels);
    else if (ref && matchesLabels(labels, ref)) return undefined;
  }
  const cns = "subject" in names ? commonNamesOf(names.subject) : names.commonNames;
  return mismatch(
    host,
    { subjectAltNames: names.subjectAltNames, commonNames: cns },
    refIp,
    ref,
    invalid,
  );
}

function mismatch(
  host: string,
  names: PresentedNames,
  refIp: string | null | undefined,
  ref: string[] | undefined,
  invalid: readonly Invalid[],
): HostNameMismatch {
  const { dns, ip } = names.subjectAltNames;
  const listed = [...dns.map((d) => `DNS:${d}`), ...ip.map((a) => `IP:${a}`)].join(", ");
  const notes = invalid.map((i) => `"${i.name}" is ignored: ${i.why}`);
  if (listed === "") {
    const cns = names.commonNames ?? [];
    const quoted = cns.map((cn) => `"${cn}"`).join(", ");
    if (cns.length === 1) notes.push(`its subject CN ${quoted} is not used (RFC 9525 §2)`);
    if (cns.length > 1) notes.push(`its subject CNs ${quoted} are not used (RFC 9525 §2)`);
  } else if (refIp === null || (refIp === undefined && ref === undefined)) {
    notes.push(`"${host}" is not a valid host name or IP address`);
  } else if (refIp && dns.some((d) => canonicalIpAddress(d) === refIp)) {
    notes.push("an IP address matches only an IP SAN (RFC 9525 §6.4)");
  }
  const head = listed === "" ? "it has no subject alternative name" : `it names "${listed}"`;
  const detail = [head, ...notes].join("; ");
  return {
    reason: "hostname_mismatch",
    host,
    names: listed,
    notes,
    detail,
    message: `Certificate is not valid for "${host}" (${detail})`,
  };
}
