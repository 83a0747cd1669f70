/**
 * The end of a connection's TLS handshake. A failed one is logged (unless the
 * accept gate closed it) and closed. A completed one goes through the
 * identity gate, admission (chain policy, pins, revocation: admit.ts) and the
 * budgets, and once admitted gets its clocks, its holder entry and its audit
 * line. HTTP requests of a connection whose verdict is still pending wait for
 * it (requests.ts).
 *
 * @module
 */

import type { TLSSocket } from "node:tls";
import type { Logger } from "../../log/logger.ts";
import type { PeerState } from "./admit.ts";
import { type Connection, connectionOf, type ConnectionTable, peerOf } from "./connection.ts";
import { classifyHandshakeError } from "./handshake_errors.ts";
import type { ConnectionHolders } from "./holders.ts";
import { createIdentityGate, presentedKey } from "./identity_gate.ts";
import type { ListenMtlsOptions } from "./listener.ts";
import type { ConnectionObserver } from "./observe.ts";
import type { SharedConnectionGates } from "./shared_gates.ts";
import { watchConnection } from "./timeouts.ts";

/**
 * What {@link createHandshakeSteps} needs from the listener.
 *
 * @example
 * ```ts ignore
 * const handshakes = createHandshakeSteps({
 *   options, logger, observe, holders, connections, admit: trust.admit, serveHttp: both.serveHttp,
 * });
 * ```
 */
export interface HandshakeParts {
  /** Client auth mode, per-identity budget and the connection clocks. */
  options: Pick<
    ListenMtlsOptions,
    | "tls"
    | "connectionsPerIdentity"
    | "connectionsPerAddress"
    | "idleTimeoutMs"
    | "headersTimeoutMs"
    | "requestTimeoutMs"
  >;
  /** Logger. */
  logger: Logger;
  /** Logs and counts refusals, handshakes and admissions. */
  observe: ConnectionObserver;
  /** Admitted connections by holder. */
  holders: ConnectionHolders;
  /** The connections' records. */
  connections: ConnectionTable;
  /** Post-handshake admission with the current trust (see `compileAdmit`). */
  admit(s: TLSSocket, peer: string): PeerState | Promise<PeerState | undefined> | undefined;
  /** Hands a secure socket to the HTTP side. */
  serveHttp(s: TLSSocket): void;
  /** Limits counted with other listeners (`serve --workers N`) instead of here. @default {none} */
  shared?: SharedConnectionGates;
}

/**
 * The two outcomes of a handshake.
 *
 * @example
 * ```ts ignore
 * server.on("tlsClientError", handshakes.failed);
 * server.on("secureConnection", handshakes.completed);
 * ```
 */
export interface HandshakeSteps {
  /** Handles `tlsClientError`: logs the failure once (or not at all when gated) and closes. */
  failed(err: Error, s?: TLSSocket): void;
  /** Handles `secureConnection`: identity gate, admission, budgets; closes a refused connection. */
  completed(s: TLSSocket): void;
  /** Stops the identity gate's summary timer and logs what it still held back. */
  close(): void;
}

/**
 * Makes the handshake steps.
 *
 * @example
 * ```ts ignore
 * const handshakes = createHandshakeSteps(parts);
 * server.on("secureConnection", handshakes.completed);
 * ```
 */
export function createHandshakeSteps(parts: HandshakeParts): HandshakeSteps {
  const { options, logger, observe, holders, connections, admit, shared } = parts;
  const identities = shared ? undefined : createIdentityGate({
    rate: options.connectionsPerIdentity ?? options.connectionsPerAddress ?? false,
    // The gate logs once per window per key; the counter counts each refusal.
    onRefused: () => observe.counted("rate_limited"),
  }, logger);

  /**
   * Settles an admitted connection's budgets: with a trusted certificate it is
   * counted against that certificate (false when over its limit); without one
   * it spends a unit of its address's budget.
   */
  function counted(c: Connection, state: PeerState): boolean {
    if (!state.identity || !state.trusted || !c.key) {
      c.ticket?.unauthenticated();
      return true;
    }
    c.ticket?.authenticated();
    return identities!.admitted(c.key, state.peer);
  }

  /**
   * With shared limits: waits for the accept gate's answer and the verdict,
   * then counts the connection against its certificate there. Resolves the
   * state once admitted, `undefined` once closed.
   */
  async function sharedVerdict(
    c: Connection,
    s: TLSSocket,
    verdict: PeerState | Promise<PeerState | undefined>,
  ): Promise<PeerState | undefined> {
    // Not seen by the accept step means not counted: refused (fail closed).
    const [open, state] = await Promise.all([c.opening ?? false, verdict]);
    let ok = open && state !== undefined && !s.destroyed;
    if (ok && state!.identity && state!.trusted && c.key && c.ticket) {
      const r = await shared!.identity(c.ticket, c.key, state!.peer);
      if (r !== true) {
        if (r.logged) observe.counted(r.reason);
        else observe.refused(state!.peer, r.reason, r.detail);
        ok = false;
      }
    } else if (ok) c.ticket?.unauthenticated();
    c.pending = undefined;
    if (!ok || s.destroyed) {
      s.destroy();
      return undefined;
    }
    admitted(c, s, state!);
    return state;
  }

  function admitted(c: Connection, s: TLSSocket, state: PeerState) {
    c.state = state;
    const clock = watchConnection(s, {
      idleTimeoutMs: options.idleTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      onIdle: () =>
        logger.debug("idle connection closed", {
          peer: state.peer,
          idleMs: options.idleTimeoutMs,
        }),
      onRequestTimeout: (detail) => observe.refused(state.peer, "request_timeout", detail),
    });
    c.clock = clock;
    holders.add(s, {
      holder: state.trusted && state.identity
        ? `cert:${state.identity.fingerprint}`
        : `addr:${c.tcp.remoteAddress ?? state.peer}`,
      peer: state.peer,
      idleSince: clock.idleSince,
      release: () => c.ticket?.release(),
    });
    observe.admitted(s, state);
  }

  return {
    failed(err, s) {
      // Deno gives the TLS socket without an address; its `_parent` is the TCP socket.
      const tcp = connectionOf(s);
      const c = connections.under(s);
      if (c?.gated) {
        // Closed by the accept gate, which logged it (once per window): no line per attempt.
        s?.destroy();
        return;
      }
      const peer = c?.peer ?? peerOf(tcp);
      const { reason, detail } = classifyHandshakeError(err);
      if (reason === "handshake_failed") {
        observe.counted(reason);
        // A peer that sent nothing (a bare connect, a port probe) cost no TLS work and
        // no longer spends any budget, so it must not set the info log's volume either.
        const level = tcp?.bytesRead === 0 ? "debug" : "info";
        logger[level]("handshake abandoned by client", { peer, reason, detail });
      } else observe.refused(peer, reason, detail);
      s?.destroy();
      tcp?.destroy();
    },
    completed(s) {
      const c = connections.secured(s);
      observe.handshake(s, c.peer, c.acceptedAt);
      // Checked before the chain: a certificate over its limit was admitted (so verified)
      // that many times this window, and only its key holder can present it again.
      c.key = options.tls.clientAuth === "none" ? undefined : presentedKey(s);
      if (c.key && identities && !identities.allows(c.key, c.peer)) {
        c.ticket?.authenticated();
        s.destroy();
        return;
      }
      const verdict = admit(s, c.peer);
      if (!verdict) {
        s.destroy(); // spends the address's budget when the socket closes
        return;
      }
      connections.admitting(c);
      parts.serveHttp(s);
      if (shared) {
        // Requests that arrive meanwhile wait in the "request" handler.
        c.pending = sharedVerdict(c, s, verdict);
        return;
      }
      if (verdict instanceof Promise) {
        // Requests that arrive meanwhile wait in the "request" handler.
        c.pending = verdict.then((state) => {
          c.pending = undefined;
          if (!state || s.destroyed || !counted(c, state)) {
            s.destroy();
            return undefined;
          }
          admitted(c, s, state);
          return state;
        });
        return;
      }
      if (!counted(c, verdict)) {
        s.destroy();
        return;
      }
      admitted(c, s, verdict);
    },
    close: () => identities?.close(),
  };
}
