/**
 * Environment overrides: `MCP_MTLS_*` variables replace single config keys.
 *
 * The variable for a key path is the prefix plus each segment in upper snake
 * case joined by `_`: `port` → `MCP_MTLS_PORT`, `tls.minVersion` →
 * `MCP_MTLS_TLS_MIN_VERSION`. Names are derived from the schema, so every key
 * has one and the README table is generated from the same list.
 *
 * @module
 */
import type { z } from "zod";
import { ConfigError } from "../errors.ts";

/**
 * One overridable key: its dotted path, variable name and value kind.
 *
 * @example
 * ```ts
 * import type { EnvKey } from "./env.ts";
 * const k: EnvKey = { path: ["port"], variable: "MCP_MTLS_PORT", kind: "number" };
 * ```
 */
export interface EnvKey {
  /** Key path segments. */
  path: string[];
  /** Environment variable name. */
  variable: string;
  /** How the text value is read: numbers and booleans are converted, lists split on commas. */
  kind: "string" | "number" | "boolean" | "list" | "json";
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

// deno-lint-ignore no-explicit-any
type AnySchema = any;

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = s?._zod?.def;
    if (!def) return s;
    if (["optional", "default", "prefault", "nullable", "readonly"].includes(def.type)) {
      s = def.innerType;
    } else if (def.type === "pipe") {
      // z.preprocess(fn, inner) is a pipe from a transform: the key's kind is the inner schema's.
      s = def.in?._zod?.def?.type === "transform" ? def.out : def.in;
    } else return s;
  }
}

/**
 * Lists every leaf key of an object schema with its environment variable.
 *
 * @param schema a zod object schema
 * @param prefix variable prefix
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { listEnvKeys } from "./env.ts";
 * const keys = listEnvKeys(z.object({ tls: z.object({ minVersion: z.string() }) }), "MCP_MTLS_");
 * console.log(keys[0].variable); // "MCP_MTLS_TLS_MIN_VERSION"
 * ```
 */
export function listEnvKeys(schema: z.ZodType, prefix = "MCP_MTLS_"): EnvKey[] {
  const out: EnvKey[] = [];
  const walk = (s: AnySchema, path: string[]) => {
    const inner = unwrap(s);
    const type: string = inner?._zod?.def?.type;
    if (type === "object") {
      for (const [k, v] of Object.entries(inner._zod.def.shape)) walk(v, [...path, k]);
      return;
    }
    const kind: EnvKey["kind"] = type === "number"
      ? "number"
      : type === "boolean"
      ? "boolean"
      : type === "array" && unwrap(inner._zod.def.element)?._zod?.def?.type === "string"
      ? "list"
      : type === "string" || type === "enum" || type === "literal"
      ? "string"
      : "json";
    out.push({ path, variable: prefix + path.map(snake).join("_"), kind });
  };
  walk(schema, []);
  return out;
}

function convert(key: EnvKey, raw: string): unknown {
  const bad = (expected: string) =>
    new ConfigError(
      `Environment variable ${key.variable}="${raw}" (key "${
        key.path.join(".")
      }"): expected ${expected}`,
      { key: key.path.join(".") },
    );
  switch (key.kind) {
    case "number": {
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) throw bad("a number");
      return Number(raw);
    }
    case "boolean": {
      const v = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(v)) return true;
      if (["false", "0", "no", "off"].includes(v)) return false;
      throw bad("true or false");
    }
    case "list":
      return raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw bad("a JSON value");
      }
    default:
      return raw;
  }
}

/**
 * Returns a copy of `config` with every `MCP_MTLS_*` variable present in `env`
 * applied to its key. A variable with the prefix that names no key is an error
 * (a typo must not be silently ignored).
 *
 * @param schema the config schema (names the keys)
 * @param config parsed config file data
 * @param env environment variables
 * @param prefix variable prefix
 * @throws {ConfigError} on an unknown `MCP_MTLS_*` variable or a value of the wrong kind
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { applyEnvOverrides } from "./env.ts";
 * const schema = z.object({ port: z.number() });
 * const merged = applyEnvOverrides(schema, { port: 8443 }, { MCP_MTLS_PORT: "9443" });
 * console.log(merged.port); // 9443
 * ```
 */
export function applyEnvOverrides(
  schema: z.ZodType,
  config: Record<string, unknown>,
  env: Record<string, string | undefined>,
  prefix = "MCP_MTLS_",
): Record<string, unknown> {
  const keys = new Map(listEnvKeys(schema, prefix).map((k) => [k.variable, k]));
  const out: Record<string, unknown> = structuredClone(config);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const key = keys.get(name);
    if (!key) {
      throw new ConfigError(`Unknown environment variable ${name}: no config key has that name`);
    }
    let node: Record<string, unknown> = out;
    for (const seg of key.path.slice(0, -1)) {
      const next = node[seg];
      if (typeof next !== "object" || next === null || Array.isArray(next)) node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    node[key.path[key.path.length - 1]] = convert(key, raw);
  }
  return out;
}
