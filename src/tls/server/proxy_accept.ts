/**
 * PROXY protocol at TCP accept, before the accept gate and any TLS work.
 *
 * A connection from a configured balancer address must start with a valid
 * header (v1 or v2); the client address in it becomes the connection's
 * address for everything after: the accept gate's caps and budgets, the
 * identity's peer, every log line. A v2 `LOCAL` header (the balancer's own
 * health check), a v1 `UNKNOWN` or a v2 `UNSPEC` one keep the balancer's
 * address, as the spec says. Bounded: the header must arrive within the
 * handshake timeout and fit in `maxHeaderBytes`; nothing past that is
 * buffered, and connections waiting for a header are capped at
 * `maxConnections`.
 *
 * A connection from any other address goes on at once (through the accept
 * gate with its own address); its first bytes are screened, and one that
 * starts with a PROXY header is refused (`proxy_protocol_untrusted`): a
 * header is believed only from a balancer.
 *
 * @module
 */

import { BlockList, isIP, type Socket } from "node:net";
import { ConfigError } from "../../errors.ts";
import { createConcurrencyLimiter } from "../../limits/concurrency_limiter.ts";
import type { Logger } from "../../log/logger.ts";
import { peerOf } from "./connection.ts";
import { ProxiedSocket } from "./proxied_socket.ts";
import { proxiedTcp } from "./proxied_tcp.ts";
import { looksLikeProxyHeader, readProxyHeader } from "./proxy_protocol.ts";

/**
 * PROXY protocol settings of the listener.
 *
 * @example
 * ```ts
 * import type { ProxyProtocolOptions } from "./proxy_accept.ts";
 * const o: ProxyProtocolOptions = { trusted: ["127.0.0.1/32", "10.0.0.0/8", "::1"] };
 * ```
 */
export interface ProxyProtocolOptions {
  /**
   * Balancer addresses (`a.b.c.d`, `a.b.c.d/n`, IPv6 likewise) whose
   * connections must start with a PROXY header. A header from any other
   * address is refused.
   */
  trusted: readonly string[];
  /** Longest header accepted, v2 TLVs included, bytes (107 to 65551). @default {1024} */
  maxHeaderBytes?: number;
}

/**
 * The accept step of a listener with PROXY protocol.
 *
 * @example
 * ```ts ignore
 * net.createServer(front.accept);
 * ```
 */
export interface ProxyFront {
  /** Handles a TCP connection just accepted. */
  accept(tcp: Socket): void;
  /** Closes the connections still waiting for their header. */
  close(): void;
}

/**
 * What {@link createProxyFront} needs from the listener.
 *
 * @example
 * ```ts ignore
 * const front = createProxyFront({ options, headerTimeoutMs, maxConnections, logger, refuse, handOff });
 * ```
 */
export interface ProxyFrontParts {
  /** The settings. */
  options: ProxyProtocolOptions;
  /** A header not complete after this many ms is refused with `handshake_timeout`. */
  headerTimeoutMs: number;
  /** Most connections waiting for their header at once (the listener's `maxConnections`). */
  maxConnections: number;
  /** For the debug lines. */
  logger: Logger;
  /** Logs and counts one refused connection. */
  refuse(peer: string, reason: string, detail: string): void;
  /** A refused connection that was already handed off: its aborted handshake is not logged again. */
  refused(s: ProxiedSocket): void;
  /** Hands a connection (with the client's address) to the accept gate and the TLS server. */
  handOff(s: Socket | ProxiedSocket): void;
}

/**
 * Compiles the trusted balancer list into a check.
 *
 * @throws {ConfigError} `invalid_config` for an entry that is not an address or CIDR block
 *
 * @example
 * ```ts
 * import { compileTrustedBalancers } from "./proxy_accept.ts";
 * const trusted = compileTrustedBalancers(["127.0.0.0/8", "::1"]);
 * console.log(trusted("127.0.0.2"), trusted("10.0.0.1")); // true false
 * ```
 */
export function compileTrustedBalancers(list: readonly string[]): (address: string) => boolean {
  const blocks = new BlockList();
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(
      'Option "proxyProtocol.trusted" must list at least one balancer address',
      { key: "proxyProtocol.trusted" },
    );
  }
  for (const entry of list) {
    const [address, bits, more] = String(entry).split("/");
    const v = isIP(address);
    const max = v === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (
      v === 0 || more !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max ||
      (bits !== undefined && !/^[0-9]+$/.test(bits))
    ) {
      throw new ConfigError(
        `Option "proxyProtocol.trusted" has ${
          JSON.stringify(entry)
        }: expected an IP address or CIDR block such as "10.0.0.0/8"`,
        { key: "proxyProtocol.trusted" },
      );
    }
    blocks.addSubnet(address, prefix, v === 4 ? "ipv4" : "ipv6");
  }
  return (address) => {
    const v = isIP(address);
    return v !== 0 && blocks.check(address, v === 4 ? "ipv4" : "ipv6");
  };
}

/** Checks `maxHeaderBytes`; returns it with its default. */
function headerBound(value: number | undefined): number {
  const max = value ?? 1024;
  // 107: the longest v1 line; 65551: the fixed 16 bytes plus the largest v2 length field.
  if (!Number.isInteger(max) || max < 107 || max > 65551) {
    throw new ConfigError(
      `Option "proxyProtocol.maxHeaderBytes" must be an integer from 107 to 65551, got "${max}"`,
      { key: "proxyProtocol.maxHeaderBytes" },
    );
  }
  return max;
}

/**
 * Checks PROXY protocol settings and returns a copy with defaults, so a bad
 * entry stops the start with one line naming the key.
 *
 * @throws {ConfigError} `invalid_config` for a bad trusted list or header bound
 *
 * @example
 * ```ts
 * import { resolveProxyProtocol } from "./proxy_accept.ts";
 * console.log(resolveProxyProtocol({ trusted: ["10.0.0.0/8"] }).maxHeaderBytes); // 1024
 * ```
 */
export function resolveProxyProtocol(o: ProxyProtocolOptions): Required<ProxyProtocolOptions> {
  if (!o || typeof o !== "object") {
    throw new ConfigError('Option "proxyProtocol" must be { trusted: [...] } or false', {
      key: "proxyProtocol",
    });
  }
  compileTrustedBalancers(o.trusted);
  return { trusted: [...o.trusted], maxHeaderBytes: headerBound(o.maxHeaderBytes) };
}

/**
 * Makes the PROXY protocol accept step. Settings are checked here, once.
 *
 * @throws {ConfigError} `invalid_config` for a bad trusted list or header bound
 *
 * @example
 * ```ts ignore
 * const front = createProxyFront({
 *   options: { trusted: ["127.0.0.1"] }, headerTimeoutMs: 10_000, maxConnections: 1024,
 *   logger, refuse: observe.refused, refused: (s) => markGated(s), handOff: (s) => tls.emit("connection", s),
 * });
 * net.createServer(front.accept).listen(8443);
 * ```
 */
export function createProxyFront(parts: ProxyFrontParts): ProxyFront {
  const { headerTimeoutMs, logger, refuse } = parts;
  const trusted = compileTrustedBalancers(parts.options.trusted);
  const maxBytes = headerBound(parts.options.maxHeaderBytes);
  const waiting = createConcurrencyLimiter({
    max: parts.maxConnections,
    perKey: parts.maxConnections,
  });
  const open = new Set<Socket>();

  /** An untrusted connection: handed on with its own address, its first bytes screened. */
  const untrusted = (tcp: Socket, peer: string) => {
    const s = new ProxiedSocket(tcp, {
      address: tcp.remoteAddress,
      port: tcp.remotePort,
      family: tcp.remoteFamily,
    }, (first) => {
      const verdict = looksLikeProxyHeader(first);
      if (verdict !== "yes") return verdict;
      parts.refused(s);
      refuse(
        peer,
        "proxy_protocol_untrusted",
        `PROXY protocol header from "${tcp.remoteAddress}", which is not a trusted balancer ` +
          `(proxyProtocol.trusted)`,
      );
      return "yes";
    });
    parts.handOff(s);
  };

  /** A balancer's connection: its header first, then handed on with the client's address. */
  const balanced = (tcp: Socket, peer: string) => {
    const address = tcp.remoteAddress ?? "unknown";
    const release = waiting.acquire(address);
    if (!release) {
      refuse(
        peer,
        "rate_limited",
        `More than ${parts.maxConnections} connections waiting for ` +
          `their PROXY protocol header`,
      );
      tcp.destroy();
      return;
    }
    open.add(tcp);
    let got: Uint8Array = new Uint8Array(0);
    const done = () => {
      clearTimeout(timer);
      tcp.off("data", onData);
      tcp.off("close", onClose);
      open.delete(tcp);
      release();
    };
    const fail = (reason: string, detail: string) => {
      done();
      refuse(peer, reason, detail);
      tcp.destroy();
    };
    const timer = setTimeout(
      () =>
        fail(
          "handshake_timeout",
          `PROXY protocol header not received within ${headerTimeoutMs} ms`,
        ),
      headerTimeoutMs,
    );
    const onClose = () => {
      done();
      // A balancer's plain TCP health check connects and closes without a header.
      logger.debug("connection closed before its PROXY protocol header", {
        peer,
        received: got.length,
      });
    };
    const onData = (chunk: Uint8Array) => {
      // Bounded: at most maxBytes plus one chunk is ever held.
      got = got.length === 0 ? chunk : concat(got, chunk);
      const r = readProxyHeader(got, maxBytes);
      if (r.status === "more") {
        if (got.length >= maxBytes) {
          fail("proxy_protocol_invalid", `No complete PROXY protocol header in ${maxBytes} bytes`);
        }
        return;
      }
      if (r.status === "invalid") return fail("proxy_protocol_invalid", r.detail);
      done();
      const source = r.header.source;
      // The TCP socket itself goes on, the bytes after the header put back (proxied_tcp.ts).
      parts.handOff(
        proxiedTcp(
          tcp,
          got.subarray(r.length),
          r.length,
          source ?? { address: tcp.remoteAddress, port: tcp.remotePort, family: tcp.remoteFamily },
        ),
      );
    };
    tcp.on("data", onData);
    tcp.once("close", onClose);
  };

  return {
    accept(tcp) {
      // Without a listener a reset would be thrown; "close" follows and ends the connection.
      tcp.on(
        "error",
        (e) => logger.debug("connection error", { peer: peerOf(tcp), error: e.message }),
      );
      // Reset before it was accepted (HAProxy's health check: a LOCAL header, then a reset):
      // with no address it is no one's, and there is no one left to refuse (measured on
      // Deno 2.9.6, Node.js 20 and Bun 1.4.4: each check was logged as an untrusted header).
      if (tcp.remoteAddress === undefined) {
        logger.debug("connection closed before it was accepted", { peer: "unknown" });
        tcp.destroy();
        return;
      }
      tcp.setNoDelay(true);
      const peer = peerOf(tcp);
      if (trusted(tcp.remoteAddress)) balanced(tcp, peer);
      else untrusted(tcp, peer);
    },
    close() {
      for (const tcp of open) tcp.destroy();
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
