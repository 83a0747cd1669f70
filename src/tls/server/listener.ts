/**
 * The TLS listener of the mTLS server: `node:https` with client certificates
 * requested, verified by the compiled policy as soon as the handshake
 * completes, plus the connection limits.
 *
 * Why `rejectUnauthorized: false`: measured on Deno 2.9.6, a strict
 * `node:tls` server refuses bad certificates with a bare "socket hang up"
 * (no reason) and accepts a trusted CA certificate presented as a client
 * certificate. Verifying ourselves gives the exact reason for the log; the
 * socket is destroyed before any HTTP byte is read.
 *
 * @module
 */

import type { Certificate } from "../../cert/certificate.ts";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "node:net";
import { createTlsHttpServer } from "../../runtime/tls_http_server.ts";
import type { Logger } from "../../log/logger.ts";
import type { ServerMetrics } from "../../log/metrics.ts";
import type { PeerIdentity } from "../../policy/identity.ts";
import type { CompiledPolicy } from "../../policy/policy.ts";
import type { Refusal } from "../../policy/verify_chain.ts";
import type { PeerState } from "./admit.ts";
import { createAccepting } from "./accepting.ts";
import { ConnectionTable } from "./connection.ts";
import { createHandshakeSteps } from "./handshake.ts";
import { createConnectionHolders } from "./holders.ts";
import { createConnectionObserver } from "./observe.ts";
import type { ResolvedTlsServerOptions } from "./options.ts";
import { handleRequests } from "./requests.ts";
import { sharedGatesOf } from "./shared_gates.ts";
import { createTrust } from "./trust.ts";
import type { ProxyProtocolOptions } from "./proxy_accept.ts";
import { proxyProtocolListener } from "./proxy_listener.ts";

export type { PeerState } from "./admit.ts";

/**
 * Options of {@link listenMtls}.
 *
 * @example
 * ```ts ignore
 * const listener = await listenMtls({ hostname: "127.0.0.1", port: 0, tls, policy, ... });
 * ```
 */
export interface ListenMtlsOptions {
  /** Address to bind. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Validated TLS settings. */
  tls: ResolvedTlsServerOptions;
  /** Compiled verification policy. */
  policy: CompiledPolicy;
  /** Drop a connection whose handshake has not completed after this many ms. */
  handshakeTimeoutMs: number;
  /** Most concurrent connections; extra ones are closed with reason `rate_limited`. */
  maxConnections: number;
  /** Most concurrent connections from one address; extra ones are closed with reason `rate_limited`. @default {maxConnections} */
  maxConnectionsPerAddress?: number;
  /**
   * Connections per client address per window that cost TLS work without
   * being admitted with a trusted certificate: they sent a byte, then failed,
   * were refused, or were admitted anonymously. Connections still in their
   * handshake count while they last. Beyond it, new connections from the
   * address are closed at TCP accept, before any TLS work, with reason
   * `rate_limited` (an older one that has sent nothing is closed instead, to
   * make room). `false` turns it off. @default {false}
   */
  connectionsPerAddress?: { limit: number; windowMs: number } | false;
  /**
   * New connections admitted with a trusted certificate, per certificate
   * (SHA-256 fingerprint) per window; extra ones are closed after the
   * handshake with reason `rate_limited`. They do not spend the address's
   * budget. `false` turns it off. @default {connectionsPerAddress}
   */
  connectionsPerIdentity?: { limit: number; windowMs: number } | false;
  /**
   * Steps after the chain policy (pins, revocation), from
   * `createServerAdmission`. HTTP requests of a connection wait for its
   * verdict; a refused connection is closed before any request is handled.
   * @default {no further steps}
   */
  admission?: {
    /** A refusal, `undefined` to admit, or a promise of either. */
    check(ctx: {
      peer: string;
      identity: PeerIdentity;
      chain: readonly Certificate[];
    }): Refusal | undefined | Promise<Refusal | undefined>;
    /** Tells the listener when the steps' answers may have changed (a new CRL). */
    onChange?(listener: () => void): void;
  };
  /**
   * Close an admitted connection that has no request in progress for this
   * many ms (before its first request and between keep-alive requests). Also
   * the HTTP server's `keepAliveTimeout`, which Deno's `node:http` enforces
   * (5 s by default) and advertises in the `Keep-Alive` response header.
   */
  idleTimeoutMs: number;
  /**
   * A request's headers must have arrived this many ms after its first byte;
   * else it is answered 408 and the connection closed (`request_timeout`).
   * @default {10000}
   */
  headersTimeoutMs?: number;
  /**
   * A request, headers and body, must have arrived this many ms after its
   * first byte; else 408 and closed (`request_timeout`). The response is not
   * bounded: a long tool call or an SSE stream runs as long as it needs.
   * @default {30000}
   */
  requestTimeoutMs?: number;
  /** Logger. */
  logger: Logger;
  /** Counters of handshakes and open connections. @default {none} */
  metrics?: ServerMetrics;
  /** Log every completed handshake at info (protocol, cipher, SNI, ALPN, peer chain, duration). @default {false} */
  detailedTls?: boolean;
  /**
   * Largest request body `onRequest` accepts, in bytes. A request that declares
   * a bigger one and asks `Expect: 100-continue` is not told to continue, so its
   * body is never sent and the refusal reaches the client intact.
   * @default {Infinity}
   */
  maxBodyBytes?: number;
  /**
   * Share the port with other listeners that set it too (Linux
   * `SO_REUSEPORT`: the kernel spreads new connections over them), for
   * `serve --workers N`. @default {false}
   */
  reusePort?: boolean;
  /**
   * PROXY protocol (v1 and v2) from load balancers: connections from the
   * `trusted` addresses must start with a header, whose client address then
   * stands for the connection everywhere (limits, logs, identity); a header
   * from any other address is refused (`proxy_protocol_untrusted`), a bad one
   * with `proxy_protocol_invalid`. The header must arrive within
   * `handshakeTimeoutMs`. @default {false}
   */
  proxyProtocol?: ProxyProtocolOptions | false;
  /** Handles one HTTP request from an admitted connection. */
  onRequest(req: IncomingMessage, res: ServerResponse, state: PeerState): void;
}

/**
 * A running listener.
 *
 * @example
 * ```ts ignore
 * console.log(listener.address.port);
 * await listener.close();
 * ```
 */
export interface MtlsListener {
  /** Bound address. */
  readonly address: { hostname: string; port: number };
  /**
   * Serves new connections with new TLS material and verifies client chains
   * with a new policy; established connections keep theirs. The caller
   * validates the material first: `node:tls` accepts garbage here and then
   * fails every handshake.
   */
  update(tls: ResolvedTlsServerOptions, policy: CompiledPolicy): void;
  /** Stops accepting, closes every open connection and resolves when the server is closed. */
  close(): Promise<void>;
}

/** Listens on `hostname:port`; resolves the bound port (the real one when `port` is 0). */
async function listen(
  server: Server,
  port: number,
  hostname: string,
  reusePort: boolean,
): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: hostname, reusePort }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  return typeof addr === "object" && addr ? addr.port : port;
}

/**
 * Starts the TLS listener. Every refused connection is logged once, at
 * `warn`, as `connection refused` with `peer`, `reason` and `detail`.
 *
 * Each connection goes through the steps in order: accept (accepting.ts:
 * connection limits and the address's budget), handshake and admission
 * (handshake.ts), its requests (requests.ts); trust.ts admits open
 * connections again when trust changes. Each connection's state is one
 * record (connection.ts).
 *
 * @example Starting and stopping
 * ```ts ignore
 * import { listenMtls } from "@mtls/mcp/tls";
 * const l = await listenMtls(options);
 * await l.close();
 * ```
 */
export async function listenMtls(options: ListenMtlsOptions): Promise<MtlsListener> {
  const { logger, admission } = options;
  const observe = createConnectionObserver({
    logger,
    metrics: options.metrics,
    detailedTls: options.detailedTls,
  });
  const connections = new ConnectionTable();
  const holders = createConnectionHolders();

  // One https.Server on Deno and Node.js, a tls.Server feeding an http.Server on
  // Bun (src/runtime/tls_http_server.ts says why). Requests of a connection whose
  // verdict is pending wait in the "request" handler.
  const both = createTlsHttpServer({
    ...options.tls.nodeOptions,
    handshakeTimeout: options.handshakeTimeoutMs,
  });
  // Our idle timer closes idle connections; without this the runtime's own 5 s
  // keep-alive timeout would close them first, whatever idleTimeoutMs says.
  both.http.keepAliveTimeout = options.idleTimeoutMs;
  // With PROXY protocol a plain TCP server listens and hands connections on after the header.
  const listening =
    proxyProtocolListener({ options, logger, observe, connections, tls: both.tls }) ??
      both.listener;

  const trust = createTrust({
    tls: options.tls,
    policy: options.policy,
    admission,
    logger,
    refuse: observe.refused,
    connections,
    setSecureContext: (context) => both.tls.setSecureContext(context),
  });
  // Limits counted with other listeners (`serve --workers N`), or here.
  const shared = sharedGatesOf(options);
  const accepting = createAccepting({ options, logger, observe, holders, connections, shared });
  const handshakes = createHandshakeSteps({
    options,
    logger,
    observe,
    holders,
    connections,
    admit: trust.admit,
    serveHttp: both.serveHttp,
    shared,
  });
  both.tls.on("connection", accepting.accept);
  both.tls.on("tlsClientError", handshakes.failed);
  both.tls.on("secureConnection", handshakes.completed);
  handleRequests(both.http, connections, options);

  const port = await listen(
    listening,
    options.port,
    options.hostname,
    options.reusePort ?? false,
  );
  admission?.onChange?.(() => trust.recheck("After a CRL update"));

  let closing: Promise<void> | undefined;
  return {
    address: { hostname: options.hostname, port },
    update: trust.update,
    close() {
      closing ??= new Promise<void>((resolve) => {
        accepting.close();
        handshakes.close();
        listening.close(() => resolve());
        connections.destroyAll();
        both.http.closeAllConnections?.();
      });
      return closing;
    },
  };
}
