/**
 * `resolveServeConfig`: what `mcp-mtls serve` calls to turn `--config FILE`,
 * the environment and its own flags into server options plus the settings
 * only the command uses (logging, stdio bridge).
 *
 * @module
 */
import { join } from "node:path";
import { createLogger, type Logger } from "../log/logger.ts";
import { loadServeConfig } from "./serve_config.ts";
import { type ConfiguredServeOptions, serveOptionsFromConfig } from "./serve_options.ts";
import type { ServeConfig, StdioConfig } from "./types.ts";
import { envObject } from "../runtime/process.ts";
import { upstreamFromConfig } from "../gateway/from_config.ts";
import type { UpstreamOptions } from "../gateway/upstream_options.ts";

/**
 * Options for {@link resolveServeConfig}.
 *
 * @example
 * ```ts
 * import type { ResolveServeConfigOptions } from "@mtls/mcp/config";
 * const o: ResolveServeConfigOptions = { configFile: "mcp-mtls.yaml", cliOverrides: { port: 9443 } };
 * ```
 */
export interface ResolveServeConfigOptions {
  /** `--config FILE`. @default {no file} */
  configFile?: string;
  /** Environment. @default {the process environment} */
  env?: Record<string, string | undefined>;
  /** Keys from flags given explicitly on the command line (never defaults). @default {{}} */
  cliOverrides?: Record<string, unknown>;
  /** Certificate folder when nothing names the server certificate. @default {"certs"} */
  fallbackCerts?: string;
  /** Where log lines go (the logger uses `log.level` and `log.format`). @default {standard error} */
  logWrite?: (line: string) => void;
  /**
   * `serve --crl-refresh` in ms: reload interval of `certs`/ca.crl (the file
   * is also reloaded when it changes, if the caller watches it). @default {60000}
   */
  certsCrlRefreshMs?: number;
}

/**
 * The result of {@link resolveServeConfig}.
 *
 * @example
 * ```ts ignore
 * const { options, stdio } = await resolveServeConfig({ configFile: "mcp-mtls.yaml" });
 * ```
 */
export interface ResolvedServeConfig {
  /** The validated configuration. */
  config: ServeConfig;
  /** Options for `serveMcp` (or, with `stdio`, `serveStdioMcp` plus `child.mode`). */
  options: ConfiguredServeOptions;
  /** The logger in `options.logger`, built from `config.log`. */
  logger: Logger;
  /** The stdio server to expose instead of the demo tools, when configured. */
  stdio?: StdioConfig;
  /** The HTTP MCP server to proxy to (the gateway), when configured; its files read. */
  upstream?: UpstreamOptions;
}

/**
 * Loads `configFile` (if any), applies `MCP_MTLS_*` variables and then
 * `cliOverrides`, validates, reads the certificate files and builds the
 * logger: everything `serve` needs to start. Every failure is one
 * {@link ConfigError} line.
 *
 * @param options file, environment, command-line keys, log destination
 * @returns config, server options, logger and stdio settings
 * @throws {ConfigError} for an invalid configuration or a file that cannot be read
 *
 * @example Starting the demo server from a config file
 * ```ts ignore
 * import { resolveServeConfig } from "@mtls/mcp/config";
 * import { demoServerFactory, serveMcp } from "@mtls/mcp/mcp";
 * const { options } = await resolveServeConfig({ configFile: "mcp-mtls.yaml" });
 * const server = await serveMcp(demoServerFactory, options);
 * ```
 */
export async function resolveServeConfig(
  options: ResolveServeConfigOptions = {},
): Promise<ResolvedServeConfig> {
  const {
    configFile,
    env = envObject(),
    cliOverrides = {},
    fallbackCerts = "certs",
    logWrite,
    certsCrlRefreshMs,
  } = options;
  const config = await loadServeConfig({
    file: configFile,
    env,
    overrides: cliOverrides,
    overridesSource: "the command line",
    fallbackCerts,
  });
  const logger = createLogger({ ...config.log, ...(logWrite ? { write: logWrite } : {}) });
  const serveOptions = await serveOptionsFromConfig(config, { logger, env, certsCrlRefreshMs });
  enforceCertsCrl(config, serveOptions, certsCrlRefreshMs);
  return {
    config,
    options: serveOptions,
    logger,
    ...(config.stdio ? { stdio: config.stdio } : {}),
    ...(config.upstream ? { upstream: await upstreamFromConfig(config.upstream) } : {}),
  };
}

/**
 * `serve --certs DIR` enforces `DIR/ca.crl` "when present", and a running
 * server must also pick up one that `certs revoke` writes later.
 * `serveOptionsFromConfig` adds the file only when it exists at start; for
 * `serve` it is added either way and marked optional, so while it is absent
 * it revokes nothing (the server is watching for it) rather than refusing
 * every client as `revocation_unknown`. A `revocation.crls` list from the
 * config is left alone: a file named there that is missing fails closed.
 */
function enforceCertsCrl(
  config: ServeConfig,
  options: ConfiguredServeOptions,
  refreshMs: number | undefined,
): void {
  const { certs, tls, revocation } = config;
  if (certs === undefined || tls.clientAuth === "none" || revocation?.crls !== undefined) return;
  const crl = join(certs, "ca.crl");
  // Same defaults as serveOptionsFromConfig gives a ca.crl present at start.
  options.revocation = {
    crls: [crl],
    crlDistributionPoints: false,
    refreshInterval: refreshMs ?? 60_000,
    ...revocation,
    optionalCrls: [crl],
  };
}
