/**
 * New admitted connections per client certificate per window
 * (`limits.connectionsPerIdentity`): the limit of an authenticated client,
 * which does not spend its address's budget, so one certificate reconnecting
 * in a loop cannot lock out the other clients behind the same address.
 *
 * The key is the certificate's SHA-256 fingerprint. Only admitted connections
 * are counted, so a fingerprint over its limit has proved a trusted chain
 * before; a new connection presenting it is refused before its chain is
 * checked again, and only the holder of that certificate's private key can
 * present it (the handshake's signature proves it), so the refusal cannot be
 * aimed at anyone else. Refusals are logged once per window per fingerprint.
 *
 * @module
 */

import type { TLSSocket } from "node:tls";
import type { Certificate } from "../../cert/certificate.ts";
import { createRateLimiter, type RateLimiter } from "../../limits/rate_limiter.ts";
import type { Logger } from "../../log/logger.ts";
import { createThrottledRefusals } from "./throttled_refusals.ts";
import { peerLeaf } from "./admit.ts";

/**
 * Settings of {@link createIdentityGate}.
 *
 * @example
 * ```ts
 * import type { IdentityGateOptions } from "./identity_gate.ts";
 * const o: IdentityGateOptions = { rate: { limit: 50, windowMs: 60_000 } };
 * ```
 */
export interface IdentityGateOptions {
  /** New admitted connections per certificate per window, or `false` for no limit. */
  rate: { limit: number; windowMs: number } | false;
  /** Clock in ms, for tests. @default {() => performance.now()} */
  now?: () => number;
  /** Called once per refused connection (for the counters). @default {none} */
  onRefused?: () => void;
}

/**
 * The certificate a connection presented, as the gate keys it.
 *
 * @example
 * ```ts ignore
 * const key = certificateKey(peerLeaf(tlsSocket)!);
 * ```
 */
export interface CertificateKey {
  /** SHA-256 of the DER certificate, lower-case hex (as `PeerIdentity.fingerprint`). */
  fingerprint: string;
  /** Its subject on one line, for the log. */
  subject: string;
}

/**
 * Keys a presented certificate.
 *
 * @example
 * ```ts ignore
 * const leaf = peerLeaf(tlsSocket);
 * const key = leaf && certificateKey(leaf);
 * ```
 */
export function certificateKey(leaf: Certificate): CertificateKey {
  return { fingerprint: leaf.fingerprint, subject: leaf.subject.text.replaceAll("\n", ", ") };
}

/**
 * The key of the certificate `s`'s client presented, or `undefined` when it
 * presented none or it cannot be read (admission then refuses it). About
 * 30 µs on Deno 2.9.6 (parsing the certificate), against ~2.6 ms for the
 * handshake before it.
 *
 * @example
 * ```ts ignore
 * const key = presentedKey(tlsSocket);
 * if (key && !gate.allows(key, peer)) tlsSocket.destroy();
 * ```
 */
export function presentedKey(s: TLSSocket): CertificateKey | undefined {
  try {
    const leaf = peerLeaf(s);
    return leaf && certificateKey(leaf);
  } catch {
    return undefined;
  }
}

/**
 * The compiled gate.
 *
 * @example
 * ```ts ignore
 * if (!gate.allows(key, peer)) socket.destroy(); // before the chain is checked
 * // ... admitted with a trusted certificate:
 * if (!gate.admitted(key, peer)) socket.destroy();
 * ```
 */
export interface IdentityGate {
  /** Whether a connection presenting `key` may go on to admission; counts nothing, logs a refusal. */
  allows(key: CertificateKey, peer: string): boolean;
  /** Counts one admitted connection of `key`; false (logged) when that is over the limit. */
  admitted(key: CertificateKey, peer: string): boolean;
  /** Stops the summary timer and logs what is still held back. */
  close(): void;
}

/**
 * Makes the identity gate. A refusal is logged as `connection refused` with
 * reason `rate_limited`, `peer` and `fingerprint`, at most once per window per
 * fingerprint; a `connection refusals suppressed` line reports the rest.
 *
 * @example Two connections per window
 * ```ts
 * import { createIdentityGate } from "./identity_gate.ts";
 * import { silentLogger } from "../../log/logger.ts";
 * const gate = createIdentityGate({ rate: { limit: 2, windowMs: 60_000 } }, silentLogger);
 * const alice = { fingerprint: "ab".repeat(32), subject: "CN=alice" };
 * gate.admitted(alice, "10.0.0.1:1");
 * gate.admitted(alice, "10.0.0.1:2");
 * console.log(gate.allows(alice, "10.0.0.1:3")); // false
 * gate.close();
 * ```
 */
export function createIdentityGate(options: IdentityGateOptions, logger: Logger): IdentityGate {
  const { rate, onRefused } = options;
  const now = options.now ?? (() => performance.now());
  const counted: RateLimiter | undefined = rate
    ? createRateLimiter({ limit: rate.limit, windowMs: rate.windowMs, now })
    : undefined;
  const refusals = createThrottledRefusals(
    logger,
    rate ? rate.windowMs : 60_000,
    "fingerprint",
    now,
  );
  const refuse = (key: CertificateKey, peer: string) => {
    onRefused?.();
    refusals.refuse(key.fingerprint, {
      peer,
      detail: `More than ${rate && rate.limit} connections with the certificate "${key.subject}" ` +
        `in ${rate && rate.windowMs} ms`,
      fingerprint: key.fingerprint,
    });
    return false;
  };
  return {
    allows(key, peer) {
      if (!counted || counted.remaining(key.fingerprint) > 0) return true;
      return refuse(key, peer);
    },
    admitted(key, peer) {
      if (!counted || counted.take(key.fingerprint).allowed) return true;
      return refuse(key, peer);
    },
    close() {
      refusals.close();
    },
  };
}
