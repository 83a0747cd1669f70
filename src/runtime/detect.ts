/**
 * Which JavaScript runtime this is. The one place that asks; everything else
 * calls the functions of `src/runtime/`.
 *
 * @module
 */

import process from "node:process";

/**
 * A runtime mcp-mtls runs on.
 *
 * @example
 * ```ts
 * import type { RuntimeName } from "@mtls/mcp/runtime";
 * const r: RuntimeName = "node";
 * ```
 */
export type RuntimeName = "deno" | "node" | "bun";

interface Globals {
  Deno?: { version?: { deno?: string } };
  Bun?: { version?: string };
}

/**
 * The runtime running this code: Bun and Deno announce themselves with a
 * global; anything else that has `node:process` is Node.js.
 *
 * @example
 * ```ts
 * import { runtimeName } from "@mtls/mcp/runtime";
 * console.log(runtimeName()); // "deno" under deno test
 * ```
 */
export function runtimeName(): RuntimeName {
  const g = globalThis as Globals;
  if (typeof g.Bun?.version === "string") return "bun";
  if (typeof g.Deno?.version?.deno === "string") return "deno";
  return "node";
}

/**
 * The running runtime's name and version, for logs and `--version`:
 * `deno 2.9.6`, `node 20.20.2`, `bun 1.4.4`.
 *
 * @example
 * ```ts
 * import { runtimeLabel } from "@mtls/mcp/runtime";
 * console.log(runtimeLabel().startsWith("deno ")); // true under deno test
 * ```
 */
export function runtimeLabel(): string {
  const g = globalThis as Globals;
  const name = runtimeName();
  const version = name === "bun"
    ? g.Bun!.version
    : name === "deno"
    ? g.Deno!.version!.deno
    : process.versions.node;
  return `${name} ${version}`;
}
