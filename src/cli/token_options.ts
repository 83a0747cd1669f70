/**
 * The bearer-token options shared by `connect` and `doctor`: where the token
 * comes from (a file, an environment variable, or an authorization server
 * by `client_credentials` with `tls_client_auth`), flags first, then
 * `MCP_MTLS_*` environment variables.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import type { ClientTokenOptions } from "../auth/client_token.ts";
import { checkBearerToken } from "../auth/token_source.ts";
import { tokenFromFile } from "../auth/token_source_file.ts";
import { MtlsError } from "../errors.ts";
import { readInputFile } from "./files.ts";

/**
 * The `parseArgs` options of {@link readTokenOptions}.
 *
 * @example
 * ```ts
 * import { TOKEN_FLAGS } from "./token_options.ts";
 * console.log(Object.keys(TOKEN_FLAGS).includes("token-file")); // true
 * ```
 */
export const TOKEN_FLAGS: NonNullable<ParseArgsConfig["options"]> = {
  "token-file": { type: "string" },
  "token-env": { type: "string" },
  "oauth-issuer": { type: "string" },
  "client-id": { type: "string" },
  scope: { type: "string", multiple: true },
  "oauth-ca": { type: "string" },
};

/**
 * The help lines of {@link TOKEN_FLAGS}.
 *
 * @example
 * ```ts
 * import { TOKEN_HELP } from "./token_options.ts";
 * console.log(TOKEN_HELP.includes("--token-file")); // true
 * ```
 */
export const TOKEN_HELP =
  `  --token-file F   bearer access token in file F, read again for every request (so a
                   renewed token is used at once)       [env: MCP_MTLS_TOKEN_FILE]
  --token-env VAR  bearer access token in environment variable VAR, read once
  --oauth-issuer U get tokens from the authorization server U by client_credentials,
                   authenticated by --cert (tls_client_auth, RFC 8705), bound to it
                                                        [env: MCP_MTLS_OAUTH_ISSUER]
  --client-id ID   our client_id there, with --oauth-issuer [env: MCP_MTLS_OAUTH_CLIENT_ID]
  --scope S        scope to ask for; repeatable          [env: MCP_MTLS_OAUTH_SCOPE]
  --oauth-ca FILE  CA(s) the authorization server must chain to [default: --ca]
                                                        [env: MCP_MTLS_OAUTH_CA]
`;

type Env = (name: string) => string | undefined;

function usage(message: string): MtlsError {
  return new MtlsError("invalid_argument", message);
}

/**
 * The token named by `--token-file`/`--token-env` as text, read once (for
 * `doctor`).
 *
 * @param file the `--token-file` value
 * @param envName the `--token-env` value
 * @param env reads the environment
 * @returns the token, or `undefined` when neither is given
 *
 * @example
 * ```ts
 * import { readToken } from "./token_options.ts";
 * console.log(await readToken(undefined, "T", () => "abc")); // "abc"
 * ```
 */
export async function readToken(
  file: unknown,
  envName: unknown,
  env: Env,
): Promise<string | undefined> {
  if (file !== undefined && envName !== undefined) {
    throw usage('Options "--token-file" and "--token-env" exclude each other: give one');
  }
  if (file !== undefined) {
    const text = new TextDecoder().decode(await readInputFile(String(file)));
    return checkToken(text, `file "${file}"`);
  }
  if (envName !== undefined) return fromEnv(String(envName), env);
  return undefined;
}

function fromEnv(name: string, env: Env): string {
  const value = env(name);
  if (value === undefined || value.trim() === "") {
    throw usage(`Environment variable "${name}" (--token-env) is not set`);
  }
  return checkToken(value, `environment variable "${name}"`);
}

function checkToken(text: string, where: string): string {
  try {
    return checkBearerToken(text, where);
  } catch (e) {
    throw usage((e as Error).message);
  }
}

/**
 * The token options of `connect` from its flags and the environment.
 *
 * @param values the parsed flags
 * @param env reads the environment
 * @param url the MCP server URL (the token's resource)
 * @returns the options to pass to the client
 *
 * @example
 * ```ts
 * import { readTokenOptions } from "./token_options.ts";
 * const o = await readTokenOptions({}, () => undefined, "https://127.0.0.1:8443/mcp");
 * console.log(o); // {}
 * ```
 */
export async function readTokenOptions(
  values: Record<string, unknown>,
  env: Env,
  url: string,
): Promise<ClientTokenOptions> {
  const file = values["token-file"] ?? env("MCP_MTLS_TOKEN_FILE");
  const envName = values["token-env"];
  const issuer = values["oauth-issuer"] ?? env("MCP_MTLS_OAUTH_ISSUER");
  const given = [file, envName, issuer].filter((v) => v !== undefined).length;
  if (given > 1) {
    throw usage(
      'Options "--token-file", "--token-env" and "--oauth-issuer" exclude each other: give one',
    );
  }
  const clientId = values["client-id"] ?? env("MCP_MTLS_OAUTH_CLIENT_ID");
  const scopes = (values.scope as string[] | undefined) ??
    env("MCP_MTLS_OAUTH_SCOPE")?.split(/[\s,]+/).filter(Boolean);
  const caFile = values["oauth-ca"] ?? env("MCP_MTLS_OAUTH_CA");
  if (issuer === undefined) {
    for (
      const [flag, v] of [["--client-id", clientId], ["--scope", scopes], ["--oauth-ca", caFile]]
    ) {
      if (v !== undefined) throw usage(`Option "${flag}" needs "--oauth-issuer"`);
    }
  }
  if (file !== undefined) return { token: tokenFromFile(String(file)) };
  if (envName !== undefined) return { token: fromEnv(String(envName), env) };
  if (issuer === undefined) return {};
  if (clientId === undefined) throw usage('Option "--oauth-issuer" needs "--client-id"');
  if (values.cert === undefined) {
    throw usage(
      'Option "--oauth-issuer" needs "--cert" and "--key": the authorization server knows us by our certificate',
    );
  }
  return {
    oauth: {
      issuer: String(issuer),
      clientId: String(clientId),
      resource: url,
      scope: scopes,
      ca: caFile === undefined
        ? undefined
        : new TextDecoder().decode(await readInputFile(String(caFile))),
    },
  };
}
