/**
 * `bridgeStdioToMcp`: lets a stdio-only MCP client (a desktop app that can
 * only spawn servers) use a remote MCP server protected by mutual TLS. It
 * speaks newline-delimited JSON-RPC on stdin/stdout and Streamable HTTP over
 * mTLS to `url`, forwarding every message both ways. Nothing but JSON-RPC is
 * written to stdout.
 *
 * @module
 */
import type { Readable, Writable } from "node:stream";
import process from "node:process";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { ConfigError, MtlsError, PeerRejectedError } from "../errors.ts";
import { createLogger } from "../log/logger.ts";
import type { BridgeMessage } from "./bridge_identity.ts";
import { createMtlsFetch, type MtlsFetch, type MtlsFetchOptions } from "./client_fetch.ts";

/**
 * Options of {@link bridgeStdioToMcp}: the {@link MtlsFetchOptions} (cert,
 * key, ca, pins, ...) plus the streams and how to stop.
 *
 * @example
 * ```ts
 * import type { StdioToMcpOptions } from "./bridge_connect.ts";
 * const o: StdioToMcpOptions = { probe: false, pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] };
 * ```
 */
export interface StdioToMcpOptions extends MtlsFetchOptions {
  /** Where JSON-RPC comes from. @default {process.stdin} */
  stdin?: Readable;
  /** Where JSON-RPC goes (and nothing else). @default {process.stdout} */
  stdout?: Writable;
  /** Stops the bridge (as if stdin had ended) when aborted. @default {undefined} */
  signal?: AbortSignal;
  /** When stdin ends, how long requests already sent may take to be answered before the bridge closes, in ms. @default {10000} */
  drainMs?: number;
  /** Make one request at start, so a refused handshake fails at once instead of at the client's first message. @default {true} */
  probe?: boolean;
}

/** Refusals that concern one request; the connection itself is fine. */
const PER_REQUEST = new Set(["identity_denied", "rate_limited"]);

/**
 * True for an error that ends the bridge: the server (or we) refused the
 * connection, or it cannot be reached. A refusal of one request
 * (`identity_denied`, `rate_limited`) or an HTTP error is answered to the
 * client instead.
 *
 * @example
 * ```ts
 * import { isFatalBridgeError } from "./bridge_connect.ts";
 * import { PeerRejectedError } from "../errors.ts";
 * isFatalBridgeError(new PeerRejectedError("unknown_ca", "Server refused our certificate")); // true
 * isFatalBridgeError(new PeerRejectedError("identity_denied", "Tool not allowed")); // false
 * ```
 */
export function isFatalBridgeError(error: unknown): boolean {
  if (error instanceof PeerRejectedError) return !PER_REQUEST.has(error.code);
  return error instanceof MtlsError &&
    (error.code === "handshake_failed" || error.code === "connection_failed");
}

/**
 * Bridges stdio to the MCP server at `url` until stdin ends (and the requests
 * already sent are answered, for at most `drainMs`) or `signal` aborts, then
 * ends the HTTP session (DELETE) and closes every connection.
 *
 * Rejects with a {@link PeerRejectedError} (`unknown_ca`, `no_client_cert`,
 * `pin_mismatch`, `revoked`, ...) or an {@link MtlsError}
 * (`handshake_failed`, `connection_failed`) when the connection is refused,
 * at start (the probe) or later. A request refused on its own
 * (`identity_denied`, `rate_limited`) or failing over HTTP is answered to the
 * stdio client with a JSON-RPC error (`error.data.reason` holds the reason
 * code) and the bridge keeps running.
 *
 * @example What `mcp-mtls connect` runs
 * ```ts ignore
 * import { bridgeStdioToMcp } from "@mtls/mcp/mcp";
 * await bridgeStdioToMcp("https://mcp.example.org:8443/mcp", {
 *   cert: await Deno.readTextFile("certs/client.crt"),
 *   key: await Deno.readTextFile("certs/client.key"),
 *   ca: await Deno.readTextFile("certs/ca.crt"),
 * });
 * ```
 */
export async function bridgeStdioToMcp(
  url: string | URL,
  options: StdioToMcpOptions = {},
): Promise<void> {
  const {
    stdin = process.stdin,
    stdout = process.stdout,
    signal,
    probe = true,
    drainMs = 10_000,
    ...rest
  } = options;
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch (cause) {
    throw new ConfigError(`URL "${url}" is not a valid URL`, { key: "url", cause });
  }
  if (endpoint.protocol !== "https:") {
    throw new ConfigError(`URL "${url}" must use "https:" for mutual TLS`, { key: "url" });
  }
  const logger = rest.logger ?? createLogger({ level: "warn" });
  const fetch = createMtlsFetch({ ...rest, logger });
  try {
    if (probe) await probeServer(fetch, endpoint);
    await forward(endpoint, fetch, { stdin, stdout, signal, logger, drainMs });
  } finally {
    await fetch.close();
  }
}

/** One GET: a refused handshake throws here; any HTTP answer means we got through. */
async function probeServer(fetch: MtlsFetch, endpoint: URL): Promise<void> {
  const response = await fetch(endpoint, {
    method: "GET",
    headers: { accept: "text/event-stream" },
  });
  await response.body?.cancel();
}

function forward(
  endpoint: URL,
  fetch: MtlsFetch,
  io: {
    stdin: Readable;
    stdout: Writable;
    signal?: AbortSignal;
    logger: NonNullable<MtlsFetchOptions["logger"]>;
    drainMs: number;
  },
): Promise<void> {
  const { stdin, stdout, signal, logger, drainMs } = io;
  const http = new StreamableHTTPClientTransport(endpoint, { fetch });
  const stdio = new StdioServerTransport(stdin, stdout);
  const initializeIds = new Set<unknown>();
  let gate = Promise.resolve();
  let openGate = () => {};
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const finish = async (error?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(draining);
      stdin.off("end", onEnd);
      signal?.removeEventListener("abort", onEnd);
      if (!error) {
        await withTimeout(http.terminateSession(), 2000).catch((e) =>
          logger.debug("could not end the MCP session", { error: String(e) })
        );
      }
      await Promise.allSettled([http.close(), stdio.close()]);
      if (error) reject(error);
      else resolve();
    };
    // Requests from stdin not answered yet: at the end of stdin they get a little time.
    const unanswered = new Set<unknown>();
    let draining: ReturnType<typeof setTimeout> | undefined;
    const onEnd = () => {
      if (unanswered.size === 0 || signal?.aborted) return void finish();
      draining = setTimeout(() => void finish(), drainMs);
    };
    const toClient = (message: BridgeMessage) => {
      const sent = stdio.send(message as never).catch((e: unknown) =>
        logger.warn("cannot write to stdout", { error: String(e) })
      );
      const last = message.method === undefined && unanswered.delete(message.id) &&
        unanswered.size === 0;
      if (last && draining !== undefined) sent.then(() => finish());
    };

    stdio.onmessage = (raw: unknown) => {
      const message = raw as BridgeMessage;
      if (message.method !== undefined && message.id !== undefined) unanswered.add(message.id);
      const send = () =>
        http.send(raw as never).catch((error: unknown) => {
          if (message.method === "initialize") openGate();
          if (isFatalBridgeError(error)) return void finish(error);
          if (message.id === undefined || message.method === undefined) {
            logger.warn("cannot forward a message to the server", { error: String(error) });
            return;
          }
          toClient(errorAnswer(message.id, error));
        });
      // Until `initialize` is answered there is no session id: later messages wait for it,
      // in order (a client writing to a pipe does not wait itself).
      gate.then(send);
      if (message.method === "initialize" && message.id !== undefined) {
        initializeIds.add(message.id);
        gate = new Promise((resolve) => (openGate = resolve));
      }
    };
    http.onmessage = (raw: unknown) => {
      const message = raw as BridgeMessage;
      if (message.id !== undefined && initializeIds.delete(message.id)) {
        // Later requests must carry the negotiated version (Mcp-Protocol-Version).
        const version = message.result?.protocolVersion;
        if (typeof version === "string") http.setProtocolVersion(version);
        openGate();
      }
      toClient(message);
    };
    http.onerror = (e: unknown) => logger.debug("MCP transport", { error: String(e) });
    stdio.onerror = (e: unknown) => logger.warn("stdin is not JSON-RPC", { error: String(e) });
    stdin.once("end", onEnd);
    if (signal?.aborted) onEnd();
    else signal?.addEventListener("abort", onEnd, { once: true });
    Promise.all([http.start(), stdio.start()]).catch((e) => finish(e));
  });
}

/** The JSON-RPC error answering request `id` that could not be delivered. */
function errorAnswer(id: string | number, error: unknown): BridgeMessage {
  const reason = error instanceof PeerRejectedError ? error.code : undefined;
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: reason ? -32001 : -32603,
      message: error instanceof Error ? error.message : String(error),
      ...(reason ? { data: { reason } } : {}),
    },
  };
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<void>((r) => (timer = setTimeout(r, ms))),
  ]).finally(() => clearTimeout(timer));
}
