/**
 * One stdio MCP server shared by many sessions (`mode: "shared"`).
 *
 * The child sees a single MCP client: the bridge initializes it once, with the
 * first session's `initialize` parameters, and answers every later session's
 * `initialize` from that result (the first session's protocol version and
 * capabilities therefore apply to all). Request ids and progress tokens are
 * rewritten to bridge-wide numbers so sessions cannot collide, and mapped back
 * on the way out; `notifications/cancelled` is rewritten the same way. Other
 * notifications from the child go to every session; a request from the child
 * (sampling, roots, elicitation) goes to the one session with a request in
 * flight, and is refused when that is not exactly one.
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

interface Running {
  child: StdioChild;
  links: Set<SessionLink>;
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
    if (method === "notifications/progress") {
      const params = message.params ?? {};
      const entry = r.tokens.get(Number(params.progressToken));
      entry?.link.onmessage?.({ ...message, params: { ...params, progressToken: entry.token } });
      return;
    }
    if (id === undefined) {
      for (const link of r.links) link.onmessage?.(message);
      return;
    }
    // A request from the child: it needs one client to answer it.
    const busy = new Set([...r.requests.values()].map((o) => o.link));
    if (busy.size === 1) return [...busy][0].onmessage?.(message);
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
    if (method === undefined || id === undefined) return r.child.send(message); // notification or a response to the child
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
