/**
 * The CLI's side effects behind one small interface, so commands can be run
 * and checked in-process: output streams and the environment.
 *
 * @module
 */

/**
 * Where a command writes and what it reads from the environment.
 *
 * @example Capturing output in a test
 * ```ts
 * import type { CliIo } from "@mtls/mcp/cli";
 * let out = "";
 * const io: CliIo = { stdout: (t) => out += t, stderr: () => {}, env: () => undefined };
 * ```
 */
export interface CliIo {
  /** Writes to standard output (text as is; commands add their own newlines). */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
}

const encoder = new TextEncoder();

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

/**
 * The process's real streams and environment.
 *
 * @example Writing to the real stdout
 * ```ts
 * import { denoIo } from "@mtls/mcp/cli";
 * denoIo.stdout("hello\n");
 * ```
 */
export const denoIo: CliIo = {
  stdout: (text) => writeAll(Deno.stdout, text),
  stderr: (text) => writeAll(Deno.stderr, text),
  env: (name) => Deno.env.get(name),
};
