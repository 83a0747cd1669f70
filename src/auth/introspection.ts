/**
 * RFC 7662 token introspection for opaque access tokens, over mutual TLS
 * with `tls_client_auth` (RFC 8705 §2.1: the fetch presents our certificate,
 * the body names our `client_id`). Answers are kept in the one bounded
 * cache design (`LruMap`), keyed by the token's SHA-256, never past the
 * token's `exp`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { LruMap } from "../limits/lru.ts";
import type { AuthFetch } from "./jwt.ts";
import type { ResolvedAuthOptions } from "./options.ts";
import { invalidToken, tokenFromClaims, type TokenRefusal, type VerifiedToken } from "./token.ts";

/** An inactive answer is remembered this long, ms: a replayed dead token costs no round trip. */
const INACTIVE_TTL_MS = 10_000;

/**
 * Introspects opaque tokens.
 *
 * @example
 * ```ts ignore
 * const result = await introspector.verify(token);
 * ```
 */
export interface Introspector {
  /** The token's claims when active and meant for us, or why not. */
  verify(token: string): Promise<VerifiedToken | TokenRefusal>;
  /** Answers in the cache. */
  readonly cached: number;
}

type Answer = { claims: Record<string, unknown> } | { refusal: TokenRefusal };

/**
 * Makes the introspection client; `fetch` must present the certificate of
 * `o.introspection` and trust its CA.
 *
 * @example
 * ```ts ignore
 * const introspector = createIntrospector(o, createMtlsFetch({ cert, key, ca }));
 * ```
 */
export function createIntrospector(o: ResolvedAuthOptions, fetch: AuthFetch): Introspector {
  const i = o.introspection!;
  const cache = new LruMap<Record<string, unknown>>({ max: i.maxCacheEntries, now: o.now });

  async function ask(token: string): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(i.url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({
          token,
          token_type_hint: "access_token",
          client_id: i.clientId,
        }).toString(),
        signal: AbortSignal.timeout(i.timeoutMs),
      });
    } catch (error) {
      return unavailable(error instanceof Error ? error.message : String(error));
    }
    const text = await response.text().catch(() => "");
    if (response.status !== 200) {
      return unavailable(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      return unavailable("the answer is not JSON");
    }
    if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
      return unavailable("the answer is not a JSON object");
    }
    return { claims: answer as Record<string, unknown> };
  }

  function judge(token: string, claims: Record<string, unknown>): VerifiedToken | TokenRefusal {
    if (claims.active !== true) return invalidToken("Token is not active");
    const now = o.now() / 1000;
    const skew = o.clockToleranceSec;
    if (typeof claims.exp === "number" && claims.exp + skew <= now) {
      return invalidToken("Token has expired");
    }
    if (typeof claims.nbf === "number" && claims.nbf - skew > now) {
      return invalidToken("Token is not valid yet");
    }
    if (claims.iss !== undefined && !o.issuer.includes(String(claims.iss))) {
      return invalidToken(`Token issuer ${JSON.stringify(String(claims.iss))} is not accepted`);
    }
    // aud is optional in an introspection answer; when given it must name us.
    if (claims.aud !== undefined) {
      const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud)];
      if (!aud.some((a) => o.audience.includes(a))) {
        return invalidToken(
          `Token audience is not ${o.audience.map((a) => `"${a}"`).join(" or ")}`,
        );
      }
    }
    return tokenFromClaims(token, claims);
  }

  return {
    async verify(token) {
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
      const key = Buffer.from(digest).toString("base64url");
      let claims = cache.get(key);
      if (claims === undefined) {
        const answer = await ask(token);
        if ("refusal" in answer) return answer.refusal;
        claims = answer.claims;
        const exp = typeof claims.exp === "number" ? claims.exp * 1000 : Infinity;
        const ttl = claims.active === true ? i.cacheTtlMs : INACTIVE_TTL_MS;
        cache.set(key, claims, Math.min(o.now() + ttl, exp));
      }
      return judge(token, claims);
    },
    get cached() {
      return cache.size;
    },
  };
}

function unavailable(cause: string): Answer {
  return {
    refusal: {
      status: 503,
      reason: "auth_unavailable",
      description: "The authorization server cannot introspect the token; try again later",
      cause,
    },
  };
}
