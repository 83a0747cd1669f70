/**
 * `createMtlsFetch`: a `fetch` that presents a client certificate and
 * verifies the server, for the MCP SDK's `StreamableHTTPClientTransport`.
 *
 * @module
 */
// undici's own declarations need @types/node in Deno: undici_types.d.ts says why.
// @ts-types="../tls/client/undici_types.d.ts"
import { Agent, fetch as undiciFetch } from "undici";
import { setImmediate } from "node:timers";
import {
  ConfigError,
  MtlsError,
  PeerRejectedError,
  REASON_CODES,
  type ReasonCode,
} from "../errors.ts";
import { type ClientTokenOptions, resolveClientTokens } from "../auth/client_token.ts";
import { runtimeName } from "../runtime/detect.ts";
import { createBunTransport } from "../tls/client/bun_fetch.ts";
import { createTlsConnector, type TlsConnector } from "../tls/client/connector.ts";
import {
  type ClientTransport,
  type MtlsClientOptions,
  resolveClientOptions,
  type ResolvedClientOptions,
} from "../tls/client/options.ts";

/**
 * Options of {@link createMtlsFetch}; see {@link MtlsClientOptions} for the
 * TLS fields and {@link ClientTokenOptions} for the bearer token ones.
 *
 * @example
 * ```ts
 * import type { MtlsFetchOptions } from "@mtls/mcp/mcp";
 * const options: MtlsFetchOptions = { policy: "demo" };
 * ```
 */
export interface MtlsFetchOptions extends MtlsClientOptions, ClientTokenOptions {}

/**
 * A `fetch` over mutual TLS, with `close()` to release its pooled connections.
 *
 * @example
 * ```ts ignore
 * import { createMtlsFetch, type MtlsFetch } from "@mtls/mcp/mcp";
 * const fetch: MtlsFetch = createMtlsFetch({ cert, key, ca });
 * await fetch("https://127.0.0.1:8443/mcp", { method: "POST", body: "{}" });
 * await fetch.close();
 * ```
 */
export interface MtlsFetch {
  /** Sends a request like the global `fetch`. Refusals reject with a typed error. */
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Closes every pooled connection (waits for requests in flight), stops a revocation checker the client made, and waits for pin-file writes. */
  close(): Promise<void>;
}

/**
 * Makes a `fetch` that presents `cert`/`key`, verifies the server against
 * `ca` (chain, validity, EKU serverAuth, host name), with `pins`,
 * `backupPins` or a `pinStore` (optionally `tofu`) checks the server key
 * inside the handshake, and with `revocation` checks the server certificate
 * against CRLs/OCSP right after it: a server that fails any check never
 * receives a request byte. Connections are kept alive and pooled (undici on
 * Deno and Node.js, `Bun.FetchSession` on Bun); pins and revocation are
 * checked once per new connection.
 *
 * Failures reject with a {@link PeerRejectedError} carrying a reason code
 * (`unknown_ca`, `expired`, `not_yet_valid`, `hostname_mismatch`,
 * `pin_mismatch`, `revoked`, `revocation_unknown`, `bad_key_usage`,
 * `protocol_version` for the server we refused; `no_client_cert`,
 * `unknown_ca`, `revoked`, `identity_denied`, ...
 * when the server refused us, by TLS alert or by an HTTP 401/403 whose
 * JSON-RPC error has `data.reason`; `upstream_unavailable` or
 * `upstream_timeout` from a gateway's HTTP 502/504), or an {@link MtlsError}
 * (`connection_failed`, `handshake_failed`, `pin_store_corrupt` for a pin
 * file that cannot be loaded) — never a bare "fetch failed".
 * Bad options throw a `ConfigError` or `CertificateError` right away.
 *
 * @example Calling an MCP server with the SDK
 * ```ts ignore
 * import { Client } from "@modelcontextprotocol/sdk/client/index.js";
 * import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 *
 * const fetch = createMtlsFetch({
 *   cert: await Deno.readTextFile("certs/client.crt"),
 *   key: await Deno.readTextFile("certs/client.key"),
 *   ca: await Deno.readTextFile("certs/ca.crt"),
 * });
 * const client = new Client({ name: "example", version: "1.0.0" });
 * await client.connect(
 *   new StreamableHTTPClientTransport(new URL("https://127.0.0.1:8443/mcp"), { fetch }),
 * );
 * console.log(await client.listTools());
 * await client.close();
 * await fetch.close();
 * ```
 *
 * @example Pinning the server key, with a backup for rotation, and checking revocation
 * ```ts ignore
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 *
 * const fetch = createMtlsFetch({
 *   cert, key, ca,
 *   pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="], // deno task cli certs pin certs/server.crt
 *   backupPins: ["sha256/YLh1dUR9y6Kja30RrAn7JKnbQG/uEtLMkBgFF2Fuihg="],
 *   revocation: { crls: ["certs/ca.crl"], issuers: [ca], ocsp: true }, // failureMode "deny"
 * });
 * try {
 *   await fetch("https://127.0.0.1:8443/mcp", { method: "POST", body: "{}" });
 * } catch (e) {
 *   console.log((e as { code?: string }).code); // "pin_mismatch", "revoked", "revocation_unknown", ...
 * } finally {
 *   await fetch.close();
 * }
 * ```
 *
 * @example A bearer token bound to our certificate (RFC 8705), from the authorization server
 * ```ts ignore
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 * const fetch = createMtlsFetch({
 *   cert, key, ca,
 *   // client_credentials with tls_client_auth; or token: "..." / tokenFromFile(path)
 *   oauth: { issuer: "https://127.0.0.1:9443", clientId: "agent-1", resource: "https://127.0.0.1:8443/mcp" },
 * });
 * await fetch("https://127.0.0.1:8443/mcp"); // Authorization: Bearer <a token bound to cert>
 * await fetch.close();
 * ```
 *
 * @example Trust on first use: remember each server's key in a pin file
 * ```ts ignore
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 * const fetch = createMtlsFetch({ cert, key, ca, pinStore: "certs/known_servers.json", tofu: true });
 * await fetch("https://127.0.0.1:8443/mcp"); // stores "127.0.0.1:8443" -> sha256/...
 * await fetch.close(); // the pin is in the file
 * ```
 *
 * @example Bad options fail at creation
 * ```ts
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 * import { ConfigError } from "@mtls/mcp/errors";
 * try {
 *   createMtlsFetch({ policy: "lax" as "strict" });
 * } catch (e) {
 *   console.log(e instanceof ConfigError); // true
 * }
 * ```
 */
export function createMtlsFetch(options: MtlsFetchOptions = {}): MtlsFetch {
  const { token, oauth, returnAuthChallenges = false, ...tls } = options;
  const o = resolveClientOptions(tls);
  if (o.policy === "demo") {
    o.logger.warn(
      "DEMO POLICY IN EFFECT (client): self-signed and unknown-CA server certificates are " +
        "ACCEPTED and host names are NOT checked. Never use this in production.",
      { policy: "demo" },
    );
  }
  if (o.certificate && o.certificate.notAfter < new Date()) {
    o.logger.warn("client certificate has expired", {
      subject: o.certificate.subject.text,
      notAfter: o.certificate.notAfter.toISOString(),
    });
  }
  let transport: ClientTransport;
  let tokens: ReturnType<typeof resolveClientTokens>;
  try {
    // The authorization server gets our certificate too (tls_client_auth), not our server pins.
    const { cert, key, ca, policy, minVersion, maxVersion, logger, connectTimeout } = tls;
    tokens = resolveClientTokens({ token, oauth }, (asCa) =>
      createMtlsFetch({
        cert,
        key,
        ca: asCa ?? ca,
        policy,
        minVersion,
        maxVersion,
        logger,
        connectTimeout,
      }));
    // The one runtime switch of the client: Bun replaces undici with a stub.
    transport = runtimeName() === "bun" ? createBunTransport(o) : undiciTransport(o);
  } catch (e) {
    o.revocation?.close();
    tokens?.close().catch(() => {});
    throw e;
  }
  const mtlsFetch = async (input: string | URL | Request, init?: RequestInit) => {
    let url: string | URL;
    let requestInit: RequestInit | undefined = init;
    if (input instanceof Request) {
      url = input.url;
      requestInit = {
        method: input.method,
        headers: input.headers,
        body: input.body,
        signal: input.signal,
        ...init,
      };
    } else {
      url = input;
    }
    if (new URL(url).protocol !== "https:") {
      throw new ConfigError(
        `URL scheme "${new URL(url).protocol}" is not allowed: mutual TLS needs "https:"`,
        { key: "url" },
      );
    }
    if (tokens) requestInit = await tokens.authorize(requestInit);
    const response = await transport.send(String(url), requestInit);
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get("location") ?? "nowhere";
      await response.body?.cancel();
      throw new MtlsError(
        "connection_failed",
        `Server "${url}" redirected (HTTP ${response.status}) to "${location}": redirects are not followed; use the final URL`,
      );
    }
    // 502/504: a gateway (serve --upstream) whose upstream failed says why the same way.
    if (
      response.status === 401 || response.status === 403 || response.status === 502 ||
      response.status === 504
    ) {
      tokens?.refused(response);
      if (returnAuthChallenges && response.headers.has("www-authenticate")) return response;
      return await rejectIfReasoned(response, String(url));
    }
    return response;
  };
  const close = async (): Promise<void> => {
    try {
      await transport.close();
    } finally {
      o.revocation?.close();
      await o.pins?.flush(); // first-use pins reach the file before close() resolves
      await tokens?.close();
    }
  };
  return Object.assign(mtlsFetch, { close });
}

/** The transport on Deno and Node.js: undici's Agent over our TLS connector. */
function undiciTransport(o: ResolvedClientOptions): ClientTransport {
  const connector = createTlsConnector(o);
  const pool = new Agent({
    connect: connector.connect,
    keepAliveTimeout: o.keepAliveTimeout,
    connections: o.connections ?? null,
    allowH2: false,
  });
  // keepAlive: false marks every request `reset` (it asks "connection: close" and
  // never reuses the socket). undici 7's maxRequestsPerClient: 1 still reuses the
  // first socket once, so it cannot do this.
  const agent = o.keepAlive
    ? pool
    : pool.compose((dispatch) => (opts, handler) => dispatch({ ...opts, reset: true }, handler));
  return {
    async send(url, init) {
      // undici frees a connection one macrotask after the response body ends; without
      // this yield a back-to-back request would open (and handshake) a second connection.
      await new Promise((resolve) => setImmediate(resolve));
      try {
        return await undiciFetch(url, {
          ...(init as Record<string, unknown>),
          ...(init?.body instanceof ReadableStream ? { duplex: "half" } : {}),
          // Never follow a redirect: it would re-send the request (and its body)
          // to wherever the server points, which is not the endpoint we were given.
          redirect: "manual",
          dispatcher: agent,
        }) as unknown as Response;
      } catch (error) {
        throw explainFetchError(error, connector, url);
      }
    },
    close: () => pool.close(),
  };
}

/** Unwraps undici's `TypeError("fetch failed")` into our typed error. */
function explainFetchError(error: unknown, connector: TlsConnector, url: string): unknown {
  if (!(error instanceof TypeError) || error.cause === undefined) return error;
  const cause = error.cause as {
    code?: string;
    socket?: { localPort?: number; remotePort?: number };
  };
  if (cause instanceof MtlsError) return cause;
  if (cause?.code === "UND_ERR_SOCKET") {
    const mapped = connector.explainSocketFailure(cause.socket, cause);
    if (mapped) return mapped;
  }
  if (cause?.code === "UND_ERR_CONNECT_TIMEOUT") {
    return new MtlsError("connection_failed", `Cannot connect to "${url}": timed out`, { cause });
  }
  return new MtlsError(
    "connection_failed",
    `Request to "${url}" failed: ${(cause as Error)?.message ?? String(cause)}`,
    { cause: error },
  );
}

/**
 * A 401/403 (or a gateway's 502/504) whose JSON-RPC error names a reason code becomes a
 * {@link PeerRejectedError}; any other answer is handed back untouched.
 */
async function rejectIfReasoned(response: Response, url: string): Promise<Response> {
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("json")) return response;
  const text = await response.text();
  let reason: unknown;
  let message: unknown;
  try {
    const body = JSON.parse(text);
    reason = body?.error?.data?.reason;
    message = body?.error?.message;
  } catch {
    // not JSON after all: hand back the text
  }
  if (typeof reason === "string" && (REASON_CODES as readonly string[]).includes(reason)) {
    throw new PeerRejectedError(
      reason as ReasonCode,
      `Server refused the request to "${url}" with HTTP ${response.status}: ${
        typeof message === "string" ? message : reason
      }`,
      { peer: new URL(url).host },
    );
  }
  return new Response(text, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
