/**
 * The listening socket of a listener with PROXY protocol: a plain TCP server
 * whose connections go through the PROXY step (proxy_accept.ts) and are then
 * handed to the TLS server, which does not listen itself.
 *
 * @module
 */

import net from "node:net";
import type tls from "node:tls";
import type { Logger } from "../../log/logger.ts";
import type { ConnectionTable } from "./connection.ts";
import type { ConnectionObserver } from "./observe.ts";
import { createProxyFront, type ProxyProtocolOptions } from "./proxy_accept.ts";

/**
 * What {@link proxyProtocolListener} needs from the listener.
 *
 * @example
 * ```ts ignore
 * const server = proxyProtocolListener({ options, logger, observe, connections, tls: both.tls });
 * ```
 */
export interface ProxyListenerParts {
  /** The listener's options: `proxyProtocol`, `handshakeTimeoutMs`, `maxConnections`. */
  options: {
    proxyProtocol?: ProxyProtocolOptions | false;
    handshakeTimeoutMs: number;
    maxConnections: number;
  };
  /** Logger. */
  logger: Logger;
  /** Logs and counts refusals. */
  observe: ConnectionObserver;
  /** The connections' records (a refused one is marked so its handshake is not logged again). */
  connections: ConnectionTable;
  /** The TLS server connections are handed to. */
  tls: tls.Server;
}

/**
 * A TCP server that reads PROXY headers before handing connections to
 * `parts.tls`, or `undefined` when `proxyProtocol` is off. Closing it closes
 * the connections still waiting for their header.
 *
 * @throws {ConfigError} `invalid_config` for a bad `proxyProtocol` option
 *
 * @example
 * ```ts ignore
 * const listening = proxyProtocolListener(parts) ?? both.listener;
 * listening.listen(8443, "127.0.0.1");
 * ```
 */
export function proxyProtocolListener(parts: ProxyListenerParts): net.Server | undefined {
  const { options, connections } = parts;
  if (!options.proxyProtocol) return undefined;
  const front = createProxyFront({
    options: options.proxyProtocol,
    headerTimeoutMs: options.handshakeTimeoutMs,
    maxConnections: options.maxConnections,
    logger: parts.logger,
    refuse: parts.observe.refused,
    refused(s) {
      const c = connections.of(s as unknown as net.Socket);
      if (c) c.gated = true;
    },
    // The TLS server's "connection" listeners (its own, then the accept gate's) take it from here.
    handOff: (s) => void parts.tls.emit("connection", s),
  });
  const server = net.createServer(front.accept);
  server.once("close", () => front.close());
  // Deno's node:http (ported from recent Node.js) destroys a keep-alive connection after each
  // response when its server is not `listening` (measured on Deno 2.9.6, and read in its
  // _http_server.js resOnFinish); the TLS+HTTP server does not listen here, this one does.
  Object.defineProperty(parts.tls, "listening", {
    get: () => server.listening,
    configurable: true,
  });
  return server;
}
