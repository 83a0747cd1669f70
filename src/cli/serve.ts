/**
 * `mcp-mtls serve`: the MCP server with the built-in demo tools over mutual TLS.
 *
 * @module
 */
import { join } from "node:path";
import { MtlsError } from "../errors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { demoServerFactory } from "../mcp/demo_tools.ts";
import { serveMcp } from "../mcp/server.ts";
import type { ServeMcpOptions } from "../mcp/server_options.ts";
import { parseCommandArgs } from "./args.ts";
import { exists, readInputFile } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";

const HELP =
  `Usage: mcp-mtls serve [--certs DIR] [--host 127.0.0.1] [--port 8443] [--policy strict|demo]
                      [--crl-refresh SECONDS]

Serves MCP (Streamable HTTP) at https://HOST:PORT/mcp with the built-in demo
tools (whoami, echo, time), using DIR/server.crt and DIR/server.key, and
admitting only clients whose certificates chain to DIR/ca.crt.

When DIR/ca.crl exists (see "certs revoke"), revoked client certificates are
refused; the file is re-read every --crl-refresh seconds, so a revocation
takes effect without a restart. When DIR/pins.json exists, clients must match
the pins of their identity (SPIFFE ID, else cn:NAME); identities without pins
are refused.
Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.

Options:
  --certs DIR      certificate directory (see "certs init")   [default: certs]
  --host HOST      address to listen on                       [default: 127.0.0.1]
  --port PORT      port, 0 for any free one                   [default: 8443]
  --policy NAME    strict, or demo (accepts self-signed and unknown-CA clients, with warnings)
                                                              [default: strict]
  --crl-refresh S  seconds between re-reads of DIR/ca.crl      [default: 60]
  --log-level L    debug, info, warn or error                 [default: info]
  -h, --help       show this help
`;

const TEXT = new TextDecoder();

/**
 * Options for {@link serve} beyond the command line.
 *
 * @example
 * ```ts
 * import type { ServeCommandOptions } from "@mtls/mcp/cli";
 * const o: ServeCommandOptions = { signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface ServeCommandOptions {
  /** Stops the server when aborted, like SIGINT. @default {undefined} (signals only) */
  signal?: AbortSignal;
}

/**
 * Runs `serve` with `args` (the words after `serve`) until SIGINT, SIGTERM or
 * `options.signal`. Prints the endpoint URL on standard output; logs go to
 * standard error.
 *
 * @param args command-line arguments
 * @param io output streams (the process's by default)
 * @param options an abort signal to stop the server from code
 * @returns the exit code: 0 after a clean stop, 1 on failure, 2 on bad usage
 *
 * @example Serving the development certificates for one second
 * ```ts ignore
 * import { serve } from "@mtls/mcp/cli";
 * await serve(["--certs", "certs", "--port", "0"], undefined, { signal: AbortSignal.timeout(1000) });
 * ```
 */
export function serve(
  args: string[],
  io: CliIo = denoIo,
  options: ServeCommandOptions = {},
): Promise<number> {
  return runCommand(io, async () => {
    const dashdash = args.indexOf("--");
    if (dashdash >= 0) {
      throw new MtlsError(
        "invalid_argument",
        `Serving a stdio MCP server ("serve -- ${
          args.slice(dashdash + 1).join(" ")
        }") is not supported yet; run "serve" without "--" for the demo tools`,
      );
    }
    const { values, help } = parseCommandArgs("serve", args, {
      certs: { type: "string", default: "certs" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8443" },
      policy: { type: "string", default: "strict" },
      "log-level": { type: "string", default: "info" },
      "crl-refresh": { type: "string", default: "60" },
    });
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    const port = Number(values.port);
    if (!/^\d+$/.test(String(values.port)) || port > 65535) {
      throw new MtlsError(
        "invalid_argument",
        `Invalid --port "${values.port}": expected 0 to 65535`,
      );
    }
    const policy = String(values.policy);
    if (policy !== "strict" && policy !== "demo") {
      throw new MtlsError(
        "invalid_argument",
        `Invalid --policy "${policy}": expected strict or demo`,
      );
    }
    const level = String(values["log-level"]);
    if (!["debug", "info", "warn", "error"].includes(level)) {
      throw new MtlsError(
        "invalid_argument",
        `Invalid --log-level "${level}": expected debug, info, warn or error`,
      );
    }
    const refresh = Number(values["crl-refresh"]);
    if (!/^\d+(\.\d+)?$/.test(String(values["crl-refresh"])) || refresh <= 0) {
      throw new MtlsError(
        "invalid_argument",
        `Invalid --crl-refresh "${values["crl-refresh"]}": expected a positive number of seconds`,
      );
    }
    const dir = String(values.certs);
    const hint = ` (run "mcp-mtls certs init --dir ${dir}" first)`;
    const read = async (f: string) => TEXT.decode(await readInputFile(join(dir, f), hint));
    const cert = await read("server.crt");
    const key = await read("server.key");
    const ca = await read("ca.crt");
    const logger = createLogger({
      level: level as "debug" | "info" | "warn" | "error",
      write: (line) => io.stderr(`${line}\n`),
    });
    const { admission, announce } = await enforcedFiles(dir, refresh, logger);
    // Listen for signals before announcing the URL, so a stop right after it is not lost.
    const { stopped, dispose } = waitForStop(options.signal);
    let server;
    try {
      server = await serveMcp(demoServerFactory, {
        hostname: String(values.host),
        port,
        policy,
        tls: { cert, key, ca },
        logger,
        ...admission,
      });
    } catch (e) {
      dispose();
      throw e;
    }
    announce(); // after the start, so a failed start stays one line
    io.stdout(`Serving MCP over mutual TLS at ${server.url}\n`);
    await stopped;
    io.stderr("Stopping...\n");
    await server.close();
    return 0;
  });
}

/** DIR/ca.crl and DIR/pins.json, each enforced when present; says so either way. */
async function enforcedFiles(
  dir: string,
  refreshSeconds: number,
  logger: Logger,
): Promise<{ admission: Pick<ServeMcpOptions, "revocation" | "pins">; announce(): void }> {
  const crl = join(dir, "ca.crl");
  const pins = join(dir, "pins.json");
  const admission: Pick<ServeMcpOptions, "revocation" | "pins"> = {};
  const hasCrl = await exists(crl);
  if (hasCrl) {
    admission.revocation = {
      crls: [crl],
      refreshInterval: Math.round(refreshSeconds * 1000),
      crlDistributionPoints: false,
    };
  }
  const hasPins = await exists(pins);
  if (hasPins) admission.pins = { store: pins };
  const announce = () => {
    if (hasCrl) logger.info("enforcing the CRL", { crl, refreshSeconds });
    else {
      logger.info("no CRL: client certificates are not checked for revocation", {
        crl,
        hint: `"mcp-mtls certs revoke" creates it; restart the server afterwards`,
      });
    }
    if (hasPins) logger.info("enforcing client pins", { pins });
  };
  return { admission, announce };
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

if (import.meta.main) Deno.exit(await serve(Deno.args));
