/**
 * One stdio MCP server shared by many sessions (`mode: "shared"`).
 *
 * The child sees a single MCP client: the bridge initializes it once, with the
 * first session's `initialize` parameters, and answers every later session's
 * `initialize` from that result (the first session's protocol version and
 * capabilities therefore apply to all). Request ids and progress tokens are
 * rewritten to bridge-wide numbers so sessions cannot collide, and mapped back
 * on the way out; `notifications/cancelled` is rewritten the same way.
 *
 * What the child sends reaches only the session it belongs to:
 *
 * - A response goes to the session whose request it answers.
 * - A request from the child (sampling, roots, elicitation) goes to the one
 *   session with a request in flight, and is refused when that is not exactly
 *   one. The bridge remembers which session it went to: only a response from
 *   that session, once, reaches the child. A response from any other session,
 *   or for an id the child has no open request under, is dropped and logged
 *   at warn (reason `identity_denied`), so one client cannot answer (say,
 *   accept an elicitation) for another. When the session closes first, the
 *   child gets an error answer instead.
 * - `notifications/progress` goes to the session that owns the (rewritten)
 *   progress token; `notifications/cancelled` of a child request goes to the
 *   session that request went to.
 * - Only what is global goes to every session: `notifications/tools/list_changed`,
 *   `notifications/resources/list_changed` and `notifications/prompts/list_changed`.
 *   `notifications/resources/updated` goes to the sessions that subscribed to
 *   its `uri`.
 * - Any other notification (`notifications/message` and the like) cannot be
 *   tied to a request on the wire: it goes to the one session with a request
 *   in flight, and is dropped (logged at debug) when that is not exactly one,
 *   rather than shown to clients it may not concern.
 *
 * The caller's identity reaches a shared child only through `_meta` on each
 * request (its environment cannot name every client). If it exits, every
 * session is told and closed; the next session starts a fresh child.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { ChildExit, StdioChild } from "./bridge_child.ts";
import type { BridgeMessage } from "./bridge_identity.ts";
import type { ChildLink } from "./bridge_session.ts";

/**
 * A shared child: links for sessions, and a way to stop it.
 *
 * @example
 * ```ts ignore
 * const shared = createSharedChild(() => spawnStdioChild(command, { logger }), logger);
 * const link = shared.openLink();
 * ```
 */
export interface SharedChild {
  /** A link for one more session; starts the child if none is running. */
  openLink(): ChildLink;
  /** Stops the child, if running. */
  close(): Promise<void>;
}

type Id = string | number;

/** Child notifications every session gets: they concern no one request. */
const GLOBAL_NOTIFICATIONS = new Set([
  "notifications/tools/list_changed",
  "notifications/resources/list_changed",
  "notifications/prompts/list_changed",
]);

interface Running {
  child: StdioChild;
  links: Set<SessionLink>;
  /** The child's own requests not yet answered: its id → the session asked. */
  asked: Map<Id, SessionLink>;
  /** Resource URI → the sessions subscribed to it. */
  subscribed: Map<string, Set<SessionLink>>;
  /** Bridge id → the session and its own id. */
  requests: Map<number, { link: SessionLink; id: Id; method?: string }>;
  /** Bridge token → the session and its own progress token. */
  tokens: Map<number, { link: SessionLink; token: unknown }>;
  /** The child's `initialize` result, once it has answered. */
  initResult?: Record<string, unknown>;
  initError?: BridgeMessage["error"];
  /** Sessions waiting for `initialize`: answered when the child's answer comes. */
  initWaiters: { link: SessionLink; id: Id }[];
  initSent: boolean;
  stopping: boolean;
}

interface SessionLink extends ChildLink {
  /** Our own request ids for this session, to forget them on close. */
  mine: Set<number>;
}

/**
 * Shares one child among sessions; `spawn` starts a fresh one when needed.
 *
 * @example
 * ```ts ignore
 * import { createSharedChild } from "./bridge_shared.ts";
 * const shared = createSharedChild(() => spawnStdioChild(command, { logger }), logger);
 * ```
 */
export function createSharedChild(spawn: () => StdioChild, logger: Logger): SharedChild {
  let running: Running | undefined;
  let nextId = 1;

  function start(): Running {
    const r: Running = {
      child: spawn(),
      links: new Set(),
      asked: new Map(),
      subscribed: new Map(),
      requests: new Map(),
      tokens: new Map(),
      initWaiters: [],
      initSent: false,
      stopping: false,
    };
    r.child.onmessage = (m) => fromChild(r, m);
    r.child.exited.then((exit: ChildExit) => {
      if (running === r) running = undefined;
      if (r.stopping) return;
      logger.error("shared stdio server exited", {
        code: exit.code,
        signal: exit.signal,
        sessions: r.links.size,
      });
      for (const link of r.links) link.onexit?.(exit);
    });
    return r;
  }

  function fromChild(r: Running, message: BridgeMessage) {
    const { id, method } = message;
    if (method === undefined && typeof id === "number") {
      const owner = r.requests.get(id);
      if (!owner) return;
      r.requests.delete(id);
      r.tokens.delete(id);
      owner.link.mine.delete(id);
      if (owner.method === "initialize") return initialized(r, message);
      owner.link.onmessage?.({ ...message, id: owner.id });
      return;
    }
    if (method === undefined) return; // a response with no id we can place
    if (id === undefined) return notify(r, message, method);
    // A request from the child: it needs one client to answer it.
    const only = onlyBusy(r);
    if (only) {
      r.asked.set(id, only);
      return only.onmessage?.(message);
    }
    r.child.send({
      jsonrpc: "2.0",
      id,
      error: {
        code: -32601,
        message:
          "A shared stdio server cannot send requests to a client unless exactly one is busy",
      },
    }).catch(() => {});
  }

  /** The one session with a request in flight, if there is exactly one. */
  function onlyBusy(r: Running): SessionLink | undefined {
    const busy = new Set([...r.requests.values()].map((o) => o.link));
    return busy.size === 1 ? [...busy][0] : undefined;
  }

  function notify(r: Running, message: BridgeMessage, method: string) {
    const params = message.params ?? {};
    if (method === "notifications/progress") {
      const entry = r.tokens.get(Number(params.progressToken));
      entry?.link.onmessage?.({ ...message, params: { ...params, progressToken: entry.token } });
      return;
    }
    if (method === "notifications/cancelled") {
      const requestId = params.requestId as Id;
      const link = r.asked.get(requestId);
      r.asked.delete(requestId);
      link?.onmessage?.(message);
      return;
    }
    if (GLOBAL_NOTIFICATIONS.has(method)) {
      for (const link of r.links) link.onmessage?.(message);
      return;
    }
    if (method === "notifications/resources/updated") {
      for (const link of r.subscribed.get(String(params.uri)) ?? []) link.onmessage?.(message);
      return;
    }
    const only = onlyBusy(r);
    if (only) return only.onmessage?.(message);
    logger.debug("dropped a notification from the shared stdio server that no one session owns", {
      method,
      sessions: r.links.size,
    });
  }

  /** A client's response to a child request: only from the session it went to, once. */
  function answerChild(r: Running, link: SessionLink, message: BridgeMessage): Promise<void> {
    const { id } = message;
    if (id !== undefined && r.asked.get(id) === link) {
      r.asked.delete(id);
      return r.child.send(message);
    }
    logger.warn(
      "dropped a response to a request the shared stdio server did not send this session",
      {
        reason: "identity_denied",
        ...link.peer?.(),
        id: id ?? null,
        askedOther: id !== undefined && r.asked.has(id),
      },
    );
    return Promise.resolve();
  }

  function initialized(r: Running, message: BridgeMessage) {
    r.initResult = message.result;
    r.initError = message.error;
    if (message.result) {
      r.child.send({ jsonrpc: "2.0", method: "notifications/initialized" }).catch(() => {});
    }
    for (const w of r.initWaiters.splice(0)) answerInitialize(r, w.link, w.id);
  }

  function answerInitialize(r: Running, link: SessionLink, id: Id) {
    link.onmessage?.(
      r.initResult ? { jsonrpc: "2.0", id, result: r.initResult } : {
        jsonrpc: "2.0",
        id,
        error: r.initError ?? { code: -32603, message: "initialize failed" },
      },
    );
  }

  function toChild(r: Running, link: SessionLink, message: BridgeMessage): Promise<void> {
    const { id, method } = message;
    if (method === "notifications/initialized") return Promise.resolve(); // sent once, by us
    if (method === "initialize" && id !== undefined) {
      if (r.initResult || r.initError) answerInitialize(r, link, id);
      else r.initWaiters.push({ link, id });
      if (r.initSent) return Promise.resolve();
      r.initSent = true;
    }
    if (method === "notifications/cancelled") {
      const theirs = message.params?.requestId;
      const ours = [...link.mine].find((n) => r.requests.get(n)?.id === theirs);
      if (ours === undefined) return Promise.resolve();
      return r.child.send({ ...message, params: { ...message.params, requestId: ours } });
    }
    if (method === undefined) return answerChild(r, link, message);
    if (method === "resources/subscribe" || method === "resources/unsubscribe") {
      const uri = String(message.params?.uri);
      const set = r.subscribed.get(uri) ?? new Set();
      if (method === "resources/subscribe") r.subscribed.set(uri, set.add(link));
      else if (set.delete(link) && set.size === 0) r.subscribed.delete(uri);
    }
    if (id === undefined) return r.child.send(message); // a notification
    const n = nextId++;
    r.requests.set(n, { link, id, method });
    link.mine.add(n);
    let params = message.params;
    const meta = params?._meta as { progressToken?: unknown } | undefined;
    if (meta?.progressToken !== undefined) {
      r.tokens.set(n, { link, token: meta.progressToken });
      params = { ...params, _meta: { ...meta, progressToken: n } };
    }
    return r.child.send({ ...message, id: n, ...(params ? { params } : {}) });
  }

  return {
    openLink() {
      const r = running ??= start();
      const link: SessionLink = {
        mine: new Set(),
        send: (message) => toChild(r, link, message),
        close() {
          r.links.delete(link);
          for (const n of link.mine) {
            r.requests.delete(n);
            r.tokens.delete(n);
            r.child.send({
              jsonrpc: "2.0",
              method: "notifications/cancelled",
              params: { requestId: n, reason: "session closed" },
            }).catch(() => {});
          }
          link.mine.clear();
          for (const [uri, set] of r.subscribed) {
            if (set.delete(link) && set.size === 0) r.subscribed.delete(uri);
          }
          for (const [id, owner] of r.asked) {
            if (owner !== link) continue;
            r.asked.delete(id);
            r.child.send({
              jsonrpc: "2.0",
              id,
              error: { code: -32603, message: "The client's session closed before it answered" },
            }).catch(() => {});
          }
          return Promise.resolve();
        },
      };
      r.links.add(link);
      logger.debug("session joined the shared stdio server", {
        pid: r.child.pid,
        sessions: r.links.size,
      });
      return link;
    },
    async close() {
      const r = running;
      running = undefined;
      if (!r) return;
      r.stopping = true;
      await r.child.close();
    },
  };
}
