/**
 * Authorization rules: which peer identities may call which tools, read
 * which resources and get which prompts.
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { canonicalIpAddress } from "../cert/ip_address.ts";
import { compileGlob } from "./glob.ts";
import type { PeerIdentity } from "./identity.ts";

/**
 * One rule. `identity` selects peers by one of:
 * - `spiffe://trust.domain/path*` — the SPIFFE ID (glob),
 * - `cn:GLOB` — the subject common name,
 * - `san:GLOB` — any SAN value (DNS, IP, URI or email), or `dns:`/`ip:`/`uri:`/`email:GLOB`
 *   for one kind (an IP address is compared in its canonical text, RFC 5952
 *   with IPv4-mapped addresses as `::ffff:1.2.3.4`, so `ip:1:0:0:2:0:0:0:3`,
 *   `ip:1::2:0:0:0:3` and `ip:1:0:0:2::3` are the same rule; a glob such as
 *   `ip:10.0.0.*` is matched against that text; an `ip:` value that is
 *   neither an address nor a glob is refused when the rules are compiled),
 * - `fingerprint:HEX` — the certificate SHA-256 (hex, colons and case ignored),
 * - `*` — every peer, including an anonymous one (client auth `optional`/`none`).
 *
 * `tools` lists tool-name globs the matching peers may call; `resources`
 * lists resource-URI globs they may list, read and subscribe to (a resource
 * template is shown when its `uriTemplate` text matches); `prompts` lists
 * prompt-name globs they may list and get. A rule without `resources` or
 * `prompts` grants none: once rules are given, what no rule names is denied.
 *
 * With the server's `auth` option, a rule can also ask for a bearer token:
 * `scopes` it must hold (all of them), and globs its `sub` and `client_id`
 * must match. Such a rule never matches a request without a token; a token
 * that matches everything but lacks a scope gets 403 `insufficient_scope`
 * naming the scopes, instead of `identity_denied`.
 *
 * @example
 * ```ts
 * import type { AuthorizationRule } from "@mtls/mcp/policy";
 * const rule: AuthorizationRule = {
 *   identity: "spiffe://example.org/*",
 *   tools: ["whoami", "echo*"],
 *   resources: ["file:///public/*"],
 *   prompts: ["summarize"],
 * };
 * ```
 */
export interface AuthorizationRule {
  /** Identity selector (see above). */
  identity: string;
  /** Tool-name globs. */
  tools: string[];
  /** Resource-URI globs (`*` matches any run of characters, `/` included). @default {[] (no resource)} */
  resources?: string[];
  /** Prompt-name globs. @default {[] (no prompt)} */
  prompts?: string[];
  /** Scopes the bearer token must all hold (needs `auth`). @default {[] (no scope)} */
  scopes?: string[];
  /** Glob the token's `sub` must match (needs `auth`). @default {any, or no token} */
  sub?: string;
  /** Glob the token's `client_id` must match (needs `auth`). @default {any, or no token} */
  clientId?: string;
}

/**
 * The `authorization` option.
 *
 * @example
 * ```ts
 * import type { AuthorizationOptions } from "@mtls/mcp/policy";
 * const a: AuthorizationOptions = { rules: [{ identity: "cn:alice", tools: ["*"] }] };
 * ```
 */
export interface AuthorizationOptions {
  /** Rules; a peer may call the union of the tools of every rule it matches. */
  rules: AuthorizationRule[];
}

/**
 * The tools one peer may call, decided once per connection. The permissions
 * {@link compileAuthorization} makes also carry `resource` and `prompt`,
 * which say the same for resource URIs and prompt names; a permission without
 * them (made by hand) restricts tools only.
 *
 * @example
 * ```ts
 * import type { ToolPermission } from "@mtls/mcp/policy";
 * const all: ToolPermission = () => true;
 * ```
 */
export type ToolPermission = ((toolName: string) => boolean) & {
  /** Whether the peer may list, read and subscribe to the resource at this URI (or see this template). */
  readonly resource?: (uri: string) => boolean;
  /** Whether the peer may list and get the prompt of this name. */
  readonly prompt?: (name: string) => boolean;
  /**
   * For something denied: the scopes a rule that matches this peer and
   * token would grant it with (the token lacks some of them), else `undefined`.
   */
  readonly scopesFor?: (kind: "tool" | "resource" | "prompt", name: string) => string[] | undefined;
};

/**
 * What a verified bearer token tells the rules.
 *
 * @example
 * ```ts
 * import type { TokenGrant } from "@mtls/mcp/policy";
 * const grant: TokenGrant = { sub: "alice", clientId: "agent", scopes: ["mcp:tools"] };
 * ```
 */
export interface TokenGrant {
  /** The token's `sub`. */
  sub?: string;
  /** The token's `client_id`. */
  clientId?: string;
  /** The token's scopes. */
  scopes: readonly string[];
}

/**
 * Compiled rules: given an identity (or `undefined` for an anonymous peer),
 * returns its {@link ToolPermission}. `trusted` is false for a certificate the
 * demo policy admitted without a trusted chain: anyone can put any name in
 * such a certificate, so only `*` and `fingerprint:` rules apply to it.
 *
 * @example
 * ```ts
 * import type { Authorizer } from "@mtls/mcp/policy";
 * const allowAll: Authorizer = () => () => true;
 * ```
 */
export type Authorizer = (
  identity: PeerIdentity | undefined,
  trusted?: boolean,
  token?: TokenGrant,
) => ToolPermission;

type IdentityMatcher = (id: PeerIdentity | undefined) => boolean;

function compileIdentity(selector: string, key: string): IdentityMatcher {
  if (selector === "*") return () => true;
  if (selector.startsWith("spiffe://")) {
    const m = compileGlob(selector);
    return (id) => id?.spiffeId !== undefined && m(id.spiffeId);
  }
  const colon = selector.indexOf(":");
  const kind = colon > 0 ? selector.slice(0, colon) : "";
  const value = selector.slice(colon + 1);
  switch (kind) {
    case "cn": {
      const m = compileGlob(value);
      return (id) => id?.commonName !== undefined && m(id.commonName);
    }
    case "fingerprint": {
      const want = value.replaceAll(":", "").toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(want)) {
        throw new ConfigError(
          `Option "${key}" must be a SHA-256 fingerprint (64 hex digits), got "${selector}"`,
          { key },
        );
      }
      return (id) => id?.fingerprint === want;
    }
    case "san": {
      const m = compileGlob(canonicalIpAddress(value) ?? value, { ignoreCase: true });
      return (id) =>
        id !== undefined && Object.values(id.subjectAltNames).some((list) => list.some(m));
    }
    case "ip": {
      const ip = canonicalIpAddress(value);
      if (ip === undefined && !value.includes("*")) {
        throw new ConfigError(
          `Option "${key}" must be an IPv4 or IPv6 address (or a glob with *) after "ip:", got "${selector}"`,
          { key },
        );
      }
      const m = compileGlob(ip ?? value, { ignoreCase: true });
      return (id) => id !== undefined && id.subjectAltNames.ip.some(m);
    }
    case "dns":
    case "uri":
    case "email": {
      const m = compileGlob(value, { ignoreCase: kind !== "uri" });
      return (id) => id !== undefined && id.subjectAltNames[kind].some(m);
    }
  }
  throw new ConfigError(
    `Option "${key}" must start with "spiffe://", "cn:", "san:", "dns:", "ip:", "uri:", "email:" or "fingerprint:", or be "*", got "${selector}"`,
    { key },
  );
}

/**
 * Compiles rules once. Without rules (`undefined`) every admitted peer may call every tool.
 *
 * @example Alice may call everything, agents only whoami
 * ```ts
 * import { compileAuthorization } from "@mtls/mcp/policy";
 * const authorize = compileAuthorization({
 *   rules: [
 *     { identity: "cn:alice", tools: ["*"] },
 *     { identity: "spiffe://example.org/*", tools: ["whoami"] },
 *   ],
 * });
 * const mayCall = authorize(undefined); // an anonymous peer
 * mayCall("whoami"); // false
 * ```
 */
export function compileAuthorization(options: AuthorizationOptions | undefined): Authorizer {
  if (options === undefined) return () => ALLOW_ALL;
  if (!Array.isArray(options.rules)) {
    throw new ConfigError('Option "authorization.rules" must be an array', {
      key: "authorization.rules",
    });
  }
  const rules = options.rules.map((rule, i) => {
    const key = `authorization.rules[${i}]`;
    if (typeof rule?.identity !== "string" || !Array.isArray(rule.tools)) {
      throw new ConfigError(`Option "${key}" must have a string "identity" and an array "tools"`, {
        key,
      });
    }
    for (const kind of ["resources", "prompts", "scopes"] as const) {
      if (rule[kind] !== undefined && !Array.isArray(rule[kind])) {
        const what = kind === "scopes" ? "scope names" : "globs";
        throw new ConfigError(`Option "${key}.${kind}" must be an array of ${what}`, {
          key: `${key}.${kind}`,
        });
      }
    }
    const globs = (list: string[] = []) => list.map((t) => compileGlob(String(t)));
    // Names (CN, SANs, SPIFFE IDs) mean something only when a trusted CA vouches for them.
    const needsTrust = rule.identity !== "*" && !rule.identity.startsWith("fingerprint:");
    return {
      matches: compileIdentity(rule.identity, `${key}.identity`),
      claims: compileClaims(rule, key),
      scopes: (rule.scopes ?? []).map(String),
      tools: globs(rule.tools),
      resources: globs(rule.resources),
      prompts: globs(rule.prompts),
      needsTrust,
    };
  });
  return (identity, trusted = true, token) => {
    const eligible = rules.filter((r) =>
      (trusted || !r.needsTrust) && r.matches(identity) && r.claims(token)
    );
    const held = (r: typeof rules[number]) => r.scopes.every((s) => token?.scopes.includes(s));
    const matched = eligible.filter(held);
    const short = eligible.filter((r) => !held(r));
    const kinds = { tool: "tools", resource: "resources", prompt: "prompts" } as const;
    return Object.assign(anyOf(matched.flatMap((r) => r.tools)), {
      resource: anyOf(matched.flatMap((r) => r.resources)),
      prompt: anyOf(matched.flatMap((r) => r.prompts)),
      scopesFor: (kind: "tool" | "resource" | "prompt", name: string) =>
        short.find((r) => r[kinds[kind]].some((m) => m(name)))?.scopes,
    });
  };
}

/** The token conditions of a rule: none means any request, a token or not. */
function compileClaims(
  rule: AuthorizationRule,
  key: string,
): (token: TokenGrant | undefined) => boolean {
  const conditions: ((t: TokenGrant) => boolean)[] = [];
  for (const [field, claim] of [["sub", "sub"], ["clientId", "clientId"]] as const) {
    const glob = rule[field];
    if (glob === undefined) continue;
    if (typeof glob !== "string" || glob === "") {
      throw new ConfigError(`Option "${key}.${field}" must be a non-empty glob`, {
        key: `${key}.${field}`,
      });
    }
    const m = compileGlob(glob);
    conditions.push((t) => t[claim] !== undefined && m(t[claim]!));
  }
  if (conditions.length === 0 && !rule.scopes?.length) return () => true;
  return (token) => token !== undefined && conditions.every((c) => c(token));
}

const allowAll = () => true;
const ALLOW_ALL: ToolPermission = Object.assign(() => true, {
  resource: allowAll,
  prompt: allowAll,
});

/** Whether any of `globs` matches, remembered for up to 256 names. */
function anyOf(globs: ((name: string) => boolean)[]): (name: string) => boolean {
  if (globs.length === 0) return () => false;
  const cache = new Map<string, boolean>();
  return (name) => {
    let v = cache.get(name);
    if (v === undefined) {
      v = globs.some((m) => m(name));
      if (cache.size < 256) cache.set(name, v);
    }
    return v;
  };
}
