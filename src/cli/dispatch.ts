/**
 * The CLI dispatcher: picks the command from the first words and runs it.
 * Commands are loaded when chosen, so `--version` or `certs pin` does not load
 * the MCP SDK, undici and the server (start-up time of the single binary).
 *
 * @module
 */
import { COMMANDS } from "./commands.ts";
import { type CliIo, denoIo } from "./io.ts";
import { EXIT_USAGE, runCommand } from "./run_command.ts";
import { VERSION } from "../version.ts";

function overview(): string {
  return `mcp-mtls ${VERSION}: mutual TLS for the Model Context Protocol

Usage: mcp-mtls COMMAND [options]

Commands:
${COMMANDS.map((c) => `  ${c.usage}\n`).join("")}
Run "mcp-mtls COMMAND --help" for a command's options.
Options:
  -h, --help     show this help
  -V, --version  print the version
`;
}

/**
 * Runs the CLI with `args` (without the program name).
 *
 * @param args command-line arguments, e.g. `["certs", "pin", "server.crt"]`
 * @param io output streams and environment (the process's by default)
 * @returns the exit code: 0 on success, 1 on failure, 2 on bad usage
 *
 * @example Printing a pin
 * ```ts
 * import { main } from "@mtls/mcp/cli";
 * const dir = await Deno.makeTempDir();
 * await main(["certs", "init", "--dir", dir]);
 * await main(["certs", "pin", `${dir}/server.crt`]);
 * ```
 */
export function main(args: string[], io: CliIo = denoIo): Promise<number> {
  const [first = "", second = ""] = args;
  if (first === "--help" || first === "-h" || first === "help") {
    io.stdout(overview());
    return Promise.resolve(0);
  }
  if (first === "--version" || first === "-V") {
    io.stdout(`mcp-mtls ${VERSION}\n`);
    return Promise.resolve(0);
  }
  const command = COMMANDS.find((c) =>
    c.path.length === 1 ? c.path[0] === first : c.path[0] === first && c.path[1] === second
  );
  if (command) return runCommand(io, () => command.run(args.slice(command.path.length), io));

  if (first === "") {
    io.stderr(overview());
    return Promise.resolve(EXIT_USAGE);
  }
  const group = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === first);
  if (group.length && (second === "" || second === "--help" || second === "-h")) {
    const out = second === "" ? io.stderr : io.stdout;
    out(`Usage: mcp-mtls ${first} SUBCOMMAND\n\n${group.map((c) => `  ${c.usage}\n`).join("")}`);
    return Promise.resolve(second === "" ? EXIT_USAGE : 0);
  }
  const name = group.length ? `${first} ${second}` : first;
  io.stderr(`mcp-mtls: Unknown command "${name}" (see "mcp-mtls --help")\n`);
  return Promise.resolve(EXIT_USAGE);
}
