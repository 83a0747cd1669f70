/**
 * Regression test for denoland/deno#34366: Deno before 2.9 reported
 * `authorized: true` for a TLS client that sent no certificate. The server
 * must never admit such a client, whatever the runtime says.
 */
import assert from "node:assert/strict";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { type Fixtures, INITIALIZE, makeFixtures, run, startServer } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

async function observeNoCertClient(rejectUnauthorized: boolean) {
  const seen: { authorized: boolean; hasCert: boolean }[] = [];
  const errors: string[] = [];
  const server = https.createServer({
    cert: fx.server.cert,
    key: fx.server.key,
    ca: fx.ca,
    requestCert: true,
    rejectUnauthorized,
  }, (_req, res) => res.end("served\n"));
  server.on("secureConnection", (s: TLSSocket) => {
    seen.push({ authorized: s.authorized, hasCert: s.getPeerX509Certificate() !== undefined });
  });
  server.on("tlsClientError", (e: Error) => errors.push(e.message));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    const curl = await run("curl", ["-sS", "--cacert", fx.caFile, `https://127.0.0.1:${port}/`]);
    return { seen, errors, curl };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

Deno.test("node:tls does not report a client without a certificate as authorized (deno#34366)", async () => {
  const { seen, curl } = await observeNoCertClient(false);
  assert.equal(seen.length, 1);
  assert.deepStrictEqual(seen[0], { authorized: false, hasCert: false });
  assert.match(curl.stdout, /served/); // rejectUnauthorized: false lets it through; the flag must say so
});

Deno.test("node:tls with rejectUnauthorized refuses a client without a certificate at the handshake", async () => {
  const { seen, errors, curl } = await observeNoCertClient(true);
  assert.equal(seen.length, 0);
  assert.notEqual(curl.code, 0);
  assert.match(curl.stderr, /certificate required/);
  assert.ok(errors.some((e) => /no certificates/.test(e)), JSON.stringify(errors));
});

Deno.test("serveMcp refuses a client without a certificate before reading any request", async () => {
  let factoryCalls = 0;
  const { server, log } = await startServer(fx, {}, () => {
    factoryCalls++;
    throw new Error("must not be reached");
  });
  try {
    const curl = await run("curl", [
      "-sS",
      "--cacert",
      fx.caFile,
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify(INITIALIZE),
      server.url,
    ]);
    assert.notEqual(curl.code, 0);
    assert.equal(curl.stdout, "");
    await log.waitForReason("no_client_cert");
    assert.equal(factoryCalls, 0);
  } finally {
    await server.close();
  }
});
