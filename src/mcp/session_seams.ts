/**
 * The two seams of the session store that `serve --workers N` fills: what
 * counts the sessions (shared by every worker, so the limits hold across
 * them) and where a request for a session held elsewhere goes (the worker
 * that holds it; on another host, one day).
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { PeerState } from "../tls/server/listener.ts";
import type { SharedConnectionGates } from "../tls/server/shared_gates.ts";
import type { SessionLimit, SessionRefusal, SessionSlot } from "./session_ledger.ts";

/**
 * What counts sessions for the session store: a `SessionLedger`, or one
 * shared by the workers of `serve --workers N` (whose `reserve` asks the
 * coordinator, so it may answer later).
 *
 * @example
 * ```ts ignore
 * const slot = await counter.reserve("sha256:ab…", req.socket, "cn:alice");
 * ```
 */
export interface SessionCounter {
  /** Counts a new session, making room when a limit allows it (see `SessionLedger.reserve`). */
  reserve(
    owner: string,
    connection: object,
    label?: string,
  ): SessionSlot | SessionRefusal | Promise<SessionSlot | SessionRefusal>;
  /** A request of the session started. */
  begin(slot: SessionSlot): void;
  /** A request of the session ended. */
  end(slot: SessionSlot): void;
  /** Stops counting the session; false when it was no longer counted. */
  release(slot: SessionSlot): boolean;
  /** Idle sessions whose last request ended before `cutoff` (none when another expires them). */
  idleSince(cutoff: number): SessionSlot[];
  /** The SDK gave the session its id (`slot.id`); `fingerprint` is the certificate it is bound to. */
  named?(slot: SessionSlot, fingerprint: string | undefined): void;
}

/**
 * A refusal a {@link SessionRouter} asks the session store to answer (logged
 * and counted like the store's own).
 *
 * @example
 * ```ts
 * import type { RouteRefusal } from "./session_seams.ts";
 * const r: RouteRefusal = { status: 403, reason: "identity_denied", detail: "Session \"w1-…\" belongs to another client certificate" };
 * ```
 */
export interface RouteRefusal {
  /** HTTP status. */
  status: number;
  /** Reason code. */
  reason: string;
  /** Sentence for the client and the log. */
  detail: string;
}

/**
 * Carries a request for a session that this store does not hold to the event
 * loop that does, and its answer back (SSE streams included). With
 * `serve --workers N`, another worker on the same host; the interface is the
 * seam for a cross-host implementation.
 *
 * `forward` resolves once the answer is relayed, or without touching the
 * response: `"missing"` when no one holds the session (the store answers
 * 404), or a refusal, which must come before the request leaves for a
 * session bound to another certificate than `state.identity` (403
 * `identity_denied`).
 *
 * @example
 * ```ts ignore
 * const r = await router.forward(sessionId, req, res, state, body);
 * ```
 */
export interface SessionRouter {
  /**
   * Handles one request for session `sessionId`, held elsewhere; `caller`
   * goes with it to the owner (the gateway's identity headers).
   */
  forward(
    sessionId: string,
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    body: unknown,
    caller?: ForwardedCaller,
  ): Promise<undefined | "missing" | RouteRefusal>;
}

/**
 * What the event loop that accepted a forwarded request knows of its caller
 * beyond its `PeerState`, for an owner that passes it on: the gateway
 * (`serve --upstream`) tells its upstream who the caller is from the TLS
 * connection (`Client-Cert`, `Client-Cert-Chain`, `Mcp-Mtls-Identity`,
 * `X-Forwarded-For`), and the owner's connection is a private Unix socket.
 *
 * @example
 * ```ts
 * import type { ForwardedCaller } from "./session_seams.ts";
 * const c: ForwardedCaller = { address: "127.0.0.1", identityHeaders: { "mcp-mtls-identity": "cn:alice" } };
 * ```
 */
export interface ForwardedCaller {
  /** The caller's address as its TCP connection gave it (`X-Forwarded-For`). */
  address: string;
  /** The identity headers for the upstream, computed from the caller's TLS connection. */
  identityHeaders: Record<string, string>;
}

/**
 * One worker of `serve --workers N`, as `serveMcp` sees it (the `cluster`
 * option): the port is shared, session ids name the worker, sessions are
 * counted by the coordinator, requests for other workers' sessions go
 * through `router`, and requests forwarded here are served by `attach`.
 *
 * @example
 * ```ts ignore
 * const server = await serveMcp(factory, { ...options, cluster: member });
 * ```
 */
export interface ClusterMember {
  /** Share the listening port with the other workers (`reusePort`). */
  readonly reusePort: boolean;
  /** Prefix of this worker's session ids; no other worker's ids start with it. */
  readonly sessionIdPrefix: string;
  /** The counter shared by every worker. */
  counter(evict: (slot: SessionSlot, why: SessionLimit | "idle") => void): SessionCounter;
  /** Where requests for other workers' sessions go. */
  readonly router: SessionRouter;
  /** The connection limits shared by every worker. @default {none: each listener counts its own} */
  readonly connections?: SharedConnectionGates;
  /** Starts serving the requests other workers forward to this one's sessions. */
  attach(owned: OwnedSessions): Promise<void>;
}

/**
 * The sessions of one worker, for requests forwarded to it: `handle` runs the
 * same authorization and session checks as a request from a connection of
 * its own, the session's certificate binding included.
 *
 * @example
 * ```ts ignore
 * await owned.handle(req, res, state, body);
 * ```
 */
export interface OwnedSessions {
  /** Handles a forwarded request (its body already parsed; `caller` as the forwarder sent it). */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    body: unknown,
    caller?: ForwardedCaller,
  ): Promise<void>;
}

/**
 * Where `serve --workers N` puts a worker's {@link ClusterMember} on the
 * options given to `serveMcp` (a symbol key, so it is not one of the public
 * options and survives the copies `serveStdioMcp` makes).
 *
 * @example
 * ```ts ignore
 * joinCluster(options, member);
 * clusterMemberOf(options) === member; // true
 * ```
 */
export const CLUSTER_MEMBER: unique symbol = Symbol("mcp-mtls cluster member");

/**
 * Makes the server started with `options` one worker of `serve --workers N`.
 *
 * @example
 * ```ts ignore
 * joinCluster(options, member);
 * const server = await serveMcp(factory, options);
 * ```
 */
export function joinCluster(options: object, member: ClusterMember): void {
  (options as { [CLUSTER_MEMBER]?: ClusterMember })[CLUSTER_MEMBER] = member;
}

/**
 * The worker's part, when `options` were given one by {@link joinCluster}.
 *
 * @example
 * ```ts ignore
 * const cluster = clusterMemberOf(options);
 * ```
 */
export function clusterMemberOf(options: object): ClusterMember | undefined {
  return (options as { [CLUSTER_MEMBER]?: ClusterMember })[CLUSTER_MEMBER];
}
