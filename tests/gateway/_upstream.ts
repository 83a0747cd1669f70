/**
 * The upstream of the gateway tests: an HTTP MCP server built with the
 * official SDK (`McpServer` + `StreamableHTTPServerTransport` on
 * `node:http`, 127.0.0.1, resumable with the SDK's in-memory event store),
 * with tools (progress, logging, elicitation, sampling, a slow cancellable
 * one), resources (with a template and subscriptions), prompts (with
 * completion). It records every request it receives (method, headers,
 * parsed body) BEFORE the SDK sees it, so tests can assert on what reached
 * the upstream, and what never did.
 *
 * Run as a program (`deno run -A tests/gateway/_upstream.ts [PORT]`) it
 * prints `listening PORT` and serves until killed: the failure tests kill
 * and restart it.
 */

import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { EventStore } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

// Explicit callback types: with TypeScript 6 the SDK's registerTool generics no longer infer them.
type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** One request as the upstream received it. */
export interface Received {
  method: string;
  headers: http.IncomingHttpHeaders;
  body?: unknown;
}

/** A running upstream. */
export interface Upstream {
  url: string;
  port: number;
  /** Every request received, in order. */
  log: Received[];
  /** JSON-RPC messages received, flattened (batches split). */
  messages(): Record<string, unknown>[];
  /** Open SDK sessions. */
  sessions: Map<string, StreamableHTTPServerTransport>;
  /** Sends `notifications/resources/updated` for `uri` to the subscribed sessions. */
  updated(uri: string): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startUpstream}. */
export interface UpstreamTestOptions {
  port?: number;
  /** Serve HTTPS with this certificate and key (and require a client certificate from `ca`). */
  tls?: { cert: string; key: string; ca?: string };
  /** Answer nothing (headers never sent): a hung upstream. */
  hang?: boolean;
  /** Told each request received, as `METHOD` or `tools/call NAME` (the program prints it). */
  announce?: (line: string) => void;
}

function buildServer(subscriptions: Map<string, Set<McpServer>>): McpServer {
  const mcp = new McpServer(
    { name: "gateway-test-upstream", version: "1.0.0" },
    { capabilities: { logging: {}, resources: { subscribe: true } } },
  );
  mcp.registerTool(
    "echo",
    { inputSchema: { text: z.string() } },
    ({ text }: { text: string }) => ({ content: [{ type: "text", text }] }),
  );
  mcp.registerTool("secret", {}, () => ({ content: [{ type: "text", text: "the secret" }] }));
  mcp.registerTool(
    "identity",
    {},
    (extra: Extra) => ({
      content: [{
        type: "text",
        text: JSON.stringify(extra._meta?.["io.github.mcp-mtls/identity"] ?? null),
      }],
    }),
  );
  mcp.registerTool(
    "progress",
    { inputSchema: { steps: z.number() } },
    async ({ steps }: { steps: number }, extra: Extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (token !== undefined) {
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken: token, progress: i, total: steps },
          });
        }
      }
      return { content: [{ type: "text", text: `${steps} steps` }] };
    },
  );
  mcp.registerTool("log", {}, async (extra: Extra) => {
    await extra.sendNotification({
      method: "notifications/message",
      params: { level: "info", logger: "upstream", data: "a log line" },
    });
    return { content: [{ type: "text", text: "logged" }] };
  });
  mcp.registerTool("ask", {}, async (extra: Extra) => {
    const answer = await extra.sendRequest({
      method: "elicitation/create",
      params: {
        message: "Your name?",
        requestedSchema: { type: "object", properties: { name: { type: "string" } } },
      },
    }, ElicitResultSchema);
    return { content: [{ type: "text", text: JSON.stringify(answer) }] };
  });
  mcp.registerTool("sample", {}, async (extra: Extra) => {
    const answer = await extra.sendRequest({
      method: "sampling/createMessage",
      params: {
        messages: [{ role: "user", content: { type: "text", text: "2+2?" } }],
        maxTokens: 5,
      },
    }, CreateMessageResultSchema);
    return { content: [{ type: "text", text: JSON.stringify(answer.content) }] };
  });
  mcp.registerTool("stall", {}, async (extra: Extra) => {
    // Something on the call's SSE stream first, so the stream is under way; then no answer.
    await extra.sendNotification({
      method: "notifications/message",
      params: { level: "info", logger: "upstream", data: "stalling" },
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 60_000);
      extra.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return { content: [{ type: "text", text: "stalled" }] };
  });
  mcp.registerTool(
    "slow",
    { inputSchema: { ms: z.number() } },
    async ({ ms }: { ms: number }, extra: Extra) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        extra.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { content: [{ type: "text", text: extra.signal.aborted ? "cancelled" : "slept" }] };
    },
  );
  mcp.registerResource(
    "readme",
    "file:///public/readme",
    { mimeType: "text/plain" },
    (uri: URL) => ({ contents: [{ uri: uri.href, text: "public readme" }] }),
  );
  mcp.registerResource(
    "key",
    "file:///secret/key",
    { mimeType: "text/plain" },
    (uri: URL) => ({ contents: [{ uri: uri.href, text: "secret key" }] }),
  );
  mcp.registerResource(
    "public-file",
    new ResourceTemplate("file:///public/files/{name}", { list: undefined }),
    {},
    (uri: URL, { name }: { name?: string | string[] }) => ({
      contents: [{ uri: uri.href, text: `file ${name}` }],
    }),
  );
  mcp.registerResource(
    "secret-file",
    new ResourceTemplate("file:///secret/files/{name}", { list: undefined }),
    {},
    (uri: URL, { name }: { name?: string | string[] }) => ({
      contents: [{ uri: uri.href, text: `secret ${name}` }],
    }),
  );
  mcp.registerPrompt(
    "greeting",
    {
      argsSchema: {
        name: completable(
          z.string(),
          (v: string) => ["alice", "bob", "carol"].filter((n) => n.startsWith(v)),
        ),
      },
    },
    ({ name }: { name: string }) => ({
      messages: [{ role: "user", content: { type: "text", text: `Hello ${name}` } }],
    }),
  );
  mcp.registerPrompt("secret-prompt", {}, () => ({
    messages: [{ role: "user", content: { type: "text", text: "secret prompt" } }],
  }));
  mcp.server.setRequestHandler(SubscribeRequestSchema, (req: { params: { uri: string } }) => {
    const set = subscriptions.get(req.params.uri) ?? new Set();
    subscriptions.set(req.params.uri, set.add(mcp));
    return {};
  });
  mcp.server.setRequestHandler(UnsubscribeRequestSchema, (req: { params: { uri: string } }) => {
    subscriptions.get(req.params.uri)?.delete(mcp);
    return {};
  });
  return mcp;
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", () => {
      const text = new TextDecoder().decode(
        chunks.length === 1 ? chunks[0] : new Uint8Array(chunks.flatMap((c) => [...c])),
      );
      try {
        resolve(text === "" ? undefined : JSON.parse(text));
      } catch (e) {
        reject(e);
      }
    });
    req.on("error", reject);
  });
}

/**
 * Events kept in order for resumption. Not the SDK's example
 * `InMemoryEventStore`: it reads the stream id as the event id's text before
 * the first "_", and the GET stream's id is "_GET_stream", so a dropped GET
 * stream could never be resumed from it (its replay finds no stream).
 */
function orderedEventStore(): EventStore {
  const events: { id: string; stream: string; message: unknown }[] = [];
  return {
    storeEvent(stream: string, message: unknown) {
      const id = `${events.length + 1}`;
      events.push({ id, stream, message });
      return Promise.resolve(id);
    },
    async replayEventsAfter(
      last: string,
      { send }: { send: (id: string, message: never) => Promise<void> },
    ) {
      const at = events.findIndex((e) => e.id === last);
      if (at < 0) return "";
      const stream = events[at].stream;
      for (const e of events.slice(at + 1)) {
        if (e.stream === stream) await send(e.id, e.message as never);
      }
      return stream;
    },
  };
}

/** Starts the upstream on 127.0.0.1 (port 0 unless given). */
export async function startUpstream(options: UpstreamTestOptions = {}): Promise<Upstream> {
  const log: Received[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const servers = new Map<string, McpServer>();
  const subscriptions = new Map<string, Set<McpServer>>();
  const sockets = new Set<Socket>();
  const eventStore = orderedEventStore();

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = req.method === "POST" ? await readJson(req).catch(() => undefined) : undefined;
    log.push({ method: req.method ?? "", headers: req.headers, body });
    for (const m of Array.isArray(body) ? body : [body]) {
      const name = (m as { params?: { name?: string } })?.params?.name;
      const method = (m as { method?: string })?.method;
      if (method) options.announce?.(name ? `${method} ${name}` : method);
    }
    if (options.hang) return; // never answers
    const sid = req.headers["mcp-session-id"] as string | undefined;
    let transport = sid ? sessions.get(sid) : undefined;
    if (sid && !transport) {
      res.writeHead(404, { "content-type": "application/json" }).end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        }),
      );
      return;
    }
    if (!transport) {
      const server = buildServer(subscriptions);
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore,
        onsessioninitialized: (id: string) => {
          sessions.set(id, t);
          servers.set(id, server);
        },
      });
      t.onclose = () => {
        if (t.sessionId) {
          sessions.delete(t.sessionId);
          servers.delete(t.sessionId);
        }
        for (const set of subscriptions.values()) set.delete(server);
      };
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, body);
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handler(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500).end(String(e));
    });
  };
  const server = options.tls
    ? https.createServer({
      cert: options.tls.cert,
      key: options.tls.key,
      ...(options.tls.ca
        ? { ca: options.tls.ca, requestCert: true, rejectUnauthorized: true }
        : {}),
    }, onRequest)
    : http.createServer(onRequest);
  server.on(options.tls ? "secureConnection" : "connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const scheme = options.tls ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${port}/mcp`,
    port,
    log,
    sessions,
    messages: () =>
      log.flatMap((
        r,
      ) => (Array.isArray(r.body) ? r.body : r.body === undefined ? [] : [r.body])) as Record<
        string,
        unknown
      >[],
    async updated(uri) {
      await Promise.all(
        [...subscriptions.get(uri) ?? []].map((s) => s.server.sendResourceUpdated({ uri })),
      );
    },
    async close() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      await Promise.allSettled([...servers.values()].map((s) => s.close()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  const upstream = await startUpstream({
    port: Number(Deno.args[0] ?? 0),
    announce: (line) => console.log(line),
  });
  console.log(`listening ${upstream.port}`);
}
