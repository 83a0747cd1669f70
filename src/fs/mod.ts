/**
 * File helpers shared by the CLI, the pin store and the revocation cache.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "@mtls/mcp/fs";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/pins.json`, "{}");
 * ```
 *
 * @module
 */
export { writeFileAtomic } from "./atomic_write.ts";
export type { WriteFileAtomicOptions } from "./atomic_write.ts";
