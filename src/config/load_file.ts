/**
 * Reading a YAML or JSON configuration file into plain data.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { ConfigError } from "../errors.ts";

/**
 * Options for {@link loadConfigFile}.
 *
 * @example
 * ```ts
 * import type { LoadConfigFileOptions } from "@mtls/mcp/config";
 * const o: LoadConfigFileOptions = { readTextFile: (p) => Deno.readTextFile(p) };
 * ```
 */
export interface LoadConfigFileOptions {
  /** Reads a file as text; injectable for tests. @default {node:fs/promises readFile} */
  readTextFile?: (path: string) => Promise<string>;
}

/**
 * Reads a configuration file. `.json` files are parsed as JSON, everything
 * else as YAML (1.2, so `on`/`off`/`yes` stay strings). Duplicate keys are an error.
 *
 * @param path file path
 * @returns the parsed document (validate it with the config schema)
 * @throws {ConfigError} when the file is missing, unreadable, not parseable, or not a mapping
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "@mtls/mcp/config";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/mcp-mtls.yaml`, "port: 9443\n");
 * const data = await loadConfigFile(`${dir}/mcp-mtls.yaml`);
 * console.log(data); // { port: 9443 }
 * ```
 */
export async function loadConfigFile(
  path: string,
  options: LoadConfigFileOptions = {},
): Promise<Record<string, unknown>> {
  const { readTextFile = (p: string) => readFile(p, "utf8") } = options;
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT" || (err as Error)?.name === "NotFound"
      ? "no such file"
      : (err as Error).message;
    throw new ConfigError(`Cannot read config file "${path}": ${why}`, { cause: err });
  }
  let data: unknown;
  if (path.toLowerCase().endsWith(".json")) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`Cannot parse config file "${path}": ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const where = e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : "";
      const msg = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      throw new ConfigError(`Cannot parse config file "${path}": ${where}${msg}`, { cause: e });
    }
    try {
      // toJS() resolves aliases: an alias to an anchor defined later (or never) throws here.
      data = doc.toJS();
    } catch (err) {
      const msg = ((err as Error)?.message ?? String(err)).split("\n")[0].replace(/:\s*"?$/, "");
      throw new ConfigError(`Cannot parse config file "${path}": ${msg}`, { cause: err });
    }
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(
      `Config file "${path}" must hold a mapping of keys to values, got ${
        Array.isArray(data) ? "a list" : typeof data
      }`,
    );
  }
  return data as Record<string, unknown>;
}
