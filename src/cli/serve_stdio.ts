/**
 * `mcp-mtls serve [options] -- COMMAND ARGS...`: the stdio MCP server COMMAND
 * exposed over Streamable HTTP with mutual TLS, one child process per session.
 *
 * @module
 */
import { MtlsError } from "../errors.ts";
import { serveStdioMcp, type ServeStdioOptions } from "../mcp/bridge_stdio_server.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";

/**
 * The words of a `serve` command line before `--` (serve's own options) and
 * after it (the stdio server command), or no `command` when there is no `--`.
 *
 * @throws {MtlsError} `invalid_argument` when `--` is followed by nothing
 *
 * @example
 * ```ts
 * import { splitStdioCommand } from "./serve_stdio.ts";
 * splitStdioCommand(["--port", "0", "--", "node", "server.js"]);
 * // { args: ["--port", "0"], command: ["node", "server.js"] }
 * ```
 */
export function splitStdioCommand(args: string[]): { args: string[]; command?: string[] } {
  const at = args.indexOf("--");
  if (at < 0) return { args };
  const command = args.slice(at + 1);
  if (command.length === 0) {
    throw new MtlsError(
      "invalid_argument",
      'Missing stdio server command after "--" (e.g. "serve -- node server.js")',
    );
  }
  return { args: args.slice(0, at), command };
}

/**
 * Options for {@link serveStdioCommand} beyond the server options.
 *
 * @example
 * ```ts
 * import type { ServeStdioCommandOptions } from "./serve_stdio.ts";
 * const o: ServeStdioCommandOptions = { signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface ServeStdioCommandOptions {
  /** Stops the server when aborted, like SIGINT. @default {undefined} (signals only) */
  signal?: AbortSignal;
}

/**
 * Serves the stdio MCP server `command` with `serveOptions` until SIGINT,
 * SIGTERM or `options.signal`: prints the endpoint URL on standard output,
 * logs go wherever `serveOptions.logger` writes. What `serve -- COMMAND`
 * runs once `serve` has parsed its own options into `serveOptions`.
 *
 * @param command the stdio server: program and arguments
 * @param serveOptions the same options `serveMcp` takes, plus `child`
 * @param io where the URL and a failure line go
 * @param options an abort signal to stop the server from code
 * @returns the exit code: 0 after a clean stop, 1 on failure (e.g. the command cannot be found)
 *
 * @example Serving the example stdio server for one second
 * ```ts ignore
 * import { serveStdioCommand } from "./serve_stdio.ts";
 * await serveStdioCommand(
 *   [Deno.execPath(), "run", "-A", "examples/stdio_server.ts"],
 *   { tls: { cert, key, ca }, port: 0 },
 *   undefined,
 *   { signal: AbortSignal.timeout(1000) },
 * );
 * ```
 */
export function serveStdioCommand(
  command: string[],
  serveOptions: ServeStdioOptions,
  io: CliIo = denoIo,
  options: ServeStdioCommandOptions = {},
): Promise<number> {
  return runCommand(io, async () => {
    // Listen for signals before announcing the URL, so a stop right after it is not lost.
    const { stopped, dispose } = waitForStop(options.signal);
    let server;
    try {
      server = await serveStdioMcp(command, serveOptions);
    } catch (e) {
      dispose();
      throw e;
    }
    io.stdout(`Serving "${command.join(" ")}" over MCP with mutual TLS at ${server.url}\n`);
    await stopped;
    io.stderr("Stopping...\n");
    await server.close();
    return 0;
  });
}

function waitForStop(signal: AbortSignal | undefined): { stopped: Promise<void>; dispose(): void } {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  let resolve!: () => void;
  const stopped = new Promise<void>((r) => (resolve = r));
  const dispose = () => {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    signal?.removeEventListener("abort", stop);
  };
  const stop = () => {
    dispose();
    resolve();
  };
  for (const s of signals) Deno.addSignalListener(s, stop);
  if (signal?.aborted) stop();
  else signal?.addEventListener("abort", stop, { once: true });
  return { stopped, dispose };
}
