/**
 * The one text form of an IP address, used for every iPAddress SAN mcp-mtls
 * reads or writes and for every `ip:` authorization rule, so that a rule
 * written one way matches a certificate rendered another way.
 *
 * IPv4: dotted decimal without leading zeros. IPv6: RFC 5952 §4 — lowercase
 * hex without leading zeros, the longest run of two or more zero groups
 * compressed to `::` (the leftmost of equal runs), a single zero group never
 * compressed. IPv4-mapped addresses (`::ffff:0:0/96`, RFC 4291 §2.5.5.2) are
 * written in mixed notation, `::ffff:192.0.2.1`, as RFC 5952 §5 recommends
 * for a well-known prefix and as `node:crypto` and OpenSSL print them. Other
 * embedded-IPv4 forms (the deprecated IPv4-compatible `::/96`, NAT64
 * `64:ff9b::/96`) stay in hex, again as `node:crypto` prints them: `::2`
 * must not turn into `::0.0.0.2`.
 *
 * Runtime-neutral (plain bytes and strings).
 *
 * @module
 */

const IPV4_OCTET = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;

/**
 * The canonical text of a 4-byte (IPv4) or 16-byte (IPv6) address, as an
 * iPAddress SAN holds it (RFC 5280 §4.2.1.6).
 *
 * @param bytes the address in network byte order
 * @returns dotted IPv4, or RFC 5952 IPv6 (IPv4-mapped in mixed notation)
 * @throws {RangeError} when `bytes` is neither 4 nor 16 bytes long
 *
 * @example The longest run of zeros is compressed, not the first
 * ```ts
 * import { ipAddressText } from "./ip_address.ts";
 * const bytes = new Uint8Array([0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3]);
 * ipAddressText(bytes); // "1:0:0:2::3"
 * ```
 */
export function ipAddressText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) {
    throw new RangeError(`An IP address has 4 or 16 bytes, got ${bytes.length}`);
  }
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.subarray(12).join(".")}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // The longest run of zero groups; the first of equal runs; at least two groups.
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/**
 * Parses an IPv4 address (four decimal octets, no leading zeros) or an IPv6
 * address (RFC 4291 §2.2 text: hex groups, at most one `::`, optionally a
 * dotted IPv4 tail). Brackets, zone IDs (`%eth0`), prefixes and whitespace are
 * refused.
 *
 * @param text the address as written
 * @returns 4 or 16 bytes in network order, or `undefined` when `text` is not an address
 *
 * @example
 * ```ts
 * import { parseIpAddress } from "./ip_address.ts";
 * parseIpAddress("::1")?.length; // 16
 * parseIpAddress("1::2::3"); // undefined
 * ```
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  if (!text.includes(":")) return parseIpv4(text);
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1], true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const count = head.length + tail.length;
  // Without "::" there must be exactly 8 groups; "::" stands for at least one.
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const groups = [...head, ...new Array(8 - count).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * The canonical text (see {@link ipAddressText}) of an address written in any
 * valid form, or `undefined` when `text` is not an IPv4 or IPv6 address.
 *
 * @example Three spellings of one address
 * ```ts
 * import { canonicalIpAddress } from "./ip_address.ts";
 * canonicalIpAddress("1:0:0:2:0:0:0:3"); // "1:0:0:2::3"
 * canonicalIpAddress("1::2:0:0:0:3"); // "1:0:0:2::3"
 * canonicalIpAddress("::FFFF:102:304"); // "::ffff:1.2.3.4"
 * ```
 */
export function canonicalIpAddress(text: string): string | undefined {
  const bytes = parseIpAddress(text);
  return bytes && ipAddressText(bytes);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => IPV4_OCTET.test(p))) return undefined;
  return new Uint8Array(parts.map(Number));
}

/**
 * The 16-bit groups of one side of `::`. `last` says whether this side ends
 * the address, the only place a dotted IPv4 tail (two groups) may stand.
 */
function groupsOf(side: string, last: boolean): number[] | undefined {
  if (side === "") return [];
  const parts = side.split(":");
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (last && i === parts.length - 1 && p.includes(".")) {
      const v4 = parseIpv4(p);
      if (!v4) return undefined;
      out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

/**
 * An address as eight full hex groups (IPv6) or dotted decimal (IPv4): the
 * only IPv6 text `@peculiar/x509` encodes correctly. Its parser reads the
 * mixed notation `::ffff:1.2.3.4` as `::ffff:1`, so canonical text must not
 * be handed to it.
 *
 * @param text an address in any valid form
 * @returns the uncompressed text
 * @throws {RangeError} when `text` is not an IPv4 or IPv6 address
 *
 * @example
 * ```ts
 * import { uncompressedIpAddress } from "./ip_address.ts";
 * uncompressedIpAddress("::ffff:1.2.3.4"); // "0:0:0:0:0:ffff:102:304"
 * ```
 */
export function uncompressedIpAddress(text: string): string {
  const bytes = parseIpAddress(text);
  if (!bytes) throw new RangeError(`Not an IPv4 or IPv6 address: "${text}"`);
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(":");
}
