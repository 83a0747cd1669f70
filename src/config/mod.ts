/**
 * Configuration: one options object, the same keys in a YAML or JSON file, and
 * `MCP_MTLS_*` environment variables that override single keys. Every invalid
 * value stops the start with one line naming the key path, the value, what is
 * expected and where the value came from.
 *
 * Layers, lowest precedence first: defaults, the config file, `MCP_MTLS_*`
 * variables, options in code or on the command line. Secrets (PKCS#12 and key
 * passphrases) come only from an environment variable (`tls.passphraseEnv`)
 * or a file (`tls.passphraseFile`). Custom verification policies and hooks are
 * code-only: pass them to `serveMcp` directly.
 *
 * @example Loading a config file and turning it into server options
 * ```ts
 * import { loadServeConfig } from "@mtls/mcp/config";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/mcp-mtls.yaml`, "certs: certs\nport: 9443\n");
 * const config = await loadServeConfig({
 *   file: `${dir}/mcp-mtls.yaml`,
 *   env: { MCP_MTLS_LIMITS_MAX_BODY_BYTES: "65536" },
 * });
 * console.log(config.port, config.limits.maxBodyBytes); // 9443 65536
 * // then: serveMcp(factory, await serveOptionsFromConfig(config))
 * ```
 *
 * @module
 */
export { loadConfigFile } from "./load_file.ts";
export type { LoadConfigFileOptions } from "./load_file.ts";
export { loadServeConfig } from "./serve_config.ts";
export type { LoadServeConfigOptions } from "./serve_config.ts";
export { serveOptionsFromConfig } from "./serve_options.ts";
export type { ConfiguredServeOptions, ServeOptionsFromConfigOptions } from "./serve_options.ts";
export { resolveServeConfig } from "./resolve_serve_config.ts";
export type { ResolvedServeConfig, ResolveServeConfigOptions } from "./resolve_serve_config.ts";
export { configEnvTable, configReferenceTable } from "./env_table.ts";
export type {
  AuthConfig,
  HealthConfig,
  LimitsConfig,
  PinsConfig,
  RevocationConfig,
  ServeConfig,
  StdioConfig,
  TlsConfig,
  UpstreamConfig,
} from "./types.ts";
