/**
 * The `auth` key of a config file as the `auth` option of `serveMcp`:
 * reads the JWKS file (or keeps the https URL), and the CA, certificate and
 * key files of the JWKS fetch and of introspection.
 *
 * @module
 */
import type { AuthOptions } from "../auth/options.ts";
import { ConfigError } from "../errors.ts";
import { pemOrFile } from "./serve_options.ts";
import type { AuthConfig } from "./types.ts";

const isUrl = (v: string) => /^https?:\/\//i.test(v);

/**
 * Reads the files `config` names.
 *
 * @throws {ConfigError} naming `auth.jwks`, `auth.jwksCa.N` or `auth.introspection.*`
 *
 * @example
 * ```ts ignore
 * const auth = await authFromConfig({ resource, authorizationServers, jwks: "certs/jwks.json" });
 * ```
 */
export async function authFromConfig(config: AuthConfig): Promise<AuthOptions> {
  const { jwks, jwksCa, jwksTimeoutMs, jwksCooldownMs, jwksCacheMaxAgeMs, introspection, ...rest } =
    config;
  const out: AuthOptions = { ...structuredClone(rest) };
  if (jwks !== undefined && isUrl(jwks)) {
    const ca = jwksCa === undefined
      ? undefined
      : await Promise.all(jwksCa.map((c, i) => pemOrFile(`auth.jwksCa.${i}`, c)));
    out.jwks = {
      url: jwks,
      ...(ca ? { ca } : {}),
      ...(jwksTimeoutMs ? { timeoutMs: jwksTimeoutMs } : {}),
      ...(jwksCooldownMs ? { cooldownMs: jwksCooldownMs } : {}),
      ...(jwksCacheMaxAgeMs ? { cacheMaxAgeMs: jwksCacheMaxAgeMs } : {}),
    };
  } else if (jwks !== undefined) {
    const text = await pemOrFile("auth.jwks", jwks);
    let set: unknown;
    try {
      set = JSON.parse(text);
    } catch { /* reported below */ }
    if (!Array.isArray((set as { keys?: unknown })?.keys)) {
      throw new ConfigError(
        `Config key "auth.jwks" is ${
          JSON.stringify(jwks)
        }: expected a JSON key set ({ "keys": [...] })`,
        { key: "auth.jwks" },
      );
    }
    out.jwks = set as AuthOptions["jwks"];
  }
  if (introspection) {
    const { cert, key, ca, ...i } = introspection;
    out.introspection = {
      ...i,
      cert: await pemOrFile("auth.introspection.cert", cert),
      key: await pemOrFile("auth.introspection.key", key),
      ...(ca
        ? { ca: await Promise.all(ca.map((c, n) => pemOrFile(`auth.introspection.ca.${n}`, c))) }
        : {}),
    };
  }
  return out;
}
