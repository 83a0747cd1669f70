/**
 * Subject alternative names: the `dns:a,ip:1.2.3.4,uri:spiffe://x/y,email:e@x`
 * syntax of the CLI, validated before anything is signed.
 *
 * @module
 */
import { CertificateError } from "../errors.ts";
import { canonicalIpAddress } from "../cert/ip_address.ts";

/**
 * One subject alternative name.
 *
 * @example A SPIFFE ID
 * ```ts
 * import type { SubjectAltName } from "@mtls/mcp/pki";
 * const san: SubjectAltName = { type: "uri", value: "spiffe://example.org/agent" };
 * ```
 */
export interface SubjectAltName {
  /** `dns` (host name), `ip` (IPv4 or IPv6), `uri` (e.g. a SPIFFE ID) or `email`. */
  type: "dns" | "ip" | "uri" | "email";
  /** The name; IP addresses in their canonical text form (see `canonicalIpAddress`). */
  value: string;
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const EMAIL = /^[^\s@",]+@[^\s@",]+$/;

/**
 * Parses a comma-separated list of `dns:`, `ip:`, `uri:` and `email:` names.
 * Whitespace around entries is ignored; an empty string gives an empty list.
 * A SPIFFE ID (`uri:spiffe://...`) must be the only URI: the SPIFFE
 * X.509-SVID standard (§2) allows exactly one URI SAN, and servers refuse a
 * certificate with more as `ambiguous_identity`.
 *
 * @param spec e.g. `"dns:localhost,ip:127.0.0.1,ip:::1,uri:spiffe://example.org/agent"`
 * @returns the names, IP addresses in canonical (RFC 5952) form
 * @throws {CertificateError} `invalid_argument` naming the first bad entry, or
 * the URIs when a SPIFFE ID is not the only one
 *
 * @example Parsing the CLI syntax
 * ```ts
 * import { parseSubjectAltNames } from "@mtls/mcp/pki";
 * const sans = parseSubjectAltNames("dns:localhost,ip:127.0.0.1,ip:::1");
 * console.log(sans.length); // 3
 * ```
 */
export function parseSubjectAltNames(spec: string): SubjectAltName[] {
  if (spec.trim() === "") return [];
  const names = spec.split(",").map((entry) => parseEntry(entry.trim()));
  const uris = names.filter((n) => n.type === "uri");
  if (uris.length > 1 && uris.some((u) => u.value.slice(0, 7).toLowerCase() === "spiffe:")) {
    throw new CertificateError(
      "invalid_argument",
      `Invalid SANs "${uris.map((u) => `uri:${u.value}`).join(", ")}": ` +
        "a SPIFFE ID must be the only URI SAN of a certificate (SPIFFE X.509-SVID §2)",
    );
  }
  return names;
}

function parseEntry(entry: string): SubjectAltName {
  const colon = entry.indexOf(":");
  const prefix = colon < 0 ? "" : entry.slice(0, colon).toLowerCase();
  const value = entry.slice(colon + 1);
  const fail = (why: string): never => {
    throw new CertificateError("invalid_argument", `Invalid SAN "${entry}": ${why}`);
  };
  switch (prefix) {
    case "dns":
      if (!isDnsName(value)) fail("not a valid DNS name");
      return { type: "dns", value: value.toLowerCase() };
    case "ip": {
      const ip = canonicalIp(value);
      if (ip === undefined) fail("not an IPv4 or IPv6 address");
      return { type: "ip", value: ip! };
    }
    case "uri":
      if (!isUri(value)) fail("not an absolute URI");
      return { type: "uri", value };
    case "email":
      if (!EMAIL.test(value)) fail("not an email address");
      return { type: "email", value };
    default:
      return fail("expected dns:, ip:, uri: or email:");
  }
}

/** Host names, with an optional leading `*.` wildcard label. */
export function isDnsName(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = (value.startsWith("*.") ? value.slice(2) : value).replace(/\.$/, "").split(".");
  return labels.every((label) => DNS_LABEL.test(label)) && !IPV4.test(value);
}

/**
 * The canonical text of an IPv4 or IPv6 address, or `undefined` when it is
 * neither: {@link canonicalIpAddress}, the one form every reader uses.
 */
export function canonicalIp(value: string): string | undefined {
  return canonicalIpAddress(value);
}

function isUri(value: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}
