/**
 * `serveStdioMcp`: puts mutual TLS in front of a stdio MCP server. Each
 * Streamable HTTP session gets its own child process running `command` (or,
 * with `child.mode: "shared"`, all sessions share one); the child learns the caller's certificate identity from its environment and
 * from `_meta` on each request (see `bridge_identity.ts`), sees only the
 * requests the authorization rules allow, and a crash of it closes only its
 * session.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { createLogger } from "../log/logger.ts";
import { identityLabel } from "../policy/identity.ts";
import { assertRunnable, spawnStdioChild, type StdioChild } from "./bridge_child.ts";
import { identityEnv } from "./bridge_identity.ts";
import { createSharedChild } from "./bridge_shared.ts";
import {
  type ChildLink,
  createBridgeSession,
  type McpConnectable,
  STDIO_BRIDGE,
} from "./bridge_session.ts";
import { serveMcp } from "./server.ts";
import type { ObservableMcpServer } from "./server_types.ts";
import type { McpServerFactory, ServeMcpOptions, SessionContext } from "./server_options.ts";

/**
 * How the stdio server is run.
 *
 * @example
 * ```ts
 * import type { StdioChildSettings } from "./bridge_stdio_server.ts";
 * const s: StdioChildSettings = { env: { LOG_LEVEL: "debug" }, closeTimeoutMs: 500 };
 * ```
 */
export interface StdioChildSettings {
  /**
   * `"per-session"`: every session gets its own child, which also learns the
   * caller from `MCP_MTLS_PEER_*` environment variables. `"shared"`: one child
   * serves every session (ids rewritten, initialized once; identity in `_meta`
   * only; see `bridge_shared.ts`). With `sessions: "stateless"`, per-session
   * starts a child for every request: use `"shared"` there. @default {"per-session"}
   */
  mode?: "per-session" | "shared";
  /** Extra environment variables for the child. @default {{}} */
  env?: Record<string, string>;
  /** Pass the server's environment on, minus every `MCP_MTLS_*` variable. @default {true} */
  inheritEnv?: boolean;
  /** Working directory of the child. @default {the server's} */
  cwd?: string;
  /** After its stdin is closed, how long a child gets before SIGTERM, then SIGKILL, in ms. @default {2000} */
  closeTimeoutMs?: number;
}

/**
 * Options of {@link serveStdioMcp}: those of `serveMcp` plus how the child runs.
 *
 * @example
 * ```ts ignore
 * const options: ServeStdioOptions = { tls: { cert, key, ca }, port: 8443, child: { closeTimeoutMs: 500 } };
 * ```
 */
export interface ServeStdioOptions extends ServeMcpOptions {
  /** How the stdio server is run. @default {{}} */
  child?: StdioChildSettings;
}

/**
 * The session factory for `serveMcp` plus the children it started.
 *
 * @example
 * ```ts ignore
 * const bridge = createStdioBridge(["node", "server.js"], { logger });
 * const server = await serveMcp(bridge.factory, options);
 * ```
 */
export interface StdioBridge {
  /** Give this to `serveMcp`: one bridged session, with its own child, per call. */
  readonly factory: McpServerFactory;
  /** Number of child processes running now. */
  readonly childCount: number;
  /** Stops every child still running. */
  close(): Promise<void>;
}

/**
 * Creates the bridge: checks `command` can be run (a `ConfigError` otherwise)
 * and returns a `serveMcp` factory that spawns one child per session, or
 * shares one among all sessions with `mode: "shared"`.
 *
 * @example Fronting a stdio server with serveMcp yourself
 * ```ts ignore
 * import { createStdioBridge, serveMcp } from "@mtls/mcp/mcp";
 * const bridge = createStdioBridge(["npx", "-y", "@modelcontextprotocol/server-everything"], { logger });
 * const server = await serveMcp(bridge.factory, { tls: { cert, key, ca }, logger });
 * // ... later
 * await server.close();
 * await bridge.close();
 * ```
 */
export function createStdioBridge(
  command: string[],
  options: StdioChildSettings & { logger?: Logger } = {},
): StdioBridge {
  assertRunnable(command);
  const { logger = createLogger(), mode = "per-session", ...settings } = options;
  if (mode !== "per-session" && mode !== "shared") {
    throw new ConfigError(
      `Option "child.mode" must be "per-session" or "shared", got "${mode}"`,
      { key: "child.mode" },
    );
  }
  const children = new Set<StdioChild>();
  let sessions = 0;
  const shared = mode === "shared"
    ? createSharedChild(() => {
      const child = spawnStdioChild(command, {
        ...settings,
        logger,
        logFields: { child: "shared" },
      });
      children.add(child);
      child.exited.then(() => children.delete(child));
      logger.debug("shared stdio server started", { pid: child.pid });
      return child;
    }, logger)
    : undefined;

  function openLink(context: SessionContext): ChildLink {
    const n = ++sessions;
    const child = spawnStdioChild(command, {
      ...settings,
      env: { ...settings.env, ...identityEnv(context.identity) },
      logger,
      logFields: { child: n },
    });
    children.add(child);
    logger.debug("stdio server started", {
      child: n,
      pid: child.pid,
      client: context.identity ? identityLabel(context.identity) : "anonymous",
    });
    let closing = false;
    const link: ChildLink = {
      send: (message) => child.send(message),
      close: async () => {
        closing = true;
        await child.close();
      },
    };
    child.onmessage = (message) => link.onmessage?.(message);
    child.exited.then((exit) => {
      children.delete(child);
      if (!closing) link.onexit?.(exit);
      else logger.debug("stdio server stopped", { child: n, code: exit.code });
    });
    return link;
  }

  const factory = (context: SessionContext): McpConnectable =>
    createBridgeSession(context, () => shared?.openLink() ?? openLink(context), { logger });
  Object.defineProperty(factory, STDIO_BRIDGE, { value: true });
  return {
    // serveMcp only calls connect() and close() on what the factory returns.
    factory: factory as unknown as McpServerFactory,
    get childCount() {
      return children.size;
    },
    async close() {
      await shared?.close();
      await Promise.allSettled([...children].map((c) => c.close()));
    },
  };
}

/**
 * Serves the stdio MCP server `command` (program and arguments) over MCP
 * Streamable HTTP with mutual TLS, one child process per session (or one
 * shared child with `child.mode: "shared"`). Closing the returned server also
 * stops every child.
 *
 * The child sees the caller's verified identity in
 * `params._meta["io.github.mcp-mtls/identity"]` of each request and, when it
 * serves one session, in `MCP_MTLS_PEER_*` environment variables; its stderr
 * goes to `logger` at debug level, never to the client. If it exits, the
 * requests it left unanswered get a JSON-RPC error, the exit code or signal
 * is logged, its sessions are closed, and the server keeps serving: the next
 * session gets a fresh child.
 *
 * @example Serving an SDK stdio server over mTLS
 * ```ts ignore
 * import { serveStdioMcp } from "@mtls/mcp/mcp";
 * const server = await serveStdioMcp(
 *   [Deno.execPath(), "run", "examples/stdio_server.ts"],
 *   { tls: { cert, key, ca }, port: 8443 },
 * );
 * console.log(server.url);
 * ```
 */
export async function serveStdioMcp(
  command: string[],
  options: ServeStdioOptions,
): Promise<ObservableMcpServer> {
  const { child, ...serveOptions } = options;
  const logger = serveOptions.logger ?? createLogger();
  const bridge = createStdioBridge(command, { ...child, logger });
  let server: ObservableMcpServer;
  try {
    server = await serveMcp(bridge.factory, { ...serveOptions, logger });
  } catch (e) {
    await bridge.close(); // a refused start leaves no child behind
    throw e;
  }
  logger.info("bridging to a stdio MCP server", { command: command.join(" ") });
  let closing: Promise<void> | undefined;
  // Everything but close() is the underlying server's, so metrics and hot
  // reload work the same in front of a stdio child as for an in-process server.
  return {
    address: server.address,
    url: server.url,
    healthUrl: server.healthUrl,
    get sessionCount() {
      return server.sessionCount;
    },
    metrics: () => server.metrics(),
    reloadTls: (material) => server.reloadTls(material),
    close() {
      closing ??= (async () => {
        await server.close();
        await bridge.close();
      })();
      return closing;
    },
  };
}
