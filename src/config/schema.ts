/**
 * The config schema: every key of the configuration, its type, its default
 * and a one-line description. The same keys are read from the options
 * object, a YAML or JSON file and `MCP_MTLS_*` variables; the README's env
 * and reference tables are generated from this schema (`env_table.ts`).
 *
 * Internal: zod types stay out of the public API.
 *
 * @module
 */
import { z } from "zod";
import { hostEntryProblem, originEntryProblem } from "../mcp/host_check.ts";

const posInt = z.number().int().min(1);
/** A list of strings; a single string is taken as a list of one. */
const list = () =>
  z.preprocess((v) => (typeof v === "string" ? [v] : v), z.array(z.string().min(1)));

/** A list whose entries `problem` checks (the same check as `serveMcp`'s options); a single string is a list of one. */
const checkedList = (problem: (entry: unknown) => string | undefined) =>
  z.preprocess(
    (v) => (typeof v === "string" ? [v] : v),
    z.array(
      z.string().min(1).superRefine((v, ctx) => {
        const why = problem(v);
        if (why) ctx.addIssue({ code: "custom", message: why });
      }),
    ),
  );

/** Keys that held a secret in other tools; refused with a pointer to the env/file variants. */
export const SECRET_KEYS: readonly string[] = ["passphrase", "password", "keyPassword"];

const tls = z.strictObject({
  enabled: z.boolean().default(true).describe(
    "`false` would mean plain HTTP: not supported, always a config error (mcp-mtls serves only over TLS)",
  ),
  cert: z.string().min(1).optional().describe(
    "Server certificate chain: a PEM file path (relative to the config file) or PEM text",
  ),
  key: z.string().min(1).optional().describe(
    "Server private key: a PEM file path or PEM text (encrypted keys need passphraseEnv/passphraseFile)",
  ),
  ca: list().optional().describe(
    "CA certificate(s) trusted for client certificates: file paths or PEM text",
  ),
  pfx: z.string().min(1).optional().describe(
    "PKCS#12 file with the server certificate and key, instead of cert + key",
  ),
  passphraseEnv: z.string().min(1).optional().describe(
    "Name of the environment variable holding the PKCS#12 / key passphrase",
  ),
  passphraseFile: z.string().min(1).optional().describe(
    "File holding the PKCS#12 / key passphrase (trailing newline ignored)",
  ),
  clientAuth: z.enum(["require", "optional", "none"]).default("require").describe(
    "Ask for client certificates: require, optional (anonymous admitted) or none",
  ),
  minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2").describe("Lowest TLS version"),
  ciphers: z.string().min(1).optional().describe(
    "OpenSSL cipher list for TLS 1.2 (ECDHE + AEAD names only); default: the built-in AEAD list",
  ),
}).prefault({});

const limits = z.strictObject({
  handshakeTimeoutMs: posInt.default(10_000).describe("Time to complete the TLS handshake, ms"),
  idleTimeoutMs: posInt.default(30_000).describe(
    "Close a connection idle this long, ms",
  ),
  headersTimeoutMs: posInt.default(10_000).describe(
    "Request headers must arrive within this of the request's first byte (else 408), ms",
  ),
  requestTimeoutMs: posInt.default(30_000).describe(
    "Whole request (headers, body) must arrive within this of its first byte (else 408), ms",
  ),
  maxBodyBytes: posInt.default(1_048_576).describe("Largest request body; bigger gets HTTP 413"),
  maxConnections: posInt.default(1024).describe("Most concurrent TCP connections"),
  maxConnectionsPerAddress: posInt.optional().describe(
    "Most concurrent connections from one address; default: maxConnections",
  ),
  connectionsPerAddress: z.union([
    z.strictObject({ limit: posInt.default(50), windowMs: posInt.default(60_000) }),
    z.literal(false),
  ]).default({ limit: 50, windowMs: 60_000 }).describe(
    "Per address per window: connections costing TLS work without a trusted cert, or false",
  ),
  connectionsPerIdentity: z.union([
    z.strictObject({ limit: posInt.default(50), windowMs: posInt.default(60_000) }),
    z.literal(false),
  ]).optional().describe(
    "New connections per client certificate per window, or false; default: connectionsPerAddress",
  ),
  maxSessions: posInt.default(1000).describe(
    "Most open stateful sessions; at the cap an idle one of the biggest holder gives way, else 503",
  ),
  maxSessionsPerIdentity: posInt.default(16).describe(
    "Most open sessions per identity (anonymous: per address); its oldest idle one gives way, else 429",
  ),
  maxSessionsPerConnection: posInt.optional().describe(
    "Most open sessions opened on one connection (more get 429); default: maxSessionsPerIdentity",
  ),
  sessionIdleMs: posInt.default(600_000).describe(
    "Close a session with no request in flight and no GET stream this long, ms",
  ),
}).prefault({});

const pins = z.strictObject({
  allow: list().optional().describe(
    "Allowlist of client pins (`sha256/…` SPKI or `cert-sha256/…`)",
  ),
  store: z.string().min(1).optional().describe("Pin file (JSON) with pins per identity"),
  tofu: z.boolean().optional().describe("With store: pin a new identity on first use (false)"),
  unknown: z.enum(["deny", "allow"]).optional().describe(
    'With store: identities without pins are refused or admitted ("deny")',
  ),
});

const ocsp = z.union([
  z.boolean(),
  z.strictObject({
    url: z.string().min(1).optional(),
    hash: z.enum(["SHA-1", "SHA-256"]).optional(),
    nonce: z.boolean().optional(),
    requireNonce: z.boolean().optional(),
    maxAge: posInt.optional(),
  }),
]);

const revocation = z.strictObject({
  crls: list().optional().describe("CRL file paths or http(s) URLs"),
  crlDistributionPoints: z.boolean().optional().describe(
    "Fetch CRLs named in certificates' distribution points (true)",
  ),
  ocsp: ocsp.optional().describe(
    "Enable OCSP: true, or { url, hash, nonce, requireNonce, maxAge } (false)",
  ),
  mode: z.enum(["crl", "ocsp", "ocsp-then-crl", "crl-then-ocsp"]).optional().describe(
    "Source order (crl-then-ocsp with both, else the one enabled)",
  ),
  failureMode: z.enum(["deny", "allow"]).optional().describe(
    'When no source can decide: refuse (`revocation_unknown`) or admit with a warning ("deny")',
  ),
  refreshInterval: posInt.optional().describe("CRL reload interval, ms (60000)"),
  timeout: posInt.optional().describe("Per CRL/OCSP fetch, ms (5000)"),
  cooldown: posInt.optional().describe("After a failed fetch, ms before retrying a URL (30000)"),
  clockSkew: z.number().int().min(0).optional().describe(
    "Clock tolerance for thisUpdate/nextUpdate, ms (300000)",
  ),
  cacheDir: z.string().min(1).optional().describe("Folder for the on-disk CRL/OCSP cache"),
  checkIntermediates: z.boolean().optional().describe(
    "Also check the chain's intermediate CAs (false)",
  ),
});

const health = z.strictObject({
  hostname: z.string().min(1).optional().describe('Health listener address ("127.0.0.1")'),
  port: z.number().int().min(0).max(65535).describe(
    "Health listener port (plain HTTP, no client auth); 0 picks a free one",
  ),
  path: z.string().startsWith("/").optional().describe('Health path ("/healthz")'),
  metrics: z.boolean().optional().describe("Also serve Prometheus metrics at /metrics (true)"),
});

const rule = z.strictObject({
  identity: z.string().min(1),
  tools: z.array(z.string().min(1)),
  resources: z.array(z.string().min(1)).optional(),
  prompts: z.array(z.string().min(1)).optional(),
  scopes: z.array(z.string().min(1)).optional(),
  sub: z.string().min(1).optional(),
  clientId: z.string().min(1).optional(),
});

const auth = z.strictObject({
  resource: z.string().min(1).describe(
    "This MCP endpoint's https URL: the expected token audience and the metadata's resource",
  ),
  authorizationServers: list().describe(
    "Issuer URLs of the authorization servers (metadata authorization_servers)",
  ),
  issuer: list().optional().describe("Accepted token iss values; default: authorizationServers"),
  audience: list().optional().describe("Accepted token aud values; default: resource"),
  jwks: z.string().min(1).optional().describe(
    "Token keys: an https JWKS URL, or a file holding a JSON key set",
  ),
  jwksCa: list().optional().describe(
    "CA file(s) or PEM the https JWKS server must chain to; default: public roots",
  ),
  jwksTimeoutMs: posInt.optional().describe("Time allowed for one JWKS fetch, ms (5000)"),
  jwksCooldownMs: posInt.optional().describe(
    "After a JWKS fetch, ms before an unknown kid may trigger another (30000)",
  ),
  jwksCacheMaxAgeMs: posInt.optional().describe("Fetch the JWKS again after this, ms (600000)"),
  algorithms: list().optional().describe(
    "Accepted JWS algorithms (none and HS* refused); default: ES*, PS*, RS*, EdDSA",
  ),
  clockToleranceSec: z.number().int().min(0).max(600).optional().describe(
    "Leeway for exp/nbf/iat, seconds (30)",
  ),
  requireBinding: z.boolean().optional().describe(
    'Refuse tokens without cnf "x5t#S256" (token_unbound) (true)',
  ),
  scopesSupported: list().optional().describe(
    "Metadata scopes_supported; default: the scopes named in authorization rules",
  ),
  forwardAuthorization: z.boolean().optional().describe(
    "Gateway: pass the client's Authorization header to the upstream (false)",
  ),
  resourceName: z.string().min(1).optional().describe("Metadata resource_name"),
  introspection: z.strictObject({
    url: z.string().min(1).describe("RFC 7662 introspection endpoint (https)"),
    clientId: z.string().min(1).describe("Our client_id at the authorization server"),
    cert: z.string().min(1).describe("Certificate (file or PEM) for tls_client_auth"),
    key: z.string().min(1).describe("Private key (file or PEM) of introspection.cert"),
    ca: list().optional().describe("CA file(s) or PEM the authorization server must chain to"),
    timeoutMs: posInt.optional().describe("Time allowed for one introspection, ms (5000)"),
    cacheTtlMs: posInt.optional().describe(
      "Reuse an answer this long (never past exp), ms (60000)",
    ),
    maxCacheEntries: posInt.optional().describe("Most answers cached (10000)"),
  }).optional().describe(
    "RFC 7662 introspection of opaque tokens over mTLS: { url, clientId, cert, key, ca, timeoutMs, cacheTtlMs, maxCacheEntries }",
  ),
});

const upstream = z.strictObject({
  url: z.string().min(1).describe(
    "Streamable HTTP MCP server to proxy to (serve --upstream): https://..., or http:// on loopback",
  ),
  ca: list().optional().describe("CA file(s) or PEM the upstream's certificate must chain to"),
  cert: z.string().min(1).optional().describe(
    "Certificate (file or PEM) the gateway presents to an https upstream",
  ),
  key: z.string().min(1).optional().describe("Private key (file or PEM) of upstream.cert"),
  pins: list().optional().describe("Accepted upstream keys (`sha256/...` or `cert-sha256/...`)"),
  connectTimeoutMs: posInt.optional().describe("Upstream TCP + TLS connect timeout, ms (10000)"),
  requestTimeoutMs: posInt.optional().describe(
    "Upstream time to response headers, ms (30000); else upstream_timeout",
  ),
  headers: z.record(z.string(), z.string()).optional().describe(
    "Extra headers sent to the upstream on every request",
  ),
});

/**
 * The whole configuration. Options-object keys first, then config-only keys
 * (`certs`, `log`, `stdio`).
 */
export const serveConfigSchema = z.strictObject({
  hostname: z.string().min(1).default("127.0.0.1").describe("Address to listen on"),
  port: z.number().int().min(0).max(65535).default(8443).describe("Port; 0 picks a free one"),
  path: z.string().startsWith("/").default("/mcp").describe("HTTP path of the MCP endpoint"),
  tls,
  policy: z.enum(["strict", "demo"]).default("strict").describe(
    "Verification policy (custom policies are code-only: pass a CustomPolicy to serveMcp)",
  ),
  maxChainDepth: z.number().int().min(0).default(3).describe(
    "Most intermediate CAs between a client certificate and a trusted CA",
  ),
  authorization: z.strictObject({
    rules: z.array(rule).describe(
      "Which identities may call which tools: [{ identity, tools }]; default: everyone, every tool",
    ),
  }).optional(),
  sessions: z.enum(["stateful", "stateless"]).default("stateful").describe(
    "One SDK server per session or per request",
  ),
  jsonResponse: z.boolean().default(false).describe(
    "One application/json body per POSTed request, not SSE (cheaper; drops what a tool sends mid-call)",
  ),
  allowedHosts: checkedList(hostEntryProblem).optional().describe(
    "Hosts accepted besides the server's own names: `host[:port]`, `*.domain`, or `*` (any)",
  ),
  allowedOrigins: checkedList(originEntryProblem).optional().describe(
    "Origins accepted besides `https://` + an accepted host: `http(s)://host[:port]`, or `*` (any)",
  ),
  limits,
  pins: pins.optional(),
  revocation: revocation.optional(),
  detailedTls: z.boolean().default(false).describe(
    "Log every handshake (protocol, cipher, SNI, ALPN, chain, timing)",
  ),
  workers: z.number().int().min(1).max(64).default(1).describe(
    "Event loops (threads) accepting on the port; sessions and limits are shared across them",
  ),
  proxyProtocol: z.strictObject({
    trusted: list().describe(
      "Load balancer addresses or CIDR blocks whose connections must start with a PROXY v1/v2 header",
    ),
    maxHeaderBytes: z.number().int().min(107).max(65551).default(1024).describe(
      "Longest PROXY protocol header accepted, v2 TLVs included, bytes",
    ),
  }).optional(),
  expiryWarningDays: z.number().int().min(0).optional().describe(
    "Warn when a served certificate or CA expires within this many days (30)",
  ),
  health: health.optional(),
  certs: z.string().min(1).optional().describe(
    "Certificate folder shortcut: DIR/server.crt, server.key, ca.crt, and ca.crl / pins.json when present",
  ),
  log: z.strictObject({
    level: z.enum(["debug", "info", "warn", "error"]).default("info").describe(
      "Lowest log level written",
    ),
    format: z.enum(["pretty", "json"]).default("pretty").describe(
      "pretty for a terminal, json for JSON lines",
    ),
  }).prefault({}),
  stdio: z.strictObject({
    command: z.array(z.string().min(1)).min(1).describe(
      "Stdio MCP server to expose (program and arguments), as `serve -- CMD`",
    ),
    mode: z.enum(["per-session", "shared"]).default("per-session").describe(
      "One child per session, or one shared child",
    ),
  }).optional(),
  upstream: upstream.optional(),
  auth: auth.optional(),
});

/** The schema's output type: the validated configuration. */
export type SchemaConfig = z.output<typeof serveConfigSchema>;
