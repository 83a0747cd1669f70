/**
 * The part of undici's API that the mTLS client uses, declared here for Deno.
 *
 * Why not undici's own declarations: they start with
 * `/// <reference types="node" />`, which Deno does not resolve inside an npm
 * package (denoland/deno#18385), so `deno doc` and `deno publish` warn
 * "Failed resolving types". Mapping `@types/node` in deno.json fixes that
 * and breaks more on Deno 2.9.6: `deno doc` then reads @types/node's own
 * `/// <reference path>` lines as package names (denoland/deno#36751).
 *
 * Used through `// @ts-types` on the undici imports; TypeScript's npm build
 * ignores that comment and checks the same code against undici 7's real
 * declarations, so a shape that drifts from undici fails `node npm/build.mjs`.
 * Each declaration below copies undici 7.30.3's (types/*.d.ts), narrowed to
 * what we call.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";

/** undici's connector: opens the socket for a request (types/connector.d.ts). */
export declare namespace buildConnector {
  /** Where undici wants a connection to. */
  export interface Options {
    hostname: string;
    host?: string;
    protocol: string;
    port: string;
    servername?: string;
    localAddress?: string | null;
    socketPath?: string | null;
    httpSocket?: Socket;
  }
  /** Hands undici the connected socket, or the reason there is none. */
  export type Callback = (...args: [null, Socket | TLSSocket] | [Error, null]) => void;
  /** A custom `connect` function for an Agent. */
  export interface connector {
    (options: Options, callback: Callback): void;
  }
}

/** What `dispatch` sends (types/dispatcher.d.ts, the fields we touch). */
export interface DispatchOptions {
  /** Close the connection after this request. */
  reset?: boolean;
  [field: string]: unknown;
}

/** Sends one request through a dispatcher. */
export type Dispatch = (options: DispatchOptions, handler: object) => boolean;

/** A request dispatcher: an Agent or a composed one (types/dispatcher.d.ts). */
export declare namespace Dispatcher {
  /** A response of `request` (types/dispatcher.d.ts ResponseData, the fields the gateway reads). */
  export interface ResponseData {
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    body: import("node:stream").Readable & {
      dump(options?: { limit?: number }): Promise<void>;
      text(): Promise<string>;
    };
  }
  /** Options of `request` (types/dispatcher.d.ts RequestOptions, the fields the gateway sets). */
  export interface RequestOptions {
    path: string;
    method: string;
    headers?: Record<string, string | string[]> | string[] | null;
    body?: string | Uint8Array | import("node:stream").Readable | null;
    signal?: AbortSignal | import("node:events").EventEmitter | null;
    headersTimeout?: number | null;
    bodyTimeout?: number | null;
  }
}
/** A request dispatcher: an Agent or a composed one (types/dispatcher.d.ts). */
export declare class Dispatcher {
  /** Wraps `dispatch` in interceptors. */
  compose(...interceptors: ((dispatch: Dispatch) => Dispatch)[]): Dispatcher;
  /** Waits for requests in flight, then closes every connection. */
  close(): Promise<void>;
}

/** Options of an Agent (types/agent.d.ts, pool.d.ts, client.d.ts). */
export interface AgentOptions {
  connect?: buildConnector.connector;
  keepAliveTimeout?: number;
  connections?: number | null;
  allowH2?: boolean;
}

/** A pool of connections per origin (types/agent.d.ts). */
export declare class Agent extends Dispatcher {
  constructor(options?: AgentOptions);
}

/** undici's `fetch` with its dispatcher option (types/fetch.d.ts). */
export declare function fetch(
  input: string | URL,
  init?: RequestInit & { dispatcher?: Dispatcher; duplex?: "half" },
): Promise<Response>;

/** A pool of connections to one origin (types/pool.d.ts; the gateway's upstream). */
export declare namespace Pool {
  /** Options of a Pool (the fields the gateway sets). */
  export interface Options {
    connect?: buildConnector.connector | { timeout?: number };
    keepAliveTimeout?: number;
    headersTimeout?: number;
    bodyTimeout?: number;
    allowH2?: boolean;
  }
}
/** A pool of connections to one origin (types/pool.d.ts). */
export declare class Pool extends Dispatcher {
  constructor(origin: string, options?: Pool.Options);
  /** Sends one request; resolves when the response headers arrive. */
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  /** Closes every connection at once. */
  destroy(): Promise<void>;
}
