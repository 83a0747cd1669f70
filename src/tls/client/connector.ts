/**
 * The undici connector behind the mTLS fetch: opens `node:tls` connections
 * with our certificate, verifies the server (chain, host name, EKU and pins
 * inside the handshake; revocation right after it) before the socket is
 * handed to undici, so a refused server never receives a request byte, and
 * turns every failure into a typed error.
 *
 * @module
 */
import tls from "node:tls";
// undici's own declarations need @types/node in Deno: undici_types.d.ts says why.
// @ts-types="./undici_types.d.ts"
import type { buildConnector } from "undici";
import { ConfigError, MtlsError } from "../../errors.ts";
import { LruMap } from "../../limits/lru.ts";
import {
  alertError,
  type ErrorContext,
  handshakeVerdict,
  silentRefusal,
  stackVerdict,
} from "./errors.ts";
import type { ResolvedClientOptions } from "./options.ts";
import { diagnoseHandshake, ownValidity } from "./probe.ts";
import { diagnoseServerChain, handshakeCheck, rejection, serverPath, subjectOf } from "./verify.ts";

/** Demo policy accepts these stack verdicts (self-signed, unknown CA, Deno's catch-all); the Bun transport too. */
export const DEMO_ACCEPTS: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
]);

/** What happened to a connection after undici took it, kept for error mapping. */
interface SocketRecord {
  error?: unknown;
  ctx: ErrorContext;
}

/** The connector and the bookkeeping the fetch wrapper reads back. */
export interface TlsConnector {
  /** The undici `connect` function. */
  connect: buildConnector.connector;
  /** Maps a failure undici saw on an established connection (by local port). */
  explainSocketFailure(
    socket: { localPort?: number; remotePort?: number } | undefined,
    cause: unknown,
  ): MtlsError | undefined;
}

/** Builds the connector for validated options. */
export function createTlsConnector(o: ResolvedClientOptions): TlsConnector {
  // Keyed by local/remote port; only recent sockets are ever looked up again.
  const records = new LruMap<SocketRecord>({ max: 256 });
  const versions = o.minVersion === o.maxVersion
    ? o.minVersion
    : `${o.minVersion}..${o.maxVersion}`;
  const own = ownValidity(o);
  const base: tls.ConnectionOptions = {
    cert: o.cert,
    key: o.key,
    ca: o.ca,
    minVersion: o.minVersion,
    maxVersion: o.maxVersion,
    ALPNProtocols: ["http/1.1"],
    rejectUnauthorized: o.policy === "strict",
  };

  /** Records a verified socket for error mapping before undici gets it. */
  const keep = (socket: tls.TLSSocket, ctx: ErrorContext): tls.TLSSocket => {
    o.logger.debug("tls connection established", {
      peer: ctx.peer,
      protocol: socket.getProtocol(),
      sessionReused: socket.isSessionReused(),
    });
    const rec: SocketRecord = { ctx };
    records.set(`${socket.localPort}/${socket.remotePort}`, rec);
    // Alerts that arrive after the handshake (TLS 1.3 client-certificate refusals).
    socket.on("error", (e) => rec.error ??= e);
    return socket;
  };

  const connect: buildConnector.connector = (opts, callback) => {
    const port = Number(opts.port) || 443;
    // Pins are per `host:port`; it also names the server in every message.
    const peer = `${opts.hostname}:${port}`;
    const ctx: ErrorContext = { peer, hasCert: o.cert !== undefined, versions };
    if (opts.protocol !== "https:") {
      callback(
        new ConfigError(
          `URL scheme "${opts.protocol}" is not allowed: mutual TLS needs "https:"`,
          { key: "url" },
        ),
        null,
      );
      return;
    }
    // A pin file loads once, in the background; nothing connects before it has.
    if (o.pins) {
      o.pins.ready.then(() => open(opts.hostname, port, ctx, callback), (e) => callback(e, null));
    } else open(opts.hostname, port, ctx, callback);
  };

  const open = (
    hostname: string,
    port: number,
    ctx: ErrorContext,
    callback: Parameters<buildConnector.connector>[1],
  ) => {
    const { peer } = ctx;
    let done = false;
    let checked = false;
    // What our checks said inside the handshake: with the demo policy the stack
    // goes on after a refusal (rejectUnauthorized is off), so it is kept here.
    let verdict: Error | undefined;
    const checks = handshakeCheck(o, peer);
    const finish = (err: Error | null, socket?: tls.TLSSocket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) callback(err, null);
      else callback(null, socket!);
    };
    const servername = o.serverName ?? (isIp(hostname) ? undefined : hostname);
    const socket = tls.connect({
      ...base,
      host: hostname,
      port,
      servername,
      // Runs inside the handshake, before `secureConnect`, only when the chain verified.
      checkServerIdentity: (host, cert) => {
        checked = true;
        return verdict = checks.check(host, cert);
      },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      finish(
        new MtlsError(
          "connection_failed",
          `No TLS handshake with "${peer}" within ${o.connectTimeout} ms`,
        ),
      );
    }, o.connectTimeout);
    socket.setNoDelay(true);
    const handOver = () => finish(null, keep(socket, ctx));
    socket.once("secureConnect", () => {
      const refusal = verdict ?? afterHandshake(socket, ctx, hostname, checked, checks);
      if (refusal) {
        socket.destroy();
        finish(refusal);
        return;
      }
      if (!o.revocation) return handOver();
      // The handshake is done; the checker's own timeouts bound the wait from here.
      clearTimeout(timer);
      verdictPending = true;
      o.revocation.verify(socket, peer).then(() => {
        verdictPending = false;
        // The server hung up or sent an alert while we waited: judged as before, after our verdict.
        if (deferred !== undefined) classify(deferred);
        else handOver();
      }, (e) => {
        const der = socket.getPeerCertificate(false)?.raw;
        socket.destroy();
        const forget = o.pins && checks.firstUse && der
          ? o.pins.forgetFirstUse(peer, der)
          : Promise.resolve();
        forget.finally(() => finish(e));
      });
    });
    let verdictPending = false;
    let deferred: unknown;
    const classify = (err: unknown) => {
      const v = handshakeVerdict(err, ctx);
      if (v.kind === "error") return finish(v.error);
      diagnoseHandshake(v.kind, err, { host: hostname, port, servername, ctx }, o)
        .then((e) => finish(e));
    };
    // `on`, not `once`: a second error after a failed handshake must not go unhandled.
    socket.on("error", (err) => {
      if (done) return;
      if (verdictPending) deferred ??= err;
      else classify(err);
    });
  };

  /**
   * Checks left for after the handshake: the stack skips `checkServerIdentity`
   * for a resumed session and for a chain that did not verify (demo policy).
   */
  const afterHandshake = (
    socket: tls.TLSSocket,
    ctx: ErrorContext,
    host: string,
    checked: boolean,
    checks: ReturnType<typeof handshakeCheck>,
  ): Error | undefined => {
    const { peer } = ctx;
    if (checked && socket.authorized) return undefined;
    // A resumed session: the same checks as a full handshake, on the chain it resumed.
    if (socket.authorized) return checks.check(host, socket.getPeerCertificate(true));
    const cert = socket.getPeerCertificate(false);
    if (!cert?.raw) {
      return rejection(
        { reason: "unknown_ca", message: `Server "${peer}" sent no certificate` },
        peer,
      );
    }
    const code = String(socket.authorizationError ?? "");
    if (o.policy !== "demo" || !DEMO_ACCEPTS.has(code)) {
      // Our rules name what the stack refused, as after a refused handshake.
      const bad = diagnoseServerChain(serverPath(socket.getPeerCertificate(true)), o.anchors, peer);
      if (bad) return rejection(bad, peer);
      const error = Object.assign(new Error(code), { code });
      const v = handshakeVerdict(error, ctx);
      return v.kind === "error" ? v.error : stackVerdict(error, ctx) ?? rejection({
        reason: "unknown_ca",
        message: `Server "${peer}" certificate was not verified ("${code}")`,
      }, peer);
    }
    // Deno's catch-all code also covers expiry, EKU and weak keys: those stay refused
    // in demo, judged on the leaf alone (nothing vouches for the rest of the chain).
    const bad = diagnoseServerChain([new Uint8Array(cert.raw)], [], peer);
    if (bad) return rejection(bad, peer);
    o.logger.warn("demo policy: accepting an unverified server certificate", {
      peer,
      subject: subjectOf(cert.raw),
      verdict: code,
    });
    return checks.pins(cert.raw);
  };

  const explainSocketFailure = (
    socket: { localPort?: number; remotePort?: number } | undefined,
    cause: unknown,
  ): MtlsError | undefined => {
    const rec = socket && records.get(`${socket.localPort}/${socket.remotePort}`);
    if (!rec) return undefined;
    const alert = rec.error === undefined ? undefined : alertError(rec.error, rec.ctx);
    if (alert) return alert;
    // Only a connection on which the server never answered is a refusal of us;
    // a kept-alive one closed under a request is an ordinary network failure.
    const bytesRead = (cause as { socket?: { bytesRead?: number } })?.socket?.bytesRead;
    return bytesRead ? undefined : silentRefusal(rec.ctx, own, cause);
  };

  return { connect, explainSocketFailure };
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":");
}
