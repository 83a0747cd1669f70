/**
 * The package version, one constant for the JSR and npm packages and the
 * compiled binary (a test checks it equals `deno.json`'s `version`). A
 * constant rather than an import of `deno.json`, which is not shipped in the
 * npm package and is not bundled the same way by every compiler.
 *
 * @example
 * ```ts
 * import { VERSION } from "@mtls/mcp/cli";
 * console.log(VERSION); // e.g. "0.1.0"
 * ```
 *
 * @module
 */

/** The version printed by `mcp-mtls --version`. */
export const VERSION: string = "0.1.0";
