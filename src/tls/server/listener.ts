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

import type { X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { createTlsHttpServer } from "../../runtime/tls_http_server.ts";
import type { Logger } from "../../log/logger.ts";
import type { ServerMetrics } from "../../log/metrics.ts";
import type { PeerIdentity } from "../../policy/identity.ts";
import type { CompiledPolicy } from "../../policy/policy.ts";
import type { Refusal } from "../../policy/verify_chain.ts";
import { classifyHandshakeError } from "./handshake_errors.ts";
import { type AcceptTicket, createAcceptGate } from "./accept.ts";
import { type CertificateKey, createIdentityGate, presentedKey } from "./identity_gate.ts";
import { type ConnectionClock, watchConnection } from "./timeouts.ts";
import type { ReasonCode } from "../../errors.ts";
import { coalesceWrites } from "./coalesce_writes.ts";
import { compileAdmit, type PeerState, presentedIntermediates } from "./admit.ts";
import { createConnectionObserver } from "./observe.ts";
import { createConnectionHolders } from "./holders.ts";
import type { ResolvedTlsServerOptions } from "./options.ts";

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
      chain: readonly X509Certificate[];
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

/**
 * The socket the server's "connection" event saw for a TLS socket: Deno and
 * Node.js wrap it (`_parent`), Bun emits the TLS socket itself (measured on
 * Bun 1.4.4), so the maps keyed by it (peer, accept ticket) find it on all three.
 */
function connectionOf(s: TLSSocket | undefined): Socket | undefined {
  return (s as unknown as { _parent?: Socket } | undefined)?._parent ?? s;
}

function peerOf(socket: Socket | undefined): string {
  if (!socket?.remoteAddress) return "unknown";
  const host = socket.remoteAddress.includes(":")
    ? `[${socket.remoteAddress}]`
    : socket.remoteAddress;
  return `${host}:${socket.remotePort}`;
}

/**
 * Starts the TLS listener. Every refused connection is logged once, at
 * `warn`, as `connection refused` with `peer`, `reason` and `detail`.
 *
 * @example Starting and stopping
 * ```ts ignore
 * import { listenMtls } from "@mtls/mcp/tls";
 * const l = await listenMtls(options);
 * await l.close();
 * ```
 */
export async function listenMtls(options: ListenMtlsOptions): Promise<MtlsListener> {
  const { logger, maxConnections, onRequest, admission } = options;
  const observe = createConnectionObserver({
    logger,
    metrics: options.metrics,
    detailedTls: options.detailedTls,
  });
  // The gates log once per window per key; the counter counts each refusal.
  const onRefused = () => observe.counted("rate_limited");
  const holders = createConnectionHolders();
  const gate = createAcceptGate({
    rate: options.connectionsPerAddress ?? false,
    maxConnections,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? maxConnections,
    onRefused,
    evictIdle() {
      const closed = holders.evictIdle();
      if (closed) {
        logger.info("idle connection closed to make room", {
          peer: closed.peer,
          holder: closed.holder,
          held: closed.held,
          detail: `More than ${maxConnections} concurrent connections: the holder of the most ` +
            `connections gives an idle one way`,
        });
      }
      return closed !== undefined;
    },
  }, logger);
  const identities = createIdentityGate({
    rate: options.connectionsPerIdentity ?? options.connectionsPerAddress ?? false,
    onRefused,
  }, logger);
  const tickets = new WeakMap<Socket, AcceptTicket>();
  const states = new WeakMap<object, PeerState>();
  const raw = new Set<Socket>();
  const secure = new Set<TLSSocket>();
  const peers = new WeakMap<object, string>();
  /** TCP sockets the accept gate refused; node:tls still reports their aborted handshake. */
  const gated = new WeakSet<Socket>();
  const clocks = new WeakMap<object, ConnectionClock>();
  /** Connections whose admission verdict (revocation) is still being fetched. */
  const pending = new WeakMap<object, Promise<PeerState | undefined>>();
  const refuse = observe.refused;
  let admit = compileAdmit({ tls: options.tls, policy: options.policy, admission, logger, refuse });

  // One https.Server on Deno and Node.js, a tls.Server feeding an http.Server on
  // Bun (src/runtime/tls_http_server.ts says why). Requests of a connection whose
  // verdict is pending wait in the "request" handler.
  const both = createTlsHttpServer({
    ...options.tls.nodeOptions,
    handshakeTimeout: options.handshakeTimeoutMs,
  });
  const server = both.tls;
  const web = both.http;
  // Our idle timer closes idle connections; without this the runtime's own 5 s
  // keep-alive timeout would close them first, whatever idleTimeoutMs says.
  web.keepAliveTimeout = options.idleTimeoutMs;

  server.on("connection", (socket: Socket) => {
    const peer = peerOf(socket);
    const close = () => {
      gated.add(socket);
      socket.destroy();
    };
    // bytesRead counts what the TLS layer read; the TCP socket emits no "data" of its own.
    const ticket = gate.admit(socket.remoteAddress ?? "unknown", {
      peer,
      received: () => socket.bytesRead,
      close,
    });
    if (!ticket) return close();
    tickets.set(socket, ticket);
    observe.accepted(socket);
    peers.set(socket, peer);
    raw.add(socket);
    socket.once("close", () => {
      raw.delete(socket);
      ticket.release();
    });
  });

  server.on("tlsClientError", (err: Error, s?: TLSSocket) => {
    // Deno gives the TLS socket without an address; its `_parent` is the TCP socket.
    const parent = connectionOf(s);
    if (parent && gated.has(parent)) {
      // Closed by the accept gate, which logged it (once per window): no line per attempt.
      s?.destroy();
      return;
    }
    const peer = (parent && peers.get(parent)) ?? peerOf(parent);
    const { reason, detail } = classifyHandshakeError(err);
    if (reason === "handshake_failed") {
      observe.counted(reason);
      // A peer that sent nothing (a bare connect, a port probe) cost no TLS work and
      // no longer spends any budget, so it must not set the info log's volume either.
      const level = parent?.bytesRead === 0 ? "debug" : "info";
      logger[level]("handshake abandoned by client", { peer, reason, detail });
    } else refuse(peer, reason, detail);
    s?.destroy();
    parent?.destroy();
  });

  server.on("secureConnection", (s: TLSSocket) => {
    const parent = connectionOf(s);
    const peer = (parent && peers.get(parent)) ?? peerOf(s);
    observe.handshake(s, parent, peer);
    const ticket = parent && tickets.get(parent);
    // Checked before the chain: a certificate over its limit was admitted (so verified)
    // that many times this window, and only its key holder can present it again.
    const key = options.tls.clientAuth === "none" ? undefined : presentedKey(s);
    if (key && !identities.allows(key, peer)) {
      ticket?.authenticated();
      s.destroy();
      return;
    }
    const verdict = admit(s, peer);
    if (!verdict) {
      s.destroy(); // spends the address's budget when the socket closes
      return;
    }
    secure.add(s);
    s.once("close", () => secure.delete(s));
    both.serveHttp(s);
    if (verdict instanceof Promise) {
      // Requests that arrive meanwhile wait in the "request" handler.
      const waiting = verdict.then((state) => {
        pending.delete(s);
        if (!state || s.destroyed || !counted(state, key, ticket)) {
          s.destroy();
          return undefined;
        }
        admitted(s, state);
        return state;
      });
      pending.set(s, waiting);
      return;
    }
    if (!counted(verdict, key, ticket)) {
      s.destroy();
      return;
    }
    admitted(s, verdict);
  });

  /**
   * Settles an admitted connection's budgets: with a trusted certificate it is
   * counted against that certificate (false when over its limit); without one
   * it spends a unit of its address's budget.
   */
  function counted(
    state: PeerState,
    key: CertificateKey | undefined,
    ticket: AcceptTicket | undefined,
  ): boolean {
    if (!state.identity || !state.trusted || !key) {
      ticket?.unauthenticated();
      return true;
    }
    ticket?.authenticated();
    return identities.admitted(key, state.peer);
  }

  function admitted(s: TLSSocket, state: PeerState) {
    states.set(s, state);
    const clock = watchConnection(s, {
      idleTimeoutMs: options.idleTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      onIdle: () =>
        logger.debug("idle connection closed", {
          peer: state.peer,
          idleMs: options.idleTimeoutMs,
        }),
      onRequestTimeout: (detail) => refuse(state.peer, "request_timeout", detail),
    });
    clocks.set(s, clock);
    const raw = connectionOf(s);
    holders.add(s, {
      holder: state.trusted && state.identity
        ? `cert:${state.identity.fingerprint}`
        : `addr:${raw?.remoteAddress ?? state.peer}`,
      peer: state.peer,
      idleSince: clock.idleSince,
      release: () => raw && tickets.get(raw)?.release(),
    });
    observe.admitted(s, state);
  }

  // Without this, Node-style servers answer "100 Continue" to every request, and
  // a client then uploads a too-large body that is refused mid-stream: the close
  // with unread data resets the connection and the 413 can be lost on the way.
  web.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers["content-length"]);
    if (!(declared > (options.maxBodyBytes ?? Infinity))) res.writeContinue();
    web.emit("request", req, res);
  });

  web.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const waiting = pending.get(req.socket);
    if (waiting) {
      waiting.then(() => handleRequest(req, res));
      return;
    }
    handleRequest(req, res);
  });

  function handleRequest(req: IncomingMessage, res: ServerResponse) {
    const state = states.get(req.socket);
    const clock = clocks.get(req.socket);
    if (!state || !clock || req.socket.destroyed) {
      req.socket.destroy();
      return;
    }
    clock.requestStarted(req, res);
    coalesceWrites(res, req.socket);
    onRequest(req, res, state);
  }

  await new Promise<void>((resolve, reject) => {
    both.listener.once("error", reject);
    both.listener.listen(options.port, options.hostname, () => {
      both.listener.off("error", reject);
      resolve();
    });
  });
  const addr = both.listener.address();
  const port = typeof addr === "object" && addr ? addr.port : options.port;

  // Admission happens once per connection, so when trust changes (new CAs on a
  // reload, a changed CRL) the open connections are admitted again: the chain
  // policy, then pins and revocation. Those now refused are logged and closed;
  // the rest keep working without a new handshake.
  let currentPolicy = options.policy;
  function recheckOpen(why: string) {
    for (const s of secure) {
      const state = states.get(s);
      if (!state?.identity) continue; // anonymous, or admission still pending
      const close = (r: { reason: ReasonCode; message: string }) => {
        if (s.destroyed) return;
        refuse(state.peer, r.reason, `${why}: ${r.message}`);
        s.destroy();
      };
      let v;
      try {
        const leaf = s.getPeerX509Certificate();
        v = leaf
          ? currentPolicy.checkPresented(leaf, () => presentedIntermediates(s, leaf))
          : undefined;
      } catch (cause) {
        close({ reason: "bad_key_usage", message: `Unreadable client certificate: ${cause}` });
        continue;
      }
      if (!v) continue;
      if ("reason" in v) {
        close(v);
        continue;
      }
      const more = admission?.check({ peer: state.peer, identity: v.identity, chain: v.chain });
      if (more instanceof Promise) void more.then((r) => r && close(r), () => {});
      else if (more) close(more);
    }
  }
  admission?.onChange?.(() => recheckOpen("After a CRL update"));

  let closing: Promise<void> | undefined;
  return {
    address: { hostname: options.hostname, port },
    update(tls, policy) {
      const { cert, key, ca, minVersion, maxVersion, ciphers, honorCipherOrder } = tls.nodeOptions;
      server.setSecureContext({ cert, key, ca, minVersion, maxVersion, ciphers, honorCipherOrder });
      admit = compileAdmit({ tls, policy, admission, logger, refuse });
      currentPolicy = policy;
      recheckOpen("After a TLS reload");
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        gate.close();
        identities.close();
        both.listener.close(() => resolve());
        for (const s of secure) s.destroy();
        for (const s of raw) s.destroy();
        web.closeAllConnections?.();
      });
      return closing;
    },
  };
}
