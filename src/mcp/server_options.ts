/**
 * Options of {@link serveMcp}: defaults destructured once, contradictions
 * refused with a {@link ConfigError} naming the key.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { AuthOptions } from "../auth/options.ts";
import { createServerAuth, type ServerAuth } from "../auth/server_auth.ts";
import { ConfigError } from "../errors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { AuthorizationOptions, ToolPermission } from "../policy/authorization.ts";
import type { PeerIdentity } from "../policy/identity.ts";
import type { PolicyOption } from "../policy/policy.ts";
import type { PinStore } from "../pins/pin_store.ts";
import type { RevocationChecker, RevocationCheckerOptions } from "../revocation/checker_options.ts";
import { validateAdmissionOptions } from "../tls/server/admission_options.ts";
import type { TlsServerOptions } from "../tls/server/options.ts";
import { type ProxyProtocolOptions, resolveProxyProtocol } from "../tls/server/proxy_accept.ts";
import { type HealthOptions, type ResolvedHealthOptions, resolveHealthOptions } from "./health.ts";
import { hostEntryProblem, originEntryProblem } from "./host_check.ts";

/**
 * What a server factory is told about the session it builds a server for.
 *
 * @example
 * ```ts
 * import type { SessionContext } from "@mtls/mcp/mcp";
 * const who = (ctx: SessionContext) => ctx.identity?.commonName ?? "anonymous";
 * ```
 */
export interface SessionContext {
  /** Identity of the client that opens the session; `undefined` when anonymous. */
  identity?: PeerIdentity;
  /** Which tools this client may call (from `authorization`). */
  mayCall: ToolPermission;
}

/**
 * Builds an SDK `McpServer` for one session (stateful) or one request (stateless).
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import type { McpServerFactory } from "@mtls/mcp/mcp";
 * const factory: McpServerFactory = () => new McpServer({ name: "demo", version: "1.0.0" });
 * ```
 */
export type McpServerFactory = (context: SessionContext) => McpServer | Promise<McpServer>;

/**
 * Protective limits.
 *
 * @example
 * ```ts
 * import type { ServerLimits } from "@mtls/mcp/mcp";
 * const limits: ServerLimits = { handshakeTimeoutMs: 5_000, maxBodyBytes: 65_536 };
 * ```
 */
export interface ServerLimits {
  /** Milliseconds a client has to complete the TLS handshake. @default {10000} */
  handshakeTimeoutMs?: number;
  /** Close a connection with no request in progress for this many ms (slow or idle clients). @default {30000} */
  idleTimeoutMs?: number;
  /**
   * A request's headers must have arrived this many ms after its first byte;
   * else it is answered 408 and the connection closed (`request_timeout`).
   * Real clients send their headers in one packet. @default {10000}
   */
  headersTimeoutMs?: number;
  /**
   * A request, headers and body, must have arrived this many ms after its
   * first byte; else 408 and the connection closed (`request_timeout`).
   * Bounds only receiving the request: a long tool call or an open SSE
   * stream is not cut. The default lets a `maxBodyBytes` (1 MiB) body arrive
   * at 35 KB/s. @default {30000}
   */
  requestTimeoutMs?: number;
  /** Largest request body in bytes; bigger ones get HTTP 413. @default {1048576} */
  maxBodyBytes?: number;
  /** Most concurrent TCP connections. @default {1024} */
  maxConnections?: number;
  /** Most concurrent TCP connections from one client address; more are closed at accept (`rate_limited`). @default {maxConnections} */
  maxConnectionsPerAddress?: number;
  /**
   * Connections per client address in any `windowMs` (a sliding window, the
   * C# seed's 50 per 60 s) that cost TLS work without being admitted with a
   * trusted certificate: they sent a byte, then failed the handshake, were
   * refused, or were admitted anonymously. Handshakes in progress count while
   * they last. Beyond it, new connections from the address are closed at
   * accept, before any TLS work, with reason `rate_limited`, logged once per
   * window per address with the count held back. A bare connect that sends
   * nothing spends nothing (when the address is full, its oldest silent
   * connection is closed to make room), and clients admitted with a trusted
   * certificate are limited by `connectionsPerIdentity` instead, so nobody
   * without a certificate can lock them out. `false` turns it off.
   * @default {{ limit: 50, windowMs: 60_000 }}
   */
  connectionsPerAddress?: { limit?: number; windowMs?: number } | false;
  /**
   * New connections admitted with a trusted certificate, per certificate
   * (SHA-256 fingerprint) in any `windowMs`. Extra ones are closed after the
   * handshake with reason `rate_limited`, logged once per window per
   * certificate. `false` turns it off. Clients should keep connections alive
   * (the MCP client does).
   * @default {the value of connectionsPerAddress}
   */
  connectionsPerIdentity?: { limit?: number; windowMs?: number } | false;
  /**
   * Most open stateful sessions. When reached, an idle session of the
   * identity holding the most sessions is closed to make room (so no identity
   * can deny sessions to another); only when none is idle is the new one
   * refused (HTTP 503, `rate_limited`). @default {1000}
   */
  maxSessions?: number;
  /**
   * Most open stateful sessions of one identity: one trusted client
   * certificate (by fingerprint, the key its sessions are bound to), else
   * (anonymous, or an untrusted certificate under the demo policy) the
   * client's address. When reached, that identity's least recently used
   * idle session is closed (logged at info, `session evicted`) to make room;
   * only when all of them are busy (a request in flight or an open GET
   * stream) is the new one refused (HTTP 429, `rate_limited`). Raise it for a gateway, or a fleet, that shares one
   * certificate. @default {16}
   */
  maxSessionsPerIdentity?: number;
  /**
   * Most open stateful sessions opened on one connection; more are refused
   * (HTTP 429, `rate_limited`), so a client that opens sessions in a loop on
   * one connection is told so instead of churning its own sessions.
   * @default {maxSessionsPerIdentity}
   */
  maxSessionsPerConnection?: number;
  /**
   * Close a stateful session idle this many ms: no request in flight and no
   * open GET stream since the last one ended. A connected SDK client keeps
   * its GET stream open, so this only ends sessions whose client left
   * without a DELETE, or that make no call for this long. @default {600000}
   */
  sessionIdleMs?: number;
}

/**
 * Options of {@link serveMcp}.
 *
 * @example
 * ```ts ignore
 * const options: ServeMcpOptions = { tls: { cert, key, ca }, port: 0 };
 * ```
 */
export interface ServeMcpOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Port; 0 picks a free one. @default {8443} */
  port?: number;
  /** HTTP path of the MCP endpoint. @default {"/mcp"} */
  path?: string;
  /** Server certificate, key, trusted client CAs, client auth mode, TLS versions. */
  tls: TlsServerOptions;
  /** Verification policy. @default {"strict"} */
  policy?: PolicyOption;
  /** Most intermediate CAs between a client certificate and a trusted CA. @default {3} */
  maxChainDepth?: number;
  /** Which identities may call which tools. @default {every admitted client may call every tool} */
  authorization?: AuthorizationOptions;
  /** One SDK server per session (`stateful`) or per request (`stateless`). @default {"stateful"} */
  sessions?: "stateful" | "stateless";
  /**
   * Answer each POSTed JSON-RPC request with one `application/json` body
   * instead of an SSE (`text/event-stream`) stream: the SDK transport's
   * `enableJsonResponse`. Cheaper per call (fewer socket writes); a batch gets
   * a JSON array. Works with both `sessions` modes and every conforming client.
   *
   * The trade-off: messages a handler sends *about the call it is handling*
   * are dropped, silently, by the SDK (1.32): progress and log notifications
   * sent through `extra.sendNotification` never reach the client, and a
   * request to the client through `extra.sendRequest` (elicitation, sampling,
   * roots) is never delivered, so it cannot be answered inside that call and
   * fails when its timeout ends (60 s by default). Messages not tied to a
   * request (`sendLoggingMessage`, list-changed notifications) still go out
   * on the session's GET stream. Refused with a stdio bridge
   * (`serveStdioMcp`, `createStdioBridge`), whose child's notifications and
   * requests during a call would be lost. Logged once at start (info).
   * @default {false}
   */
  jsonResponse?: boolean;
  /**
   * `Host` header values accepted besides the server's own names
   * (DNS-rebinding protection): `host` (on the server's port), `host:port`
   * (`mcp.example.com:443` behind a proxy on the default port; a Host without
   * a port means 443), `[::1]:8443`, `*.domain` (one label), or `*` (any Host;
   * logged as a warning at start). The own names, always accepted on the
   * listen port: the server certificate's DNS and IP names, the listen
   * address unless it is `0.0.0.0`/`::`, and `localhost`, `127.0.0.1`,
   * `[::1]` when listening on loopback. Other Hosts get HTTP 403
   * `origin_denied`, on every path. @default {[]}
   */
  allowedHosts?: string[];
  /**
   * `Origin` header values accepted besides `https://` + each accepted host:
   * `http(s)://host[:port]` (no path), or `*` (any origin; logged as a warning
   * at start). A request without `Origin` (non-browser clients) is judged by
   * its Host alone; `Origin: null` is always refused. Others get HTTP 403
   * `origin_denied`. @default {[]}
   */
  allowedOrigins?: string[];
  /**
   * OAuth bearer tokens bound to the client certificate (RFC 8705), checked
   * on every request to `path` (401 `token_missing`, `invalid_token`,
   * `token_binding_mismatch`, `token_unbound`; 403 `insufficient_scope`),
   * with RFC 9728 metadata at `/.well-known/oauth-protected-resource`. See
   * `@mtls/mcp/auth`. @default {no token asked}
   */
  auth?: AuthOptions;
  /** Protective limits. */
  limits?: ServerLimits;
  /**
   * Pin client certificates: an allowlist of pins every client must match,
   * and/or pins per identity (a pin store or pin file, optionally trust on
   * first use). Checked synchronously after the chain policy; a mismatch closes
   * the connection with reason `pin_mismatch`, logging both pins.
   * @default {no pinning}
   */
  pins?: {
    /** Allowlist: every admitted client certificate must match one of these pins (`sha256/…` SPKI or `cert-sha256/…`). @default {no allowlist} */
    allow?: string[];
    /**
     * Pins per identity: a `PinStore`, or the path of a JSON pin file to open.
     * The name looked up is the identity label: the SPIFFE ID, else `cn:NAME`,
     * else `sha256:FINGERPRINT`. @default {no per-identity pins}
     */
    store?: PinStore | string;
    /** With a `store` path: pin an identity's key on first use, refuse other keys later. @default {false} */
    tofu?: boolean;
    /** With a `store` path: an identity without pins is refused (`deny`) or admitted unpinned (`allow`); ignored with `tofu`. @default {"deny"} */
    unknown?: "deny" | "allow";
  };
  /**
   * Check client certificates for revocation (CRL files or URLs, OCSP):
   * options for `createRevocationChecker` (the server's trusted CAs verify the
   * CRLs, the server's logger gets its warnings; `checkIntermediates` adds the
   * chain's intermediate CAs to the leaf), or a checker you built and close
   * yourself (leaf only). The server waits for the CRLs' first load before
   * listening. Requests on a connection wait for its verdict: from the cache
   * without any I/O when a fresh answer is there, else from the network.
   * Refusals close the connection: `revoked`, or `revocation_unknown` under
   * `failureMode: "deny"` (the default).
   * @default {no revocation checking}
   */
  revocation?:
    | (RevocationCheckerOptions & {
      /** Also check every intermediate CA of the verified chain (each against its issuer), not only the leaf. @default {false} */
      checkIntermediates?: boolean;
    })
    | RevocationChecker;
  /** Where records go. @default {createLogger()} */
  logger?: Logger;
  /**
   * Log each TLS handshake at info: protocol, cipher, SNI, ALPN, the peer
   * chain's subjects and SHA-256 fingerprints, and its duration in ms. Never
   * key material or a certificate body. (An audit line per admitted client and
   * one line per refusal are always logged.) @default {false}
   */
  detailedTls?: boolean;
  /**
   * Warn at start, after each reload and then daily when the served
   * certificate or a trusted CA expires within this many days. @default {30}
   */
  expiryWarningDays?: number;
  /**
   * A separate plain-HTTP listener for load balancers: `path` answers
   * `200 {"status":"ok"}` while serving, `/metrics` the counters in Prometheus
   * text. Unauthenticated (a warning is logged at start), so `/mcp` keeps
   * requiring client certificates. @default {no health listener}
   */
  health?: HealthOptions;
  /**
   * Behind a load balancer in TCP mode: PROXY protocol v1/v2 from the
   * `trusted` balancer addresses, whose client address then stands for the
   * connection (limits, logs, `extra.authInfo.extra.peer`). A header from
   * any other address is refused (`proxy_protocol_untrusted`).
   * @default {false: no PROXY protocol}
   */
  proxyProtocol?: ProxyProtocolOptions | false;
  /** Clock for certificate validity and expiry warnings. @default {() => new Date()} */
  now?: () => Date;
}

/** Options after defaults and validation. */
export interface ResolvedServeOptions {
  hostname: string;
  port: number;
  path: string;
  sessions: "stateful" | "stateless";
  jsonResponse: boolean;
  allowedHosts: string[];
  allowedOrigins: string[];
  handshakeTimeoutMs: number;
  maxBodyBytes: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectionsPerAddress: { limit: number; windowMs: number } | false;
  connectionsPerIdentity: { limit: number; windowMs: number } | false;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  maxSessions: number;
  maxSessionsPerIdentity: number;
  maxSessionsPerConnection: number;
  sessionIdleMs: number;
  logger: Logger;
  detailedTls: boolean;
  expiryWarningDays: number;
  health?: ResolvedHealthOptions;
  proxyProtocol: Required<ProxyProtocolOptions> | false;
  now: () => Date;
  /** The compiled `auth` option. */
  auth?: ServerAuth;
}

function positiveInt(value: number, key: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`Option "${key}" must be a positive integer, got "${value}"`, { key });
  }
  return value;
}

/** A list option whose every entry passes `problem`, copied. */
function entries(
  value: unknown,
  key: string,
  problem: (entry: unknown) => string | undefined,
): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new ConfigError(`Option "${key}" must be a list of strings, got "${value}"`, { key });
  }
  for (const entry of value) {
    const why = problem(entry);
    if (why) throw new ConfigError(`Option "${key}" has "${entry}": ${why}`, { key });
  }
  return [...value];
}

function connectionRate(
  value: ServerLimits["connectionsPerAddress"],
  key = "limits.connectionsPerAddress",
): { limit: number; windowMs: number } | false {
  if (value === false) return false;
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw new ConfigError(
      `Option "${key}" must be { limit, windowMs } or false, got "${value}"`,
      { key },
    );
  }
  return {
    limit: positiveInt(value?.limit ?? 50, `${key}.limit`),
    windowMs: positiveInt(value?.windowMs ?? 60_000, `${key}.windowMs`),
  };
}

/**
 * Applies defaults and refuses contradictory options.
 *
 * @example
 * ```ts ignore
 * const resolved = resolveServeOptions(options);
 * ```
 */
export function resolveServeOptions(options: ServeMcpOptions): ResolvedServeOptions {
  if (!options || typeof options !== "object") {
    throw new ConfigError('Options are required (at least "tls")', { key: "tls" });
  }
  const {
    hostname = "127.0.0.1",
    port = 8443,
    path = "/mcp",
    sessions = "stateful",
    jsonResponse = false,
    policy = "strict",
    limits = {},
    logger = createLogger(),
    detailedTls = false,
    expiryWarningDays = 30,
    now = () => new Date(),
  } = options;
  if (typeof detailedTls !== "boolean") {
    throw new ConfigError(`Option "detailedTls" must be true or false, got "${detailedTls}"`, {
      key: "detailedTls",
    });
  }
  if (typeof jsonResponse !== "boolean") {
    throw new ConfigError(`Option "jsonResponse" must be true or false, got "${jsonResponse}"`, {
      key: "jsonResponse",
    });
  }
  if (typeof expiryWarningDays !== "number" || !(expiryWarningDays >= 0)) {
    throw new ConfigError(
      `Option "expiryWarningDays" must be a number of days, 0 or more, got "${expiryWarningDays}"`,
      { key: "expiryWarningDays" },
    );
  }
  const clientAuth = options.tls?.clientAuth ?? "require";
  const hasCa = options.tls?.ca !== undefined &&
    (Array.isArray(options.tls.ca) ? options.tls.ca.length > 0 : options.tls.ca !== "");
  const base = typeof policy === "object" ? policy.base ?? "strict" : policy;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`Option "port" must be an integer from 0 to 65535, got "${port}"`, {
      key: "port",
    });
  }
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new ConfigError(`Option "path" must start with "/", got "${path}"`, { key: "path" });
  }
  if (sessions !== "stateful" && sessions !== "stateless") {
    throw new ConfigError(
      `Option "sessions" must be "stateful" or "stateless", got "${sessions}"`,
      {
        key: "sessions",
      },
    );
  }
  if (clientAuth !== "none" && base === "strict" && !hasCa) {
    throw new ConfigError(
      `Option "tls.ca" is required: client auth is "${clientAuth}" with the strict policy, but no CA is configured to verify client certificates`,
      { key: "tls.ca" },
    );
  }
  if (clientAuth === "none" && policy !== "strict") {
    throw new ConfigError(
      `Option "policy" cannot be "${
        typeof policy === "object" ? "custom" : policy
      }" when "tls.clientAuth" is "none": no client certificate is requested to apply it to`,
      { key: "policy" },
    );
  }
  if (clientAuth === "none" && options.authorization?.rules?.some((r) => r?.identity !== "*")) {
    throw new ConfigError(
      'Option "authorization.rules" selects identities but "tls.clientAuth" is "none": no client has an identity',
      { key: "authorization.rules" },
    );
  }
  const tokenRule =
    options.authorization?.rules?.findIndex((r) =>
      r?.scopes !== undefined || r?.sub !== undefined || r?.clientId !== undefined
    ) ?? -1;
  if (tokenRule >= 0 && options.auth === undefined) {
    throw new ConfigError(
      `Option "authorization.rules[${tokenRule}]" asks for token scopes or claims but "auth" is not configured: no token is read`,
      { key: `authorization.rules[${tokenRule}]` },
    );
  }
  validateAdmissionOptions({ pins: options.pins, revocation: options.revocation, clientAuth });
  const maxConnections = positiveInt(limits.maxConnections ?? 1024, "limits.maxConnections");
  const maxSessionsPerIdentity = positiveInt(
    limits.maxSessionsPerIdentity ?? 16,
    "limits.maxSessionsPerIdentity",
  );
  return {
    hostname,
    port,
    path,
    sessions,
    jsonResponse,
    allowedHosts: entries(options.allowedHosts, "allowedHosts", hostEntryProblem),
    allowedOrigins: entries(options.allowedOrigins, "allowedOrigins", originEntryProblem),
    handshakeTimeoutMs: positiveInt(
      limits.handshakeTimeoutMs ?? 10_000,
      "limits.handshakeTimeoutMs",
    ),
    idleTimeoutMs: positiveInt(limits.idleTimeoutMs ?? 30_000, "limits.idleTimeoutMs"),
    maxBodyBytes: positiveInt(limits.maxBodyBytes ?? 1_048_576, "limits.maxBodyBytes"),
    maxConnections,
    maxConnectionsPerAddress: positiveInt(
      limits.maxConnectionsPerAddress ?? maxConnections,
      "limits.maxConnectionsPerAddress",
    ),
    connectionsPerAddress: connectionRate(limits.connectionsPerAddress),
    // By default a certificate gets what an address got before it had its own limit.
    connectionsPerIdentity: limits.connectionsPerIdentity === undefined
      ? connectionRate(limits.connectionsPerAddress)
      : connectionRate(limits.connectionsPerIdentity, "limits.connectionsPerIdentity"),
    headersTimeoutMs: positiveInt(limits.headersTimeoutMs ?? 10_000, "limits.headersTimeoutMs"),
    requestTimeoutMs: positiveInt(limits.requestTimeoutMs ?? 30_000, "limits.requestTimeoutMs"),
    maxSessions: positiveInt(limits.maxSessions ?? 1000, "limits.maxSessions"),
    maxSessionsPerIdentity,
    maxSessionsPerConnection: positiveInt(
      limits.maxSessionsPerConnection ?? maxSessionsPerIdentity,
      "limits.maxSessionsPerConnection",
    ),
    sessionIdleMs: positiveInt(limits.sessionIdleMs ?? 600_000, "limits.sessionIdleMs"),
    logger,
    detailedTls,
    expiryWarningDays,
    health: options.health === undefined ? undefined : resolveHealthOptions(options.health),
    proxyProtocol: options.proxyProtocol ? resolveProxyProtocol(options.proxyProtocol) : false,
    now,
    auth: options.auth === undefined
      ? undefined
      : createServerAuth({ now: () => now().getTime(), ...options.auth }, {
        logger,
        authorization: options.authorization,
      }),
  };
}
