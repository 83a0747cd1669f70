/**
 * One MCP session bridged to a stdio MCP server: what `serveMcp` connects to
 * the session's Streamable HTTP transport in place of an SDK `McpServer`.
 *
 * Every client message goes to the child with the caller's identity in
 * `_meta` (see `bridge_identity.ts`); every child message goes back to the
 * client. `tools/list`, `resources/list`, `resources/templates/list` and
 * `prompts/list` answers are filtered by the session's `mayCall` (its
 * `resource` and `prompt` rules too, see `../gateway/access.ts`), and a
 * denied `tools/call`, `resources/read`, `resources/subscribe`,
 * `prompts/get` or `completion/complete` is answered `identity_denied`
 * without reaching the child. When the child dies, each request it left unanswered gets a JSON-RPC
 * error, the exit is logged with code and signal, and the session is closed.
 *
 * A response from the client goes to the child only when it answers a request
 * the child sent to this session and has not had answered yet; any other
 * response is dropped and logged at warn (reason `identity_denied`), so a
 * client cannot answer for another session or invent answers the child never
 * asked for.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { ToolPermission } from "../policy/authorization.ts";
import { identityLabel, type PeerIdentity } from "../policy/identity.ts";
import type { ChildExit } from "./bridge_child.ts";
import { type BridgeMessage, withIdentityMeta } from "./bridge_identity.ts";
import { type Access, accessOf, deniedRequest, filterListResult } from "../gateway/access.ts";

/**
 * The child side of a bridged session: a stdio process of its own, or a
 * share of one.
 *
 * @example
 * ```ts
 * import type { ChildLink } from "./bridge_session.ts";
 * const discard: ChildLink = { send: () => Promise.resolve(), close: () => Promise.resolve() };
 * ```
 */
export interface ChildLink {
  /** Sends one message to the child. */
  send(message: BridgeMessage): Promise<void>;
  /** Set by the session: each message from the child for this session. */
  onmessage?: (message: BridgeMessage) => void;
  /** Set by the session: the child exited without being asked to. */
  onexit?: (exit: ChildExit) => void;
  /** Set by the session: who is at the other end, for log lines. */
  peer?: () => { client: string; session?: string };
  /** Stops this session's use of the child (the child itself, when it is its own). */
  close(): Promise<void>;
}

/**
 * The part of an SDK server transport (`StreamableHTTPServerTransport`) the
 * bridge uses.
 *
 * @example
 * ```ts ignore
 * const t: SessionTransport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
 * ```
 */
export interface SessionTransport {
  /** Session id, once initialized. */
  sessionId?: string;
  /** Starts the transport. */
  start(): Promise<void>;
  /** Sends a message to the client; a response goes to the stream of its request. */
  send(message: never, options?: { relatedRequestId?: string | number }): Promise<void>;
  /** Closes the transport. */
  close(): Promise<void>;
  /** Called when the transport closes. */
  onclose?: () => void;
  /** Called with each message from the client. */
  onmessage?: (message: never, extra?: never) => void;
}

/**
 * What `serveMcp` needs of a per-session server: `connect` and `close`, like
 * an SDK `McpServer`.
 *
 * @example
 * ```ts ignore
 * const session: McpConnectable = createBridgeSession(context, openLink, { logger });
 * await session.connect(transport);
 * ```
 */
export interface McpConnectable {
  /** Takes over `transport` (keeping callbacks already set) and starts it. */
  connect(transport: SessionTransport): Promise<void>;
  /** Closes the transport and the child side. Idempotent. */
  close(): Promise<void>;
}

/**
 * Options of {@link createBridgeSession}.
 *
 * @example
 * ```ts ignore
 * const o: BridgeSessionOptions = { logger, label: "stdio server" };
 * ```
 */
export interface BridgeSessionOptions {
  /** Where the child's exit is logged. */
  logger: Logger;
}

/**
 * Marks a `serveMcp` factory whose sessions are stdio bridges, so `serveMcp`
 * can refuse what a bridge cannot honour (`jsonResponse`: the SDK would drop
 * the child's notifications and requests sent during a call).
 *
 * @example
 * ```ts ignore
 * Object.defineProperty(factory, STDIO_BRIDGE, { value: true });
 * ```
 */
export const STDIO_BRIDGE: unique symbol = Symbol("mcp-mtls stdio bridge");

/** JSON-RPC error code for "the stdio server exited before answering". */
const CHILD_EXITED = -32603;
/** JSON-RPC error code for a refused request (as serveMcp uses). */
const DENIED = -32001;

/**
 * Creates the bridge for one session; `openLink` is called once, on `connect`.
 *
 * @example
 * ```ts ignore
 * import { createBridgeSession } from "./bridge_session.ts";
 * const factory = (ctx) => createBridgeSession(ctx, () => linkToNewChild(ctx), { logger });
 * ```
 */
export function createBridgeSession(
  context: { identity?: PeerIdentity; mayCall: ToolPermission },
  openLink: () => ChildLink,
  options: BridgeSessionOptions,
): McpConnectable {
  const { identity, mayCall } = context;
  const access = accessOf(mayCall);
  const { logger } = options;
  /** Client requests the child has not answered: id → method. */
  const pending = new Map<string | number, string>();
  /** Progress tokens of pending requests → request id, to route progress back. */
  const progress = new Map<unknown, string | number>();
  /** Ids of the child's requests to this client that it has not had answered. */
  const childAsked = new Set<string | number>();
  const who = identity ? identityLabel(identity) : "anonymous";
  let transport: SessionTransport | undefined;
  let link: ChildLink | undefined;
  let closed = false;

  const toClient = (message: BridgeMessage, relatedRequestId?: string | number) => {
    transport?.send(message as never, { relatedRequestId }).catch((e: unknown) =>
      logger.debug("cannot deliver a message to the client", { error: String(e) })
    );
  };

  function fromClient(raw: BridgeMessage) {
    const message = withIdentityMeta(raw, identity);
    const { id, method } = message;
    if (method === undefined) {
      if (id === undefined || !childAsked.delete(id)) {
        logger.warn("dropped a response to a request the stdio server did not send this session", {
          reason: "identity_denied",
          client: who,
          session: transport?.sessionId,
          id: id ?? null,
        });
        return;
      }
    } else if (id !== undefined) {
      const denied = deniedRequest(message, access);
      if (denied) {
        const caller = identity ? identityLabel(identity) : "an anonymous client";
        toClient({
          jsonrpc: "2.0",
          id,
          error: {
            code: DENIED,
            message: `${denied.what} is not allowed for ${caller}`,
            data: { reason: "identity_denied" },
          },
        });
        return;
      }
      pending.set(id, method);
      const token = (message.params?._meta as { progressToken?: unknown } | undefined)
        ?.progressToken;
      if (token !== undefined) progress.set(token, id);
    }
    link?.send(message).catch(() => {
      // the child is gone: its exit answers the pending requests
    });
  }

  function fromChild(message: BridgeMessage) {
    const { id, method } = message;
    if (method === undefined && id !== undefined) {
      const requestMethod = pending.get(id);
      pending.delete(id);
      for (const [token, owner] of progress) if (owner === id) progress.delete(token);
      toClient(filtered(message, requestMethod, access));
      return;
    }
    if (id !== undefined) childAsked.add(id);
    else if (method === "notifications/cancelled") {
      childAsked.delete(message.params?.requestId as string | number);
    }
    // Notifications and the child's own requests: progress goes with its request;
    // anything else with the one request in flight, if there is exactly one.
    const token = (message.params as { progressToken?: unknown } | undefined)?.progressToken;
    const owner = method === "notifications/progress" ? progress.get(token) : undefined;
    const only = pending.size === 1 ? pending.keys().next().value : undefined;
    toClient(message, owner ?? only);
  }

  function onChildExit(exit: ChildExit) {
    if (closed) return;
    logger.error("stdio server exited", {
      code: exit.code,
      signal: exit.signal,
      session: transport?.sessionId,
      client: who,
      unanswered: pending.size,
      stderr: exit.stderrTail.join("\n"),
    });
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    for (const id of pending.keys()) {
      toClient({
        jsonrpc: "2.0",
        id,
        error: {
          code: CHILD_EXITED,
          message: `The stdio MCP server ${how} before answering; this session is closed`,
          data: { exitCode: exit.code, signal: exit.signal },
        },
      });
    }
    pending.clear();
    session.close().catch(() => {});
  }

  const session: McpConnectable = {
    async connect(t) {
      transport = t;
      link = openLink();
      link.peer = () => ({ client: who, session: transport?.sessionId });
      link.onmessage = fromChild;
      link.onexit = onChildExit;
      const previous = { onclose: t.onclose, onmessage: t.onmessage };
      t.onclose = () => {
        previous.onclose?.();
        session.close().catch(() => {});
      };
      t.onmessage = (message: never, extra?: never) => {
        previous.onmessage?.(message, extra);
        fromClient(message as BridgeMessage);
      };
      await t.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([transport?.close(), link?.close()]);
    },
  };
  return session;
}

/** A list result (`tools/list`, `resources/list`, ...) with only what `access` allows. */
function filtered(
  message: BridgeMessage,
  method: string | undefined,
  access: Access,
): BridgeMessage {
  if (method === undefined || message.result === undefined) return message;
  const result = filterListResult(method, message.result, access);
  return result === message.result
    ? message
    : { ...message, result: result as BridgeMessage["result"] };
}
