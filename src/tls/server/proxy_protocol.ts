/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2): what a load
 * balancer in TCP mode writes first on each connection it opens to us, so the
 * server learns the address of the client behind it.
 *
 * An incremental reader over the bytes received so far: it says "more",
 * "done" (with the header's length) or "invalid" as early as the bytes allow,
 * so the caller never buffers more than the header's bound. Pure: bytes in,
 * verdict out; the socket work is in proxy_accept.ts.
 *
 * Written here rather than taken from npm: the parsers there
 * (`proxy-protocol-js`, `@balena/proxy-protocol-parser`) parse a complete
 * buffer and throw generic errors; we need a bounded, incremental reader whose
 * every refusal has a detail for the log, and the format is small.
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";

/**
 * An address from a header.
 *
 * @example
 * ```ts
 * import type { ProxyAddress } from "./proxy_protocol.ts";
 * const a: ProxyAddress = { address: "203.0.113.7", port: 51000, family: "IPv4" };
 * ```
 */
export interface ProxyAddress {
  /** IPv4 dotted quad or IPv6 text (RFC 5952 form for version 2). */
  address: string;
  /** TCP port. */
  port: number;
  /** Address family. */
  family: "IPv4" | "IPv6";
}

/**
 * A parsed header.
 *
 * @example
 * ```ts
 * import type { ProxyHeader } from "./proxy_protocol.ts";
 * const h: ProxyHeader = { version: 2, command: "local" };
 * ```
 */
export interface ProxyHeader {
  /** Protocol version. */
  version: 1 | 2;
  /** `local`: the balancer's own connection (a health check); `proxy`: relayed for a client. */
  command: "proxy" | "local";
  /**
   * The client; absent for `local`, v1 `UNKNOWN` and v2 `UNSPEC`, where the
   * spec says to use the connection's own address.
   */
  source?: ProxyAddress;
  /** The address the client connected to, when given. */
  destination?: ProxyAddress;
}

/**
 * What {@link readProxyHeader} makes of the bytes received so far.
 *
 * @example
 * ```ts
 * import type { ProxyHeaderRead } from "./proxy_protocol.ts";
 * const r: ProxyHeaderRead = { status: "more" };
 * ```
 */
export type ProxyHeaderRead =
  | { status: "more" }
  | { status: "done"; header: ProxyHeader; length: number }
  | { status: "invalid"; detail: string };

/** Version 2 starts with these 12 bytes. */
const V2_SIGNATURE = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
);
/** Version 1 starts with "PROXY ". */
const V1_PREFIX = new TextEncoder().encode("PROXY ");
/** The spec's bound for a version 1 line, CRLF included. */
const V1_MAX = 107;
const V2_FIXED = 16;

/** Whether `buf` starts with `sig`, over the bytes both have. */
function startsLike(buf: Uint8Array, sig: Uint8Array): boolean {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return false;
  return true;
}

/**
 * Whether the bytes received so far begin a PROXY header: `"yes"`, `"no"`, or
 * `"maybe"` when too few have arrived to tell. A TLS ClientHello starts with
 * 0x16, so one byte usually decides.
 *
 * @example
 * ```ts
 * import { looksLikeProxyHeader } from "./proxy_protocol.ts";
 * console.log(looksLikeProxyHeader(new TextEncoder().encode("PROXY TCP4"))); // "yes"
 * console.log(looksLikeProxyHeader(Uint8Array.of(0x16, 0x03, 0x01))); // "no"
 * ```
 */
export function looksLikeProxyHeader(buf: Uint8Array): "yes" | "no" | "maybe" {
  for (const sig of [V1_PREFIX, V2_SIGNATURE]) {
    if (startsLike(buf, sig)) return buf.length >= sig.length ? "yes" : "maybe";
  }
  return "no";
}

/**
 * Reads a PROXY header (v1 or v2) at the start of `buf`. Refuses, as soon as
 * the bytes show it, anything that is not one, a v1 line longer than 107
 * bytes, and a v2 header longer than `maxBytes` (TLVs included: the length is
 * read from the fixed part, before any TLV arrives).
 *
 * @param buf the bytes received so far
 * @param maxBytes the longest header accepted (v2 with its TLVs), bytes
 *
 * @example A version 1 line followed by a ClientHello
 * ```ts
 * import { readProxyHeader } from "./proxy_protocol.ts";
 * const bytes = new TextEncoder().encode("PROXY TCP4 203.0.113.7 10.0.0.1 51000 8443\r\n\x16");
 * const r = readProxyHeader(bytes, 1024);
 * if (r.status === "done") console.log(r.header.source?.address, r.length); // 203.0.113.7 44
 * ```
 */
export function readProxyHeader(buf: Uint8Array, maxBytes: number): ProxyHeaderRead {
  if (buf.length === 0) return { status: "more" };
  if (startsLike(buf, V2_SIGNATURE)) {
    return buf.length < V2_FIXED ? { status: "more" } : readV2(buf, maxBytes);
  }
  if (startsLike(buf, V1_PREFIX)) return readV1(buf);
  return {
    status: "invalid",
    detail: `Expected a PROXY protocol header, got bytes starting ${hex(buf.subarray(0, 8))}`,
  };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

function readV1(buf: Uint8Array): ProxyHeaderRead {
  let end = -1;
  for (let i = 0; i + 1 < Math.min(buf.length, V1_MAX); i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    return buf.length >= V1_MAX
      ? { status: "invalid", detail: `PROXY v1 line longer than ${V1_MAX} bytes` }
      : { status: "more" };
  }
  const line = new TextDecoder().decode(buf.subarray(0, end));
  const length = end + 2;
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") {
    // The spec: the receiver ignores the rest of the line and uses the connection's addresses.
    return { status: "done", header: { version: 1, command: "proxy" }, length };
  }
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    return { status: "invalid", detail: `Malformed PROXY v1 line ${JSON.stringify(line)}` };
  }
  const family = parts[1] === "TCP4" ? "IPv4" : "IPv6";
  const isIp = family === "IPv4" ? isIPv4 : isIPv6;
  const [src, dst, sport, dport] = parts.slice(2);
  const port = (p: string) => /^(0|[1-9][0-9]{0,4})$/.test(p) && Number(p) <= 65535;
  if (!isIp(src) || !isIp(dst) || !port(sport) || !port(dport)) {
    return {
      status: "invalid",
      detail: `PROXY v1 line ${JSON.stringify(line)} has an address or port that is not ${family}`,
    };
  }
  return {
    status: "done",
    header: {
      version: 1,
      command: "proxy",
      source: { address: src, port: Number(sport), family },
      destination: { address: dst, port: Number(dport), family },
    },
    length,
  };
}

function readV2(buf: Uint8Array, maxBytes: number): ProxyHeaderRead {
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) {
    return { status: "invalid", detail: `PROXY v2 header with version ${verCmd >> 4}` };
  }
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { status: "invalid", detail: `PROXY v2 header with command ${cmd}` };
  const family = buf[13] >> 4;
  const transport = buf[13] & 0x0f;
  const length = V2_FIXED + ((buf[14] << 8) | buf[15]);
  if (length > maxBytes) {
    return {
      status: "invalid",
      detail: `PROXY v2 header of ${length} bytes exceeds the limit of ${maxBytes} bytes`,
    };
  }
  if (buf.length < length) return { status: "more" };
  if (cmd === 0) {
    // LOCAL: the balancer's own connection (health checks); the address block is ignored.
    return { status: "done", header: { version: 2, command: "local" }, length };
  }
  if (family === 0) return { status: "done", header: { version: 2, command: "proxy" }, length };
  if ((family !== 1 && family !== 2) || transport !== 1) {
    return {
      status: "invalid",
      detail: `PROXY v2 header for family ${family}, transport ${transport}: only TCP over ` +
        `IPv4 or IPv6 is relayed here`,
    };
  }
  const size = family === 1 ? 4 : 16;
  const block = 2 * size + 4;
  if (length - V2_FIXED < block) {
    return {
      status: "invalid",
      detail: `PROXY v2 header of ${length} bytes is too short for its addresses`,
    };
  }
  const at = V2_FIXED;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const text = family === 1 ? ipv4Text : ipv6Text;
  const fam = family === 1 ? "IPv4" : "IPv6";
  const tlvs = tlvProblem(buf.subarray(at + block, length));
  if (tlvs) return { status: "invalid", detail: tlvs };
  return {
    status: "done",
    header: {
      version: 2,
      command: "proxy",
      source: {
        address: text(buf.subarray(at, at + size)),
        port: view.getUint16(at + 2 * size),
        family: fam,
      },
      destination: {
        address: text(buf.subarray(at + size, at + 2 * size)),
        port: view.getUint16(at + 2 * size + 2),
        family: fam,
      },
    },
    length,
  };
}

/** The TLVs after the addresses must tile their space exactly; their contents are not used. */
function tlvProblem(tlvs: Uint8Array): string | undefined {
  let i = 0;
  while (i < tlvs.length) {
    if (i + 3 > tlvs.length) return "PROXY v2 header ends inside a TLV's type and length";
    i += 3 + ((tlvs[i + 1] << 8) | tlvs[i + 2]);
  }
  return i === tlvs.length ? undefined : "PROXY v2 TLV runs past the end of the header";
}

function ipv4Text(b: Uint8Array): string {
  return Array.from(b).join(".");
}

/** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as "::". */
function ipv6Text(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${ipv4Text(b.subarray(12))}`;
  }
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(":");
  return `${hexes.slice(0, best).join(":")}::${hexes.slice(best + bestLen).join(":")}`;
}
