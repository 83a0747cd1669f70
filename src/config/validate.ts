/**
 * Turning schema validation issues into one-line errors that name the key
 * path, the value and what is expected.
 *
 * @module
 */
import type { z } from "zod";
import { ConfigError } from "../errors.ts";

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return "missing";
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

// deno-lint-ignore no-explicit-any
function expected(issue: any): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected === "int" ? "an integer" : issue.expected}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v: unknown) => JSON.stringify(v)).join(", ")}`;
    case "too_big":
      return `expected at most ${issue.maximum}`;
    case "too_small":
      return issue.origin === "string" || issue.origin === "array"
        ? `expected at least ${issue.minimum} ${issue.origin === "string" ? "characters" : "items"}`
        : `expected at least ${issue.minimum}`;
    case "invalid_format":
      return `expected ${issue.format}`;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

/**
 * Validates `input` against `schema`; on failure throws a {@link ConfigError}
 * for the first issue, e.g. `Config key "tls.minVersion" is "TLSv1.0": expected
 * one of "TLSv1.2", "TLSv1.3"`, or `Unknown config key "tls.bogus"`.
 *
 * @param schema the config schema
 * @param input data from a file, environment and options
 * @param source where the data came from, for the message (e.g. `config file "x.yaml"`)
 * @returns the parsed value with defaults applied
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { validateConfig } from "./validate.ts";
 * const schema = z.strictObject({ port: z.number().int().min(0).max(65535) });
 * try {
 *   validateConfig(schema, { port: 70000 });
 * } catch (e) {
 *   console.log((e as Error).message); // Config key "port" is 70000: expected at most 65535
 * }
 * ```
 */
export function validateConfig<T extends z.ZodType>(
  schema: T,
  input: unknown,
  source?: string,
): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const suffix = source ? ` (in ${source})` : "";
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const key = [...path, issue.keys[0]].join(".");
    throw new ConfigError(`Unknown config key "${key}"${suffix}`, { key, cause: r.error });
  }
  const key = path.join(".");
  const value = valueAt(input, issue.path);
  throw new ConfigError(
    `Config key "${key}" is ${show(value)}: ${expected(issue)}${suffix}`,
    { key, cause: r.error },
  );
}
