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
// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/server/stdio"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { MtlsError, PeerRejectedError } from "../errors.ts";
import { createLogger } from "../log/logger.ts";
import type { BridgeMessage } from "./bridge_identity.ts";
import { createMtlsFetch, type MtlsFetch, type MtlsFetchOptions } from "./client_fetch.ts";
import { httpsEndpoint } from "./client_connect.ts";

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
  const endpoint = httpsEndpoint(url);
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

interface ForwardIo {
  stdin: Readable;
  stdout: Writable;
  signal?: AbortSignal;
  logger: NonNullable<MtlsFetchOptions["logger"]>;
  drainMs: number;
}

function forward(endpoint: URL, fetch: MtlsFetch, io: ForwardIo): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const pump = new Pump(endpoint, fetch, io, (error) => error ? reject(error) : resolve());
    pump.start();
  });
}

/** Moves messages between stdio and the HTTP transport until `finish`. */
class Pump {
  readonly #http: StreamableHTTPClientTransport;
  readonly #stdio: StdioServerTransport;
  readonly #io: ForwardIo;
  readonly #done: (error?: unknown) => void;
  /** Ids of our `initialize` requests; their answer carries the protocol version. */
  readonly #initializeIds = new Set<unknown>();
  /** Until `initialize` is answered there is no session id: later messages wait, in order. */
  #gate: Promise<void> = Promise.resolve();
  #openGate: () => void = () => {};
  /** Requests from stdin not answered yet: at the end of stdin they get `drainMs`. */
  readonly #unanswered = new Set<unknown>();
  #draining: ReturnType<typeof setTimeout> | undefined;
  #finished = false;
  readonly #onEnd = () => this.#stdinEnded();

  constructor(endpoint: URL, fetch: MtlsFetch, io: ForwardIo, done: (error?: unknown) => void) {
    this.#http = new StreamableHTTPClientTransport(endpoint, { fetch });
    this.#stdio = new StdioServerTransport(io.stdin, io.stdout);
    this.#io = io;
    this.#done = done;
  }

  start(): void {
    const { stdin, signal, logger } = this.#io;
    this.#stdio.onmessage = (raw: unknown) => this.#fromStdin(raw as BridgeMessage);
    this.#http.onmessage = (raw: unknown) => this.#fromServer(raw as BridgeMessage);
    this.#http.onerror = (e: unknown) => logger.debug("MCP transport", { error: String(e) });
    this.#stdio.onerror = (e: unknown) =>
      logger.warn("stdin is not JSON-RPC", { error: String(e) });
    stdin.once("end", this.#onEnd);
    if (signal?.aborted) this.#onEnd();
    else signal?.addEventListener("abort", this.#onEnd, { once: true });
    Promise.all([this.#http.start(), this.#stdio.start()]).catch((e) => this.#finish(e));
  }

  #fromStdin(message: BridgeMessage): void {
    const { id, method } = message;
    if (method !== undefined && id !== undefined) this.#unanswered.add(id);
    // A client writing to a pipe does not wait for `initialize` to be answered; we do.
    this.#gate.then(() =>
      this.#http.send(message as never).catch((error: unknown) => {
        if (method === "initialize") this.#openGate();
        if (isFatalBridgeError(error)) return void this.#finish(error);
        if (id === undefined || method === undefined) {
          this.#io.logger.warn("cannot forward a message to the server", { error: String(error) });
          return;
        }
        this.#toClient(errorAnswer(id, error));
      })
    );
    if (method === "initialize" && id !== undefined) {
      this.#initializeIds.add(id);
      this.#gate = new Promise((resolve) => (this.#openGate = resolve));
    }
  }

  #fromServer(message: BridgeMessage): void {
    if (message.id !== undefined && this.#initializeIds.delete(message.id)) {
      // Later requests must carry the negotiated version (Mcp-Protocol-Version).
      const version = message.result?.protocolVersion;
      if (typeof version === "string") this.#http.setProtocolVersion(version);
      this.#openGate();
    }
    this.#toClient(message);
  }

  #toClient(message: BridgeMessage): void {
    const sent = this.#stdio.send(message as never).catch((e: unknown) =>
      this.#io.logger.warn("cannot write to stdout", { error: String(e) })
    );
    const last = message.method === undefined && this.#unanswered.delete(message.id) &&
      this.#unanswered.size === 0;
    if (last && this.#draining !== undefined) sent.then(() => this.#finish());
  }

  #stdinEnded(): void {
    if (this.#unanswered.size === 0 || this.#io.signal?.aborted) return void this.#finish();
    this.#draining = setTimeout(() => void this.#finish(), this.#io.drainMs);
  }

  async #finish(error?: unknown): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#draining);
    this.#io.stdin.off("end", this.#onEnd);
    this.#io.signal?.removeEventListener("abort", this.#onEnd);
    if (!error) {
      await withTimeout(this.#http.terminateSession(), 2000).catch((e: unknown) =>
        this.#io.logger.debug("could not end the MCP session", { error: String(e) })
      );
    }
    await Promise.allSettled([this.#http.close(), this.#stdio.close()]);
    this.#done(error);
  }
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
