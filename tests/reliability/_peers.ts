// Hostile peers: raw sockets, a captured ClientHello, raw HTTP over mTLS, and openssl s_client.
import net from "node:net";
import tls from "node:tls";
import type { Pki } from "./_harness.ts";

/**
 * Resolves when the server ends, resets or closes `socket`; rejects after `ms`, which only
 * stops a hang (when it closed is not asserted). ('end' counts: Deno's node:net client does
 * not always emit 'close' after the server's FIN.)
 */
export function closed(socket: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${ms} ms`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.once("end", done);
    socket.once("close", done);
    socket.once("error", done); // a reset (RST) is a close too
    socket.resume(); // 'end' only comes to a flowing stream
  });
}

/** Opens a TCP connection from `localAddress` (any 127/8 address works on Linux). */
export function rawConnect(port: number, localAddress = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** The bytes of a real TLS ClientHello, captured from node:tls against a silent listener. */
export async function captureClientHello(): Promise<Uint8Array> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Uint8Array>((resolve) => {
      server.once("connection", (s) => {
        s.once("data", (d: Uint8Array) => {
          resolve(new Uint8Array(d));
          s.destroy();
        });
      });
    });
    const c = tls.connect({ host: "127.0.0.1", port, servername: "localhost" });
    c.on("error", () => {});
    const hello = await got;
    c.destroy();
    return hello;
  } finally {
    await new Promise((r) => server.close(r));
  }
}

/** An mTLS connection with the good client certificate. */
export function mtlsConnect(port: number, pki: Pki): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: pki.caPem,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    s.once("secureConnect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Runs openssl with `stdin` and returns its exit code and output; killed after `ms`. */
export async function openssl(
  args: string[],
  stdin: string,
  ms = 10_000,
  holdStdinMs = 0,
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("openssl", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, ms);
  try {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin)).catch(() => {});
    if (holdStdinMs) await new Promise((r) => setTimeout(r, holdStdinMs));
    await w.close().catch(() => {});
    const { code, stdout, stderr } = await child.output();
    const dec = new TextDecoder();
    return { code, out: dec.decode(stdout) + dec.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}
