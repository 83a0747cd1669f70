/**
 * Refuse to run on a Deno whose `node:tls` misreports client certificates.
 *
 * Deno before 2.9 reported `authorized: true` for a client that sent no
 * certificate (denoland/deno#34366), so the server must not start there.
 *
 * @module
 */

import { RuntimeError } from "../errors.ts";

/** Oldest Deno the server runs on, `[major, minor]`. */
export const MINIMUM_DENO: readonly [number, number] = [2, 9];

/**
 * Throws a {@link RuntimeError} unless `version` (a Deno version string such
 * as `Deno.version.deno`) is 2.9 or newer. Pure: takes the version, so tests
 * can pass any string.
 *
 * @example Checking a version string
 * ```ts
 * import { checkDenoVersion } from "@mtls/mcp/tls";
 * checkDenoVersion("2.9.6"); // ok
 * try {
 *   checkDenoVersion("2.8.1");
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function checkDenoVersion(version: string): void {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) {
    throw new RuntimeError(
      `Cannot read Deno version "${version}": mcp-mtls needs Deno ${
        MINIMUM_DENO.join(".")
      } or newer`,
    );
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major < MINIMUM_DENO[0] || (major === MINIMUM_DENO[0] && minor < MINIMUM_DENO[1])) {
    throw new RuntimeError(
      `Deno "${version}" is too old: mcp-mtls needs ${
        MINIMUM_DENO.join(".")
      } or newer (older node:tls reports a client without a certificate as authorized, denoland/deno#34366)`,
    );
  }
}

/**
 * Runs {@link checkDenoVersion} on the current runtime; a no-op outside Deno.
 *
 * @example
 * ```ts
 * import { assertSupportedRuntime } from "@mtls/mcp/tls";
 * assertSupportedRuntime();
 * ```
 */
export function assertSupportedRuntime(): void {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  if (deno?.version?.deno) checkDenoVersion(deno.version.deno);
}
