/**
 * A real OAuth 2.0 authorization server for the auth tests: panva's
 * `oidc-provider` (npm 9.13.3) in its own `deno run` process on 127.0.0.1,
 * HTTPS with a server certificate from our PKI, client authentication by
 * `tls_client_auth` (RFC 8705 §2) and certificate-bound JWT access tokens
 * (RFC 8705 §3) for resource indicators (RFC 8707). Nothing is mocked: the
 * tokens, the JWKS and the refusals are oidc-provider's own.
 *
 * The issuer listener does not ask for client certificates; the token
 * endpoint that does is published as `mtls_endpoint_aliases.token_endpoint`
 * on a second listener (RFC 8705 §5).
 *
 * @example One client and one resource
 * ```ts ignore
 * import { startAuthorizationServer } from "./_oidc_provider.ts";
 *
 * const as = await startAuthorizationServer({
 *   server, ca,
 *   clients: [{ client_id: "agent-1", scope: "tools", tls_client_auth_subject_dn: "CN=agent-1" }],
 *   resources: [{ indicator: "https://127.0.0.1:8443/mcp", scope: "tools" }],
 * });
 * try {
 *   console.log(as.issuer, as.jwksUri, as.mtlsTokenEndpoint);
 * } finally {
 *   await as.stop();
 * }
 * ```
 */

/** A client registered at the authorization server (RFC 7591 names). */
export interface AsClient {
  client_id: string;
  /** Scopes it may ask for, space-separated. */
  scope: string;
  /** RFC 4514 subject its certificate must have, e.g. `CN=agent-1`. */
  tls_client_auth_subject_dn?: string;
  /** A URI SAN its certificate must have. */
  tls_client_auth_san_uri?: string;
  /** A DNS SAN its certificate must have. */
  tls_client_auth_san_dns?: string;
  /** `tls_client_certificate_bound_access_tokens`. @default {true} */
  bound?: boolean;
}

/** A protected resource (an MCP server) tokens can be issued for. */
export interface AsResource {
  /** Resource indicator: the token's `aud`. */
  indicator: string;
  /** Scopes the resource knows, space-separated. */
  scope: string;
  /** Access token lifetime in seconds. @default {300} */
  ttlSeconds?: number;
}

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** The AS's TLS certificate and key (PEM), valid for 127.0.0.1. */
  server: { cert: string; key: string };
  /** CA(s) the AS trusts for client certificates (PEM). */
  ca: string;
  clients: AsClient[];
  resources: AsResource[];
}

/** A running authorization server. */
export interface AuthorizationServer {
  /** `https://127.0.0.1:PORT` (no client certificate asked). */
  issuer: string;
  /** `ISSUER/jwks`: the public keys tokens are signed with. */
  jwksUri: string;
  /** The ordinary token endpoint (no client certificate asked). */
  tokenEndpoint: string;
  /** `mtls_endpoint_aliases.token_endpoint`: asks for a client certificate. */
  mtlsTokenEndpoint: string;
  /** Everything it wrote on standard error so far. */
  stderr(): string;
  /** Stops the process and waits until it has exited. */
  stop(): Promise<void>;
}

const CHILD = new URL("./_oidc_provider_child.ts", import.meta.url);

/** Starts oidc-provider in a child process and waits until it accepts. */
export async function startAuthorizationServer(
  options: AuthorizationServerOptions,
): Promise<AuthorizationServer> {
  const config = {
    cert: options.server.cert,
    key: options.server.key,
    ca: options.ca,
    clients: options.clients,
    resources: options.resources,
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD.href],
    env: { OIDC_CHILD_CONFIG: JSON.stringify(config), NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  let out = "";
  let ready!: (line: string) => void;
  const first = new Promise<string>((r) => ready = r);
  const drain = async (s: ReadableStream<Uint8Array>, onText: (t: string) => void) => {
    const dec = new TextDecoder();
    for await (const chunk of s) onText(dec.decode(chunk, { stream: true }));
  };
  const drained = Promise.all([
    drain(child.stdout, (t) => {
      out += t;
      const nl = out.indexOf("\n");
      if (nl >= 0) ready(out.slice(0, nl));
    }),
    drain(child.stderr, (t) => err += t),
  ]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.stdin.close().catch(() => {});
    await child.status;
    await drained;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    first,
    child.status.then(() => "exited" as const),
    // The first start may download oidc-provider into Deno's npm cache.
    new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 120_000)),
  ]);
  clearTimeout(timer);
  if (outcome === "exited" || outcome === "timeout") {
    await stop();
    throw new Error(`oidc-provider did not start (${outcome}):\n${err}`);
  }
  const { issuer, mtlsOrigin } = JSON.parse(outcome) as { issuer: string; mtlsOrigin: string };
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    mtlsTokenEndpoint: `${mtlsOrigin}/token`,
    stderr: () => err,
    stop,
  };
}
