/**
 * A caller that goes away before the upstream answers: the gateway drops
 * its request to the upstream (the upstream sees that request's connection
 * close), and counts nothing against the upstream's health.
 */

import assert from "node:assert/strict";
import http from "node:http";
import tls from "node:tls";
import { INITIALIZE, makeFixtures } from "../server/_fixtures.ts";
import { startGateway } from "./_gateway.ts";

const fx = await makeFixtures();

Deno.test("serveGateway() drops the upstream request when its caller leaves before the answer", async () => {
  let arrived!: () => void;
  const received = new Promise<void>((resolve) => arrived = resolve);
  let dropped!: () => void;
  const closed = new Promise<void>((resolve) => dropped = resolve);
  // An upstream that never answers, and tells when a request's connection closes.
  const upstream = http.createServer((req) => {
    req.socket.once("close", dropped);
    arrived();
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const { port } = upstream.address() as { port: number };
  const { gateway, log } = await startGateway(fx, `http://127.0.0.1:${port}/mcp`);
  const url = new URL(gateway.url);
  const socket = tls.connect({
    host: url.hostname,
    port: Number(url.port),
    servername: "localhost",
    ca: fx.ca,
    cert: fx.alice.cert,
    key: fx.alice.key,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const body = JSON.stringify(INITIALIZE);
    socket.write(
      `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
        `accept: application/json, text/event-stream\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    await received;
    socket.destroy();
    await closed;
    assert.equal(log.records.filter((r) => r.msg === "upstream request failed").length, 0);
  } finally {
    socket.destroy();
    await gateway.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  }
});
