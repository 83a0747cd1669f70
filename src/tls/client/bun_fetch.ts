/**
 * The mTLS transport on Bun. Bun replaces `undici` with a stub that ignores a
 * custom `connect`, so requests go through Bun's own fetch: one
 * `Bun.FetchSession` per origin (`host:port`, which keys the pins), holding
 * our certificate and a keep-alive pool, whose `checkServerIdentity` runs
 * once per new connection, after the chain verified and before any request
 * byte. It runs the same checks as the undici connector: host name, EKU,
 * pins, then revocation.
 *
 * `checkServerIdentity` is synchronous and sees the leaf alone, so revocation
 * is judged from cached answers; on a miss the connection is refused with an
 * internal "pending" error, the sources are asked, and the request is sent
 * once more (a stream body is teed for that second try).
 *
 * Bun calls `checkServerIdentity` only for a chain that verified. So the demo
 * policy connects with verification on first; a server refused as unknown
 * or self-signed has its leaf fetched and judged (expiry, EKU) like the
 * undici connector does, and is then reached through a second session with
 * verification off, for the life of the client.
 *
 * The only file that touches `Bun.*`; typed here without `@types/bun`.
 *
 * @module
 */
import { isIP } from "node:net";
import type tls from "node:tls";
import { ConfigError, MtlsError, PeerRejectedError, RuntimeError } from "../../errors.ts";
import { explainBunFetchError } from "./bun_errors.ts";
import { DEMO_ACCEPTS } from "./connector.ts";
import { codeOf } from "./errors.ts";
import type { ClientTransport, ResolvedClientOptions } from "./options.ts";
import { fetchServerLeaf, type ProbeTarget } from "./probe.ts";
import { diagnoseServerChain, handshakeCheck, rejection, subjectOf } from "./verify.ts";

/** The `tls` option of Bun's fetch, as far as we use it. */
interface BunFetchTls {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  serverName?: string;
  /** Protocol numbers: 0x0303 is TLS 1.2, 0x0304 TLS 1.3 (Bun refuses the strings). */
  minVersion: number;
  maxVersion: number;
  checkServerIdentity(host: string, cert: tls.PeerCertificate): Error | undefined;
}

/** `Bun.FetchSession` (Bun 1.4.2 and newer): connection settings and a pool of its own. */
interface BunFetchSession {
  fetch(url: string, init?: RequestInit & { keepalive?: boolean }): Promise<Response>;
  /** Closes the idle connections of the pool; requests in flight finish. */
  close(): void;
}

interface BunGlobal {
  version?: string;
  FetchSession?: new (init: {
    tls: BunFetchTls;
    /** `idleTimeout` in seconds. */
    keepAlive: false | { idleTimeout: number };
  }) => BunFetchSession;
}

const TLS_VERSION = { "TLSv1.2": 0x0303, "TLSv1.3": 0x0304 } as const;

/** The revocation verdict was not cached: refuse this handshake, ask the sources, try again. */
class RevocationPending extends Error {
  constructor(readonly der: Uint8Array, readonly firstUse: boolean) {
    super("The revocation status of the server is not known yet");
  }
}

/** Demo policy: the chain did not verify (`code`); judge the leaf, then go on unverified. */
class DemoUnverified extends Error {
  constructor(readonly code: string, readonly error: unknown) {
    super(`The server certificate was not verified ("${code}")`);
  }
}

interface Origin extends ProbeTarget {
  /** Verification on (every policy). */
  session: BunFetchSession;
  /** Verification off: demo policy, once this origin's server failed to verify. */
  unverified?: BunFetchSession;
  /** Handshakes that reached `checkServerIdentity` on this origin's connections. */
  handshakes: number;
  /** First-use pins being taken back after a refusal, awaited before the refusal is reported. */
  forgets: Promise<void>[];
}

/**
 * The transport of `createMtlsFetch` on Bun. Throws a `RuntimeError` on a Bun
 * without `Bun.FetchSession`, and a `ConfigError` for the demo policy with
 * pins or revocation (Bun does not call `checkServerIdentity` for a server
 * whose chain did not verify, so they would be skipped).
 */
export function createBunTransport(o: ResolvedClientOptions): ClientTransport {
  const bun = (globalThis as { Bun?: BunGlobal }).Bun;
  const FetchSession = bun?.FetchSession;
  if (!FetchSession) {
    throw new RuntimeError(
      `Bun "${bun?.version}" has no Bun.FetchSession: the mTLS client needs Bun 1.4.2 or newer`,
    );
  }
  if (o.policy === "demo" && (o.pins || o.revocation)) {
    throw new ConfigError(
      'Option "policy" "demo" cannot be combined with pins or revocation on Bun: Bun skips ' +
        "checkServerIdentity for a server whose chain does not verify, so they would not be checked",
      { key: "policy" },
    );
  }
  if (o.connections !== undefined) {
    o.logger.warn('Option "connections" is not enforced on Bun (Bun.FetchSession has no limit)', {
      connections: o.connections,
    });
  }
  const origins = new Map<string, Origin>();
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const versions = o.minVersion === o.maxVersion
    ? o.minVersion
    : `${o.minVersion}..${o.maxVersion}`;

  /** The checks of a new connection, in `checkServerIdentity`: synchronous, no I/O. */
  const verifyServer = (origin: Origin, host: string, cert: tls.PeerCertificate) => {
    const checks = handshakeCheck(o, origin.ctx.peer);
    const refusal = checks.check(host, cert);
    if (refusal || !o.revocation) return refusal;
    const der = new Uint8Array(cert.raw);
    try {
      if (o.revocation.verifyCached(der, origin.ctx.peer) === undefined) return undefined;
      return new RevocationPending(der, checks.firstUse);
    } catch (e) {
      // A revoked key is never what trust on first use remembers.
      if (checks.firstUse) origin.forgets.push(o.pins!.forgetFirstUse(origin.ctx.peer, der));
      return e as Error;
    }
  };

  const session = (origin: Origin, verify: boolean): BunFetchSession =>
    new FetchSession({
      tls: {
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        rejectUnauthorized: verify,
        ...(o.serverName ? { serverName: o.serverName } : {}),
        minVersion: TLS_VERSION[o.minVersion],
        maxVersion: TLS_VERSION[o.maxVersion],
        checkServerIdentity: (host, cert) => {
          origin.handshakes++;
          try {
            return verifyServer(origin, host, cert);
          } catch (e) {
            return e instanceof Error ? e : new Error(String(e));
          }
        },
      },
      // Bun sweeps idle connections every few seconds, in whole seconds.
      keepAlive: o.keepAlive
        ? { idleTimeout: Math.max(1, Math.ceil(o.keepAliveTimeout / 1000)) }
        : false,
    });

  /** Demo policy, a server that did not verify: fetch its leaf (no certificate of ours) and judge it. */
  const acceptUnverified = async (origin: Origin, e: DemoUnverified, url: string) => {
    const { der } = await fetchServerLeaf(origin.host, origin.port, origin.servername, o);
    if (!der) throw await explainBunFetchError(e.error, origin, o, url);
    // Nothing vouches for the chain: the leaf is judged alone, as on the other runtimes.
    const bad = diagnoseServerChain([der], [], origin.ctx.peer);
    if (bad) throw rejection(bad, origin.ctx.peer, e.error);
    o.logger.warn("demo policy: accepting an unverified server certificate", {
      peer: origin.ctx.peer,
      subject: subjectOf(der),
      verdict: e.code,
    });
    origin.unverified ??= session(origin, false);
  };

  const originOf = (url: URL): Origin => {
    const port = Number(url.port) || 443;
    const peer = `${url.hostname}:${port}`;
    const known = origins.get(peer);
    if (known) return known;
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const origin: Origin = {
      host,
      port,
      servername: o.serverName ?? (isIP(host) ? undefined : host),
      ctx: { peer, hasCert: o.cert !== undefined, versions },
      handshakes: 0,
      forgets: [],
      session: undefined as unknown as BunFetchSession,
    };
    origin.session = session(origin, true);
    origins.set(peer, origin);
    return origin;
  };

  /** One try over the origin's session; failures come back typed (or as `RevocationPending`). */
  const attempt = async (origin: Origin, url: string, init: RequestInit): Promise<Response> => {
    const before = origin.handshakes;
    const timeout = new MtlsError(
      "connection_failed",
      `No TLS handshake with "${origin.ctx.peer}" within ${o.connectTimeout} ms`,
    );
    const abort = new AbortController();
    // Bun does not say whether a request took a pooled connection, and a
    // pooled one may wait long for a slow answer: only a request that surely
    // opens a connection (none was made yet, or keep-alive is off) is timed,
    // and only until some handshake of this origin completes. Handshakes are
    // seen through checkServerIdentity, which a session that does not verify
    // never calls: its requests are not timed.
    const timed = !origin.unverified && (!o.keepAlive || before === 0);
    const timer = timed
      ? setTimeout(() => origin.handshakes === before && abort.abort(timeout), o.connectTimeout)
      : undefined;
    const signal = init.signal ? AbortSignal.any([init.signal, abort.signal]) : abort.signal;
    try {
      return await (origin.unverified ?? origin.session).fetch(url, {
        ...init,
        signal,
        ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}),
        redirect: "manual",
        keepalive: o.keepAlive,
      });
    } catch (error) {
      if (abort.signal.aborted) throw timeout;
      if (error instanceof RevocationPending || init.signal?.aborted) throw error;
      const code = codeOf(error);
      if (o.policy === "demo" && !origin.unverified && code && DEMO_ACCEPTS.has(code)) {
        throw new DemoUnverified(code, error);
      }
      const explained = await explainBunFetchError(error, origin, o, url);
      await Promise.all(origin.forgets.splice(0));
      throw explained;
    } finally {
      clearTimeout(timer);
    }
  };

  const send = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const origin = originOf(new URL(url));
    // Nothing connects before a pin file has loaded, or before the CRLs have
    // (so that a configured CRL decides the first connection from its cache).
    await o.pins?.ready;
    await o.revocation?.ready;
    let spare: ReadableStream | undefined;
    const retried = o.revocation !== undefined || o.policy === "demo";
    if (retried && init.body instanceof ReadableStream) {
      const [body, copy] = init.body.tee();
      init = { ...init, body };
      spare = copy;
    }
    try {
      return await attempt(origin, url, init);
    } catch (e) {
      if (e instanceof DemoUnverified) await acceptUnverified(origin, e, url);
      else if (e instanceof RevocationPending) {
        if (e.firstUse) await o.pins!.forgetFirstUse(origin.ctx.peer, e.der);
        await o.revocation!.prefetch(e.der, origin.ctx.peer);
      } else throw e;
      const again = spare ? { ...init, body: spare } : init;
      spare = undefined;
      return await attempt(origin, url, again).catch((e2) => {
        if (!(e2 instanceof RevocationPending)) throw e2;
        throw new PeerRejectedError(
          "revocation_unknown",
          `Server "${origin.ctx.peer}" certificate has no revocation status after asking its sources`,
          { peer: origin.ctx.peer },
        );
      });
    } finally {
      spare?.cancel().catch(() => {});
    }
  };

  return {
    send(url, init) {
      if (closed) {
        return Promise.reject(
          new MtlsError("connection_failed", `Cannot send to "${url}": this mTLS fetch is closed`),
        );
      }
      const pending = send(url, init);
      inFlight.add(pending);
      const forget = () => void inFlight.delete(pending);
      pending.then(forget, forget);
      return pending;
    },
    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
      for (const origin of origins.values()) {
        origin.session.close();
        origin.unverified?.close();
      }
    },
  };
}
