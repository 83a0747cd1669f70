// The mTLS MCP server on every runtime (Deno, Node.js, Bun): `serveMcp` runs
// in the runtime under test, and real peers (openssl s_client, openssl ocsp,
// our client, the MCP SDK client) meet it on 127.0.0.1. Every refusal asserts
// its reason code and message, one warn line with the peer address, that no
// HTTP answer reached the refused peer, and that the next good client is
// still served.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { PinStore } from "../../src/pins/mod.ts";
import { createCrl, crlToPem } from "../../src/pki/mod.ts";
import { type Pair, pinOf } from "./_client_fixtures.ts";
import { RUNTIME, withTempDir } from "./_env.ts";
import { startOcspResponder } from "./_server_ocsp.ts";
import {
  assertGoodClientServed,
  initialize,
  type LogLine,
  type RunningServer,
  sClient,
  type ServerFixtures,
  serverFixtures,
  startMcp,
  writePair,
} from "./_server_fixtures.ts";

/** Starts a server, runs `fn`, stops it. */
async function withMcp(
  fn: (s: RunningServer, fx: ServerFixtures) => Promise<void>,
  options: Parameters<typeof startMcp>[1] = {},
): Promise<void> {
  const fx = await serverFixtures();
  const running = await startMcp(fx, options);
  try {
    await fn(running, fx);
  } finally {
    await running.server.close();
  }
}

/**
 * The one "connection refused" line logged since `from`, checked after a
 * good client was served (so a late duplicate would count).
 */
function onlyRefusal(s: RunningServer, from: number, reason: string, detail: RegExp): LogLine {
  const lines = s.refusals().slice(from);
  assert.equal(lines.length, 1, `logged once: ${JSON.stringify(lines)}`);
  const [line] = lines;
  assert.equal(line.level, "warn");
  assert.equal(line.reason, reason);
  assert.match(String(line.peer), /^127\.0\.0\.1:\d+$/);
  assert.match(String(line.detail), detail);
  return line;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const exactly = (s: string) => new RegExp(`^${escape(s)}$`);

/** The detail of a pin_mismatch refusal of `presented` where `expected` is pinned for `whom`. */
const pinMismatch = (whom: string, presented: Pair, expected: Pair) =>
  `Pin mismatch for "${whom}": presented ${pinOf(presented.cert)} (certificate cert-sha256/${
    new X509Certificate(presented.cert).fingerprint256.replaceAll(":", "").toLowerCase()
  }), expected ${pinOf(expected.cert)}`;

type Hostile = keyof ServerFixtures | undefined;

const iso = (date: string) => new Date(date).toISOString();

/** Each hostile client, the reason it is refused with, and the exact detail logged. */
const matrix: {
  what: string;
  client: Hostile;
  reason: string;
  detail: (fx: ServerFixtures) => string;
}[] = [
  {
    what: "a client without a certificate",
    client: undefined,
    reason: "no_client_cert",
    detail: () => "Client presented no certificate",
  },
  {
    what: "a certificate from another CA",
    client: "otherCaClient",
    reason: "unknown_ca",
    detail: () =>
      'Certificate "CN=mallory" was issued by "CN=Portable Other CA", which is not a trusted CA',
  },
  {
    what: "an expired certificate",
    client: "expired",
    reason: "expired",
    detail: (fx) =>
      `Certificate "CN=expired" expired at ${iso(new X509Certificate(fx.expired.cert).validTo)}`,
  },
  {
    what: "a not yet valid certificate",
    client: "notYetValid",
    reason: "not_yet_valid",
    detail: (fx) =>
      `Certificate "CN=future" is not valid before ${
        iso(new X509Certificate(fx.notYetValid.cert).validFrom)
      }`,
  },
  {
    what: "a serverAuth-only certificate",
    client: "serverAuthOnly",
    reason: "bad_key_usage",
    detail: () =>
      'Certificate "CN=server-auth-only" lacks extended key usage clientAuth (has 1.3.6.1.5.5.7.3.1)',
  },
  {
    what: "a CA certificate presented as a client certificate",
    client: "caAsClient",
    reason: "bad_key_usage",
    detail: () =>
      'Certificate "CN=Portable Server CA" is a CA certificate, not a client certificate',
  },
];

/**
 * Presents `pair` (or no certificate) with `openssl s_client` (one
 * connection, `args` added), waits for the server's refusal with `reason`,
 * and checks that no HTTP answer reached the peer. Returns what it printed.
 */
async function refusedPeer(
  s: RunningServer,
  dir: string,
  pair: Pair | undefined,
  reason: string,
  args: string[] = [],
): Promise<string> {
  const presented = pair ? await writePair(dir, "presented", pair) : undefined;
  const { wire } = await sClient(s.server.address.port, [
    ...(presented ? ["-cert", presented.cert, "-key", presented.key] : []),
    ...args,
  ]);
  await s.waitForRefusal(reason);
  assert.doesNotMatch(wire, /HTTP\/1\.1/, "no HTTP answer reaches a refused client");
  return wire;
}

/** Bun's test runner stops a test after 5 s: room for the waits that only stop a hang. */
const LONG = { timeout: 60_000 };

for (const c of matrix) {
  test(
    `serveMcp() refuses ${c.what} with ${c.reason} over TLS 1.3 and 1.2, and serves the next client`,
    LONG,
    async () => {
      await withTempDir(async (dir) => {
        await withMcp(async (s, fx) => {
          for (const version of ["-tls1_3", "-tls1_2"]) {
            const from = s.refusals().length;
            await refusedPeer(s, dir, c.client && fx[c.client] as Pair, c.reason, [version]);
            await assertGoodClientServed(fx, s.server.url);
            onlyRefusal(s, from, c.reason, exactly(c.detail(fx)));
          }
        });
      });
    },
  );
}

/** What each runtime's TLS stack says to a TLS 1.1 client (sent alert) and in its error (logged detail). */
const TLS11: Record<string, { alert: RegExp; detail: RegExp }> = {
  deno: {
    alert: /alert handshake failure/,
    detail:
      /^ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: peer is incompatible: SignatureAlgorithmsExtensionRequired$/,
  },
  node: {
    alert: /alert protocol version/,
    detail:
      /^ERR_SSL_UNSUPPORTED_PROTOCOL: .*:tls_early_post_process_client_hello:unsupported protocol:/,
  },
  bun: {
    alert: /alert protocol version/,
    detail:
      /^ERR_SSL_UNSUPPORTED_PROTOCOL: error:100000f0:SSL routines:OPENSSL_internal:UNSUPPORTED_PROTOCOL$/,
  },
};

test(
  "serveMcp() refuses a client that offers only TLS 1.1 with protocol_version, and serves the next client",
  LONG,
  async () => {
    await withTempDir(async (dir) => {
      await withMcp(async (s, fx) => {
        // Debian's openssl offers TLS 1.1 only at security level 0.
        const wire = await refusedPeer(s, dir, fx.alice, "protocol_version", [
          "-tls1_1",
          "-cipher",
          "DEFAULT@SECLEVEL=0",
        ]);
        assert.match(wire, TLS11[RUNTIME].alert);
        await assertGoodClientServed(fx, s.server.url);
        onlyRefusal(s, 0, "protocol_version", TLS11[RUNTIME].detail);
      });
    });
  },
);

test(
  "connectMcpClient() initializes and whoami returns alice's certificate identity",
  LONG,
  async () => {
    await withMcp(async (s, fx) => {
      const client = await connectMcpClient(s.server.url, { ...fx.alice, ca: fx.ca });
      try {
        const tools = await client.listTools();
        assert.deepEqual(tools.tools.map((t: { name: string }) => t.name).sort(), [
          "echo",
          "time",
          "whoami",
        ]);
        const result = await client.callTool({ name: "whoami", arguments: {} });
        const [content] = result.content as { type: string; text: string }[];
        const who = JSON.parse(content.text);
        const x = new X509Certificate(fx.alice.cert);
        assert.equal(who.clientId, "spiffe://example.org/agent");
        assert.equal(who.identity.commonName, "alice");
        assert.equal(who.identity.spiffeId, "spiffe://example.org/agent");
        assert.equal(who.identity.fingerprint, x.fingerprint256.replaceAll(":", "").toLowerCase());
        assert.equal(who.identity.serialNumber, x.serialNumber.toUpperCase());
        assert.equal(`sha256/${who.identity.spkiPin}`, pinOf(fx.alice.cert));
        assert.equal(s.server.sessionCount, 1);
      } finally {
        await client.close();
      }
      assert.equal(s.refusals().length, 0);
    });
  },
);

test(
  "serveMcp({ pins: { allow } }) admits the pinned client and refuses another with pin_mismatch",
  LONG,
  async () => {
    const fx = await serverFixtures();
    await withTempDir(async (dir) => {
      await withMcp(async (s) => {
        assert.equal(await initialize(fx, s.server.url, fx.alice), 200);
        await refusedPeer(s, dir, fx.bob, "pin_mismatch");
        await assertGoodClientServed(fx, s.server.url);
        onlyRefusal(
          s,
          0,
          "pin_mismatch",
          exactly(pinMismatch("the pin allowlist", fx.bob, fx.alice)),
        );
      }, { pins: { allow: [pinOf(fx.alice.cert)] } });
    });
  },
);

test(
  "serveMcp({ pins: { store } }) with a pin file: the pinned key is admitted, another key of the identity refused",
  LONG,
  async () => {
    const fx = await serverFixtures();
    const otherAlice = await fx.issueClient({
      commonName: "alice",
      subjectAltNames: "uri:spiffe://example.org/agent",
    });
    await withTempDir(async (dir) => {
      const path = join(dir, "pins.json");
      const store = await PinStore.open(path);
      await store.add("spiffe://example.org/agent", pinOf(fx.alice.cert));
      await withMcp(async (s) => {
        await refusedPeer(s, dir, otherAlice, "pin_mismatch");
        await assertGoodClientServed(fx, s.server.url);
        onlyRefusal(
          s,
          0,
          "pin_mismatch",
          exactly(pinMismatch("spiffe://example.org/agent", otherAlice, fx.alice)),
        );
      }, { pins: { store: path } });
    });
  },
);

test(
  "serveMcp({ revocation: { crls } }) refuses a client revoked in the CRL with revoked",
  LONG,
  async () => {
    const fx = await serverFixtures();
    await withTempDir(async (dir) => {
      const serial = new X509Certificate(fx.bob.cert).serialNumber;
      const crl = await createCrl(fx.caBundle, [{
        serialNumber: serial,
        revocationDate: new Date(Date.now() - 60_000),
        reason: "keyCompromise",
      }], { crlNumber: 1 });
      const path = join(dir, "ca.crl");
      await writeFile(path, crlToPem(crl));
      await withMcp(async (s) => {
        await refusedPeer(s, dir, fx.bob, "revoked");
        await assertGoodClientServed(fx, s.server.url);
        onlyRefusal(
          s,
          0,
          "revoked",
          exactly(
            `Certificate serial "${
              serial.toLowerCase().replace(/^0+/, "")
            }" is revoked (keyCompromise): listed in CRL "${path}"`,
          ),
        );
      }, { revocation: { crls: [path] } });
    });
  },
);

test(
  "serveMcp({ revocation: { ocsp } }) asks a real openssl ocsp responder: good admitted, revoked refused",
  LONG,
  async () => {
    const fx = await serverFixtures();
    await withTempDir(async (dir) => {
      const responder = await startOcspResponder(dir, fx.caBundle, {
        good: "1001",
        revoked: "1002",
      });
      try {
        const issue = (cn: string, serialNumber: string) =>
          fx.issueClient({ commonName: cn, serialNumber, ocspUrl: responder.url });
        const good = await issue("ocsp-good", "1001");
        const revoked = await issue("ocsp-revoked", "1002");
        await withMcp(async (s) => {
          assert.equal(await initialize(fx, s.server.url, good), 200);
          await refusedPeer(s, dir, revoked, "revoked");
          assert.equal(await initialize(fx, s.server.url, good), 200);
          onlyRefusal(
            s,
            0,
            "revoked",
            exactly(
              `Certificate serial "1002" is revoked (keyCompromise): OCSP responder "${responder.url}" says revoked`,
            ),
          );
          // Each certificate asked once: the good answer is cached for the second connection.
          assert.equal(responder.requests(), 2);
        }, { revocation: { ocsp: true } });
      } finally {
        await responder.stop();
      }
    });
  },
);
