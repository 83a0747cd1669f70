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

// The header builders are the portable tests' (Deno, Node.js and Bun share them).
export { v1, v2 } from "../portable/_proxy_peer.ts";

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
