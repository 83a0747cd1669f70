/**
 * What the listener reports about each connection: the refusal line and
 * counter, the detailed handshake line (`detailedTls`), the audit line per
 * admitted client and the open-connection gauge. Compiled once per listener;
 * per connection it reads the socket's negotiated parameters, nothing else.
 *
 * @module
 */

import type { Certificate } from "../../cert/certificate.ts";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../../log/logger.ts";
import type { ServerMetrics } from "../../log/metrics.ts";
import { handshakeFields } from "../../log/tls_events.ts";
import { identityLabel } from "../../policy/identity.ts";
import { peerLeaf, presentedIntermediates } from "./admit.ts";
import type { PeerState } from "./admit.ts";

/**
 * Settings of {@link createConnectionObserver}.
 *
 * @example Using ConnectionObserverOptions
 * ```ts ignore
 * const observe = createConnectionObserver({ logger, metrics, detailedTls: true });
 * ```
 */
export interface ConnectionObserverOptions {
  /** Where lines go. */
  logger: Logger;
  /** Counters to update. @default {none} */
  metrics?: ServerMetrics;
  /** Log every completed handshake at info with its parameters and the peer chain. @default {false} */
  detailedTls?: boolean;
}

/**
 * The compiled observer.
 *
 * @example Using ConnectionObserver
 * ```ts ignore
 * const acceptedAt = observe.accepted();
 * observe.handshake(tlsSocket, "127.0.0.1:50000", acceptedAt);
 * ```
 */
export interface ConnectionObserver {
  /**
   * A TCP connection passed the accept gate: the start of its handshake clock
   * (`performance.now()`), kept in its record; `undefined` when no detailed
   * handshake line will be logged.
   */
  accepted(): number | undefined;
  /** One refused connection: logged at warn and counted by reason. */
  refused(peer: string, reason: string, detail: string): void;
  /** A refusal already logged elsewhere (the accept gate logs once per window): counted only. */
  counted(reason: string): void;
  /** A handshake completed (before admission): the detailed line when enabled, timed from `acceptedAt`. */
  handshake(s: TLSSocket, peer: string, acceptedAt: number | undefined): void;
  /** A connection was admitted: audit line, counters, gauge until it closes. */
  admitted(s: TLSSocket, state: PeerState): void;
}

/**
 * Compiles the observer.
 *
 * @example Counting a refusal
 * ```ts
 * import { createConnectionObserver } from "./observe.ts";
 * import { createMetrics } from "../../log/metrics.ts";
 * import { silentLogger } from "../../log/logger.ts";
 * const metrics = createMetrics({ sessions: () => 0 });
 * const observe = createConnectionObserver({ logger: silentLogger, metrics });
 * observe.refused("127.0.0.1:5000", "unknown_ca", "Unknown CA");
 * console.log(metrics.snapshot().handshakes.refused); // { unknown_ca: 1 }
 * ```
 */
export function createConnectionObserver(o: ConnectionObserverOptions): ConnectionObserver {
  const { logger, metrics, detailedTls = false } = o;
  return {
    accepted: () => detailedTls ? performance.now() : undefined,
    refused(peer, reason, detail) {
      metrics?.handshakeRefused(reason);
      logger.warn("connection refused", { peer, reason, detail });
    },
    counted(reason) {
      metrics?.handshakeRefused(reason);
    },
    handshake(s, peer, t0) {
      if (!detailedTls) return;
      let chain: Certificate[];
      try {
        const leaf = peerLeaf(s);
        chain = leaf ? [leaf, ...presentedIntermediates(s, leaf)] : [];
      } catch {
        chain = [];
      }
      logger.info("TLS handshake", {
        peer,
        ...handshakeFields(s, chain, t0 === undefined ? undefined : performance.now() - t0),
      });
    },
    admitted(s, state) {
      metrics?.handshakeAdmitted();
      if (metrics) s.once("close", () => metrics.connectionClosed());
      const id = state.identity;
      logger.info("client admitted", {
        peer: state.peer,
        identity: id ? identityLabel(id) : "anonymous",
        fingerprint: id?.fingerprint ?? null,
        trusted: state.trusted,
      });
    },
  };
}
