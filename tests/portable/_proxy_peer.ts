/**
 * A client that speaks through a pretend load balancer, for every runtime
 * (Deno, Node.js, Bun): a real TCP connection (node:net, from a chosen
 * loopback address) that carries a PROXY protocol header and then TLS over
 * the same socket, delivered three ways (header first, header and
 * ClientHello in one segment, header in pieces); plain HTTP/1.1 over the TLS
 * socket for MCP. Only `node:` built-ins. The header builders are shared with
 * the Deno tests (tests/proxy_protocol).
 */

import { Buffer } from "node:buffer";
import net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";

/** A v1 line: `PROXY TCP4 src dst sport dport\r\n`. */
export function v1(
  family: "TCP4" | "TCP6",
  src: string,
  dst: string,
  sport = 51000,
  dport = 443,
): Uint8Array {
  return new TextEncoder().encode(`PROXY ${family} ${src} ${dst} ${sport} ${dport}\r\n`);
}

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** The 16 bytes of an IPv6 address (test input only: full or `::`-compressed form). */
function ipv6Bytes(text: string): number[] {
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) =>
    parseInt(g, 16)
  );
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** A v2 header; `tlvs` are appended raw; `declaredLength` overrides the length field. */
export function v2(o: {
  command?: "proxy" | "local";
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  tlvs?: number[];
  declaredLength?: number;
}): Uint8Array {
  const { command = "proxy", src, dst, sport = 51000, dport = 443, tlvs = [] } = o;
  let fam = 0x00;
  let addr: number[] = [];
  if (src && dst) {
    const six = src.includes(":");
    fam = six ? 0x21 : 0x11;
    const bytes = six ? ipv6Bytes : (a: string) => a.split(".").map(Number);
    addr = [...bytes(src), ...bytes(dst), sport >> 8, sport & 0xff, dport >> 8, dport & 0xff];
  }
  const body = [...addr, ...tlvs];
  const len = o.declaredLength ?? body.length;
  return Uint8Array.from([
    ...SIG,
    command === "proxy" ? 0x21 : 0x20,
    fam,
    len >> 8,
    len & 0xff,
    ...body,
  ]);
}

/**
 * How the header reaches the server: `first` written (and flushed) before
 * TLS starts; `same-segment` in one write with the ClientHello; `pieces`
 * in three writes 50 ms apart, then TLS.
 */
export type Delivery = "first" | "same-segment" | "pieces";

/** What {@link proxiedTls} connects with. */
export interface ProxiedTlsOptions {
  /** The CA that signed the server's certificate, PEM. */
  ca: string;
  /** The client certificate and key, PEM; none when omitted. */
  pair?: { cert: string; key: string };
  /** The loopback address to connect from. @default {"127.0.0.1"} */
  localAddress?: string;
  /** @default {"first"} */
  delivery?: Delivery;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes `bytes` and waits until they are handed to the kernel. */
const flush = (raw: net.Socket, bytes: Uint8Array) =>
  new Promise<void>((r) => raw.write(bytes, () => r()));

/**
 * A stream over `raw` whose first write carries `header` in front of the
 * TLS bytes, in one `write` (so one segment on loopback, with Nagle off).
 */
function headerInFront(raw: net.Socket, header: Uint8Array): Duplex {
  let first = true;
  const d: Duplex = new Duplex({
    read: () => void raw.resume(),
    write(chunk: Uint8Array, _enc, cb) {
      const bytes = first ? Buffer.concat([header, chunk]) : chunk;
      first = false;
      raw.write(bytes, (e) => cb(e ?? null));
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(e, cb) {
      raw.destroy();
      cb(e);
    },
  });
  raw.on("data", (b: Uint8Array) => void (d.push(b) || raw.pause()));
  raw.once("end", () => d.push(null));
  raw.once("close", () => d.destroy());
  return d;
}

/** Connects to 127.0.0.1:`port`, sends `header` (none when undefined), then runs TLS. */
export async function proxiedTls(
  port: number,
  header: Uint8Array | undefined,
  o: ProxiedTlsOptions,
): Promise<tls.TLSSocket> {
  const raw = net.connect({ port, host: "127.0.0.1", localAddress: o.localAddress });
  raw.setNoDelay(true);
  raw.on("error", () => {}); // a refusal resets it; the TLS socket reports the close
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", resolve);
    raw.once("error", reject);
  });
  const delivery = header ? o.delivery ?? "first" : "first";
  if (header && delivery === "first") await flush(raw, header);
  if (header && delivery === "pieces") {
    for (const piece of [header.subarray(0, 5), header.subarray(5, 14), header.subarray(14)]) {
      await flush(raw, piece);
      await wait(50);
    }
  }
  const s = tls.connect({
    socket: header && delivery === "same-segment" ? headerInFront(raw, header) : raw,
    ca: o.ca,
    servername: "localhost",
    ...(o.pair ?? {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("secureConnect", resolve);
      s.once("error", reject);
      s.once("close", () => reject(new Error("closed during the handshake")));
    });
  } catch (e) {
    s.destroy();
    raw.destroy();
    throw e;
  }
  PORTS.set(s, port);
  return s;
}

/** The server port each socket from {@link proxiedTls} dialled, for the Host header. */
const PORTS = new WeakMap<tls.TLSSocket, number>();

/** One HTTP answer: status, lower-cased headers, the JSON-RPC message of the body. */
export interface McpAnswer {
  status: number;
  headers: Record<string, string>;
  json: unknown;
}

/** The JSON-RPC message of a body: plain JSON, or the first SSE `data:` line. */
function parseBody(text: string): unknown {
  const t = text.trim();
  if (t === "") return undefined;
  if (t.startsWith("{") || t.startsWith("[")) return JSON.parse(t);
  const data = t.split("\n").find((l) => l.startsWith("data: "));
  if (!data) throw new Error(`No JSON-RPC message in ${JSON.stringify(text)}`);
  return JSON.parse(data.slice(6));
}

/**
 * POSTs one JSON-RPC message to /mcp over `s` (keep-alive) and resolves with
 * the whole answer (by Content-Length, or the last chunk); rejects when the
 * server closes first (a refusal).
 */
export function mcpOver(
  s: tls.TLSSocket,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<McpAnswer> {
  const payload = JSON.stringify(body);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return new Promise((resolve, reject) => {
    let text = "";
    const done = (): boolean => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const [statusLine, ...fields] = text.slice(0, end).split("\r\n");
      const head: Record<string, string> = {};
      for (const f of fields) {
        const i = f.indexOf(":");
        head[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
      }
      const rest = text.slice(end + 4);
      let bodyText: string;
      if (head["content-length"] !== undefined) {
        if (Buffer.byteLength(rest) < Number(head["content-length"])) return false;
        bodyText = rest;
      } else if (/chunked/i.test(head["transfer-encoding"] ?? "")) {
        if (!rest.endsWith("0\r\n\r\n")) return false;
        // Small bodies: drop the chunk-size lines.
        bodyText = rest.split("\r\n").filter((_l, i) => i % 2 === 1).join("");
      } else return false;
      s.off("data", onData);
      s.off("close", onClose);
      resolve({
        status: Number(statusLine.split(" ")[1]),
        headers: head,
        json: parseBody(bodyText),
      });
      return true;
    };
    const onData = (d: Uint8Array) => {
      text += Buffer.from(d).toString();
      done();
    };
    const onClose = () => {
      if (!done()) reject(new Error(`Closed without a whole response: ${JSON.stringify(text)}`));
    };
    s.on("data", onData);
    s.once("close", onClose);
    s.write(
      `POST /mcp HTTP/1.1\r\nHost: localhost:${PORTS.get(s)}\r\n` +
        `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Content-Length: ${Buffer.byteLength(payload)}\r\n${extra}\r\n${payload}`,
    );
  });
}

/**
 * Whether a connection attempt is refused: closed during the handshake, or
 * (TLS 1.3, where the server's verdict comes after the client's handshake
 * completes) before an answer to `initialize`.
 */
export async function refused(p: Promise<tls.TLSSocket>, initialize: unknown): Promise<boolean> {
  let s: tls.TLSSocket;
  try {
    s = await p;
  } catch {
    return true;
  }
  try {
    await mcpOver(s, initialize);
    return false;
  } catch {
    return true;
  } finally {
    s.destroy();
  }
}

/** Writes raw `bytes` from `localAddress` and waits until the server closes. */
export async function rawBytes(
  port: number,
  bytes: Uint8Array,
  localAddress = "127.0.0.1",
): Promise<void> {
  const c = net.connect({ port, host: "127.0.0.1", localAddress });
  c.on("error", () => {});
  await new Promise((r) => c.once("connect", r));
  c.write(bytes);
  await new Promise((r) => c.once("close", r));
}
