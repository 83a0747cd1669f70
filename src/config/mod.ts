/**
 * Configuration: one options object, the same keys in a YAML or JSON file, and
 * `MCP_MTLS_*` environment variables that override single keys. Every invalid
 * value stops the start with one line naming the key path, the value and what
 * is expected.
 *
 * @example Reading a config file
 * ```ts
 * import { loadConfigFile } from "@mtls/mcp/config";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/mcp-mtls.yaml`, "port: 9443\n");
 * console.log(await loadConfigFile(`${dir}/mcp-mtls.yaml`)); // { port: 9443 }
 * ```
 *
 * @module
 */
export { loadConfigFile } from "./load_file.ts";
export type { LoadConfigFileOptions } from "./load_file.ts";
