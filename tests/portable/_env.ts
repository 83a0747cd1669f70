/**
 * Helpers of the portable tests: the same files run under `deno test` (from
 * the sources), `node --test` and `bun test` (from the npm build), so they use
 * only `node:` built-ins and the library.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { runtimeName } from "../../src/runtime/mod.ts";

/** The runtime the runner said it started ("deno" when run by `deno test`). */
export const EXPECTED_RUNTIME: string = process.env.MCP_MTLS_TEST_RUNTIME ?? "deno";

/** The runtime running this file. */
export const RUNTIME: string = runtimeName();

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "mcp-mtls-portable-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
