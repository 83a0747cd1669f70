// The alerts a server sends when its TLS stack refuses our client certificate
// inside the handshake (measured: rustls sends certificate_unknown for a
// malformed certificate and decrypt_error for a signature it cannot verify;
// openssl s_server also sends bad_certificate). A raw server on 127.0.0.1
// answers our ClientHello with exactly one fatal alert, so each mapping is
// tested on its own, on a real socket, with the real client stack.
import assert from "node:assert/strict";
import net from "node:net";
import { MtlsError, PeerRejectedError } from "../../src/errors.ts";
import { createMtlsFetch } from "../../src/mcp/mod.ts";
import { fixtures } from "./_helpers.ts";

/** Runs a server that answers the first bytes it reads with one fatal alert (TLS 1.2 record). */
async function alertServer(description: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
    s.once("data", () => s.end(new Uint8Array([0x15, 3, 3, 0, 2, 2, description])));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/mcp`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const cases: [string, number, RegExp][] = [
  ["bad_certificate", 42, /refused our client certificate \(alert "bad_certificate"\)$/],
  ["certificate_unknown", 46, /refused our client certificate \(alert "certificate_unknown"\)$/],
  [
    "decrypt_error",
    51,
    /refused our client certificate: it could not verify our signature with its key \(alert "decrypt_error"\)$/,
  ],
];

for (const [alert, description, message] of cases) {
  Deno.test(`createMtlsFetch() turns a "${alert}" alert into a bad_certificate refusal`, async () => {
    const f = await fixtures();
    const srv = await alertServer(description);
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
    try {
      await assert.rejects(fetch(srv.url, { method: "POST", body: "{}" }), (e: unknown) => {
        assert.ok(e instanceof PeerRejectedError, String(e));
        assert.equal(e.code, "bad_certificate");
        assert.match(e.message, /^Server "127\.0\.0\.1:\d+" /);
        assert.match(e.message, message);
        return true;
      });
    } finally {
      await fetch.close();
      await srv.close();
    }
  });
}

Deno.test('createMtlsFetch() without a certificate does not read "decrypt_error" as a refusal of one', async () => {
  const f = await fixtures();
  const srv = await alertServer(51);
  const fetch = createMtlsFetch({ ca: f.ca });
  try {
    await assert.rejects(fetch(srv.url, { method: "POST", body: "{}" }), (e: unknown) => {
      assert.ok(e instanceof MtlsError && !(e instanceof PeerRejectedError), String(e));
      assert.equal(e.code, "handshake_failed");
      assert.match(e.message, /DecryptError/);
      return true;
    });
  } finally {
    await fetch.close();
    await srv.close();
  }
});
