/**
 * `mcp-mtls serve`: the MCP server with the built-in demo tools over mutual TLS.
 *
 * @module
 */
import { join } from "node:path";
import { ConfigError, MtlsError } from "../errors.ts";
import { createLogger, type Logger, type LogLevel } from "../log/logger.ts";
import { demoServerFactory } from "../mcp/demo_tools.ts";
import { serveMcp } from "../mcp/server.ts";
import type { ServeMcpOptions } from "../mcp/server_options.ts";
import { PinStore } from "../pins/pin_store.ts";
import { type OptionsConfig, parseCommandArgs } from "./args.ts";
import { exists, readInputFile } from "./files.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";
import { watchCertificates } from "./serve_watch.ts";

const HELP =
  `Usage: mcp-mtls serve [--certs DIR] [--host 127.0.0.1] [--port 8443] [--policy strict|demo]
                      [--crl-refresh SECONDS] [--log-level L] [--log-format pretty|json]
                      [--detailed-tls] [--health-port N]

Serves MCP (Streamable HTTP) at https://HOST:PORT/mcp with the built-in demo
tools (whoami, echo, time), using DIR/server.crt and DIR/server.key, and
admitting only clients whose certificates chain to DIR/ca.crt.

When DIR/ca.crl exists (see "certs revoke"), revoked client certificates are
refused; the file is re-read every --crl-refresh seconds, so a revocation
takes effect without a restart. When DIR/pins.json exists, clients must match
the pins of their identity (SPIFFE ID, else cn:NAME); identities without pins
are refused.

Hot reload: when DIR/server.crt, DIR/server.key or DIR/ca.crt change (or on
SIGHUP) they are validated and served to new connections without a restart;
open sessions continue. Material that does not parse, or a key that does not
match the certificate, is refused and logged, and the old material keeps
serving. DIR/pins.json is re-read the same way.
Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.

Options:
  --certs DIR      certificate directory (see "certs init")   [default: certs]
  --host HOST      address to listen on                       [default: 127.0.0.1]
  --port PORT      port, 0 for any free one                   [default: 8443]
  --policy NAME    strict, or demo (accepts self-signed and unknown-CA clients, with warnings)
                                                              [default: strict]
  --crl-refresh S  seconds between re-reads of DIR/ca.crl      [default: 60]
  --log-level L    debug, info, warn or error                 [default: info]
  --log-format F   pretty (terminal) or json (one object per line)
                                                              [default: pretty]
  --detailed-tls   log every TLS handshake (protocol, cipher, SNI, ALPN, the
                   client chain's subjects and fingerprints, duration)
  --health-port N  also serve unauthenticated plain-HTTP GET /healthz and
                   /metrics (Prometheus) on HOST:N, for load balancers
  -h, --help       show this help
`;

const TEXT = new TextDecoder();

/** Every flag of `serve`, in one table (add new flags here). */
const SERVE_FLAGS: OptionsConfig = {
  certs: { type: "string", default: "certs" },
  host: { type: "string", default: "127.0.0.1" },
  port: { type: "string", default: "8443" },
  policy: { type: "string", default: "strict" },
  "log-level": { type: "string", default: "info" },
  "log-format": { type: "string", default: "pretty" },
  "crl-refresh": { type: "string", default: "60" },
  "detailed-tls": { type: "boolean", default: false },
  "health-port": { type: "string" },
};

function portNumber(flag: string, value: unknown): number {
  const port = Number(value);
  if (!/^\d+$/.test(String(value)) || port > 65535) {
    throw new MtlsError("invalid_argument", `Invalid ${flag} "${value}": expected 0 to 65535`);
  }
  return port;
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const list = allowed.length === 2
      ? allowed.join(" or ")
      : `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}`;
    throw new MtlsError("invalid_argument", `Invalid ${flag} "${value}": expected ${list}`);
  }
  return value as T;
}

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
    const { values, help } = parseCommandArgs("serve", args, SERVE_FLAGS);
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    const port = portNumber("--port", values.port);
    const policy = oneOf("--policy", values.policy, ["strict", "demo"]);
    const level = oneOf<LogLevel>("--log-level", values["log-level"], [
      "debug",
      "info",
      "warn",
      "error",
    ]);
    const format = oneOf("--log-format", values["log-format"], ["pretty", "json"]);
    const healthPort = values["health-port"] === undefined
      ? undefined
      : portNumber("--health-port", values["health-port"]);
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
    const logger = createLogger({ level, format, write: (line) => io.stderr(`${line}\n`) });
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
        detailedTls: values["detailed-tls"] === true,
        ...(healthPort === undefined
          ? {}
          : { health: { hostname: String(values.host), port: healthPort } }),
        ...admission,
      });
    } catch (e) {
      dispose();
      throw e;
    }
    announce(); // after the start, so a failed start stays one line
    const unwatch = watchCertificates({
      dir,
      reloadTls: server.reloadTls,
      pins: admission.pins?.store instanceof PinStore ? admission.pins.store : undefined,
      logger,
    });
    io.stdout(`Serving MCP over mutual TLS at ${server.url}\n`);
    if (server.healthUrl) io.stdout(`Health checks (plain HTTP) at ${server.healthUrl}\n`);
    await stopped;
    io.stderr("Stopping...\n");
    unwatch();
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
  if (hasPins) {
    // Opened here, not by serveMcp, so the file watcher can reload this store.
    try {
      admission.pins = { store: await PinStore.open(pins, { logger }) };
    } catch (cause) {
      throw new ConfigError(`Option "pins.store": ${(cause as Error).message}`, {
        key: "pins.store",
        cause,
      });
    }
  }
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
