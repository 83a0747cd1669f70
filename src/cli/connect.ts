/**
 * `mcp-mtls connect`: stdio on one side, MCP over mutual TLS on the other,
 * for MCP clients that can only start stdio servers.
 *
 * @module
 */
import { ConfigError, MtlsError, PeerRejectedError } from "../errors.ts";
import { createLogger, type LogLevel } from "../log/logger.ts";
import { bridgeStdioToMcp } from "../mcp/bridge_connect.ts";
import { parseCommandArgs } from "./args.ts";
import { readInputFile } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { EXIT_FAILURE, runCommand } from "./run_command.ts";
import { commandArgs, exit } from "../runtime/process.ts";
import { readTokenOptions, TOKEN_FLAGS, TOKEN_HELP } from "./token_options.ts";

const HELP =
  `Usage: mcp-mtls connect URL [--cert FILE --key FILE] [--ca FILE] [--pin PIN]... [--log-level L]
         [--token-file F | --token-env VAR | --oauth-issuer URL --client-id ID [--scope S]...]

Bridges standard input/output (newline-delimited JSON-RPC, as a stdio MCP
server speaks it) to the MCP server at URL (Streamable HTTP over mutual TLS),
so an MCP client that can only start stdio servers can use it. Configure the
client to run, for example:

  mcp-mtls connect https://mcp.example.org:8443/mcp --cert client.crt --key client.key --ca ca.crt

Only JSON-RPC is written to standard output; messages go to standard error.
A refused connection prints one line, "mcp-mtls: refused (REASON): ...",
and exits with status 1. Stops when standard input ends.

Options:
  --cert FILE      client certificate (PEM), with --key
  --key FILE       private key of --cert (PEM)
  --ca FILE        CA certificate(s) the server must chain to [default: the system roots]
  --pin PIN        accepted server key: "sha256/BASE64" or BASE64 as "certs pin" prints it;
                   repeat for several (any one must match)
  --server-name N  name expected in the server certificate   [default: the URL's host]
${TOKEN_HELP}  --log-level L    debug, info, warn or error                 [default: warn]
  -h, --help       show this help
`;

const TEXT = new TextDecoder();
const LEVELS = ["debug", "info", "warn", "error"];

/**
 * Options for {@link connect} beyond the command line.
 *
 * @example
 * ```ts
 * import type { ConnectCommandOptions } from "@mtls/mcp/cli";
 * const o: ConnectCommandOptions = { signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface ConnectCommandOptions {
  /** Stops the bridge when aborted, as if standard input had ended. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * Runs `connect` with `args` (the words after `connect`) until standard input ends.
 *
 * @param args command-line arguments
 * @param io where the refusal line and logs go (JSON-RPC always uses the process's stdout)
 * @param options an abort signal to stop from code
 * @returns the exit code: 0 when stdin ended, 1 when refused or unreachable, 2 on bad usage
 *
 * @example Printing the help
 * ```ts
 * import { connect } from "@mtls/mcp/cli";
 * await connect(["--help"]); // 0
 * ```
 */
export function connect(
  args: string[],
  io: CliIo = denoIo,
  options: ConnectCommandOptions = {},
): Promise<number> {
  return runCommand(io, async () => {
    const { values, positionals, help } = parseCommandArgs("connect", args, {
      cert: { type: "string" },
      key: { type: "string" },
      ca: { type: "string" },
      pin: { type: "string", multiple: true },
      "server-name": { type: "string" },
      "log-level": { type: "string", default: "warn" },
      ...TOKEN_FLAGS,
    }, 1);
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    const [url] = positionals;
    if (!url) throw usage('Missing URL for "connect" (see --help)');
    if (!/^https:\/\//i.test(url)) {
      throw usage(`Invalid URL "${url}": expected https://HOST:PORT/PATH`);
    }
    if ((values.cert === undefined) !== (values.key === undefined)) {
      throw usage('Options "--cert" and "--key" go together');
    }
    const level = String(values["log-level"]);
    if (!LEVELS.includes(level)) {
      throw usage(`Invalid --log-level "${level}": expected debug, info, warn or error`);
    }
    const read = async (f: unknown) =>
      f === undefined ? undefined : TEXT.decode(await readInputFile(String(f)));
    const pins = ((values.pin ?? []) as unknown as string[]).map((p) =>
      p.startsWith("sha256/") ? p : `sha256/${p}`
    );
    const tokenOptions = await readTokenOptions(values, (name) => io.env(name), url);
    const logger = createLogger({
      level: level as LogLevel,
      write: (line) => io.stderr(`${line}\n`),
    });
    try {
      await bridgeStdioToMcp(url, {
        cert: await read(values.cert),
        key: await read(values.key),
        ca: await read(values.ca),
        pins,
        serverName: values["server-name"] as string | undefined,
        logger,
        signal: options.signal,
        ...tokenOptions,
      });
    } catch (error) {
      // Options are checked before any connection: a bad --pin or --server-name is bad usage.
      if (error instanceof ConfigError) throw usage(error.message);
      const line = refusalLine(error);
      if (!line) throw error;
      io.stderr(`mcp-mtls: ${line}\n`);
      return EXIT_FAILURE;
    }
    return 0;
  });
}

function usage(message: string): MtlsError {
  return new MtlsError("invalid_argument", message);
}

/** `refused (REASON): message` for a refused connection, else undefined. */
function refusalLine(error: unknown): string | undefined {
  if (!(error instanceof MtlsError)) return undefined;
  const message = error.message.split("\n")[0];
  if (error instanceof PeerRejectedError || error.code === "handshake_failed") {
    return `refused (${error.code}): ${message}`;
  }
  if (error.code === "connection_failed") return `cannot connect (${error.code}): ${message}`;
  if (error.code === "token_request_failed" || error.code === "token_unavailable") {
    return `no token (${error.code}): ${message}`;
  }
  return undefined;
}

if (import.meta.main) exit(await connect(commandArgs()));
