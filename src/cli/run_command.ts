/**
 * The one place errors become output and exit codes: one line on stderr,
 * `2` for bad usage, `1` for everything else.
 *
 * @module
 */
import { MtlsError } from "../errors.ts";
import type { CliIo } from "./io.ts";

/** Exit status for bad arguments (unknown flag, bad value, bad SAN). */
export const EXIT_USAGE = 2;
/** Exit status for a failure at run time (missing file, corrupt PEM, refusal to overwrite). */
export const EXIT_FAILURE = 1;

/**
 * Runs `body`, printing `mcp-mtls: <message>` on failure.
 *
 * @returns the body's exit code, or 1 / 2 for an error
 */
export async function runCommand(io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    io.stderr(`mcp-mtls: ${oneLine(err)}\n`);
    return exitCodeFor(err);
  }
}

/** `2` for usage errors, `1` otherwise. */
export function exitCodeFor(err: unknown): number {
  return err instanceof MtlsError && err.code === "invalid_argument" ? EXIT_USAGE : EXIT_FAILURE;
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] || "Unexpected error";
}
