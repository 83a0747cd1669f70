/**
 * The seam through which the connection limits of several listeners are
 * counted together (`serve --workers N`): the accept gate's decision (the
 * connection caps and the address's budget, accept.ts) and the identity
 * gate's count (identity_gate.ts) come from somewhere else, which answers
 * later. A listener without one counts alone, synchronously, exactly as
 * before.
 *
 * The one counting logs its refusals (once per window per key, as the local
 * gates do); the listener only counts them, or logs the refusal itself when
 * no answer came (`worker_unavailable`: fail closed, nothing is admitted
 * uncounted).
 *
 * @module
 */

import type { AcceptTicket, GateConnection } from "./accept.ts";
import type { CertificateKey } from "./identity_gate.ts";

/**
 * A connection refused by the shared gates.
 *
 * @example
 * ```ts
 * import type { SharedRefusal } from "./shared_gates.ts";
 * const r: SharedRefusal = {
 *   reason: "worker_unavailable",
 *   detail: "The connection coordinator did not answer within 2000 ms",
 *   logged: false,
 * };
 * ```
 */
export interface SharedRefusal {
  /** `rate_limited` (a limit), or `worker_unavailable` (no answer in time). */
  reason: "rate_limited" | "worker_unavailable";
  /** Sentence for the log. */
  detail: string;
  /** Whether the gates logged it already (then the listener only counts it). */
  logged: boolean;
}

/**
 * Connection limits counted with other listeners.
 *
 * @example
 * ```ts ignore
 * const t = await gates.open("127.0.0.1", { peer, received: () => socket.bytesRead, close });
 * if ("reason" in t) socket.destroy(); else socket.once("close", t.release);
 * ```
 */
export interface SharedConnectionGates {
  /** Counts a new TCP connection from `address`: its ticket, or a refusal. */
  open(address: string, conn: GateConnection): Promise<AcceptTicket | SharedRefusal>;
  /**
   * The connection of `ticket` was admitted with the trusted certificate
   * `key`: settles its ticket (no budget spent) and counts it against the
   * certificate; `true`, or a refusal.
   */
  identity(ticket: AcceptTicket, key: CertificateKey, peer: string): Promise<true | SharedRefusal>;
}

/**
 * Where {@link withSharedGates} puts the gates on a listener's options (a
 * symbol key: not one of the public options).
 *
 * @example
 * ```ts ignore
 * (options as Record<symbol, unknown>)[SHARED_GATES] === gates;
 * ```
 */
export const SHARED_GATES: unique symbol = Symbol("mcp-mtls shared connection gates");

/**
 * Returns `options` with `gates` attached (unchanged when `gates` is undefined).
 *
 * @example
 * ```ts ignore
 * const listener = await listenMtls(withSharedGates({ ...options }, cluster?.connections));
 * ```
 */
export function withSharedGates<T extends object>(
  options: T,
  gates: SharedConnectionGates | undefined,
): T {
  if (gates) (options as { [SHARED_GATES]?: SharedConnectionGates })[SHARED_GATES] = gates;
  return options;
}

/**
 * The gates attached to `options`, if any.
 *
 * @example
 * ```ts ignore
 * const shared = sharedGatesOf(options);
 * ```
 */
export function sharedGatesOf(options: object): SharedConnectionGates | undefined {
  return (options as { [SHARED_GATES]?: SharedConnectionGates })[SHARED_GATES];
}
