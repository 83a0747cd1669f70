/**
 * A bare TLS 1.2 ClientHello, and a reading of the server's first flight.
 *
 * Why by hand: Deno's `node:tls` does not say whether the server sent a
 * CertificateRequest, and `getPeerCertificate(true)` gives the leaf only (no
 * `issuerCertificate`). In TLS 1.2 the server's Certificate and
 * CertificateRequest messages travel in clear text, so one ClientHello shows
 * both. We never answer the flight: no key exchange, no identity of ours.
 *
 * @module
 */
import net from "node:net";

/**
 * What the server's TLS 1.2 first flight showed.
 *
 * @example
 * ```ts
 * import type { Tls12Flight } from "./tls12.ts";
 * const seen: Tls12Flight = { answered: true, certificateRequest: true, chain: [] };
 * ```
 */
export interface Tls12Flight {
  /** Whether the server sent a whole TLS 1.2 first flight (false: alert, hang-up or silence). */
  answered: boolean;
  /** Whether the flight held a CertificateRequest (the server asks for a client certificate). */
  certificateRequest: boolean;
  /** The certificates the server sent, leaf first, DER. */
  chain: Uint8Array[];
  /** Whether the server answered in plain HTTP (a TLS URL pointed at a plain port). */
  plainHttp?: boolean;
}

const hex = (s: string): number[] =>
  s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16));

function u16(n: number): number[] {
  return [n >> 8, n & 255];
}

/** A TLS 1.2 ClientHello offering the usual ECDHE AEAD suites; SNI when `servername` is set. */
function clientHello(servername?: string): Uint8Array {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(32)));
  // ECDHE-ECDSA/RSA with AES-GCM and ChaCha20-Poly1305
  const suites = hex("c02b c02f c02c c030 cca9 cca8");
  const ext = hex(
    "000a 0008 0006 001d 0017 0018" + // supported_groups: x25519, secp256r1, secp384r1
      "000b 0002 0100" + // ec_point_formats: uncompressed
      "000d 0014 0012 0403 0503 0807 0804 0805 0806 0401 0501 0601" + // signature_algorithms
      "0017 0000" + // extended_master_secret
      "ff01 0001 00", // renegotiation_info
  );
  if (servername) {
    const name = Array.from(new TextEncoder().encode(servername));
    const list = [0, ...u16(name.length), ...name];
    ext.push(0, 0, ...u16(list.length + 2), ...u16(list.length), ...list);
  }
  const body = [
    ...[0x03, 0x03, ...random, 0x00],
    ...[...u16(suites.length), ...suites, 0x01, 0x00],
    ...[...u16(ext.length), ...ext],
  ];
  const hs = [0x01, 0, ...u16(body.length), ...body];
  return new Uint8Array([0x16, 0x03, 0x01, ...u16(hs.length), ...hs]);
}

/** Reads the handshake messages in `hs`; returns whether ServerHelloDone was reached. */
function readMessages(hs: Uint8Array, seen: Tls12Flight): boolean {
  for (let p = 0; p + 4 <= hs.length;) {
    const type = hs[p];
    const len = (hs[p + 1] << 16) | (hs[p + 2] << 8) | hs[p + 3];
    if (p + 4 + len > hs.length) return false;
    const body = hs.subarray(p + 4, p + 4 + len);
    if (type === 2) seen.answered = body[0] === 3 && body[1] === 3;
    else if (type === 11) seen.chain = certificateList(body);
    else if (type === 13) seen.certificateRequest = true;
    else if (type === 14) return true;
    p += 4 + len;
  }
  return false;
}

function certificateList(body: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const end = Math.min(body.length, 3 + ((body[0] << 16) | (body[1] << 8) | body[2]));
  for (let p = 3; p + 3 <= end;) {
    const len = (body[p] << 16) | (body[p + 1] << 8) | body[p + 2];
    out.push(body.slice(p + 3, p + 3 + len));
    p += 3 + len;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Sends one TLS 1.2 ClientHello to `host:port` and reads the server's flight
 * up to ServerHelloDone, then hangs up.
 *
 * @param servername SNI to send (omit for an IP address)
 * @param timeout milliseconds before giving up
 * @returns what the flight showed; `answered: false` when the server does not speak TLS 1.2 with us
 *
 * @example Does a server ask for client certificates?
 * ```ts ignore
 * import { readTls12Flight } from "./tls12.ts";
 * const flight = await readTls12Flight("127.0.0.1", 8443, undefined, 3000);
 * console.log(flight.certificateRequest);
 * ```
 */
export function readTls12Flight(
  host: string,
  port: number,
  servername: string | undefined,
  timeout: number,
): Promise<Tls12Flight> {
  return new Promise((resolve) => {
    const seen: Tls12Flight = { answered: false, certificateRequest: false, chain: [] };
    let records: Uint8Array = new Uint8Array(0);
    let hs: Uint8Array = new Uint8Array(0);
    let done = false;
    let complete = false;
    const s = net.connect(port, host, () => s.write(clientHello(servername)));
    s.setTimeout(timeout, () => s.destroy());
    s.on("data", (chunk: Uint8Array) => {
      if (done) return;
      records = concat(records, chunk);
      if (!hs.length && new TextDecoder().decode(records.subarray(0, 5)) === "HTTP/") {
        seen.plainHttp = done = true;
      }
      while (!done && records.length >= 5) {
        const len = (records[3] << 8) | records[4];
        if (records.length < 5 + len) break;
        const type = records[0];
        const fragment = records.subarray(5, 5 + len);
        records = records.slice(5 + len);
        if (type !== 22) { // an alert (or anything else): no TLS 1.2 with us
          done = true;
          break;
        }
        hs = concat(hs, fragment);
        complete = done = readMessages(hs, seen);
        if (done) break;
      }
      if (done) s.destroy();
    });
    s.on("error", () => {});
    s.on("close", () => {
      // Only a whole flight (up to ServerHelloDone) says anything about a CertificateRequest.
      resolve(
        complete && seen.answered
          ? seen
          : { ...seen, answered: false, certificateRequest: false, chain: [] },
      );
    });
  });
}
