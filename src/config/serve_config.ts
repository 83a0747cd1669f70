/**
 * `loadServeConfig`: the configuration from a YAML or JSON file, `MCP_MTLS_*`
 * environment variables and an options object (in rising precedence),
 * validated once with one-line errors.
 *
 * @module
 */
import { resolve } from "node:path";
import { ConfigError } from "../errors.ts";
import { applyEnvOverrides } from "./env.ts";
import { loadConfigFile } from "./load_file.ts";
import { checkContradictions } from "./contradictions.ts";
import { serveConfigSchema } from "./schema.ts";
import {
  type ConfigSources,
  deepMerge,
  envKeysSet,
  refuseSecrets,
  resolveFilePaths,
  sourceSuffix,
} from "./sources.ts";
import type { ServeConfig } from "./types.ts";
import { validateConfig } from "./validate.ts";

/**
 * Options for {@link loadServeConfig}.
 *
 * @example
 * ```ts
 * import type { LoadServeConfigOptions } from "@mtls/mcp/config";
 * const o: LoadServeConfigOptions = { file: "mcp-mtls.yaml", env: { MCP_MTLS_PORT: "9443" } };
 * ```
 */
export interface LoadServeConfigOptions {
  /** YAML or JSON config file (`.json` is JSON, anything else YAML). @default {no file} */
  file?: string;
  /**
   * Environment: every `MCP_MTLS_*` variable overrides one key, an unknown one
   * is an error. Pass `Deno.env.toObject()` to use the process's.
   * @default {{}} (none)
   */
  env?: Record<string, string | undefined>;
  /** Keys set in code or on the command line; they win over env and file. @default {{}} */
  overrides?: Record<string, unknown>;
  /** How errors name the overrides. @default {"options"} */
  overridesSource?: string;
  /**
   * Certificate folder used when nothing names the server certificate (no
   * `certs`, `tls.cert`, `tls.key` or `tls.pfx` anywhere), like `serve`'s
   * `--certs` default. @default {none}
   */
  fallbackCerts?: string;
  /** Reads the config file; injectable for tests. @default {node:fs/promises readFile} */
  readTextFile?: (path: string) => Promise<string>;
}

/**
 * Reads, layers and validates the configuration: file < env < overrides.
 * Relative paths in the file are resolved against the file's folder; those
 * from env or overrides against the working directory. Files named by the
 * config (certificates, keys) are read later, by `serveOptionsFromConfig`.
 *
 * @param options file, environment and overrides
 * @returns the validated configuration with defaults
 * @throws {ConfigError} one line naming the key path, the value, what is
 *   expected and where the value came from
 *
 * @example Effective settings from a file and the environment
 * ```ts
 * import { loadServeConfig } from "@mtls/mcp/config";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/mcp-mtls.yaml`, "certs: ./certs\nport: 9443\n");
 * const config = await loadServeConfig({
 *   file: `${dir}/mcp-mtls.yaml`,
 *   env: { MCP_MTLS_TLS_MIN_VERSION: "TLSv1.3" },
 * });
 * console.log(config.port, config.tls.minVersion, config.certs); // 9443 "TLSv1.3" ".../certs"
 * ```
 */
export async function loadServeConfig(options: LoadServeConfigOptions = {}): Promise<ServeConfig> {
  const { file, env = {}, overrides = {}, overridesSource = "options", fallbackCerts } = options;
  let fileData: Record<string, unknown> = {};
  let absFile: string | undefined;
  if (file !== undefined) {
    absFile = resolve(file);
    fileData = await loadConfigFile(file, { readTextFile: options.readTextFile });
    refuseSecrets(fileData, ` (in config file "${absFile}")`);
    fileData = resolveFilePaths(fileData, absFile);
  }
  refuseSecrets(overrides, ` (from ${overridesSource})`);
  const { used, keys } = envKeysSet(env);
  const sources: ConfigSources = {
    file: absFile,
    fileData,
    envKeys: keys,
    overrides,
    overridesSource,
  };
  let merged = deepMerge(applyEnvOverrides(serveConfigSchema, fileData, used), overrides);
  if (fallbackCerts !== undefined && !namesServerCert(merged)) {
    merged = { ...merged, certs: fallbackCerts };
  }
  let config: ServeConfig;
  try {
    config = validateConfig(serveConfigSchema, merged);
  } catch (e) {
    if (!(e instanceof ConfigError) || e.key === undefined) throw e;
    throw new ConfigError(e.message + sourceSuffix(sources, e.key), { key: e.key, cause: e });
  }
  checkContradictions(config, sources);
  return config;
}

function namesServerCert(data: Record<string, unknown>): boolean {
  const tls = data.tls as Record<string, unknown> | undefined;
  return data.certs !== undefined ||
    (typeof tls === "object" && tls !== null &&
      (tls.cert !== undefined || tls.key !== undefined || tls.pfx !== undefined));
}
