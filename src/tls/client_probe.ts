/**
 * Diagnosis after a failed handshake, when Deno's `node:tls` says too little:
 * the server leaf fetched without verification (and without our certificate),
 * and whether the server answers a plain TLS 1.2 ClientHello at all.
 * Neither sends a request or any identity of ours.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import type { ResolvedClientOptions } from "./client_options.ts";

/**
 * A second handshake, for diagnosis only: verification off and no client
 * certificate (an unverified server must not learn who we are), closed as
 * soon as it completes. Returns the server leaf when one was seen.
 */
export function fetchServerLeaf(
  host: string,
  port: number,
  servername: string | undefined,
  o: ResolvedClientOptions,
): Promise<{ der?: Uint8Array; error?: unknown }> {
  return new Promise((resolve) => {
    let result: { der?: Uint8Array; error?: unknown } = {};
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
      const raw = s.getPeerCertificate(false)?.raw;
      result = { der: raw ? new Uint8Array(raw) : undefined };
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
