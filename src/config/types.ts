/**
 * The validated configuration: the keys of `serveMcp`'s options as they are
 * written in a config file, plus the config-only keys `certs`, `log` and
 * `stdio`. Defaults are filled in where the server has a fixed default.
 *
 * @module
 */
import type { RevocationCheckerOptions } from "../revocation/checker_options.ts";

/**
 * `tls` in a config: file paths (relative to the config file) or PEM text.
 *
 * @example
 * ```ts
 * import type { TlsConfig } from "@mtls/mcp/config";
 * const tls: TlsConfig = {
 *   enabled: true,
 *   cert: "certs/server.crt",
 *   key: "certs/server.key",
 *   ca: ["certs/ca.crt"],
 *   clientAuth: "require",
 *   minVersion: "TLSv1.2",
 * };
 * ```
 */
export interface TlsConfig {
  /** Always `true`: plain HTTP is not supported (`false` is a config error). @default {true} */
  enabled: boolean;
  /** Server certificate chain: PEM file path or PEM text. */
  cert?: string;
  /** Server private key: PEM file path or PEM text. */
  key?: string;
  /** CA certificates trusted for client certificates: file paths or PEM text. */
  ca?: string[];
  /** PKCS#12 file with the server certificate and key (instead of `cert` + `key`). */
  pfx?: string;
  /** Name of the environment variable that holds the PKCS#12 or key passphrase. */
  passphraseEnv?: string;
  /** File that holds the PKCS#12 or key passphrase. */
  passphraseFile?: string;
  /** Client authentication. @default {"require"} */
  clientAuth: "require" | "optional" | "none";
  /** Lowest TLS version. @default {"TLSv1.2"} */
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** OpenSSL cipher list for TLS 1.2. @default {the built-in AEAD list} */
  ciphers?: string;
}

/**
 * `limits` in a config (same meaning as `ServerLimits`).
 *
 * @example
 * ```ts
 * import type { LimitsConfig } from "@mtls/mcp/config";
 * const l: Partial<LimitsConfig> = { maxBodyBytes: 65_536 };
 * ```
 */
export interface LimitsConfig {
  /** Ms to complete the TLS handshake. @default {10000} */
  handshakeTimeoutMs: number;
  /** Ms a connection may stay idle. @default {30000} */
  idleTimeoutMs: number;
  /** Ms from a request's first byte to the end of its headers. @default {10000} */
  headersTimeoutMs: number;
  /** Ms from a request's first byte to the end of its body (the response is not bounded). @default {30000} */
  requestTimeoutMs: number;
  /** Largest request body in bytes. @default {1048576} */
  maxBodyBytes: number;
  /** Most concurrent TCP connections. @default {1024} */
  maxConnections: number;
  /** Most concurrent connections from one address. @default {maxConnections} */
  maxConnectionsPerAddress?: number;
  /**
   * Connections per address per window that cost TLS work without a trusted
   * certificate, or `false`. @default {{ limit: 50, windowMs: 60000 }}
   */
  connectionsPerAddress: { limit: number; windowMs: number } | false;
  /** New admitted connections per client certificate per window, or `false`. @default {connectionsPerAddress} */
  connectionsPerIdentity?: { limit: number; windowMs: number } | false;
  /** Most open stateful sessions. @default {1000} */
  maxSessions: number;
  /** Most open sessions of one identity (anonymous: of one address). @default {16} */
  maxSessionsPerIdentity: number;
  /** Most open sessions opened on one connection. @default {maxSessionsPerIdentity} */
  maxSessionsPerConnection?: number;
  /** Ms before an idle session (no request in flight, no GET stream) is closed. @default {600000} */
  sessionIdleMs: number;
}

/**
 * `pins` in a config; `store` is a pin file path.
 *
 * @example
 * ```ts
 * import type { PinsConfig } from "@mtls/mcp/config";
 * const p: PinsConfig = { store: "certs/pins.json", tofu: true };
 * ```
 */
export interface PinsConfig {
  /** Allowlist of client pins. */
  allow?: string[];
  /** Pin file path. */
  store?: string;
  /** Pin identities on first use. @default {false} */
  tofu?: boolean;
  /** Identities without pins. @default {"deny"} */
  unknown?: "deny" | "allow";
}

/**
 * `revocation` in a config: the serializable options of the revocation
 * checker, picked from its option type so the two cannot drift (`fetch`,
 * `readFile`, `watchFile`, `now`, `logger`, `issuers`, `optionalCrls` and
 * `onCrlChange` are code, not config; `ocspCacheSize` is not read from a
 * config file), plus the server's `checkIntermediates`.
 *
 * @example
 * ```ts
 * import type { RevocationConfig } from "@mtls/mcp/config";
 * const r: RevocationConfig = { crls: ["certs/ca.crl"], failureMode: "deny" };
 * ```
 */
export interface RevocationConfig extends
  Pick<
    RevocationCheckerOptions,
    | "crls"
    | "crlDistributionPoints"
    | "ocsp"
    | "mode"
    | "failureMode"
    | "refreshInterval"
    | "timeout"
    | "cooldown"
    | "clockSkew"
    | "cacheDir"
  > {
  /** Also check every intermediate CA of the verified chain, not only the leaf. @default {false} */
  checkIntermediates?: boolean;
}

/**
 * `health`: a plain-HTTP health endpoint on its own port.
 *
 * @example
 * ```ts
 * import type { HealthConfig } from "@mtls/mcp/config";
 * const h: HealthConfig = { port: 9090, metrics: true };
 * ```
 */
export interface HealthConfig {
  /** Address. @default {"127.0.0.1"} */
  hostname?: string;
  /** Port. */
  port: number;
  /** Path. @default {"/healthz"} */
  path?: string;
  /** Also serve Prometheus metrics at `/metrics`. @default {true} */
  metrics?: boolean;
}

/**
 * `stdio`: the stdio MCP server to expose (what `serve -- CMD` does).
 *
 * @example
 * ```ts
 * import type { StdioConfig } from "@mtls/mcp/config";
 * const s: StdioConfig = { command: ["node", "server.js"], mode: "shared" };
 * ```
 */
export interface StdioConfig {
  /** Program and arguments. */
  command: string[];
  /** One child per session or one shared child. @default {"per-session"} */
  mode: "per-session" | "shared";
}

/**
 * `upstream`: the HTTP MCP server the gateway proxies to (what
 * `serve --upstream URL` does); file paths are relative to the config file.
 *
 * @example
 * ```ts
 * import type { UpstreamConfig } from "@mtls/mcp/config";
 * const u: UpstreamConfig = { url: "http://127.0.0.1:3000/mcp", requestTimeoutMs: 60_000 };
 * ```
 */
export interface UpstreamConfig {
  /** `https://…`, or `http://…` on a loopback address. */
  url: string;
  /** CA files or PEM for an https upstream. */
  ca?: string[];
  /** Certificate (file or PEM) the gateway presents to the upstream. */
  cert?: string;
  /** Private key (file or PEM) of `cert`. */
  key?: string;
  /** Accepted upstream keys. */
  pins?: string[];
  /** Connect timeout, ms. @default {10000} */
  connectTimeoutMs?: number;
  /** Time to the upstream's response headers, ms. @default {30000} */
  requestTimeoutMs?: number;
  /** Extra headers on every upstream request. */
  headers?: Record<string, string>;
}

/**
 * `auth`: bearer tokens bound to the client certificate (see
 * `@mtls/mcp/auth`); file paths are relative to the config file.
 *
 * @example
 * ```ts
 * import type { AuthConfig } from "@mtls/mcp/config";
 * const a: AuthConfig = {
 *   resource: "https://127.0.0.1:8443/mcp",
 *   authorizationServers: ["https://as.example.com"],
 *   jwks: "https://as.example.com/jwks",
 * };
 * ```
 */
export interface AuthConfig {
  /** This MCP endpoint's https URL. */
  resource: string;
  /** Issuer URLs of the authorization servers. */
  authorizationServers: string[];
  /** Accepted `iss`. @default {authorizationServers} */
  issuer?: string[];
  /** Accepted `aud`. @default {[resource]} */
  audience?: string[];
  /** An https JWKS URL or a JSON key set file. */
  jwks?: string;
  /** CA files or PEM for the https JWKS. */
  jwksCa?: string[];
  /** JWKS fetch timeout, ms. @default {5000} */
  jwksTimeoutMs?: number;
  /** JWKS refetch cooldown, ms. @default {30000} */
  jwksCooldownMs?: number;
  /** JWKS maximum age, ms. @default {600000} */
  jwksCacheMaxAgeMs?: number;
  /** Accepted JWS algorithms. */
  algorithms?: string[];
  /** Clock leeway, seconds. @default {30} */
  clockToleranceSec?: number;
  /** Refuse unbound tokens. @default {true} */
  requireBinding?: boolean;
  /** Metadata `scopes_supported`. */
  scopesSupported?: string[];
  /** Gateway: pass `Authorization` upstream. @default {false} */
  forwardAuthorization?: boolean;
  /** Metadata `resource_name`. */
  resourceName?: string;
  /** RFC 7662 introspection over mTLS. */
  introspection?: {
    url: string;
    clientId: string;
    cert: string;
    key: string;
    ca?: string[];
    timeoutMs?: number;
    cacheTtlMs?: number;
    maxCacheEntries?: number;
  };
}

/**
 * The validated configuration, defaults applied.
 *
 * @example
 * ```ts
 * import { loadServeConfig, type ServeConfig } from "@mtls/mcp/config";
 * const config: ServeConfig = await loadServeConfig({
 *   overrides: { tls: { cert: "-----BEGIN CERTIFICATE-----…", key: "…", clientAuth: "none" } },
 *   env: {},
 * });
 * console.log(config.port); // 8443
 * ```
 */
export interface ServeConfig {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname: string;
  /** Port; 0 picks a free one. @default {8443} */
  port: number;
  /** HTTP path of the MCP endpoint. @default {"/mcp"} */
  path: string;
  /** TLS material and settings. */
  tls: TlsConfig;
  /** Verification policy (custom policies are code-only). @default {"strict"} */
  policy: "strict" | "demo";
  /** Most intermediate CAs in a client chain. @default {3} */
  maxChainDepth: number;
  /** Which identities may call which tools. @default {every admitted client, every tool} */
  authorization?: {
    rules: {
      identity: string;
      tools: string[];
      resources?: string[];
      prompts?: string[];
      scopes?: string[];
      sub?: string;
      clientId?: string;
    }[];
  };
  /** Sessions. @default {"stateful"} */
  sessions: "stateful" | "stateless";
  /**
   * Answer POSTed requests with one JSON body instead of an SSE stream
   * (see `ServeMcpOptions.jsonResponse`). @default {false}
   */
  jsonResponse: boolean;
  /**
   * `Host` headers accepted besides the server's own names (see
   * `ServeMcpOptions.allowedHosts`). @default {none: the own names only}
   */
  allowedHosts?: string[];
  /**
   * `Origin` headers accepted besides `https://` + an accepted host (see
   * `ServeMcpOptions.allowedOrigins`). @default {none: the own origins only}
   */
  allowedOrigins?: string[];
  /** Protective limits. */
  limits: LimitsConfig;
  /** Client pinning. @default {none} */
  pins?: PinsConfig;
  /** Revocation checking. @default {none} */
  revocation?: RevocationConfig;
  /** Log every handshake in detail. @default {false} */
  detailedTls: boolean;
  /** Event loops accepting on the port (`serve --workers N`). @default {1} */
  workers: number;
  /** PROXY protocol from these load balancers (`serve --proxy-protocol LIST`). @default {off} */
  proxyProtocol?: { trusted: string[]; maxHeaderBytes: number };
  /** Days before expiry to warn. @default {30} */
  expiryWarningDays?: number;
  /** Health endpoint. @default {off} */
  health?: HealthConfig;
  /** Certificate folder shortcut (like `serve --certs`). */
  certs?: string;
  /** Logging. */
  log: { level: "debug" | "info" | "warn" | "error"; format: "pretty" | "json" };
  /** Stdio server to expose instead of the demo tools. */
  stdio?: StdioConfig;
  /** HTTP MCP server to proxy to instead of the demo tools (the gateway). */
  upstream?: UpstreamConfig;
  /** Bearer tokens bound to the client certificate. @default {no token asked} */
  auth?: AuthConfig;
}
