/**
 * A client that speaks through a pretend load balancer: a real TCP
 * connection (node:net, from a chosen loopback address) that writes a PROXY
 * header, then runs TLS over the same socket (`tls.connect({ socket })`) and
 * HTTP over that.
 */

import { Buffer } from "node:buffer";
import net from "node:net";
import tls from "node:tls";
import type { Credential, Fixtures } from "../server/_fixtures.ts";
import { INITIALIZE, parseMcpBody } from "../server/_fixtures.ts";

/** A v1 line: `PROXY TCP4 src dst sport dport\r\n`. */
export function v1(family: "TCP4" | "TCP6", src: string, dst: string, sport = 51000, dport = 443) {
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

/** Connects from `localAddress`, writes `header` (flushed first: Deno's TLS would overtake it), then TLS. */
export async function proxiedTls(
  port: number,
  header: Uint8Array | undefined,
  o: { fx: Fixtures; cred?: Credential; localAddress?: string },
): Promise<tls.TLSSocket> {
  const raw = net.connect({ port, host: "127.0.0.1", localAddress: o.localAddress });
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", resolve);
    raw.once("error", reject);
  });
  if (header) await new Promise<void>((r) => raw.write(header, () => r()));
  const s = tls.connect({
    socket: raw,
    ca: o.fx.ca,
    servername: "localhost",
    ...(o.cred ? { cert: o.cred.cert, key: o.cred.key } : {}),
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

/**
 * Sends one MCP request over `s` and returns the parsed JSON-RPC answer once
 * it is complete (by Content-Length or the last chunk: the server may keep
 * the connection open); rejects when the server closes without one (a
 * refusal).
 */
export function mcpOver(
  s: tls.TLSSocket,
  body: unknown = INITIALIZE,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; headers: string }> {
  const payload = JSON.stringify(body);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return new Promise((resolve, reject) => {
    let text = "";
    const done = () => {
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const head = text.slice(0, end);
      const rest = text.slice(end + 4);
      const length = /content-length: (\d+)/i.exec(head);
      let bodyText: string;
      if (length) {
        if (Buffer.byteLength(rest) < Number(length[1])) return false;
        bodyText = rest;
      } else if (/transfer-encoding: chunked/i.test(head)) {
        if (!rest.endsWith("0\r\n\r\n")) return false;
        // Good enough for small bodies: drop the chunk-size lines.
        bodyText = rest.split("\r\n").filter((_l, i) => i % 2 === 1).join("");
      } else return false;
      s.off("data", onData);
      resolve({ status: Number(head.split(" ")[1]), json: parseMcpBody(bodyText), headers: head });
      return true;
    };
    const onData = (d: Buffer) => {
      text += d.toString();
      done();
    };
    s.on("data", onData);
    s.once("close", () => {
      if (!done()) reject(new Error(`Closed without a whole response: ${JSON.stringify(text)}`));
    });
    s.write(
      `POST /mcp HTTP/1.1\r\nHost: localhost:${
        PORTS.get(s)
      }\r\nContent-Type: application/json\r\n` +
        `Accept: application/json, text/event-stream\r\nContent-Length: ${
          Buffer.byteLength(payload)
        }\r\n${extra}\r\n${payload}`,
    );
  });
}

/** Whether a connection attempt is refused (closed before or right after the handshake). */
export async function refused(p: Promise<tls.TLSSocket>): Promise<boolean> {
  try {
    const s = await p;
    // TLS 1.3: the server's verdict comes after the client's handshake completes.
    try {
      await mcpOver(s);
      return false;
    } catch {
      return true;
    } finally {
      s.destroy();
    }
  } catch {
    return true;
  }
}
