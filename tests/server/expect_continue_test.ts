import assert from "node:assert/strict";
import tls from "node:tls";
import { type Fixtures, makeFixtures, startServer } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

/** Sends only the request head, then returns the first status line the server answers. */
function firstStatusLine(port: number, contentLength: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: fx.ca,
      cert: fx.alice.cert,
      key: fx.alice.key,
    }, () => {
      s.write(
        `POST /mcp HTTP/1.1\r\nHost: localhost:${port}\r\ncontent-type: application/json\r\n` +
          "accept: application/json, text/event-stream\r\n" +
          `content-length: ${contentLength}\r\nexpect: 100-continue\r\n\r\n`,
      );
    });
    let got = "";
    s.on("data", (d) => {
      got += d;
      const line = got.split("\r\n")[0];
      if (got.includes("\r\n")) {
        s.destroy();
        resolve(line);
      }
    });
    s.on("error", reject);
  });
}

Deno.test("a body declared larger than the limit is refused with 413 instead of 100 Continue", async () => {
  const { server } = await startServer(fx, { limits: { maxBodyBytes: 1000 } });
  try {
    assert.equal(
      await firstStatusLine(server.address.port, 100_000_000),
      "HTTP/1.1 413 Payload Too Large",
    );
    // Within the limit, the client is told to go on.
    assert.equal(await firstStatusLine(server.address.port, 500), "HTTP/1.1 100 Continue");
  } finally {
    await server.close();
  }
});
