/**
 * Options of {@link serveMcp}: defaults destructured once, contradictions
 * refused with a {@link ConfigError} naming the key.
 *
 * @module
 */

import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ConfigError } from "../errors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { AuthorizationOptions, ToolPermission } from "../policy/authorization.ts";
import type { PeerIdentity } from "../policy/identity.ts";
import type { PolicyOption } from "../policy/policy.ts";
import type { PinStore } from "../pins/pin_store.ts";
import type { RevocationChecker, RevocationCheckerOptions } from "../revocation/checker_options.ts";
import { validateAdmissionOptions } from "../tls/server_admission_options.ts";
import type { TlsServerOptions } from "../tls/server_options.ts";
import { type HealthOptions, type ResolvedHealthOptions, resolveHealthOptions } from "./health.ts";

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
  /** Largest request body in bytes; bigger ones get HTTP 413. @default {1048576} */
  maxBodyBytes?: number;
  /** Most concurrent TCP connections. @default {1024} */
  maxConnections?: number;
  /** Most concurrent TCP connections from one client address; more are closed at accept (`rate_limited`). @default {maxConnections} */
  maxConnectionsPerAddress?: number;
  /**
   * New TCP connections allowed per client address in any `windowMs`
   * (a sliding window, as the C# seed's 50 per 60 s). Extra connections are
   * closed at accept, before any TLS work, with reason `rate_limited`, logged
   * once per window per address with the count held back. `false` turns it off.
   * Clients should keep connections alive (the MCP client does).
   * @default {{ limit: 50, windowMs: 60_000 }}
   */
  connectionsPerAddress?: { limit?: number; windowMs?: number } | false;
  /** Most open stateful sessions. @default {1000} */
  maxSessions?: number;
  /** Close a stateful session when no request has started in it for this many ms. @default {1800000} */
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
  handshakeTimeoutMs: number;
  maxBodyBytes: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  connectionsPerAddress: { limit: number; windowMs: number } | false;
  maxSessions: number;
  sessionIdleMs: number;
  logger: Logger;
  detailedTls: boolean;
  expiryWarningDays: number;
  health?: ResolvedHealthOptions;
  now: () => Date;
}

function positiveInt(value: number, key: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ConfigError(`Option "${key}" must be a positive integer, got "${value}"`, { key });
  }
  return value;
}

function connectionRate(
  value: ServerLimits["connectionsPerAddress"],
): { limit: number; windowMs: number } | false {
  if (value === false) return false;
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw new ConfigError(
      `Option "limits.connectionsPerAddress" must be { limit, windowMs } or false, got "${value}"`,
      { key: "limits.connectionsPerAddress" },
    );
  }
  return {
    limit: positiveInt(value?.limit ?? 50, "limits.connectionsPerAddress.limit"),
    windowMs: positiveInt(value?.windowMs ?? 60_000, "limits.connectionsPerAddress.windowMs"),
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
  validateAdmissionOptions({ pins: options.pins, revocation: options.revocation, clientAuth });
  const maxConnections = positiveInt(limits.maxConnections ?? 1024, "limits.maxConnections");
  return {
    hostname,
    port,
    path,
    sessions,
    jsonResponse,
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
    maxSessions: positiveInt(limits.maxSessions ?? 1000, "limits.maxSessions"),
    sessionIdleMs: positiveInt(limits.sessionIdleMs ?? 1_800_000, "limits.sessionIdleMs"),
    logger,
    detailedTls,
    expiryWarningDays,
    health: options.health === undefined ? undefined : resolveHealthOptions(options.health),
    now,
  };
}
