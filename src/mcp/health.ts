/**
 * The health endpoint: a separate plain-HTTP listener for load balancers and
 * scrapers, so client authentication stays required on the MCP endpoint.
 * It reveals only liveness and counters, never a session or a tool.
 *
 * @module
 */

import http from "node:http";
import { isIP, type Socket } from "node:net";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { type MetricsSnapshot, prometheusText } from "../log/metrics.ts";

/**
 * The `health` option of `serveMcp`.
 *
 * @example Using HealthOptions
 * ```ts
 * import type { HealthOptions } from "@mtls/mcp/mcp";
 * const health: HealthOptions = { port: 9090 };
 * ```
 */
export interface HealthOptions {
  /** Address of the health listener. @default {"127.0.0.1"} */
  hostname?: string;
  /** Port of the health listener; 0 picks a free one. */
  port: number;
  /** Path answering `200 {"status":"ok"}` while the server is serving. @default {"/healthz"} */
  path?: string;
  /** Also serve the counters in Prometheus text format at `/metrics`. @default {true} */
  metrics?: boolean;
}

/**
 * {@link HealthOptions} after defaults.
 *
 * @example Defaults filled in
 * ```ts
 * import { resolveHealthOptions } from "./health.ts";
 * const r = resolveHealthOptions({ port: 9090 });
 * console.log(r.hostname, r.path, r.metrics); // 127.0.0.1 /healthz true
 * ```
 */
export interface ResolvedHealthOptions {
  hostname: string;
  port: number;
  path: string;
  metrics: boolean;
}

/**
 * Applies defaults and checks the `health` option.
 *
 * @throws {ConfigError} naming `health.port`, `health.path` or `health.hostname`
 *
 * @example Using resolveHealthOptions
 * ```ts
 * import { resolveHealthOptions } from "./health.ts";
 * console.log(resolveHealthOptions({ port: 0 }).path); // "/healthz"
 * ```
 */
export function resolveHealthOptions(h: HealthOptions): ResolvedHealthOptions {
  if (!h || typeof h !== "object") {
    throw new ConfigError(`Option "health" must be an object with a "port", got "${h}"`, {
      key: "health",
    });
  }
  const { hostname = "127.0.0.1", port, path = "/healthz", metrics = true } = h;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(
      `Option "health.port" must be an integer from 0 to 65535, got "${port}"`,
      { key: "health.port" },
    );
  }
  if (typeof path !== "string" || !path.startsWith("/") || path === "/metrics") {
    throw new ConfigError(
      `Option "health.path" must start with "/" and not be "/metrics", got "${path}"`,
      { key: "health.path" },
    );
  }
  if (typeof hostname !== "string" || hostname === "") {
    throw new ConfigError(`Option "health.hostname" must be a host name, got "${hostname}"`, {
      key: "health.hostname",
    });
  }
  if (typeof metrics !== "boolean") {
    throw new ConfigError(`Option "health.metrics" must be true or false, got "${metrics}"`, {
      key: "health.metrics",
    });
  }
  return { hostname, port, path, metrics };
}

/**
 * A running health listener.
 *
 * @example Using HealthServer
 * ```ts ignore
 * console.log(health.url); // http://127.0.0.1:9090/healthz
 * ```
 */
export interface HealthServer {
  /** URL of the health path. */
  readonly url: string;
  /** Answer 503 from now on (the server is stopping). */
  draining(): void;
  /** Stops the listener. Idempotent. */
  close(): Promise<void>;
}

/**
 * The `Host` of a health request when it names a DNS host other than
 * `localhost` or the listener's own configured host name, else `undefined`.
 * DNS rebinding needs a name the attacker controls, so refusing other names
 * keeps a web page from reading `/metrics`, while probes that address the
 * listener by IP (load balancers, Kubernetes) or send no `Host` still work.
 *
 * @example
 * ```ts
 * import { rebindingHost } from "./health.ts";
 * rebindingHost("evil.example:9090", "127.0.0.1"); // "evil.example:9090"
 * rebindingHost("127.0.0.1:9090", "127.0.0.1"); // undefined
 * ```
 */
export function rebindingHost(host: string | undefined, listening: string): string | undefined {
  if (host === undefined || host === "") return undefined;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return host;
  }
  const bare = name.startsWith("[") ? name.slice(1, -1) : name;
  if (isIP(bare) !== 0 || bare === "localhost" || bare === listening.toLowerCase()) {
    return undefined;
  }
  return host;
}

/**
 * What a server adds to its health answer (the gateway: its upstream's
 * state). `ok: false` answers 503 with status `"degraded"`; `fields` are
 * added to the JSON body.
 *
 * @example
 * ```ts
 * import type { HealthDetail } from "./health.ts";
 * const detail: HealthDetail = { ok: false, fields: { upstream: { state: "down" } } };
 * ```
 */
export interface HealthDetail {
  /** False when a dependency the server needs is down. */
  ok: boolean;
  /** Added to the JSON body. */
  fields?: Record<string, unknown>;
}

/**
 * Starts the health listener and logs, at warn, that it is unauthenticated.
 * `detail`, when given, is asked on each health request.
 *
 * @example Using startHealthServer
 * ```ts ignore
 * const health = await startHealthServer(resolveHealthOptions({ port: 0 }), () => snapshot, logger);
 * await health.close();
 * ```
 */
export async function startHealthServer(
  o: ResolvedHealthOptions,
  snapshot: () => MetricsSnapshot | Promise<MetricsSnapshot>,
  logger: Logger,
  detail?: () => HealthDetail,
): Promise<HealthServer> {
  let serving = true;
  const sockets = new Set<Socket>();
  let refusedHosts = 0;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const refusedHost = rebindingHost(req.headers.host, o.hostname);
    if (refusedHost !== undefined) {
      // Logged for the first refusal and then every 100th: a page in a browser retries.
      if (refusedHosts++ % 100 === 0) {
        logger.warn("request refused", {
          peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
          reason: "origin_denied",
          detail: `Host "${refusedHost}" is not an address of the health listener`,
          refused: refusedHosts,
        });
      }
      res.writeHead(403, { "content-type": "text/plain" }).end("Forbidden host\n");
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === o.path) {
      const more = serving ? detail?.() : undefined;
      const ok = serving && (more?.ok ?? true);
      const status = !serving ? "stopping" : ok ? "ok" : "degraded";
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify({ status, ...more?.fields }));
    } else if (o.metrics && path === "/metrics") {
      // Asked of every worker with `serve --workers N`, hence possibly later.
      Promise.resolve(snapshot()).then((m) =>
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
          .end(prometheusText(m))
      ).catch(() => res.writeHead(503, { "content-type": "text/plain" }).end("Unavailable\n"));
    } else res.writeHead(404, { "content-type": "text/plain" }).end("Not found\n");
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause) =>
      reject(
        new ConfigError(
          `Cannot listen for health checks on "${o.hostname}:${o.port}": ${cause.message}`,
          { key: "health.port", cause },
        ),
      ));
    server.listen(o.port, o.hostname, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const host = o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname;
  const url = `http://${host}:${port}${o.path}`;
  logger.warn("health endpoint is UNAUTHENTICATED plain HTTP (no TLS, no client certificate)", {
    url,
    metrics: o.metrics ? `http://${host}:${port}/metrics` : false,
  });
  let closing: Promise<void> | undefined;
  return {
    url,
    draining() {
      serving = false;
    },
    close() {
      serving = false;
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
