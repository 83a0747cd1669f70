/**
 * Helpers of the portable CLI tests: the `mcp-mtls` command run as a child
 * process of the runtime under test (`deno run -A src/cli/main.ts` from the
 * sources under Deno, the built `src/cli/bin.js` under Node.js and Bun), a
 * recording {@link CliIo} for the in-process commands, and `openssl`. Only
 * `node:` built-ins and the library.
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { CliIo } from "../../src/cli/io.ts";
import { RUNTIME } from "./_env.ts";

/** Kills a child that is still running after this long: a hang fails the test, it does not stall the suite. */
const HANG_MS = 60_000;

/**
 * The command that runs the CLI on the runtime running this file: the
 * sources beside this test file under Deno (`tests/portable/` ->
 * `src/cli/main.ts`), the npm build beside it under Node.js and Bun
 * (`build/tests/portable/` -> `build/src/cli/bin.js`, which calls `main`:
 * Node.js has no `import.meta.main`).
 */
export function cliCommand(): string[] {
  if (RUNTIME === "deno") {
    return [
      process.execPath,
      "run",
      "-A",
      fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url)),
    ];
  }
  return [process.execPath, fileURLToPath(new URL("../../src/cli/bin.js", import.meta.url))];
}

/** How a finished child ended, and all it wrote. */
export interface Finished {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runProgram} and {@link runCli}. */
export interface RunOptions {
  /** Written to standard input, which is then closed. @default {""} */
  stdin?: string | Uint8Array;
  /** Added to the inherited environment. @default {{}} */
  env?: Record<string, string>;
  /** Working directory. @default {the current one} */
  cwd?: string;
}

/** Runs `program args` to its end and collects its output (killed after {@link HANG_MS}). */
export function runProgram(
  program: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<Finished> {
  const child = spawn(program, [...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (t: string) => (stdout += t));
    child.stderr!.setEncoding("utf8").on("data", (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill("SIGKILL"), HANG_MS);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // "close", not "exit": every byte of stdout and stderr has been read by then.
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on("error", () => {/* it exited before reading all: its status says why */});
    child.stdin!.end(options.stdin ?? "");
  });
}

/** Runs the CLI with `args` as a child process of the runtime under test. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<Finished> {
  const [program, ...prefix] = cliCommand();
  return runProgram(program, [...prefix, ...args], options);
}

/** Runs `openssl args` and returns its standard output; throws with its stderr when it fails. */
export async function opensslOk(
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const r = await runProgram("openssl", args, options);
  if (r.code !== 0) {
    throw new Error(`openssl ${args.join(" ")} exited with ${r.code}: ${r.stderr}`);
  }
  return r.stdout;
}

/** A CLI child that keeps running (`serve`, `connect`), read as it writes. */
export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything written to standard output so far. */
  stdout(): string;
  /** Everything written to standard error so far. */
  stderr(): string;
  /** Writes `text` to its standard input. */
  write(text: string): void;
  /** Closes its standard input. */
  endInput(): void;
  /** Resolves to the first match of `pattern` in stdout (or stderr); rejects when it exits first. */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr"): Promise<RegExpExecArray>;
  /** Resolves when it has exited and its output is read. */
  readonly finished: Promise<Finished>;
  /**
   * Sends `signal` to it. Through `process.kill(pid)`, not `child.kill()`: after
   * `child.kill(s)` Deno's node:child_process reports the child as ended by `s` even
   * when it caught `s` and exited 0 (Deno 2.9.6).
   */
  signal(signal: "SIGTERM" | "SIGINT" | "SIGHUP"): void;
  /** Sends SIGKILL unless it has exited, and waits for the end. */
  kill(): Promise<Finished>;
}

/** Starts the CLI with `args` as a child of the runtime under test, without waiting for it. */
export function startCli(
  args: readonly string[],
  options: Omit<RunOptions, "stdin"> = {},
): RunningCli {
  const [program, ...prefix] = cliCommand();
  const child = spawn(program, [...prefix, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding("utf8").on("data", (t: string) => {
    out.stdout += t;
    wake();
  });
  child.stderr!.setEncoding("utf8").on("data", (t: string) => {
    out.stderr += t;
    wake();
  });
  child.stdin!.on("error", () => {/* it exited: its status says why */});
  let ended = false;
  const timer = setTimeout(() => child.kill("SIGKILL"), 2 * HANG_MS);
  const finished = new Promise<Finished>((resolve) => {
    child.once("close", (code, signal) => {
      ended = true;
      clearTimeout(timer);
      wake();
      resolve({ code, signal, ...out });
    });
    child.once("error", (e) => {
      ended = true;
      clearTimeout(timer);
      out.stderr += `spawn failed: ${e.message}\n`;
      wake();
      resolve({ code: null, signal: null, ...out });
    });
  });
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    write: (text) => void child.stdin!.write(text),
    endInput: () => void child.stdin!.end(),
    waitFor(pattern, stream = "stdout") {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out[stream]);
          if (m) done(() => resolve(m));
          else if (ended) {
            done(() =>
              reject(
                new Error(`the CLI exited before printing ${pattern}; stderr: ${out.stderr}`),
              )
            );
          }
        };
        const hang = setTimeout(
          () => done(() => reject(new Error(`no ${pattern} within ${HANG_MS} ms`))),
          HANG_MS,
        );
        const done = (settle: () => void) => {
          clearTimeout(hang);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    finished,
    signal(signal) {
      if (!ended && child.pid !== undefined) process.kill(child.pid, signal);
    },
    kill() {
      if (!ended) child.kill("SIGKILL");
      return finished;
    },
  };
}

/** A {@link CliIo} that records what a command writes, with the given environment. */
export function captureIo(
  env: Record<string, string> = {},
): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: (name: string) => env[name],
  };
  return io;
}

/** Waits until `f` returns a value (polling), or fails after {@link HANG_MS}. */
export async function waitUntil<T>(f: () => T | undefined, what: string): Promise<T> {
  const end = Date.now() + HANG_MS;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
