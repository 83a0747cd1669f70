/**
 * Child processes with piped standard streams, as web streams, on every
 * runtime (`node:child_process`, which Deno and Bun implement).
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { Readable, Writable } from "node:stream";

/**
 * How a child process ended.
 *
 * @example
 * ```ts
 * import type { ChildStatus } from "@mtls/mcp/runtime";
 * const s: ChildStatus = { code: 0, signal: null };
 * ```
 */
export interface ChildStatus {
  /** Exit code; `null` when killed by a signal or when it could not start. */
  code: number | null;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** Why it could not be started or waited for (for example `ENOENT`), if so. */
  error?: Error;
}

/**
 * A running child with piped stdin, stdout and stderr.
 *
 * @example
 * ```ts ignore
 * const child = spawnPiped("cat", [], {});
 * ```
 */
export interface PipedChild {
  /** Process id (`undefined` when it could not start). */
  readonly pid: number | undefined;
  /** Its standard input. */
  readonly stdin: WritableStream<Uint8Array>;
  /** Its standard output. */
  readonly stdout: ReadableStream<Uint8Array>;
  /** Its standard error. */
  readonly stderr: ReadableStream<Uint8Array>;
  /** Resolves when it has exited; never rejects. */
  readonly status: Promise<ChildStatus>;
  /** Sends `signal`; false when it had already exited. */
  kill(signal: "SIGTERM" | "SIGKILL"): boolean;
}

/**
 * Options of {@link spawnPiped}.
 *
 * @example
 * ```ts
 * import type { SpawnPipedOptions } from "@mtls/mcp/runtime";
 * const o: SpawnPipedOptions = { cwd: "/tmp", env: { PATH: "/usr/bin" } };
 * ```
 */
export interface SpawnPipedOptions {
  /** Working directory. @default {the current one} */
  cwd?: string;
  /** The child's whole environment (nothing else is inherited). @default {the current environment} */
  env?: Record<string, string>;
}

/**
 * Starts `program` with `args` and pipes to all three standard streams.
 *
 * @example Reading a child's output
 * ```ts
 * import { spawnPiped } from "@mtls/mcp/runtime";
 * const child = spawnPiped("echo", ["hello"]);
 * const text = await new Response(child.stdout).text();
 * await new Response(child.stderr).text();
 * await child.stdin.close().catch(() => {});
 * console.log(text, (await child.status).code); // "hello\n" 0
 * ```
 */
export function spawnPiped(
  program: string,
  args: readonly string[],
  options: SpawnPipedOptions = {},
): PipedChild {
  const child = spawn(program, [...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const status = new Promise<ChildStatus>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  // Writes after the child exited fail with EPIPE on the stream: reported through `status`.
  child.stdin.on("error", () => {});
  return {
    pid: child.pid,
    stdin: Writable.toWeb(child.stdin) as WritableStream<Uint8Array>,
    stdout: Readable.toWeb(child.stdout) as unknown as ReadableStream<Uint8Array>,
    stderr: Readable.toWeb(child.stderr) as unknown as ReadableStream<Uint8Array>,
    status,
    kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        return false;
      }
      // process.kill, not child.kill: Deno's child.kill() records the signal as the cause of
      // the exit even when the child catches it and exits with its own code (measured, 2.9.6).
      try {
        process.kill(child.pid, signal);
        return true;
      } catch {
        return false; // exited meanwhile
      }
    },
  };
}
