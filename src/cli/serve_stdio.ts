/**
 * `mcp-mtls serve [options] -- COMMAND ARGS...`: splitting serve's own options
 * from the stdio MCP server command. `serve` then runs the same loop for a
 * stdio server (through `serveStdioMcp`) as for the demo tools.
 *
 * @module
 */
import { MtlsError } from "../errors.ts";

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
