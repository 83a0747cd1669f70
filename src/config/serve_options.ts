/**
 * `serveOptionsFromConfig`: turns a validated {@link ServeConfig} into the
 * options of `serveMcp`, reading the certificate, key, CA and PKCS#12 files
 * it names. A missing or unreadable file stops the start with one line naming
 * the key and the path.
 *
 * @module
 */
import { createPrivateKey } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, MtlsError } from "../errors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { ServeMcpOptions } from "../mcp/server_options.ts";
import { fromPkcs12 } from "../pki/pkcs12.ts";
import { decodePem, encodePem, looksLikePem } from "../cert/pem.ts";
import { exportPrivateKeyPem } from "../pki/private_key.ts";
import { PinStore } from "../pins/pin_store.ts";
import type { HealthConfig, ServeConfig } from "./types.ts";
import { authFromConfig } from "./auth_from_config.ts";
import { getEnv } from "../runtime/process.ts";

/**
 * Options of `serveMcp` built from a config: {@link ServeMcpOptions} plus the
 * logging and health keys the server reads when it supports them.
 *
 * @example
 * ```ts ignore
 * const options: ConfiguredServeOptions = await serveOptionsFromConfig(config);
 * ```
 */
export interface ConfiguredServeOptions extends ServeMcpOptions {
  /** Log every handshake in detail. */
  detailedTls?: boolean;
  /** Days before expiry to warn about served certificates and CAs. */
  expiryWarningDays?: number;
  /** A plain-HTTP health endpoint on its own port. */
  health?: HealthConfig;
}

/**
 * Options for {@link serveOptionsFromConfig}.
 *
 * @example
 * ```ts
 * import type { ServeOptionsFromConfigOptions } from "@mtls/mcp/config";
 * const o: ServeOptionsFromConfigOptions = { env: { P12_PASSPHRASE: "s3cret" } };
 * ```
 */
export interface ServeOptionsFromConfigOptions {
  /** Logger for the server. @default {createLogger(config.log)} */
  logger?: Logger;
  /** Where `tls.passphraseEnv` is looked up. @default {the process environment} */
  env?: Record<string, string | undefined>;
  /**
   * Reload interval of `certs`/ca.crl when `revocation.refreshInterval` is not
   * set (`serve --crl-refresh`), ms. @default {60000}
   */
  certsCrlRefreshMs?: number;
}

const TEXT = new TextDecoder();

function whyUnreadable(cause: unknown): string {
  const code = (cause as { code?: string }).code;
  return code === "ENOENT"
    ? "no such file"
    : code === "EACCES"
    ? "permission denied"
    : code === "EISDIR"
    ? "a folder"
    : (cause as Error).message;
}

async function readKeyFile(key: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ConfigError(
      `Config key "${key}" is ${JSON.stringify(path)}: expected a readable file (${
        whyUnreadable(cause)
      })`,
      { key, cause },
    );
  }
}

/** A file of the `certs` folder; the message names the folder, the file and how to make it. */
async function readCertsFile(dir: string, name: string): Promise<Uint8Array> {
  const path = join(dir, name);
  try {
    return await readFile(path);
  } catch (cause) {
    throw new ConfigError(
      `Config key "certs" is ${JSON.stringify(dir)}: cannot read ${JSON.stringify(path)} (${
        whyUnreadable(cause)
      }; run "mcp-mtls certs init --dir ${dir}" first)`,
      { key: "certs", cause },
    );
  }
}

/**
 * `value` when it is PEM text, else the text of the file it names; the
 * {@link ConfigError} names `key` (the gateway reads `upstream.*` with it too).
 *
 * @example
 * ```ts ignore
 * const ca = await pemOrFile("upstream.ca.0", "certs/upstream-ca.crt");
 * ```
 */
export async function pemOrFile(key: string, value: string): Promise<string> {
  // PEM text, possibly after "Bag Attributes" lines as `openssl pkcs12 -nodes` writes.
  if (looksLikePem(value)) return value;
  if (!looksLikePath(value)) {
    // Never echo it: it may be key material in a shape we do not recognise.
    throw new ConfigError(
      `Config key "${key}" is neither PEM text nor a file path (value not shown: ${value.length} characters over ${
        value.split("\n").length
      } lines)`,
      { key },
    );
  }
  return TEXT.decode(await readKeyFile(key, value));
}

/** PKCS#8 EncryptedPrivateKeyInfo, or a legacy OpenSSL key with an RFC 1421 `Proc-Type` header. */
function isEncryptedKey(key: string): boolean {
  if (/Proc-Type: 4,ENCRYPTED/.test(key)) return true;
  try {
    return decodePem(key, '"tls.key"').some((b) => b.type === "ENCRYPTED PRIVATE KEY");
  } catch {
    return false; // malformed PEM: the TLS setup refuses the key with its own message
  }
}

/** A path is one line of reasonable length; anything else is not echoed in errors. */
function looksLikePath(value: string): boolean {
  return !/[\r\n]/.test(value) && value.length <= 4096 && !/PRIVATE KEY/i.test(value);
}

/** Opens a pin file here, not in serveMcp, so a file watcher can reload the store. */
async function openPins(
  pins: NonNullable<ServeConfig["pins"]>,
  logger: Logger,
  key: string,
): Promise<NonNullable<ServeMcpOptions["pins"]>> {
  const { store, tofu, unknown, allow } = pins;
  if (store === undefined) return { allow };
  try {
    const opened = await PinStore.open(store, { tofu, unknown, logger });
    return { ...(allow ? { allow } : {}), store: opened };
  } catch (cause) {
    const why = (cause as Error).message.replace(/^Cannot load pin file "[^"]*": /, "");
    throw new ConfigError(
      `Config key "${key}" is ${JSON.stringify(store)}: expected a valid pin file (${why})`,
      { key, cause },
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function passphrase(
  config: ServeConfig,
  env: (name: string) => string | undefined,
): Promise<string | undefined> {
  const { passphraseEnv, passphraseFile } = config.tls;
  if (passphraseEnv !== undefined) {
    const v = env(passphraseEnv);
    if (v === undefined) {
      throw new ConfigError(
        `Config key "tls.passphraseEnv" is ${
          JSON.stringify(passphraseEnv)
        }: expected the name of a set environment variable`,
        { key: "tls.passphraseEnv" },
      );
    }
    return v;
  }
  if (passphraseFile !== undefined) {
    return TEXT.decode(await readKeyFile("tls.passphraseFile", passphraseFile)).replace(
      /\r?\n$/,
      "",
    );
  }
  return undefined;
}

async function serverCredentials(
  config: ServeConfig,
  env: (name: string) => string | undefined,
): Promise<{ cert: string; key: string }> {
  const { tls, certs } = config;
  const secret = await passphrase(config, env);
  if (tls.pfx !== undefined) {
    const data = await readKeyFile("tls.pfx", tls.pfx);
    try {
      const p12 = await fromPkcs12(data, secret ?? "", { name: tls.pfx, extractable: true });
      const cert = [p12.certificate, ...p12.chain]
        .map((c) => encodePem(c.der, "CERTIFICATE")).join("");
      return { cert, key: await exportPrivateKeyPem(p12.privateKey) };
    } catch (cause) {
      const from = tls.passphraseEnv !== undefined
        ? `environment variable ${tls.passphraseEnv}`
        : tls.passphraseFile !== undefined
        ? `file "${tls.passphraseFile}"`
        : "none given";
      throw new ConfigError(
        `Config key "tls.pfx" is ${
          JSON.stringify(tls.pfx)
        }: expected a PKCS#12 file that opens with the passphrase (${from}): ${
          cause instanceof MtlsError && cause.code === "bad_password"
            ? "wrong password"
            : (cause as Error).message
        }`,
        { key: "tls.pfx", cause },
      );
    }
  }
  const cert = tls.cert !== undefined
    ? await pemOrFile("tls.cert", tls.cert)
    : TEXT.decode(await readCertsFile(certs!, "server.crt"));
  let key = tls.key !== undefined
    ? await pemOrFile("tls.key", tls.key)
    : TEXT.decode(await readCertsFile(certs!, "server.key"));
  if (isEncryptedKey(key)) {
    if (secret === undefined) {
      throw new ConfigError(
        'Config key "tls.key" is an encrypted key: expected a passphrase in "tls.passphraseEnv" or "tls.passphraseFile"',
        { key: "tls.key" },
      );
    }
    try {
      key = createPrivateKey({ key, format: "pem", passphrase: secret })
        .export({ type: "pkcs8", format: "pem" }) as string;
    } catch (cause) {
      throw new ConfigError(
        `Config key "tls.key" is an encrypted key: expected the right passphrase (${
          (cause as Error).message
        })`,
        { key: "tls.key", cause },
      );
    }
  }
  return { cert, key };
}

/**
 * Builds `serveMcp` options from a validated config: reads `tls.cert`,
 * `tls.key`, `tls.ca` (file paths or PEM), opens `tls.pfx` with the
 * passphrase from `tls.passphraseEnv`/`tls.passphraseFile`, and fills in
 * what `certs` provides (server.crt, server.key, ca.crt, and ca.crl and
 * pins.json when present, as `serve --certs`). `log`, `certs` and `stdio`
 * are not server options: the caller uses them (see `resolveServeConfig`).
 *
 * @param config from {@link loadServeConfig}
 * @param options logger and environment
 * @returns options for `serveMcp` (or `serveStdioMcp`)
 * @throws {ConfigError} naming the key and the path of a file that is missing
 *   or cannot be read, or a PKCS#12 file the passphrase does not open
 *
 * @example Serving the demo tools from a config file
 * ```ts ignore
 * import { loadServeConfig, serveOptionsFromConfig } from "@mtls/mcp/config";
 * import { demoServerFactory, serveMcp } from "@mtls/mcp/mcp";
 * const config = await loadServeConfig({ file: "mcp-mtls.yaml", env: Deno.env.toObject() });
 * const server = await serveMcp(demoServerFactory, await serveOptionsFromConfig(config));
 * ```
 */
export async function serveOptionsFromConfig(
  config: ServeConfig,
  options: ServeOptionsFromConfigOptions = {},
): Promise<ConfiguredServeOptions> {
  const envGet = options.env ? (n: string) => options.env![n] : getEnv;
  const { tls, certs } = config;
  const { cert, key } = await serverCredentials(config, envGet);
  let ca: string[] | undefined;
  if (tls.ca !== undefined) {
    ca = await Promise.all(tls.ca.map((c, i) => pemOrFile(`tls.ca.${i}`, c)));
  } else if (certs !== undefined && tls.clientAuth !== "none") {
    ca = [TEXT.decode(await readCertsFile(certs, "ca.crt"))];
  }
  const out: ConfiguredServeOptions = {
    hostname: config.hostname,
    port: config.port,
    path: config.path,
    tls: {
      cert,
      key,
      ...(ca ? { ca } : {}),
      clientAuth: tls.clientAuth,
      minVersion: tls.minVersion,
      ...(tls.ciphers !== undefined ? { ciphers: tls.ciphers } : {}),
    },
    policy: config.policy,
    maxChainDepth: config.maxChainDepth,
    sessions: config.sessions,
    limits: { ...config.limits },
    logger: options.logger ?? createLogger(config.log),
  };
  if (config.authorization) out.authorization = structuredClone(config.authorization);
  if (config.revocation) out.revocation = { ...config.revocation };
  let pins = config.pins;
  if (certs !== undefined && tls.clientAuth !== "none") {
    const crl = join(certs, "ca.crl");
    if (await exists(crl)) {
      out.revocation = {
        crls: [crl],
        crlDistributionPoints: false,
        refreshInterval: options.certsCrlRefreshMs ?? 60_000,
        ...config.revocation,
      };
    }
    const pinFile = join(certs, "pins.json");
    if (pins === undefined && await exists(pinFile)) pins = { store: pinFile };
  }
  if (pins) {
    out.pins = await openPins(pins, out.logger!, pins === config.pins ? "pins.store" : "certs");
  }
  if (config.jsonResponse) out.jsonResponse = true;
  if (config.allowedHosts) out.allowedHosts = [...config.allowedHosts];
  if (config.allowedOrigins) out.allowedOrigins = [...config.allowedOrigins];
  if (config.detailedTls) out.detailedTls = true;
  if (config.proxyProtocol) {
    out.proxyProtocol = { ...config.proxyProtocol, trusted: [...config.proxyProtocol.trusted] };
  }
  if (config.expiryWarningDays !== undefined) out.expiryWarningDays = config.expiryWarningDays;
  if (config.health) out.health = { ...config.health };
  if (config.auth) out.auth = await authFromConfig(config.auth);
  return out;
}
