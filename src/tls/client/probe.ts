/**
 * Diagnosis after a failed handshake, when the TLS stack says too little
 * (Deno's `node:tls` has one code for several verdicts; Bun's fetch turns
 * every alert into a reset): the server leaf fetched without verification
 * (and without our certificate), whether the server answers a plain TLS 1.2
 * ClientHello at all, and a handshake of our own that listens for the
 * server's alert. None of them sends a request.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import type { MtlsError } from "../../errors.ts";
import { type ErrorContext, handshakeVerdict, silentRefusal, stackVerdict } from "./errors.ts";
import type { ResolvedClientOptions } from "./options.ts";
import { diagnoseServerChain, rejection, serverPath } from "./verify.ts";

/** Where a failed connection went, for diagnosis. */
export interface ProbeTarget {
  host: string;
  port: number;
  /** SNI sent (none for an IP address). */
  servername?: string;
  ctx: ErrorContext;
}

/** The validity of our own certificate, for {@link silentRefusal}. */
export function ownValidity(o: ResolvedClientOptions): { validFrom?: Date; validTo?: Date } {
  return o.certificate
    ? { validFrom: o.certificate.notBefore, validTo: o.certificate.notAfter }
    : {};
}

/**
 * Explains a handshake failure the stack did not name (see
 * `handshakeVerdict`): a refused leaf by looking at it, a hang-up by asking
 * whether the server speaks TLS 1.2 at all.
 */
export async function diagnoseHandshake(
  kind: "diagnose_leaf" | "diagnose_reset",
  err: unknown,
  t: ProbeTarget,
  o: ResolvedClientOptions,
): Promise<MtlsError> {
  const { ctx } = t;
  if (kind === "diagnose_leaf") {
    const probe = await fetchServerLeaf(t.host, t.port, t.servername, o);
    const v = probe.path ? diagnoseServerChain(probe.path, o.anchors, ctx.peer) : undefined;
    if (v) return rejection(v, ctx.peer, err);
    return stackVerdict(err, ctx) ?? rejection(
      {
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
  if (o.minVersion === "TLSv1.2" && await answersTls12(t.host, t.port, o.connectTimeout)) {
    return silentRefusal(ctx, ownValidity(o), err);
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
}

/**
 * Why a server ended a connection that our stack reported only as a reset:
 * a handshake of our own, with our certificate and the same verification,
 * that sends no request and waits briefly after it for the server's verdict
 * (an alert, or a hang-up: how TLS 1.3 servers refuse a client certificate).
 * `undefined` when the server kept that connection open: the reset was not
 * a refusal of us.
 */
export function diagnoseReset(
  err: unknown,
  t: ProbeTarget,
  o: ResolvedClientOptions,
): Promise<MtlsError | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    let handshake = false;
    const done = (e: Promise<MtlsError | undefined> | MtlsError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(e);
    };
    const s = tls.connect({
      host: t.host,
      port: t.port,
      servername: t.servername,
      cert: o.cert,
      key: o.key,
      ca: o.ca,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ALPNProtocols: ["http/1.1"],
      rejectUnauthorized: o.policy === "strict",
      // The request that failed already checked who the server is.
      checkServerIdentity: () => undefined,
    });
    let timer = setTimeout(() => done(undefined), o.connectTimeout);
    s.once("secureConnect", () => {
      handshake = true;
      clearTimeout(timer);
      // TLS 1.3 servers judge our certificate after our Finished: their alert follows at once.
      timer = setTimeout(() => done(undefined), Math.min(o.connectTimeout, 1_000));
    });
    s.on("error", (e) => {
      const v = handshakeVerdict(e, t.ctx);
      if (v.kind === "error") done(v.error);
      else if (handshake) done(silentRefusal(t.ctx, ownValidity(o), err));
      else done(diagnoseHandshake(v.kind, e, t, o));
    });
    s.once("close", () => {
      if (handshake) done(silentRefusal(t.ctx, ownValidity(o), err));
      else done(diagnoseHandshake("diagnose_reset", err, t, o));
    });
  });
}

/**
 * A second handshake, for diagnosis only: verification off and no client
 * certificate (an unverified server must not learn who we are), closed as
 * soon as it completes. Returns the server leaf when one was seen, and the
 * chain as the stack linked it (leaf first).
 */
export function fetchServerLeaf(
  host: string,
  port: number,
  servername: string | undefined,
  o: ResolvedClientOptions,
): Promise<{ der?: Uint8Array; path?: Uint8Array[]; error?: unknown }> {
  return new Promise((resolve) => {
    let result: { der?: Uint8Array; path?: Uint8Array[]; error?: unknown } = {};
    const s = tls.connect({
      host,
      port,
      servername,
      ca: o.ca,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ALPNProtocols: ["http/1.1"],
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const timer = setTimeout(() => s.destroy(), Math.min(o.connectTimeout, 3_000));
    s.once("secureConnect", () => {
      const cert = s.getPeerCertificate(true);
      const path = cert?.raw ? serverPath(cert) : undefined;
      result = { der: path?.[0], path };
      s.destroy();
    });
    s.on("error", (error) => result.der ? undefined : result = { error });
    s.once("close", () => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

/** A TLS 1.2 ClientHello with the usual ECDHE AEAD suites, groups and signature algorithms. */
function clientHello12(): Uint8Array {
  const hex = (s: string) => s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16));
  const random = Array.from(crypto.getRandomValues(new Uint8Array(32)));
  const suites = hex("c02b c02f c02c c030 cca9 cca8");
  const ext = hex(
    "000a 0006 0004 001d 0017" + // supported_groups: x25519, secp256r1
      "000b 0002 0100" + // ec_point_formats: uncompressed
      "000d 0012 0010 0403 0804 0401 0503 0805 0501 0806 0601" + // signature_algorithms
      "0017 0000" + // extended_master_secret
      "ff01 0001 00", // renegotiation_info
  );
  const body = [
    ...[0x03, 0x03, ...random, 0x00],
    ...[0x00, suites.length, ...suites, 0x01, 0x00],
    ...[ext.length >> 8, ext.length & 255, ...ext],
  ];
  const hs = [0x01, 0, body.length >> 8, body.length & 255, ...body];
  return new Uint8Array([0x16, 0x03, 0x01, hs.length >> 8, hs.length & 255, ...hs]);
}

/**
 * Whether the server answers a TLS 1.2 ClientHello with a ServerHello (rather
 * than a protocol_version alert or a hang-up). Only the first record is read.
 */
export function answersTls12(host: string, port: number, timeout: number): Promise<boolean> {
  return new Promise((resolve) => {
    let head = new Uint8Array(0);
    let answer = false;
    const s = net.connect(port, host, () => s.write(clientHello12()));
    s.setTimeout(Math.min(timeout, 3_000), () => s.destroy());
    s.on("data", (chunk: Uint8Array) => {
      const next = new Uint8Array(head.length + chunk.length);
      next.set(head);
      next.set(chunk, head.length);
      head = next;
      if (head.length >= 6) {
        // record type handshake (22), handshake type server_hello (2)
        answer = head[0] === 0x16 && head[5] === 0x02;
        s.destroy();
      }
    });
    s.on("error", () => {});
    s.on("close", () => resolve(answer));
  });
}
