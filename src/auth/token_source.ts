/**
 * Where a client's bearer token comes from: a fixed value, or anything that
 * implements {@link TokenSource} (a file, the `client_credentials` grant, your
 * own vault).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/**
 * A bearer token provider the mTLS client asks before each request.
 * `token()` must be cheap when nothing changed (cache inside); `invalidate()`
 * is called when the server refused the token, so the next `token()` gets a
 * fresh one.
 *
 * @example A token from an environment variable read on every request
 * ```ts
 * import type { TokenSource } from "@mtls/mcp/auth";
 * const source: TokenSource = {
 *   token: () => Promise.resolve(Deno.env.get("MCP_TOKEN") ?? ""),
 *   invalidate: () => {},
 * };
 * ```
 */
export interface TokenSource {
  /** The token to send now (without the `Bearer ` prefix). Rejects with a typed error. */
  token(): Promise<string>;
  /** Forgets a cached token: the server refused it. */
  invalidate(): void;
  /** Releases what the source holds (connections to an authorization server). @default {nothing to release} */
  close?(): Promise<void>;
}

/** RFC 6750 §2.1 `b64token`: what may follow `Bearer ` in an Authorization header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * `token` with surrounding white space removed, refused unless it is an
 * RFC 6750 `b64token` (so it can never inject a header line or a second
 * credential).
 *
 * @param token the token text
 * @param where what the token came from, for the error message
 * @returns the trimmed token
 *
 * @example
 * ```ts
 * import { checkBearerToken } from "@mtls/mcp/auth";
 * console.log(checkBearerToken("  abc.def.ghi\n", "file \"t\"")); // "abc.def.ghi"
 * ```
 */
export function checkBearerToken(token: string, where: string): string {
  const trimmed = token.trim();
  if (!B64TOKEN.test(trimmed)) {
    throw new ConfigError(
      trimmed === ""
        ? `Bearer token from ${where} is empty`
        : `Bearer token from ${where} is not a valid token (RFC 6750 b64token: letters, digits, "-._~+/", then "=")`,
      { key: "token" },
    );
  }
  return trimmed;
}

/**
 * A {@link TokenSource} that always gives `token` (checked once, here).
 *
 * @param token the bearer token
 * @returns the source
 *
 * @example
 * ```ts
 * import { staticToken } from "@mtls/mcp/auth";
 * const source = staticToken("eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
 * console.log(await source.token());
 * ```
 */
export function staticToken(token: string): TokenSource {
  const value = checkBearerToken(token, 'option "token"');
  return { token: () => Promise.resolve(value), invalidate: () => {} };
}

/**
 * `option` (a token, a {@link TokenSource} or nothing) as a source.
 *
 * @param option the `token` option
 * @returns the source, or `undefined` when no token is configured
 *
 * @example
 * ```ts
 * import { toTokenSource } from "@mtls/mcp/auth";
 * console.log(toTokenSource(undefined)); // undefined
 * ```
 */
export function toTokenSource(option: string | TokenSource | undefined): TokenSource | undefined {
  if (option === undefined) return undefined;
  if (typeof option === "string") return staticToken(option);
  if (typeof option?.token !== "function" || typeof option?.invalidate !== "function") {
    throw new ConfigError(
      'Option "token" must be a string or a TokenSource (with token() and invalidate())',
      { key: "token" },
    );
  }
  return option;
}
