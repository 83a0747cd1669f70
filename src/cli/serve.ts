/**
 * `mcp-mtls serve`: the MCP server with the built-in demo tools over mutual TLS.
 *
 * @module
 */
import { looksLikePem } from "../cert/pem.ts";
import { MtlsError } from "../errors.ts";
import type { Logger, LogLevel } from "../log/logger.ts";
import { demoServerFactory } from "../mcp/demo_tools.ts";
import { serveMcp } from "../mcp/server.ts";
import { serveGateway } from "../gateway/serve_gateway.ts";
import type { ServeMcpOptions } from "../mcp/server_options.ts";
import { PinStore } from "../pins/pin_store.ts";
import { resolveServeConfig } from "../config/resolve_serve_config.ts";
import { splitStdioCommand } from "./serve_stdio.ts";
import { serveStdioMcp } from "../mcp/bridge_stdio_server.ts";
import { type OptionsConfig, parseCommandArgs } from "./args.ts";
import { type CliIo, denoIo } from "./io.ts";
import { runCommand } from "./run_command.ts";
import { commandArgs, envObject, exit, onSignal, type StopSignal } from "../runtime/process.ts";
import { watchCertificates, watchFileChanges } from "./serve_watch.ts";
import { isRevocationChecker } from "../tls/server/admission_options.ts";
import { checkCertsPermissions } from "./file_permissions.ts";
import { dirname } from "node:path";
import type { ServeWorker } from "../workers/serve_worker.ts";
import { serveWithWorkers } from "./serve_workers.ts";

const HELP = `Usage: mcp-mtls serve [--config FILE] [--certs DIR] [--host 127.0.0.1] [--port 8443]
                      [--policy strict|demo] [--crl-refresh SECONDS] [--log-level L]
                      [--log-format pretty|json] [--detailed-tls] [--health-port N]
                      [--child-mode per-session|shared] [-- STDIO_SERVER_COMMAND ...]
                      [--upstream URL] [--workers N] [--proxy-protocol LIST]

Serves MCP (Streamable HTTP) at https://HOST:PORT/mcp with the built-in demo
tools (whoami, echo, time), using DIR/server.crt and DIR/server.key, and
admitting only clients whose certificates chain to DIR/ca.crt.

DIR/ca.crl (written by "certs revoke") is enforced: revoked client
certificates are refused, and their open connections closed. The file is
watched, so a revocation takes effect within about a second without a
restart, even when the file did not exist at start (until it exists, nothing
is revoked); it is also re-read every --crl-refresh seconds. A CRL that does
not parse or verify is refused and logged, and the last good one stays in
force. CRL files named in the config are watched the same way, but one that
is missing refuses every client (revocation_unknown).

When DIR/pins.json exists, clients must match the pins of their identity
(SPIFFE ID, else cn:NAME); identities without pins are refused.

Hot reload: when DIR/server.crt, DIR/server.key or DIR/ca.crt change (or on
SIGHUP) they are validated and served to new connections without a restart;
open sessions continue. Material that does not parse, or a key that does not
match the certificate, is refused and logged, and the old material keeps
serving. DIR/pins.json is re-read the same way.
Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.

With "-- COMMAND ARGS...", serves that stdio MCP server instead of the demo
tools: one child process per session (or one shared child with --child-mode
shared). The child learns the verified caller from
params._meta["io.github.mcp-mtls/identity"] on each request and, per session,
from MCP_MTLS_PEER_* environment variables; authorization rules apply to it.

With "--upstream URL", proxies to that Streamable HTTP MCP server (any
language) instead: callers are admitted as above, each upstream session is
bound to the certificate that opened it, authorization rules filter tools,
resources and prompts, and the upstream learns the caller from the same
_meta key and from the Client-Cert, Client-Cert-Chain (RFC 9440) and
Mcp-Mtls-Identity headers (client copies are removed). The upstream must
accept those only from the gateway (loopback, or mutual TLS with it).

With an "auth" block in the config (or MCP_MTLS_AUTH_* variables), every
request must also carry an OAuth bearer token bound to its client certificate
(RFC 8705): the same three modes check it, answer 401/403 with a
WWW-Authenticate header, and serve the RFC 9728 metadata at
/.well-known/oauth-protected-resource to admitted clients.

Options given on the command line win over MCP_MTLS_* environment variables,
which win over the config file (see examples/mcp-mtls.yaml).

Options:
  --config FILE    YAML or JSON config file (same keys as serveMcp's options)
  --certs DIR      certificate directory (see "certs init")   [default: certs]
  --host HOST      address to listen on                       [default: 127.0.0.1]
  --port PORT      port, 0 for any free one                   [default: 8443]
  --policy NAME    strict, or demo (accepts self-signed and unknown-CA clients, with warnings)
                                                              [default: strict]
  --crl-refresh S  seconds between re-reads of DIR/ca.crl, besides the file
                   watch                                      [default: 60]
  --log-level L    debug, info, warn or error                 [default: info]
  --log-format F   pretty (terminal) or json (one object per line)
                                                              [default: pretty]
  --detailed-tls   log every TLS handshake (protocol, cipher, SNI, ALPN, the
                   client chain's subjects and fingerprints, duration)
  --health-port N  also serve unauthenticated plain-HTTP GET /healthz and
                   /metrics (Prometheus) on HOST:N, for load balancers
  --child-mode M   per-session (default) or shared, with "-- COMMAND"
  --upstream URL   proxy to this Streamable HTTP MCP server instead (the
                   gateway): https://..., or http:// on loopback; config key
                   "upstream" holds its ca, cert, key, pins and timeouts
  --workers N      N event loops (threads) accepting on the same port: a
                   session continues whichever one a connection lands on,
                   session and connection limits hold across them
                                                              [default: 1]
  --proxy-protocol LIST  behind a TCP load balancer: connections from these
                   addresses/CIDRs (comma-separated) must start with a PROXY
                   v1/v2 header, whose client address is then used for
                   limits and logs; a header from anyone else is refused
  -h, --help       show this help
`;

/** Every flag of `serve`, in one table (add new flags here). */
const SERVE_FLAGS: OptionsConfig = {
  config: { type: "string" },
  certs: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  policy: { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  "crl-refresh": { type: "string" },
  "detailed-tls": { type: "boolean" },
  "child-mode": { type: "string" },
  "health-port": { type: "string" },
  upstream: { type: "string" },
  workers: { type: "string" },
  "proxy-protocol": { type: "string" },
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
  return runServe(args, io, options, undefined);
}

/**
 * `serve` as one worker thread of `serve --workers N` runs it
 * (src/workers/worker_main.ts): the primary's orders instead of signals.
 * Not part of the public API.
 *
 * @example
 * ```ts ignore
 * const code = await serveAsWorker(start.args, io, createServeWorker(link, start));
 * ```
 */
export function serveAsWorker(args: string[], io: CliIo, worker: ServeWorker): Promise<number> {
  return runServe(args, io, {}, worker);
}

function runServe(
  args: string[],
  io: CliIo,
  options: ServeCommandOptions,
  worker: ServeWorker | undefined,
): Promise<number> {
  return runCommand(io, async () => {
    const { args: own, command } = splitStdioCommand(args);
    const { values, help } = parseCommandArgs("serve", own, SERVE_FLAGS);
    if (help) {
      io.stdout(HELP);
      return 0;
    }
    // Only flags actually given override the config file and MCP_MTLS_* variables.
    const cliOverrides: Record<string, unknown> = {};
    if (values.host !== undefined) cliOverrides.hostname = String(values.host);
    if (values.port !== undefined) cliOverrides.port = portNumber("--port", values.port);
    if (values.policy !== undefined) {
      cliOverrides.policy = oneOf("--policy", values.policy, ["strict", "demo"]);
    }
    if (values.certs !== undefined) cliOverrides.certs = String(values.certs);
    const log: Record<string, string> = {};
    if (values["log-level"] !== undefined) {
      log.level = oneOf<LogLevel>("--log-level", values["log-level"], [
        "debug",
        "info",
        "warn",
        "error",
      ]);
    }
    if (values["log-format"] !== undefined) {
      log.format = oneOf("--log-format", values["log-format"], ["pretty", "json"]);
    }
    if (Object.keys(log).length > 0) cliOverrides.log = log;
    if (values["detailed-tls"] === true) cliOverrides.detailedTls = true;
    if (values["proxy-protocol"] !== undefined) {
      const trusted = String(values["proxy-protocol"]).split(",").map((a) => a.trim());
      cliOverrides.proxyProtocol = { trusted: trusted.filter((a) => a !== "") };
    }
    if (values["health-port"] !== undefined) {
      cliOverrides.health = {
        port: portNumber("--health-port", values["health-port"]),
        ...(values.host === undefined ? {} : { hostname: String(values.host) }),
      };
    }
    if (values["child-mode"] !== undefined && !command) {
      throw new MtlsError(
        "invalid_argument",
        'Option "--child-mode" needs a stdio server command after "--"',
      );
    }
    if (values.workers !== undefined) {
      const n = Number(values.workers);
      if (!/^\d+$/.test(String(values.workers)) || n < 1 || n > 64) {
        throw new MtlsError(
          "invalid_argument",
          `Invalid --workers "${values.workers}": expected 1 to 64`,
        );
      }
      cliOverrides.workers = n;
    }
    if (values.upstream !== undefined) {
      if (command) {
        throw new MtlsError(
          "invalid_argument",
          'Option "--upstream" cannot be used with a stdio server command after "--"',
        );
      }
      cliOverrides.upstream = { url: String(values.upstream) };
    }
    if (command) {
      cliOverrides.stdio = {
        command,
        ...(values["child-mode"] === undefined ? {} : {
          mode: oneOf("--child-mode", values["child-mode"], ["per-session", "shared"]),
        }),
      };
    }
    let refresh: number | undefined;
    if (values["crl-refresh"] !== undefined) {
      refresh = Number(values["crl-refresh"]);
      if (!/^\d+(\.\d+)?$/.test(String(values["crl-refresh"])) || refresh <= 0) {
        throw new MtlsError(
          "invalid_argument",
          `Invalid --crl-refresh "${values["crl-refresh"]}": expected a positive number of seconds`,
        );
      }
    }
    const { config, options: serveOptions, logger, stdio, upstream } = await resolveServeConfig({
      configFile: values.config === undefined ? undefined : String(values.config),
      env: envObject(),
      cliOverrides,
      ...(refresh === undefined ? {} : { certsCrlRefreshMs: Math.round(refresh * 1000) }),
      logWrite: (line) => io.stderr(`${line}\n`),
    });
    const dir = config.certs; // undefined when the config names tls.cert/key/pfx itself
    watchCrlFiles(serveOptions, logger);
    if (!worker) await warnAboutPermissions(dir, config.tls?.ca, logger);
    if (!worker && config.workers > 1) {
      return await serveWithWorkers({
        args,
        count: config.workers,
        options: serveOptions,
        logger,
        io,
        stop: waitForStop(options.signal),
        announce: () => announceEnforced(serveOptions, logger),
      });
    }
    worker?.join(serveOptions, logger);
    // Listen for signals before announcing the URL, so a stop right after it is not lost.
    const { stopped, dispose } = worker
      ? { stopped: worker.stopped, dispose: () => {} }
      : waitForStop(options.signal);
    let server;
    try {
      // The same loop serves the demo tools or a stdio MCP server (serve -- CMD).
      server = stdio
        ? await serveStdioMcp(stdio.command, { ...serveOptions, child: { mode: stdio.mode } })
        : upstream
        ? await serveGateway(upstream, serveOptions)
        : await serveMcp(demoServerFactory, serveOptions);
    } catch (e) {
      dispose();
      throw e;
    }
    // After the start, so a failed start stays one line; the primary says it once for all workers.
    if (!worker) announceEnforced(serveOptions, logger);
    const pins = serveOptions.pins?.store;
    const unwatch = dir === undefined ? () => {} : watchCertificates({
      dir,
      reloadTls: server.reloadTls,
      pins: pins instanceof PinStore ? pins : undefined,
      logger,
      ...(worker ? { onHangup: worker.onHangup } : {}),
    });
    if (worker) worker.ready(server);
    else {
      io.stdout(`Serving MCP over mutual TLS at ${server.url}\n`);
      if (server.healthUrl) io.stdout(`Health checks (plain HTTP) at ${server.healthUrl}\n`);
    }
    await stopped;
    if (!worker) io.stderr("Stopping...\n");
    unwatch();
    await server.close();
    await worker?.done();
    return 0;
  });
}

/**
 * Warns, once per finding at start, when other local users could change what
 * the server trusts (a writable certificate folder or trust file) or read its
 * keys. A warning, not a refusal: shared CI folders and containers often run
 * with loose modes, and refusing would push people to turn checks off.
 */
async function warnAboutPermissions(
  dir: string | undefined,
  ca: readonly string[] | string | undefined,
  logger: Logger,
): Promise<void> {
  const caFiles = (typeof ca === "string" ? [ca] : ca ?? []).filter((c) => !looksLikePem(c));
  const findings = dir === undefined
    ? (await Promise.all(caFiles.map((f) => checkCertsPermissions(dirname(f), [f])))).flat()
    : await checkCertsPermissions(dir, caFiles);
  for (const f of findings) {
    logger.warn(
      `"${f.path}" is ${f.problem}: another local user could change whom this server trusts or read its keys`,
      {
        path: f.path,
        mode: `0${f.mode.toString(8)}`,
        fix: f.fix,
      },
    );
  }
}

/**
 * Has the revocation checker watch its CRL files (DIR/ca.crl, or files the
 * config names), so `certs revoke` takes effect at once, not at the next
 * refresh: the checker reloads the file and the server re-checks its open
 * connections. The watchers stop with the server (the checker's `close()`).
 */
function watchCrlFiles(o: ServeMcpOptions, logger: Logger): void {
  const r = o.revocation;
  if (r === undefined || isRevocationChecker(r) || !r.crls?.length || r.watchFile) return;
  o.revocation = {
    ...r,
    watchFile: (path, onChange) => watchFileChanges(path, onChange, { logger }),
  };
}

/** Says which revocation and pin checks are enforced (`certs`: DIR/ca.crl, DIR/pins.json). */
function announceEnforced(o: ServeMcpOptions, logger: Logger): void {
  const r = o.revocation;
  const crls = r !== undefined && "crls" in r ? r.crls : undefined;
  if (crls?.length) {
    const refreshSeconds = "refreshInterval" in r! ? (r.refreshInterval ?? 60_000) / 1000 : 60;
    const watched = "watchFile" in r! && r.watchFile !== undefined;
    logger.info("enforcing the CRL", { crls, refreshSeconds, watched });
  } else if (r !== undefined) logger.info("enforcing revocation checks");
  else {
    logger.info("no CRL: client certificates are not checked for revocation", {
      hint:
        `"serve --certs DIR" enforces DIR/ca.crl (see "certs revoke"), or name one in revocation.crls`,
    });
  }
  if (o.pins) {
    const store = o.pins.store;
    logger.info("enforcing client pins", {
      pins: store instanceof PinStore ? store.path : "allowlist",
    });
  }
}

function waitForStop(signal: AbortSignal | undefined): { stopped: Promise<void>; dispose(): void } {
  const signals: StopSignal[] = ["SIGINT", "SIGTERM"];
  const offs: (() => void)[] = [];
  let resolve!: () => void;
  const stopped = new Promise<void>((r) => (resolve = r));
  const dispose = () => {
    for (const off of offs.splice(0)) off();
    signal?.removeEventListener("abort", stop);
  };
  const stop = () => {
    dispose();
    resolve();
  };
  for (const s of signals) offs.push(onSignal(s, stop));
  if (signal?.aborted) stop();
  else signal?.addEventListener("abort", stop, { once: true });
  return { stopped, dispose };
}

if (import.meta.main) exit(await serve(commandArgs()));
