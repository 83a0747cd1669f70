/**
 * The process: arguments, environment, exit, signals and the executable,
 * the same on Deno, Node.js and Bun.
 *
 * @module
 */

import process from "node:process";

/**
 * The command-line arguments after the program and script (`Deno.args` on
 * Deno, `process.argv.slice(2)` on Node.js and Bun, also inside a
 * `bun build --compile` binary).
 *
 * @example
 * ```ts
 * import { commandArgs } from "@mtls/mcp/runtime";
 * console.log(Array.isArray(commandArgs())); // true
 * ```
 */
export function commandArgs(): string[] {
  const deno = (globalThis as { Deno?: { args?: string[] } }).Deno;
  return deno?.args ? [...deno.args] : process.argv.slice(2);
}

/**
 * Reads one environment variable.
 *
 * @example
 * ```ts
 * import { getEnv } from "@mtls/mcp/runtime";
 * console.log(typeof getEnv("PATH")); // "string"
 * ```
 */
export function getEnv(name: string): string | undefined {
  return process.env[name];
}

/**
 * A copy of the whole environment.
 *
 * @example
 * ```ts
 * import { envObject } from "@mtls/mcp/runtime";
 * console.log("PATH" in envObject()); // true
 * ```
 */
export function envObject(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (typeof v === "string") out[k] = v;
  return out;
}

/**
 * Ends the process with `code`.
 *
 * @example
 * ```ts ignore
 * import { exit } from "@mtls/mcp/runtime";
 * exit(0);
 * ```
 */
export function exit(code: number): never {
  return process.exit(code) as never;
}

/**
 * The path of the running executable (the runtime, or the compiled binary).
 *
 * @example
 * ```ts
 * import { execPath } from "@mtls/mcp/runtime";
 * console.log(execPath().length > 0); // true
 * ```
 */
export function execPath(): string {
  return process.execPath;
}

/** A signal the CLI listens for. */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/**
 * Calls `listener` on each `signal` until the returned function is called.
 *
 * @example Stopping on Ctrl-C
 * ```ts
 * import { onSignal } from "@mtls/mcp/runtime";
 * const dispose = onSignal("SIGINT", () => console.log("stopping"));
 * dispose();
 * ```
 */
export function onSignal(signal: StopSignal, listener: () => void): () => void {
  const handler = () => listener();
  process.on(signal, handler);
  return () => void process.off(signal, handler);
}

const encoder = new TextEncoder();

interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/** A reader that went away (`mcp-mtls ... | head`) is not an error of ours. */
function isBrokenPipe(e: unknown): boolean {
  const err = e as { code?: string; name?: string };
  return err?.code === "EPIPE" || err?.name === "BrokenPipe";
}

let pipeGuard = false;

function writeTo(fd: 1 | 2, text: string): void {
  const deno = (globalThis as { Deno?: { stdout: SyncWriter; stderr: SyncWriter } }).Deno;
  try {
    if (deno) {
      // Synchronous, so a line written just before exit() is never lost.
      const stream = fd === 1 ? deno.stdout : deno.stderr;
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
      return;
    }
    if (!pipeGuard) {
      pipeGuard = true;
      for (const s of [process.stdout, process.stderr]) {
        s.on("error", (e) => {
          if (!isBrokenPipe(e)) throw e;
        });
      }
    }
    // Node.js and Bun write to files, pipes and terminals synchronously on POSIX.
    (fd === 1 ? process.stdout : process.stderr).write(text);
  } catch (e) {
    if (!isBrokenPipe(e)) throw e;
  }
}

/**
 * Writes `text` to standard output, as is.
 *
 * @example
 * ```ts
 * import { writeStdout } from "@mtls/mcp/runtime";
 * writeStdout("hello\n");
 * ```
 */
export function writeStdout(text: string): void {
  writeTo(1, text);
}

/**
 * Writes `text` to standard error, as is.
 *
 * @example
 * ```ts
 * import { writeStderr } from "@mtls/mcp/runtime";
 * writeStderr("warning\n");
 * ```
 */
export function writeStderr(text: string): void {
  writeTo(2, text);
}
