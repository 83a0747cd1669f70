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
import type { buildConnector } from "undici";
import { ConfigError, MtlsError } from "../errors.ts";
import { alertError, type ErrorContext, handshakeVerdict, silentRefusal } from "./client_errors.ts";
import type { ResolvedClientOptions } from "./client_options.ts";
import { answersTls12, fetchServerLeaf } from "./client_probe.ts";
import { checkServerLeaf, diagnoseServerLeaf, rejection, subjectOf } from "./client_verify.ts";

/** Demo policy accepts these stack verdicts (self-signed, unknown CA, Deno's catch-all). */
const DEMO_ACCEPTS = new Set([
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
  const records = new Map<string, SocketRecord>();
  const versions = o.minVersion === o.maxVersion
    ? o.minVersion
    : `${o.minVersion}..${o.maxVersion}`;
  const own = o.certificate
    ? { validFrom: new Date(o.certificate.validFrom), validTo: new Date(o.certificate.validTo) }
    : {};
  const base: tls.ConnectionOptions = {
    cert: o.cert,
    key: o.key,
    ca: o.ca,
    minVersion: o.minVersion,
    maxVersion: o.maxVersion,
    ALPNProtocols: ["http/1.1"],
    rejectUnauthorized: o.policy === "strict",
  };

  const remember = (key: string, rec: SocketRecord) => {
    records.set(key, rec);
    if (records.size > 256) records.delete(records.keys().next().value!);
  };

  /** Records a verified socket for error mapping before undici gets it. */
  const keep = (socket: tls.TLSSocket, ctx: ErrorContext): tls.TLSSocket => {
    o.logger.debug("tls connection established", {
      peer: ctx.peer,
      protocol: socket.getProtocol(),
      sessionReused: socket.isSessionReused(),
    });
    const rec: SocketRecord = { ctx };
    remember(`${socket.localPort}/${socket.remotePort}`, rec);
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
    /** Whether this connection met `peer` before the pin store knew it (trust on first use). */
    let firstUse = false;
    const pinCheck = (der: Uint8Array): Error | undefined => {
      if (!o.pins) return undefined;
      firstUse = !o.pins.knows(peer);
      return o.pins.check(peer, der, peer);
    };
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
        return identityCheck(o, peer, host, cert) ?? pinCheck(cert.raw);
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
      const refusal = afterHandshake(socket, ctx, checked, pinCheck);
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
        const forget = o.pins && firstUse && der
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
      diagnose(v.kind, err, hostname, port, servername, ctx).then((e) => finish(e));
    };
    // `on`, not `once`: a second error after a failed handshake must not go unhandled.
    socket.on("error", (err) => {
      if (done) return;
      if (verdictPending) deferred ??= err;
      else classify(err);
    });
  };

  /** Checks left for after the handshake: demo policy and resumed sessions skip `checkServerIdentity`. */
  const afterHandshake = (
    socket: tls.TLSSocket,
    ctx: ErrorContext,
    checked: boolean,
    pinCheck: (der: Uint8Array) => Error | undefined,
  ): Error | undefined => {
    const { peer } = ctx;
    if (checked && socket.authorized) return undefined;
    const cert = socket.getPeerCertificate(false);
    if (!cert?.raw) {
      return rejection(
        { reason: "unknown_ca", message: `Server "${peer}" sent no certificate` },
        peer,
      );
    }
    if (!socket.authorized) {
      const code = String(socket.authorizationError ?? "");
      if (o.policy !== "demo" || !DEMO_ACCEPTS.has(code)) {
        const v = handshakeVerdict(Object.assign(new Error(code), { code }), ctx);
        return v.kind === "error" ? v.error : rejection({
          reason: "unknown_ca",
          message: `Server "${peer}" certificate was not verified ("${code}")`,
        }, peer);
      }
      // Deno's catch-all code also covers expiry and EKU: those stay refused in demo.
      const bad = diagnoseServerLeaf(cert.raw, peer);
      if (bad) return rejection(bad, peer);
      o.logger.warn("demo policy: accepting an unverified server certificate", {
        peer,
        subject: subjectOf(cert.raw),
        verdict: code,
      });
    } else if (o.policy === "demo") {
      o.logger.warn("demo policy: host name not checked", { peer });
    }
    const v = checkServerLeaf(cert.raw, peer);
    return v ? rejection(v, peer) : pinCheck(cert.raw);
  };

  const diagnose = async (
    kind: "diagnose_leaf" | "diagnose_reset",
    err: unknown,
    host: string,
    port: number,
    servername: string | undefined,
    ctx: ErrorContext,
  ): Promise<MtlsError> => {
    if (kind === "diagnose_leaf") {
      const probe = await fetchServerLeaf(host, port, servername, o);
      const v = probe.der ? diagnoseServerLeaf(probe.der, ctx.peer) : undefined;
      return rejection(
        v ?? {
          reason: "unknown_ca",
          message: `Server "${ctx.peer}" certificate does not verify against the trusted CAs ` +
            `(${(err as Error).message})`,
        },
        ctx.peer,
        err,
      );
    }
    // The server hung up mid-handshake. If it answers a bare TLS 1.2 ClientHello
    // with a ServerHello, versions are not the problem: it refused our certificate
    // (TLS 1.2 servers judge it inside the handshake; Deno's just hang up).
    if (o.minVersion === "TLSv1.2" && await answersTls12(host, port, o.connectTimeout)) {
      return silentRefusal(ctx, own, err);
    }
    return rejection(
      {
        reason: "protocol_version",
        message: `Server "${ctx.peer}" closed the connection during the handshake: ` +
          `it likely supports no TLS version in ${ctx.versions}`,
      },
      ctx.peer,
      err,
    );
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

/** Host name (strict policy) or a warning (demo), then EKU, on the verified leaf (synchronous: inside the handshake, pins next). */
function identityCheck(
  o: ResolvedClientOptions,
  peer: string,
  host: string,
  cert: tls.PeerCertificate,
): Error | undefined {
  const name = o.serverName ?? host;
  if (tls.checkServerIdentity(name, cert)) {
    if (o.policy === "strict") {
      return rejection({
        reason: "hostname_mismatch",
        message: `Server "${peer}" certificate ("${subjectOf(cert.raw)}") is not valid for ` +
          `"${name}" (it names "${cert.subjectaltname ?? "nothing"}")`,
      }, peer);
    }
    o.logger.warn("demo policy: accepting a server certificate for another host name", {
      peer,
      name,
      subjectAltName: cert.subjectaltname,
    });
  }
  const v = checkServerLeaf(cert.raw, peer);
  return v ? rejection(v, peer) : undefined;
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":");
}
