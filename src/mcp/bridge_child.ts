/**
 * A stdio MCP server run as a child process: newline-delimited JSON-RPC on its
 * stdin and stdout, its stderr sent to the logger (never to a client), and its
 * exit reported with code and signal.
 *
 * @module
 */
import { statSync } from "node:fs";
import { constants } from "node:os";
import { delimiter, isAbsolute, join } from "node:path";
import { ConfigError } from "../errors.ts";
import { envObject, getEnv } from "../runtime/process.ts";
import { type PipedChild, spawnPiped } from "../runtime/child.ts";
import type { Logger } from "../log/logger.ts";
import type { BridgeMessage } from "./bridge_identity.ts";

/**
 * How a child process ended.
 *
 * @example
 * ```ts
 * import type { ChildExit } from "./bridge_child.ts";
 * const e: ChildExit = { code: 1, signal: null, stderrTail: ["error: Module not found"] };
 * ```
 */
export interface ChildExit {
  /** Exit code (128 + n when killed by signal n). */
  code: number;
  /** The signal that killed it, if any. */
  signal: string | null;
  /** Its last lines on stderr (at most 5), for the operator's log; never sent to a client. */
  stderrTail: string[];
}

/**
 * Options of {@link spawnStdioChild}.
 *
 * @example
 * ```ts
 * import type { StdioChildOptions } from "./bridge_child.ts";
 * import { createLogger } from "../log/logger.ts";
 * const o: StdioChildOptions = {
 *   env: { MCP_MTLS_PEER_CN: "alice" },
 *   closeTimeoutMs: 1000,
 *   logger: createLogger({ level: "debug" }),
 * };
 * ```
 */
export interface StdioChildOptions {
  /** Variables set for the child on top of the inherited environment. @default {{}} */
  env?: Record<string, string>;
  /** Pass our own environment on, minus every `MCP_MTLS_*` variable (which may hold secrets). @default {true} */
  inheritEnv?: boolean;
  /** Working directory. @default {the server's} */
  cwd?: string;
  /** After closing its stdin, how long the child gets to exit before SIGTERM, then SIGKILL, in ms. @default {2000} */
  closeTimeoutMs?: number;
  /** Where its stderr lines (debug) and unparsable stdout lines (warn) go. */
  logger: Logger;
  /** Extra log fields, e.g. the session. @default {{}} */
  logFields?: Record<string, unknown>;
}

/**
 * A running child speaking JSON-RPC over stdio.
 *
 * @example
 * ```ts ignore
 * const child = spawnStdioChild(["deno", "run", "server.ts"], { logger });
 * child.onmessage = (m) => console.log(m);
 * await child.send({ jsonrpc: "2.0", id: 1, method: "ping" });
 * await child.close();
 * ```
 */
export interface StdioChild {
  /** Process id. */
  readonly pid: number;
  /** Resolves once the process has exited and its pipes are drained. */
  readonly exited: Promise<ChildExit>;
  /** Each message the child writes to stdout. */
  onmessage?: (message: BridgeMessage) => void;
  /** Writes one message to the child's stdin; rejects when the child is gone. */
  send(message: BridgeMessage): Promise<void>;
  /** Ends stdin, waits, then SIGTERM, then SIGKILL; resolves when it has exited. Idempotent. */
  close(): Promise<ChildExit>;
}

/**
 * Refuses a command that cannot be run, at start rather than at the first
 * client: a program name is looked up on `PATH`, a path must exist.
 *
 * @example
 * ```ts
 * import { assertRunnable } from "./bridge_child.ts";
 * assertRunnable([Deno.execPath(), "--version"]);
 * ```
 */
export function assertRunnable(command: string[]): void {
  const [program] = command;
  if (!program) {
    throw new ConfigError('The stdio server command is empty: give it after "--"', {
      key: "command",
    });
  }
  const candidates = program.includes("/") || isAbsolute(program)
    ? [program]
    : (getEnv("PATH") ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const file of candidates) {
    try {
      if (statSync(file).isFile()) return;
    } catch {
      // not there: try the next
    }
  }
  throw new ConfigError(`Cannot run stdio server "${program}": not found`, { key: "command" });
}

function childEnv(inherit: boolean, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  if (inherit) {
    for (const [k, v] of Object.entries(envObject())) {
      if (!k.startsWith("MCP_MTLS_")) env[k] = v;
    }
  }
  return { ...env, ...extra };
}

/**
 * Spawns `command` (program and arguments) as a stdio MCP server.
 *
 * @example A child that is closed again
 * ```ts ignore
 * import { spawnStdioChild } from "./bridge_child.ts";
 * const child = spawnStdioChild([Deno.execPath(), "run", "examples/stdio_server.ts"], { logger });
 * console.log((await child.close()).code);
 * ```
 */
export function spawnStdioChild(command: string[], options: StdioChildOptions): StdioChild {
  const { env = {}, inheritEnv = true, cwd, closeTimeoutMs = 2000, logger } = options;
  const fields = options.logFields ?? {};
  const [program, ...args] = command;
  const process = spawnPiped(program, args, { cwd, env: childEnv(inheritEnv, env) });
  const writer = process.stdin.getWriter();
  const encoder = new TextEncoder();
  let stdinOpen = true;
  const closeStdin = () => {
    stdinOpen = false;
    return writer.close().catch(() => {});
  };
  const stderrTail: string[] = [];
  const readers = Promise.all([
    readLines(process.stdout, (line) => {
      const message = parseMessage(line, logger, fields);
      if (message) child.onmessage?.(message);
    }),
    readLines(process.stderr, (line) => {
      logger.debug("stdio server stderr", { ...fields, line });
      stderrTail.push(line.slice(0, 500));
      if (stderrTail.length > 5) stderrTail.shift();
    }),
  ]);
  const exited = process.status.then(async (s): Promise<ChildExit> => {
    if (stdinOpen) closeStdin();
    await readers;
    if (s.error) stderrTail.push(`Cannot run "${program}": ${s.error.message}`);
    return { code: exitCode(s.code, s.signal), signal: s.signal, stderrTail };
  });
  let closing: Promise<ChildExit> | undefined;
  const child: StdioChild = {
    pid: process.pid ?? 0,
    exited,
    send(message) {
      if (!stdinOpen) return Promise.reject(new Error("The stdio server has exited"));
      return writer.write(encoder.encode(JSON.stringify(message) + "\n"));
    },
    close: () => closing ??= stopChild(process, exited, closeStdin, closeTimeoutMs),
  };
  return child;
}

/** The shell convention: 128 + n when killed by signal n, as Deno reports it. */
function exitCode(code: number | null, signal: string | null): number {
  if (code !== null) return code;
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}

function parseMessage(
  line: string,
  logger: Logger,
  fields: Record<string, unknown>,
): BridgeMessage | undefined {
  try {
    return JSON.parse(line);
  } catch {
    logger.warn("stdio server wrote a line that is not JSON-RPC", {
      ...fields,
      line: line.slice(0, 200),
    });
    return undefined;
  }
}

/** Closes stdin, then after `graceMs` SIGTERM, then after `graceMs` SIGKILL. */
async function stopChild(
  process: PipedChild,
  exited: Promise<ChildExit>,
  closeStdin: () => Promise<void>,
  graceMs: number,
): Promise<ChildExit> {
  await closeStdin();
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      exited.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (done) break;
    try {
      process.kill(signal);
    } catch {
      // exited meanwhile
    }
  }
  return await exited;
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let rest = "";
  try {
    for await (
      const text of stream.pipeThrough(
        new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>,
      )
    ) {
      rest += text;
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).replace(/\r$/, "");
        rest = rest.slice(nl + 1);
        if (line.trim()) onLine(line);
      }
    }
  } catch {
    // the pipe broke because the process died: its exit is reported instead
  }
  if (rest.trim()) onLine(rest);
}
