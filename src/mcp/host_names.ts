/**
 * Reading the `Host` and `Origin` header values (and the `allowedHosts` /
 * `allowedOrigins` entries) of the DNS-rebinding check: strict syntax first,
 * then the WHATWG URL parser's canonical form, as browsers write them.
 *
 * Runtime-neutral (plain strings).
 *
 * @module
 */

/**
 * A host, canonical (lower case, IDNA, IPv6 in brackets), with its port when
 * one was written.
 *
 * @example
 * ```ts
 * import type { HostPort } from "./host_names.ts";
 * const h: HostPort = { name: "[::1]", port: 8443 };
 * ```
 */
export interface HostPort {
  /** Canonical host name or IP literal. */
  name: string;
  /** Port, when written. */
  port?: number;
}

// RFC 9110 7.2 / RFC 3986 3.2.2, narrowed to what a Host header really holds:
// a bracketed IPv6 literal, or letters, digits, dots, hyphens (A-labels for IDNs).
const HOST = String.raw`(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::([0-9]{1,5}))?`;
const HOST_SYNTAX = new RegExp(`^${HOST}$`);
const ORIGIN_SYNTAX = new RegExp(`^(https?)://${HOST}$`, "i");
const WILDCARD_SYNTAX = /^\*\.([^:]+)(?::([0-9]{1,5}))?$/;
const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/**
 * The canonical form of a host name or IP literal (bracket IPv6 first), or
 * `undefined` when it is not one. A trailing dot is dropped.
 *
 * @example
 * ```ts
 * import { canonicalName } from "./host_names.ts";
 * canonicalName("[0:0:0:0:0:0:0:1]"); // "[::1]"
 * canonicalName("LocalHost."); // "localhost"
 * ```
 */
export function canonicalName(text: string): string | undefined {
  try {
    const name = new URL(`https://${text}`).hostname.replace(/\.$/, "");
    return name === "" ? undefined : name;
  } catch {
    return undefined;
  }
}

/**
 * Reads `host` or `host:port` (a `Host` header value), or `undefined`.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./host_names.ts";
 * parseHostPort("LOCALHOST:8443"); // { name: "localhost", port: 8443 }
 * parseHostPort("evil.example.com/x"); // undefined
 * ```
 */
export function parseHostPort(text: string): HostPort | undefined {
  const m = HOST_SYNTAX.exec(text);
  const name = m && canonicalName(m[1]);
  if (!name) return undefined;
  if (m[2] === undefined) return { name };
  const port = Number(m[2]);
  return port <= 65535 ? { name, port } : undefined;
}

/**
 * Reads an `http(s)://host[:port]` origin (no path), the port defaulted by
 * scheme, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseOrigin } from "./host_names.ts";
 * parseOrigin("https://App.example.com"); // { scheme: "https", name: "app.example.com", port: 443 }
 * parseOrigin("https://app.example.com/"); // undefined
 * ```
 */
export function parseOrigin(
  text: string,
): { scheme: string; name: string; port: number } | undefined {
  const m = ORIGIN_SYNTAX.exec(text);
  const scheme = m?.[1].toLowerCase();
  const host = m && parseHostPort(m[3] === undefined ? m[2] : `${m[2]}:${m[3]}`);
  if (!scheme || !host) return undefined;
  return { scheme, name: host.name, port: host.port ?? DEFAULT_PORT[scheme] };
}

/**
 * Whether a canonical name is an IP literal.
 *
 * @example
 * ```ts
 * import { isIpLiteral } from "./host_names.ts";
 * isIpLiteral("[::1]"); // true
 * ```
 */
export function isIpLiteral(name: string): boolean {
  return name.startsWith("[") || /^[0-9.]+$/.test(name);
}

/**
 * Reads `*.domain[:port]` as its lower-case `.domain` suffix, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseWildcard } from "./host_names.ts";
 * parseWildcard("*.Example.com:443"); // { suffix: ".example.com", port: 443 }
 * ```
 */
export function parseWildcard(text: string): { suffix: string; port?: number } | undefined {
  const m = WILDCARD_SYNTAX.exec(text);
  const rest = m && parseHostPort(m[1]);
  if (!rest || rest.port !== undefined || isIpLiteral(rest.name)) return undefined;
  if (m[2] === undefined) return { suffix: `.${rest.name}` };
  const port = Number(m[2]);
  return port <= 65535 ? { suffix: `.${rest.name}`, port } : undefined;
}

/**
 * What is wrong with an `allowedHosts` entry, as an "expected ..." phrase, or
 * `undefined` when it is valid.
 *
 * @example
 * ```ts
 * import { hostEntryProblem } from "./host_names.ts";
 * hostEntryProblem("mcp.example.com:8443"); // undefined
 * hostEntryProblem("https://mcp.example.com")?.startsWith("expected"); // true
 * ```
 */
export function hostEntryProblem(entry: unknown): string | undefined {
  if (
    typeof entry === "string" && (entry === "*" || parseHostPort(entry) || parseWildcard(entry))
  ) {
    return undefined;
  }
  return 'expected a host or host:port (like "mcp.example.com:8443" or "[::1]:8443"), "*.domain", or "*"';
}

/**
 * What is wrong with an `allowedOrigins` entry, as an "expected ..." phrase,
 * or `undefined` when it is valid.
 *
 * @example
 * ```ts
 * import { originEntryProblem } from "./host_names.ts";
 * originEntryProblem("https://app.example.com"); // undefined
 * originEntryProblem("app.example.com")?.startsWith("expected"); // true
 * ```
 */
export function originEntryProblem(entry: unknown): string | undefined {
  if (entry === "null") {
    return 'expected a real origin: "null" (sandboxed frames, file: pages) is always refused';
  }
  if (typeof entry === "string" && (entry === "*" || parseOrigin(entry))) return undefined;
  return 'expected an origin, http(s)://host[:port] with no path (like "https://app.example.com"), or "*"';
}
