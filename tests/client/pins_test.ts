// The client pinning the server (SPKI and certificate pins, backups, a pin
// store, trust on first use) against real servers on 127.0.0.1: every refusal
// is typed, names both pins, and leaves the server with no HTTP request.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import {
  connectMcpClient,
  createMtlsFetch,
  demoServerFactory,
  type MtlsFetchOptions,
  serveMcp,
} from "../../src/mcp/mod.ts";
import { ConfigError, MtlsError, PeerRejectedError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { PinStore } from "../../src/pins/mod.ts";
import {
  fixtures,
  recordingLogger,
  startMcpServer,
  startServer,
  type TestServer,
} from "./_helpers.ts";

type TextContent = { content: { type: string; text: string }[] };

function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return "sha256/" + createHash("sha256").update(spki).digest("base64");
}

function certPin(certPem: string): string {
  return "cert-sha256/" +
    createHash("sha256").update(new X509Certificate(certPem).raw).digest("hex");
}

/** One GET with a fresh client; the result text or the error. */
async function get(server: TestServer, options: MtlsFetchOptions): Promise<unknown> {
  const f = await fixtures();
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca, logger: recordingLogger(), ...options });
  try {
    return await (await fetch(server.url)).text();
  } catch (e) {
    return e;
  } finally {
    await fetch.close();
  }
}

function assertPinMismatch(result: unknown, presented: string, expected: string): void {
  assert.ok(result instanceof PeerRejectedError, `expected a PeerRejectedError, got ${result}`);
  assert.equal(result.code, "pin_mismatch");
  assert.ok(result.message.includes(`presented ${presented}`), result.message);
  assert.ok(result.message.includes(expected), result.message);
}

async function withServer(run: (server: TestServer) => Promise<void>): Promise<void> {
  const f = await fixtures();
  const server = await startServer({ ...f.server, ca: f.ca });
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "client-pins-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("connectMcpClient() with the server's SPKI pin completes an SDK round trip against serveMcp", async () => {
  const f = await fixtures();
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    tls: { ...f.server, ca: f.ca },
    logger: silentLogger,
  });
  try {
    const client = await connectMcpClient(server.url, {
      ...f.client,
      ca: f.ca,
      pins: [spkiPin(f.server.cert)],
    });
    try {
      const who = await client.callTool({ name: "whoami", arguments: {} }) as TextContent;
      assert.match(who.content[0].text, /agent-1/);
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("connectMcpClient() with a wrong pin is refused before any MCP request reaches the server", async () => {
  const f = await fixtures();
  const server = await startMcpServer({ ...f.server, ca: f.ca });
  try {
    const wrong = spkiPin(f.backupServer.cert);
    let error: unknown;
    try {
      const client = await connectMcpClient(server.url + "mcp", {
        ...f.client,
        ca: f.ca,
        pins: [wrong],
      });
      await client.close();
    } catch (e) {
      error = e;
    }
    assertPinMismatch(error, spkiPin(f.server.cert), `expected ${wrong}`);
    assert.match((error as Error).message, /^Pin mismatch for "127\.0\.0\.1:\d+"/);
    assert.equal(server.requests, 0, "no HTTP request may reach a server whose pin did not match");
  } finally {
    await server.close();
  }
});

Deno.test("a backup pin admits the server: before and after rotating to the next key", async () => {
  const f = await fixtures();
  const options = { pins: [spkiPin(f.server.cert)], backupPins: [spkiPin(f.backupServer.cert)] };
  await withServer(async (server) => {
    assert.equal(await get(server, options), "ok");
    server.setSecureContext({ ...f.backupServer, ca: f.ca });
    assert.equal(await get(server, options), "ok");
    // A key that is neither current nor backup is still refused, and the message lists both.
    const other = await get(server, { pins: [spkiPin(f.server.cert)] });
    assertPinMismatch(other, spkiPin(f.backupServer.cert), `expected ${spkiPin(f.server.cert)}`);
    assert.equal(server.requests, 2);
  });
});

Deno.test("a certificate pin admits exactly that certificate, also as an openssl fingerprint", async () => {
  const f = await fixtures();
  await withServer(async (server) => {
    assert.equal(await get(server, { pins: [certPin(f.server.cert)] }), "ok");
    const fingerprint = new X509Certificate(f.server.cert).fingerprint256; // "AB:CD:..."
    assert.equal(await get(server, { pins: [fingerprint] }), "ok");
    const refused = await get(server, { pins: [certPin(f.backupServer.cert)] });
    assertPinMismatch(refused, spkiPin(f.server.cert), `expected ${certPin(f.backupServer.cert)}`);
    assert.equal(server.requests, 2);
  });
});

Deno.test("tofu with a pin file: the first key is stored in the file, a different key at the same host:port is refused", async () => {
  const f = await fixtures();
  await withTempDir((dir) =>
    withServer(async (server) => {
      const path = `${dir}/known_servers.json`;
      const name = `127.0.0.1:${server.port}`;
      assert.equal(await get(server, { pinStore: path, tofu: true }), "ok");
      const file = JSON.parse(await Deno.readTextFile(path));
      assert.deepEqual(file.pins[name].pins, [spkiPin(f.server.cert)]);
      assert.equal(file.pins[name].tofu, true);

      server.setSecureContext({ ...f.backupServer, ca: f.ca });
      const refused = await get(server, { pinStore: path, tofu: true });
      assertPinMismatch(
        refused,
        spkiPin(f.backupServer.cert),
        `expected ${spkiPin(f.server.cert)}`,
      );
      assert.ok((refused as Error).message.startsWith(`Pin mismatch for "${name}"`));
      assert.equal(server.requests, 1, "the refused server got no request");
      // The stored pin is kept, not replaced by the new key.
      const after = JSON.parse(await Deno.readTextFile(path));
      assert.deepEqual(after.pins[name].pins, [spkiPin(f.server.cert)]);
    })
  );
});

Deno.test("tofu without a pin file remembers the first key for the life of the client", async () => {
  const f = await fixtures();
  await withServer(async (server) => {
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca, tofu: true, keepAlive: false });
    try {
      assert.equal(await (await fetch(server.url)).text(), "ok");
      server.setSecureContext({ ...f.backupServer, ca: f.ca });
      const refused = await fetch(server.url).catch((e) => e);
      assertPinMismatch(
        refused,
        spkiPin(f.backupServer.cert),
        `expected ${spkiPin(f.server.cert)}`,
      );
      assert.equal(server.requests, 1);
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("demo policy with tofu pins a self-signed server on first use and refuses another key", async () => {
  const f = await fixtures();
  const server = await startServer({ ...f.selfSigned, ca: f.ca });
  const fetch = createMtlsFetch({
    ...f.client,
    policy: "demo",
    tofu: true,
    keepAlive: false,
    logger: recordingLogger(),
  });
  try {
    assert.equal(await (await fetch(server.url)).text(), "ok");
    server.setSecureContext({ ...f.server, ca: f.ca });
    const refused = await fetch(server.url).catch((e) => e);
    assertPinMismatch(refused, spkiPin(f.server.cert), `expected ${spkiPin(f.selfSigned.cert)}`);
    assert.equal(server.requests, 1);
  } finally {
    await fetch.close();
    await server.close();
  }
});

Deno.test("a pin store refuses a host:port it has no entry for, and admits one it pins", async () => {
  const f = await fixtures();
  await withServer(async (server) => {
    const refused = await get(server, { pinStore: PinStore.memory() });
    assertPinMismatch(refused, spkiPin(f.server.cert), "expected no pins");
    const store = PinStore.memory({ [`127.0.0.1:${server.port}`]: [spkiPin(f.server.cert)] });
    assert.equal(await get(server, { pinStore: store }), "ok");
    assert.equal(server.requests, 1);
  });
});

Deno.test("a corrupt pin file is reported with pin_store_corrupt and left byte for byte intact", async () => {
  await withTempDir((dir) =>
    withServer(async (server) => {
      const path = `${dir}/pins.json`;
      const bytes = new TextEncoder().encode('{"version": 1, "pins": {"127.0.0.1:1": ');
      await Deno.writeFile(path, bytes);
      const result = await get(server, { pinStore: path, tofu: true });
      assert.ok(result instanceof MtlsError, `expected an MtlsError, got ${result}`);
      assert.equal(result.code, "pin_store_corrupt");
      assert.ok(result.message.startsWith(`Cannot load pin file "${path}"`), result.message);
      assert.deepEqual(await Deno.readFile(path), bytes);
      assert.equal(server.connections, 0, "nothing connects without the pins");
      assert.equal(server.requests, 0);
    })
  );
});

const ANY_PIN = "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

Deno.test("createMtlsFetch() refuses bad pin options with a ConfigError naming the key", () => {
  const cases: [MtlsFetchOptions, string, RegExp][] = [
    [
      { pins: ["sha1/abc"] },
      "pins",
      /^Option "pins" holds an invalid pin: Invalid pin "sha1\/abc"/,
    ],
    [{ pins: "sha256/x" as unknown as string[] }, "pins", /must be an array of pins/],
    [{ pins: [ANY_PIN], backupPins: ["nope"] }, "backupPins", /invalid pin/],
    [{ backupPins: [ANY_PIN] }, "backupPins", /needs "pins"/],
    [{ pinStore: 7 as unknown as string }, "pinStore", /pin file path or a PinStore, got "7"/],
    [{ pinStore: "" }, "pinStore", /got ""/],
    [{ tofu: "yes" as unknown as boolean }, "tofu", /must be true or false/],
    [
      { pinStore: PinStore.memory(), tofu: true },
      "tofu",
      /PinStore\.open\(path, \{ tofu: true \}\)/,
    ],
  ];
  for (const [options, key, message] of cases) {
    assert.throws(() => createMtlsFetch(options), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.message, message);
      return true;
    });
  }
});
