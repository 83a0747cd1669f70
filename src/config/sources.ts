/**
 * Where a key's value came from (options, environment, config file), so a
 * one-line error can say it, and the layering of those sources.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { looksLikePem } from "../cert/pem.ts";
import { ConfigError } from "../errors.ts";
import { listEnvKeys } from "./env.ts";
import { SECRET_KEYS, serveConfigSchema } from "./schema.ts";

/**
 * `MCP_MTLS_*` variables that are not config keys and are never read as
 * overrides: the bridge sets `MCP_MTLS_PEER_*` for its children, and the test
 * harness uses `MCP_MTLS_TEST_*`, `MCP_MTLS_STRESS` and `MCP_MTLS_SEED`.
 */
export const RESERVED_ENV: RegExp = /^MCP_MTLS_(PEER_|TEST_|STRESS$|SEED$)/;

type Data = Record<string, unknown>;

/** The value at a dotted path, or `undefined`. */
export function valueAt(data: unknown, key: string): unknown {
  let v = data;
  for (const seg of key.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Data)[seg];
  }
  return v;
}

/** Layers of the configuration, lowest precedence first, and who set what. */
export interface ConfigSources {
  /** Absolute path of the config file, if any. */
  file?: string;
  /** Data from the file (relative paths already resolved). */
  fileData: Data;
  /** Variables applied, by key path. */
  envKeys: Map<string, string>;
  /** Programmatic or command-line overrides. */
  overrides: Data;
  /** How to name the overrides in a message, e.g. `options` or `the command line`. */
  overridesSource: string;
}

/**
 * The suffix naming where the first of `keys` that was set came from, e.g.
 * ` (in config file "/etc/mcp-mtls.yaml")`; empty for a default.
 */
export function sourceSuffix(sources: ConfigSources, ...keys: string[]): string {
  for (const key of keys) {
    if (valueAt(sources.overrides, key) !== undefined) return ` (from ${sources.overridesSource})`;
    for (const [path, variable] of sources.envKeys) {
      if (path === key || path.startsWith(key + ".") || key.startsWith(path + ".")) {
        return ` (from environment variable ${variable})`;
      }
    }
    if (sources.file !== undefined && valueAt(sources.fileData, key) !== undefined) {
      return ` (in config file "${sources.file}")`;
    }
  }
  return "";
}

/** The config keys that set by `env`, with their variable names; reserved names skipped. */
export function envKeysSet(env: Record<string, string | undefined>): {
  used: Record<string, string>;
  keys: Map<string, string>;
} {
  const byVar = new Map(listEnvKeys(serveConfigSchema).map((k) => [k.variable, k.path.join(".")]));
  const used: Record<string, string> = {};
  const keys = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("MCP_MTLS_") || value === undefined || RESERVED_ENV.test(name)) continue;
    if (/^MCP_MTLS_TLS_(PASSPHRASE|PASSWORD|KEY_PASSWORD)$/.test(name)) {
      throw new ConfigError(
        `Environment variable ${name} is not read: name the variable holding the passphrase in "tls.passphraseEnv" (MCP_MTLS_TLS_PASSPHRASE_ENV), or give a file in "tls.passphraseFile"`,
        { key: "tls.passphrase" },
      );
    }
    used[name] = value;
    const key = byVar.get(name);
    if (key !== undefined) keys.set(key, name);
  }
  return { used, keys };
}

/**
 * Refuses a literal secret (`tls.passphrase`, `tls.password`, ...) anywhere:
 * secrets come from an environment variable or a file, never from the file
 * or the command line.
 */
export function refuseSecrets(data: Data, where: string): void {
  const tls = data.tls;
  if (tls === null || typeof tls !== "object") return;
  for (const k of SECRET_KEYS) {
    if (k in (tls as Data)) {
      throw new ConfigError(
        `Config key "tls.${k}" is not allowed${where}: secrets never go in a config file or on the command line; name an environment variable in "tls.passphraseEnv" or a file in "tls.passphraseFile"`,
        { key: `tls.${k}` },
      );
    }
  }
}

const isUrl = (v: string) => /^https?:\/\//i.test(v);

/**
 * Resolves the file paths of a config file's data against the file's folder
 * (PEM text and URLs stay as they are). Only string values are touched;
 * wrong types are left for validation to report.
 */
export function resolveFilePaths(data: Data, file: string): Data {
  const base = dirname(resolve(file));
  const out = structuredClone(data);
  const fix = (v: unknown, keepIf: (s: string) => boolean) =>
    typeof v === "string" && !keepIf(v) && !isAbsolute(v) ? resolve(base, v) : v;
  const fixList = (v: unknown, keepIf: (s: string) => boolean) =>
    Array.isArray(v) ? v.map((x) => fix(x, keepIf)) : fix(v, keepIf);
  const at = (k: string) => {
    const v = out[k];
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v as Data : undefined;
  };
  const never = () => false;
  if ("certs" in out) out.certs = fix(out.certs, never);
  const tls = at("tls");
  if (tls) {
    for (const k of ["cert", "key", "pfx"]) if (k in tls) tls[k] = fix(tls[k], looksLikePem);
    if ("ca" in tls) tls.ca = fixList(tls.ca, looksLikePem);
    if ("passphraseFile" in tls) tls.passphraseFile = fix(tls.passphraseFile, never);
  }
  const pins = at("pins");
  if (pins && "store" in pins) pins.store = fix(pins.store, never);
  const upstream = at("upstream");
  if (upstream) {
    for (const k of ["cert", "key"]) {
      if (k in upstream) upstream[k] = fix(upstream[k], looksLikePem);
    }
    if ("ca" in upstream) upstream.ca = fixList(upstream.ca, looksLikePem);
  }
  const auth = at("auth");
  if (auth) {
    if ("jwks" in auth) auth.jwks = fix(auth.jwks, isUrl);
    if ("jwksCa" in auth) auth.jwksCa = fixList(auth.jwksCa, looksLikePem);
    const i = auth.introspection;
    if (i !== null && typeof i === "object" && !Array.isArray(i)) {
      const intro = i as Data;
      for (const k of ["cert", "key"]) if (k in intro) intro[k] = fix(intro[k], looksLikePem);
      if ("ca" in intro) intro.ca = fixList(intro.ca, looksLikePem);
    }
  }
  const revocation = at("revocation");
  if (revocation) {
    if ("crls" in revocation) revocation.crls = fixList(revocation.crls, isUrl);
    if ("cacheDir" in revocation) revocation.cacheDir = fix(revocation.cacheDir, never);
  }
  return out;
}

/** Deep merge of plain objects; arrays and scalars in `over` replace. */
export function deepMerge(base: Data, over: Data): Data {
  const out: Data = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = out[k];
    const plain = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x);
    out[k] = plain(v) && plain(b) ? deepMerge(b as Data, v as Data) : v;
  }
  return out;
}
