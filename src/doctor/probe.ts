/**
 * The socket-level probes of a diagnosis: name lookup, a timed TCP connect,
 * and a TLS handshake with verification off (we judge the server ourselves)
 * followed by one HTTP request, to see how the server treats us.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";

/**
 * The outcome of a name lookup plus TCP connect.
 *
 * @example
 * ```ts
 * import type { TcpResult } from "./probe.ts";
 * const r: TcpResult = { address: "127.0.0.1", ms: 0.4 };
 * ```
 */
export interface TcpResult {
  /** The address connected to (or looked up). */
  address?: string;
  /** Milliseconds the TCP connect took. */
  ms?: number;
  /** The failure, when the lookup or the connect failed. */
  error?: unknown;
  /** Which part failed. */
  failed?: "dns" | "tcp";
}

/**
 * Looks `host` up (unless it is an IP address) and opens one TCP connection,
 * timing it, then closes it.
 *
 * @example
 * ```ts ignore
 * import { probeTcp } from "./probe.ts";
 * console.log(await probeTcp("127.0.0.1", 8443, 3000)); // { address: "127.0.0.1", ms: 0.3 }
 * ```
 */
export async function probeTcp(host: string, port: number, timeout: number): Promise<TcpResult> {
  let address = host;
  if (net.isIP(host) === 0) {
    try {
      address = (await lookup(host)).address;
    } catch (error) {
      return { failed: "dns", error };
    }
  }
  return new Promise((resolve) => {
    const start = performance.now();
    const s = net.connect({ host: address, port });
    s.setTimeout(
      timeout,
      () =>
        s.destroy(Object.assign(new Error(`timed out after ${timeout} ms`), { code: "ETIMEDOUT" })),
    );
    s.once("connect", () => {
      const ms = performance.now() - start;
      s.destroy();
      resolve({ address, ms });
    });
    s.once("error", (error) => resolve({ address, failed: "tcp", error }));
  });
}

/**
 * How a TLS probe went: the handshake, then the server's answer to one HTTP request.
 *
 * @example
 * ```ts
 * import type { TlsProbe } from "./probe.ts";
 * const p: TlsProbe = { handshake: true, protocol: "TLSv1.3", outcome: "answered", status: 200 };
 * ```
 */
export interface TlsProbe {
  /** Whether the handshake completed (from our side: TLS 1.3 servers judge our certificate after). */
  handshake: boolean;
  /** Negotiated protocol, e.g. `TLSv1.3`. */
  protocol?: string;
  /** Negotiated cipher suite (standard name). */
  cipher?: string;
  /** The server leaf, DER (Deno's `node:tls` exposes no more of the chain). */
  leaf?: Uint8Array;
  /**
   * `answered`: the server sent an HTTP response; `refused`: an error (alert, reset);
   * `closed`: it hung up without a word; `silent`: nothing within the timeout.
   */
  outcome: "answered" | "refused" | "closed" | "silent";
  /** HTTP status of the answer. */
  status?: number;
  /** Start of the answer's body (for a JSON-RPC refusal reason). */
  body?: string;
  /** The error seen, for `refused`. */
  error?: unknown;
}

/**
 * Options of {@link probeTls}.
 *
 * @example
 * ```ts
 * import type { TlsProbeOptions } from "./probe.ts";
 * const o: TlsProbeOptions = { host: "127.0.0.1", port: 8443, path: "/mcp", timeout: 3000 };
 * ```
 */
export interface TlsProbeOptions {
  host: string;
  port: number;
  /** SNI; omit for an IP address. */
  servername?: string;
  /** HTTP path to request. */
  path: string;
  /** Our certificate and key, PEM; omit to connect without a client certificate. */
  cert?: string;
  key?: string;
  /** Milliseconds for the handshake and for the answer, each. */
  timeout: number;
}

/**
 * Handshakes with verification off (the caller evaluates the leaf), sends
 * `GET path` and reads the start of the answer. A server that refuses our
 * certificate shows it here: by alert, by hanging up, or by HTTP 401/403.
 *
 * @example
 * ```ts ignore
 * import { probeTls } from "./probe.ts";
 * const p = await probeTls({ host: "127.0.0.1", port: 8443, path: "/mcp", timeout: 3000 });
 * console.log(p.protocol, p.outcome);
 * ```
 */
export function probeTls(o: TlsProbeOptions): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const result: TlsProbe = { handshake: false, outcome: "closed" };
    let answer = "";
    let timedOut = false;
    const s = tls.connect({
      host: o.host,
      port: o.port,
      servername: o.servername,
      cert: o.cert,
      key: o.key,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["http/1.1"],
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    let timer = setTimeout(() => (timedOut = true, s.destroy()), o.timeout);
    s.once("secureConnect", () => {
      result.handshake = true;
      result.protocol = s.getProtocol() ?? undefined;
      const cipher = s.getCipher();
      result.cipher = cipher?.standardName ?? cipher?.name;
      const raw = s.getPeerCertificate(false)?.raw;
      if (raw) result.leaf = new Uint8Array(raw);
      clearTimeout(timer);
      timer = setTimeout(() => (timedOut = true, s.destroy()), o.timeout);
      const host = o.servername ?? o.host;
      s.write(
        `GET ${o.path} HTTP/1.1\r\nHost: ${host}:${o.port}\r\n` +
          "Accept: application/json, text/event-stream\r\nConnection: close\r\n\r\n",
      );
    });
    s.on("data", (chunk: Uint8Array) => {
      answer += new TextDecoder().decode(chunk);
      if (answer.length > 4096) s.destroy();
    });
    s.on("error", (error) => {
      if (!answer) result.error = error;
    });
    s.once("close", () => {
      clearTimeout(timer);
      if (answer) {
        result.outcome = "answered";
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
        result.status = status ? Number(status) : undefined;
        const split = answer.indexOf("\r\n\r\n");
        result.body = split >= 0 ? answer.slice(split + 4, split + 2052) : undefined;
      } else if (result.error) result.outcome = "refused";
      else result.outcome = timedOut ? "silent" : "closed";
      resolve(result);
    });
  });
}
