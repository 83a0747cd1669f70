/**
 * The bearer-token steps of a diagnosis: does the server want a token
 * (HTTP 401 with a `Bearer` challenge, RFC 9728 metadata), and is ours
 * usable (a JWT for this resource, not expired, bound to our certificate)?
 *
 * @module
 */
import { tokenBinding } from "../auth/client_binding.ts";
import { silentLogger } from "../log/logger.ts";
import { createMtlsFetch } from "../mcp/client_fetch.ts";
import type { DiagnosisStep } from "./report.ts";

/**
 * Inputs of {@link tokenSteps}.
 *
 * @example
 * ```ts
 * import type { TokenStepInput } from "./token.ts";
 * const input: TokenStepInput = { url: "https://127.0.0.1:8443/mcp", pins: [], timeout: 5000, now: new Date() };
 * ```
 */
export interface TokenStepInput {
  url: string;
  cert?: string;
  key?: string;
  ca?: string[];
  pins: string[];
  timeout: number;
  /** Our access token, when we have one. */
  token?: string;
  now: Date;
}

interface Challenge {
  /** Whether the server answered 401 with a Bearer challenge. */
  wanted: boolean;
  metadataUrl?: string;
  metadata?: Record<string, unknown>;
  metadataError?: string;
}

/** One unauthenticated request, and the RFC 9728 document its challenge names. */
async function probeChallenge(input: TokenStepInput): Promise<Challenge> {
  const fetch = createMtlsFetch({
    cert: input.cert,
    key: input.key,
    ca: input.ca,
    pins: input.pins,
    logger: silentLogger,
    keepAlive: false,
    connectTimeout: input.timeout,
    returnAuthChallenges: true,
  });
  try {
    const res = await fetch(input.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "ping" }),
      signal: AbortSignal.timeout(input.timeout),
    });
    await res.body?.cancel();
    const challenge = res.headers.get("www-authenticate") ?? "";
    if (res.status !== 401 || !/^Bearer\b/i.test(challenge)) return { wanted: false };
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    if (!metadataUrl) return { wanted: true };
    try {
      const m = await fetch(metadataUrl, { signal: AbortSignal.timeout(input.timeout) });
      if (!m.ok) {
        await m.body?.cancel();
        return { wanted: true, metadataUrl, metadataError: `HTTP ${m.status}` };
      }
      return { wanted: true, metadataUrl, metadata: await m.json() };
    } catch (e) {
      return { wanted: true, metadataUrl, metadataError: (e as Error).message };
    }
  } catch {
    // Refused or no answer: not a token question; the MCP step says what happened.
    return { wanted: false };
  } finally {
    await fetch.close().catch(() => {});
  }
}

function authStep(c: Challenge, hasToken: boolean): DiagnosisStep {
  const m = c.metadata;
  const details = m
    ? [
      `resource: ${m.resource}`,
      `authorization servers: ${(m.authorization_servers as string[] | undefined)?.join(", ")}`,
      ...(m.scopes_supported ? [`scopes: ${(m.scopes_supported as string[]).join(" ")}`] : []),
      `certificate-bound tokens: ${m.tls_client_certificate_bound_access_tokens === true}`,
    ]
    : c.metadataUrl
    ? [`metadata at ${c.metadataUrl} could not be read: ${c.metadataError}`]
    : ["the challenge names no resource_metadata (RFC 9728)"];
  const summary = `server wants a bearer token (HTTP 401, WWW-Authenticate: Bearer)${
    c.metadataUrl ? `; metadata at ${c.metadataUrl}` : ""
  }`;
  if (hasToken) return { name: "Auth", status: "pass", summary, details };
  const as = (m?.authorization_servers as string[] | undefined)?.[0];
  return {
    name: "Auth",
    status: "fail",
    code: "token_missing",
    summary,
    fix: `get an access token${as ? ` from ${as}` : ""} for this resource, bound to your ` +
      "certificate, and pass it with --token-file FILE or --token-env VAR",
    details,
  };
}

async function tokenStep(input: TokenStepInput, c: Challenge): Promise<DiagnosisStep> {
  const name = "Token";
  const b = await tokenBinding(input.token!, input.cert);
  if (!b.jwt) {
    return {
      name,
      status: "warn",
      summary:
        "the token is opaque (not a JWT): its audience, expiry and binding cannot be read here",
    };
  }
  const claims = b.claims as
    & { iss?: string; aud?: string | string[]; exp?: number }
    & Record<
      string,
      unknown
    >;
  const details = [
    `issuer: ${claims.iss}`,
    `audience: ${[claims.aud ?? ""].flat().join(", ")}`,
    ...(claims.client_id ? [`client_id: ${claims.client_id}`] : []),
    ...(claims.scope ? [`scope: ${claims.scope}`] : []),
    ...(claims.exp ? [`expires: ${new Date(claims.exp * 1000).toISOString()}`] : []),
  ];
  const fail = (
    code: "invalid_token" | "token_binding_mismatch",
    summary: string,
    fix: string,
  ) => ({ name, status: "fail" as const, code, summary, fix, details });
  if (claims.exp !== undefined && claims.exp * 1000 <= input.now.getTime()) {
    return fail(
      "invalid_token",
      `the token expired at ${new Date(claims.exp * 1000).toISOString()}`,
      "get a new token",
    );
  }
  const resource = c.metadata?.resource;
  const audiences = [claims.aud ?? []].flat();
  if (typeof resource === "string" && !audiences.includes(resource)) {
    return fail(
      "invalid_token",
      `the token is for ${
        audiences.map((a) => `"${a}"`).join(", ") || "no audience"
      }, not for "${resource}"`,
      `ask the authorization server for a token with resource=${resource}`,
    );
  }
  if (!b.bound) {
    return {
      name,
      status: "warn",
      code: "token_unbound",
      summary: "the token is not bound to a certificate (no cnf x5t#S256): a server that " +
        "requires binding refuses it, and anyone who copies it can use it",
      fix: "register the client with tls_client_certificate_bound_access_tokens and get the " +
        "token over mutual TLS",
      details,
    };
  }
  if (!b.matches) {
    return fail(
      "token_binding_mismatch",
      b.ours
        ? `the token is bound to certificate ${b.thumbprint}, ours is ${b.ours}`
        : `the token is bound to certificate ${b.thumbprint}, and we present none`,
      "use the certificate the token was issued to (--cert/--key), or get a token with this one",
    );
  }
  return {
    name,
    status: "pass",
    summary: `the token is bound to our certificate (x5t#S256 ${b.thumbprint})`,
    details,
  };
}

/**
 * The `Auth` and `Token` steps: none at all when the server asks no token
 * and we have none (a server without `auth` diagnoses as before).
 *
 * @param input where to connect, with what, and our token
 * @returns the steps
 *
 * @example
 * ```ts ignore
 * import { tokenSteps } from "./token.ts";
 * const steps = await tokenSteps({ url, cert, key, ca: [ca], pins: [], timeout: 5000, token, now: new Date() });
 * ```
 */
export async function tokenSteps(input: TokenStepInput): Promise<DiagnosisStep[]> {
  const c = await probeChallenge(input);
  const steps: DiagnosisStep[] = [];
  if (c.wanted) steps.push(authStep(c, input.token !== undefined));
  else if (input.token !== undefined) {
    steps.push({
      name: "Auth",
      status: "pass",
      summary: "server asks no bearer token (no 401 challenge); ours is sent anyway",
    });
  }
  if (input.token !== undefined) steps.push(await tokenStep(input, c));
  return steps;
}
