/**
 * The pin APIs inside a real node:tls handshake on 127.0.0.1: the client's
 * checkServerIdentity refuses a wrong pin before any request byte is sent.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { compilePinSet, PinStore } from "../../src/pins/mod.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { makeCert } from "./fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const dir = await moduleTempDir("pins_handshake_");
const server = await makeCert(dir, "server", "ec-p256");
const stranger = await makeCert(dir, "stranger", "ec-p256");

/** A TLS server that records every byte of application data it receives. */
async function listen(): Promise<
  { port: number; received: () => string; close: () => Promise<void> }
> {
  let received = "";
  const srv = tls.createServer({
    cert: await Deno.readTextFile(server.crt),
    key: await Deno.readTextFile(server.key),
  }, (socket) => {
    socket.on("data", (d) => {
      received += d.toString();
      socket.end("pong");
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as AddressInfo).port,
    received: () => received,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

/** Connects, sends "ping", resolves with the reply or rejects with the handshake error. */
function ping(
  port: number,
  check: (host: string, cert: tls.PeerCertificate) => Error | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: Deno.readTextFileSync(server.crt),
      checkServerIdentity: (host, cert) => tls.checkServerIdentity(host, cert) ?? check(host, cert),
    }, () => socket.write("ping"));
    let reply = "";
    socket.on("data", (d) => reply += d.toString());
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

Deno.test("compilePinSet() inside checkServerIdentity admits the pinned server and refuses a wrong pin before sending", async () => {
  const srv = await listen();
  try {
    const right = compilePinSet([server.opensslSpkiPin]);
    assert.equal(
      await ping(srv.port, (_h, cert) => right(cert.raw) ? undefined : new Error("pin")),
      "pong",
    );
    assert.equal(srv.received(), "ping");

    const store = PinStore.memory({ [`localhost:${srv.port}`]: [stranger.opensslSpkiPin] });
    await assert.rejects(
      ping(srv.port, (_h, cert) => store.check(`localhost:${srv.port}`, cert.raw)),
      (e: unknown) => {
        assert.ok(e instanceof PeerRejectedError);
        assert.equal(e.code, "pin_mismatch");
        assert.ok(e.message.includes(`presented sha256/${server.opensslSpkiPin}`), e.message);
        return true;
      },
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(srv.received(), "ping", "the refused client sent nothing");
  } finally {
    await srv.close();
  }
});
