/**
 * DNS-rebinding protection for the MCP endpoint: which `Host` and `Origin`
 * headers a request may carry (MCP Streamable HTTP transport, "Security
 * Warning": servers MUST validate `Origin` and answer 403 when it is present
 * and invalid).
 *
 * A client that checks the server certificate can only have reached us by
 * one of the certificate's names, so those names, the listen address and (on
 * loopback) the loopback names, each on the listen port, are the hosts
 * accepted by default; `allowedHosts` adds more. The origins accepted are
 * `https://` plus each of those hosts, and `allowedOrigins`. A request with no
 * `Origin` (the SDK client, curl) passes on its `Host` alone: browsers send
 * `Origin` on every cross-origin POST. `Origin: null` is always refused.
 *
 * Runtime-neutral: it reads raw header pairs and PEM text.
 *
 * @module
 */

import { parseCertificates } from "../pki/parse_certificates.ts";
import {
  canonicalName,
  isIpLiteral,
  parseHostPort,
  parseOrigin,
  parseWildcard,
} from "./host_names.ts";

export { hostEntryProblem, originEntryProblem } from "./host_names.ts";

/**
 * Settings of {@link compileHostCheck}.
 *
 * @example
 * ```ts ignore
 * const o: HostCheckOptions = { hostname: "127.0.0.1", port: () => 8443, cert: serverPem };
 * ```
 */
export interface HostCheckOptions {
  /** Address the server listens on (`0.0.0.0` and `::` name no host). */
  hostname: string;
  /** The listen port, read per request (it is known only once listening). */
  port: () => number;
  /** The server certificate chain, PEM; the first certificate's DNS and IP names are used. */
  cert: string;
  /** Extra hosts: `host`, `host:port`, `*.domain` or `*` (see `hostEntryProblem`). @default {[]} */
  allowedHosts?: readonly string[];
  /** Extra origins: `http(s)://host[:port]` or `*` (see `originEntryProblem`). @default {[]} */
  allowedOrigins?: readonly string[];
}

/**
 * Why a request was refused: the header at fault, its value and the message.
 *
 * @example
 * ```ts
 * import type { HostRefusal } from "./host_check.ts";
 * const r: HostRefusal = { header: "origin", value: "null", message: "…" };
 * ```
 */
export interface HostRefusal {
  /** The header at fault. */
  header: "host" | "origin";
  /** Its value, when sent. */
  value?: string;
  /** Sentence for the client and the log, quoting the value. */
  message: string;
}

/**
 * A compiled host check.
 *
 * @example
 * ```ts ignore
 * const refusal = hostCheck.check(req.rawHeaders);
 * ```
 */
export interface HostCheck {
  /** Checks a request's raw header list (name, value, name, value, ...). */
  check(rawHeaders: readonly string[]): HostRefusal | undefined;
  /** Hosts accepted, as `name:port` (`*` included when configured). */
  readonly hosts: readonly string[];
  /** Weakenings and dead ends to log at start, one sentence each. */
  readonly warnings: readonly string[];
}

/** The compiled lists. A port left `undefined` means the listen port, read per request. */
interface Allowlist {
  exact: Map<string, Set<number | undefined>>;
  suffixes: { suffix: string; port?: number }[];
  origins: Set<string>;
  anyHost: boolean;
  anyOrigin: boolean;
  port: () => number;
  /**
   * Host values accepted lately, with the listen port they were accepted for: a keep-alive
   * client sends the same Host on every request, and parsing it costs more than this lookup.
   * Bounded (case variants of one name are all accepted, and all different strings).
   */
  accepted: { port: number; values: Set<string> };
}

const MAX_ACCEPTED = 32;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|\[::1\]|\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]|localhost)$/;
const UNSPECIFIED = new Set(["0.0.0.0", "[::]", ""]);
const MAX_QUOTED = 200;

/** The server's own names, without ports: certificate DNS and IP names, listen address, loopback names. */
function ownNames(hostname: string, cert: string): string[] {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  const listen = canonicalName(bare.includes(":") ? `[${bare}]` : bare) ?? "";
  const [leaf] = parseCertificates(cert, { source: "tls.cert" });
  const { dns, ip } = leaf.subjectAltNames;
  const names = [
    ...dns.map((d) => d.toLowerCase()),
    ...ip.map((a) => canonicalName(a.includes(":") ? `[${a}]` : a)),
  ].filter((n): n is string => n !== undefined);
  if (!UNSPECIFIED.has(listen)) names.push(listen);
  if (LOOPBACK.test(listen)) names.push("localhost", "127.0.0.1", "[::1]");
  return names;
}

function buildAllowlist(options: HostCheckOptions): Allowlist {
  const { allowedHosts = [], allowedOrigins = [] } = options;
  const list: Allowlist = {
    exact: new Map(),
    suffixes: [],
    origins: new Set(),
    anyHost: allowedHosts.includes("*"),
    anyOrigin: allowedOrigins.includes("*"),
    port: options.port,
    accepted: { port: -1, values: new Set() },
  };
  const add = (name: string, port?: number) => {
    list.exact.set(name, (list.exact.get(name) ?? new Set()).add(port));
  };
  for (const name of ownNames(options.hostname, options.cert)) {
    // A wildcard certificate name matches one label, as in the TLS name check.
    if (name.startsWith("*.")) list.suffixes.push({ suffix: name.slice(1) });
    else add(name);
  }
  for (const entry of allowedHosts) {
    const wildcard = parseWildcard(entry);
    const host = parseHostPort(entry);
    if (wildcard) list.suffixes.push(wildcard);
    else if (host) add(host.name, host.port);
  }
  for (const entry of allowedOrigins) {
    const o = parseOrigin(entry);
    if (o) list.origins.add(`${o.scheme}://${o.name}:${o.port}`);
  }
  return list;
}

function knownHost(list: Allowlist, name: string, port: number): boolean {
  const matches = (wanted: number | undefined) => (wanted ?? list.port()) === port;
  for (const wanted of list.exact.get(name) ?? []) if (matches(wanted)) return true;
  const dot = name.indexOf(".");
  if (dot <= 0 || isIpLiteral(name)) return false;
  const rest = name.slice(dot);
  return list.suffixes.some((s) => s.suffix === rest && matches(s.port));
}

function quote(value: string): string {
  return JSON.stringify(value.length > MAX_QUOTED ? value.slice(0, MAX_QUOTED) + "…" : value);
}

function hostRefusal(list: Allowlist, sent: string[]): HostRefusal | undefined {
  if (sent.length !== 1) {
    const message = sent.length === 0
      ? "Host header is missing"
      : `Host header appears ${sent.length} times: expected one`;
    return { header: "host", message };
  }
  const [value] = sent;
  const seen = list.accepted;
  const port = list.port();
  if (seen.port !== port) {
    seen.port = port;
    seen.values.clear();
  }
  if (seen.values.has(value)) return undefined;
  const host = parseHostPort(value);
  // No port in Host means the scheme's default: 443 for https.
  if (list.anyHost || (host && knownHost(list, host.name, host.port ?? 443))) {
    if (seen.values.size < MAX_ACCEPTED) seen.values.add(value);
    return undefined;
  }
  return {
    header: "host",
    value,
    message: `Host header ${
      quote(value)
    } is not allowed: not one of this server's names on port ${list.port()} (see allowedHosts)`,
  };
}

function originRefusal(list: Allowlist, sent: string[]): HostRefusal | undefined {
  if (sent.length === 0) return undefined; // not a browser: the Host check decides
  const value = sent.join(", ");
  const refuse = (why: string): HostRefusal => ({
    header: "origin",
    value,
    message: `Origin header ${quote(value)} is not allowed: ${why}`,
  });
  if (sent.length > 1) return refuse(`appears ${sent.length} times`);
  if (value === "null") {
    return refuse("opaque origins (sandboxed frames, file: pages) are always refused");
  }
  const o = parseOrigin(value);
  if (!o) return refuse("not an origin (scheme://host[:port])");
  if (list.anyOrigin || list.origins.has(`${o.scheme}://${o.name}:${o.port}`)) return undefined;
  if (o.scheme === "https" && knownHost(list, o.name, o.port)) return undefined;
  return refuse("not this server's origin nor one of allowedOrigins");
}

function warningsOf(list: Allowlist): string[] {
  const warnings: string[] = [];
  if (list.anyHost) {
    warnings.push(
      'allowedHosts has "*": requests with any Host header are accepted (no DNS-rebinding protection by Host)',
    );
  }
  if (list.anyOrigin) {
    warnings.push(
      'allowedOrigins has "*": browser pages of any origin may call this server (no DNS-rebinding protection by Origin)',
    );
  }
  if (!list.anyHost && list.exact.size === 0 && list.suffixes.length === 0) {
    warnings.push(
      "No Host header can match: the server listens on every interface and its certificate has no DNS or IP names; set allowedHosts",
    );
  }
  return warnings;
}

/** The values of header `name` (lower case) in a raw header list; duplicates kept. */
function values(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i].length === name.length && raw[i].toLowerCase() === name) out.push(raw[i + 1]);
  }
  return out;
}

/**
 * Compiles the host and origin allowlists once; `check` then costs a regex,
 * a URL parse and a map lookup per header (a few µs), with no I/O.
 *
 * @example Refusing a rebound browser request
 * ```ts ignore
 * const hostCheck = compileHostCheck({ hostname: "127.0.0.1", port: () => 8443, cert });
 * hostCheck.check(["Host", "evil.example.com:8443"])?.message;
 * // 'Host header "evil.example.com:8443" is not allowed: not one of this server's names on port 8443 (see allowedHosts)'
 * ```
 */
export function compileHostCheck(options: HostCheckOptions): HostCheck {
  const list = buildAllowlist(options);
  return {
    check(raw) {
      return hostRefusal(list, values(raw, "host")) ?? originRefusal(list, values(raw, "origin"));
    },
    get hosts() {
      const at = (p?: number) => p ?? list.port();
      return [
        ...[...list.exact].flatMap(([name, ports]) => [...ports].map((p) => `${name}:${at(p)}`)),
        ...list.suffixes.map((s) => `*${s.suffix}:${at(s.port)}`),
        ...(list.anyHost ? ["*"] : []),
      ];
    },
    warnings: warningsOf(list),
  };
}
