// PROXY protocol on every runtime (Deno, Node.js, Bun): `serveMcp` with
// `proxyProtocol` trusting 127.0.0.1 runs in the runtime under test; a real
// TCP client from 127.0.0.1 plays the balancer (v1 and v2 headers, sent
// before TLS, in one segment with the ClientHello, or in pieces), then runs
// mTLS with a client certificate and MCP `initialize` + `tools/call` over the
// same socket. The address in the header must be what a tool handler sees
// and what the server logs. Hostile first: a header from an untrusted
// address, garbage and a bare ClientHello from the balancer, each refused
// with its exact reason and detail, logged once, and the next client served.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Delivery, mcpOver, proxiedTls, rawBytes, refused, v1, v2 } from "./_proxy_peer.ts";
import { admitted, mcpSession, peerFactory } from "./_proxy_server.ts";
import {
  INITIALIZE,
  type LogLine,
  type RunningServer,
  type ServerFixtures,
  serverFixtures,
  startMcp,
} from "./_server_fixtures.ts";

/** Bun's test runner stops a test after 5 s: room for the waits that only stop a hang. */
const LONG = { timeout: 60_000 };

/** Starts a server trusting the balancer 127.0.0.1, runs `fn`, stops it. */
async function withProxied(
  fn: (s: RunningServer, fx: ServerFixtures) => Promise<void>,
): Promise<void> {
  const fx = await serverFixtures();
  const s = await startMcp(fx, {
    limits: { handshakeTimeoutMs: 5_000 },
    proxyProtocol: { trusted: ["127.0.0.1/32"] },
  }, peerFactory);
  try {
    await fn(s, fx);
  } finally {
    await s.server.close();
  }
}

/** One MCP session as alice through `header`, delivered as `delivery`; the address `peer` saw. */
async function throughHeader(
  s: RunningServer,
  fx: ServerFixtures,
  header: Uint8Array,
  delivery: Delivery,
): Promise<string> {
  const port = s.server.address.port;
  return await mcpSession(await proxiedTls(port, header, { ca: fx.ca, pair: fx.alice, delivery }));
}

const cases: { what: string; header: (sport: number) => Uint8Array; delivery: Delivery }[] = [
  {
    what: "a v2 header sent before TLS",
    header: (sport) => v2({ src: "203.0.113.7", dst: "127.0.0.1", sport }),
    delivery: "first",
  },
  {
    what: "a v1 header sent before TLS",
    header: (sport) => v1("TCP4", "203.0.113.7", "127.0.0.1", sport),
    delivery: "first",
  },
  {
    what: "a v2 header in the same segment as the ClientHello",
    header: (sport) => v2({ src: "203.0.113.7", dst: "127.0.0.1", sport }),
    delivery: "same-segment",
  },
  {
    what: "a v1 header in the same segment as the ClientHello",
    header: (sport) => v1("TCP4", "203.0.113.7", "127.0.0.1", sport),
    delivery: "same-segment",
  },
  {
    what: "a v2 header split across three TCP segments",
    header: (sport) => v2({ src: "203.0.113.7", dst: "127.0.0.1", sport }),
    delivery: "pieces",
  },
  {
    what: "a v2 IPv6 header",
    header: (sport) => v2({ src: "2001:db8::7", dst: "::1", sport }),
    delivery: "first",
  },
];

test(
  "serveMcp() behind a PROXY protocol balancer: mTLS, initialize and tools/call see the client's address from the header",
  LONG,
  async () => {
    await withProxied(async (s, fx) => {
      let sport = 40_000;
      for (const c of cases) {
        sport++;
        const header = c.header(sport);
        const expected = header[0] === 0x0d && header[13] === 0x21
          ? `[2001:db8::7]:${sport}`
          : `203.0.113.7:${sport}`;
        assert.equal(await throughHeader(s, fx, header, c.delivery), expected, c.what);
        assert.equal(admitted(s).at(-1), expected, c.what);
      }
      assert.equal(s.refusals().length, 0, JSON.stringify(s.refusals()));
      // The balancer's own address is never taken for the client's.
      assert.ok(!admitted(s).some((p) => String(p).startsWith("127.")));
    });
  },
);

/** The one "connection refused" line logged since `from`, checked after a good client was served. */
function onlyRefusal(s: RunningServer, from: number, reason: string, peer: RegExp): LogLine {
  const lines = s.refusals().slice(from);
  assert.equal(lines.length, 1, `logged once: ${JSON.stringify(lines)}`);
  const [line] = lines;
  assert.equal(line.level, "warn");
  assert.equal(line.reason, reason);
  assert.match(String(line.peer), peer);
  return line;
}

/** A good client behind the balancer is still served after a refusal. */
async function nextServed(s: RunningServer, fx: ServerFixtures, sport: number): Promise<void> {
  const header = v2({ src: "203.0.113.9", dst: "127.0.0.1", sport });
  assert.equal(await throughHeader(s, fx, header, "first"), `203.0.113.9:${sport}`);
}

test(
  "serveMcp() refuses a PROXY header from an untrusted address with proxy_protocol_untrusted, and never believes it",
  LONG,
  async () => {
    await withProxied(async (s, fx) => {
      const port = s.server.address.port;
      for (
        const header of [
          v1("TCP4", "198.51.100.1", "127.0.0.1"),
          v2({ src: "198.51.100.1", dst: "127.0.0.1" }),
        ]
      ) {
        const from = s.refusals().length;
        // 127.0.0.3 is not a balancer: its claim to be 198.51.100.1 is refused.
        const p = proxiedTls(port, header, {
          ca: fx.ca,
          pair: fx.alice,
          localAddress: "127.0.0.3",
        });
        assert.ok(await refused(p, INITIALIZE));
        await s.waitForRefusal("proxy_protocol_untrusted");
        await nextServed(s, fx, 41_000 + from);
        const line = onlyRefusal(s, from, "proxy_protocol_untrusted", /^127\.0\.0\.3:\d+$/);
        assert.equal(
          line.detail,
          'PROXY protocol header from "127.0.0.3", which is not a trusted balancer (proxyProtocol.trusted)',
        );
      }
      assert.ok(!JSON.stringify(s.lines).includes("198.51.100.1"));
      // The same address without a header is an ordinary client, with its own address.
      const direct = await proxiedTls(port, undefined, {
        ca: fx.ca,
        pair: fx.alice,
        localAddress: "127.0.0.3",
      });
      try {
        assert.equal((await mcpOver(direct, INITIALIZE)).status, 200);
      } finally {
        direct.destroy();
      }
      assert.match(String(admitted(s).at(-1)), /^127\.0\.0\.3:\d+$/);
    });
  },
);

test(
  "serveMcp() refuses garbage and a bare ClientHello from the balancer with proxy_protocol_invalid",
  LONG,
  async () => {
    await withProxied(async (s, fx) => {
      const port = s.server.address.port;
      let from = s.refusals().length;
      await rawBytes(port, new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
      await s.waitForRefusal("proxy_protocol_invalid");
      await nextServed(s, fx, 42_001);
      let line = onlyRefusal(s, from, "proxy_protocol_invalid", /^127\.0\.0\.1:\d+$/);
      assert.equal(
        line.detail,
        "Expected a PROXY protocol header, got bytes starting 47 45 54 20 2f 20 48 54",
      );
      // A truncated v1 line that breaks the grammar.
      from = s.refusals().length;
      await rawBytes(port, new TextEncoder().encode("PROXY TCP4 203.0.113.7\r\n"));
      await waitFor(() => s.refusals().length > from);
      await nextServed(s, fx, 42_002);
      line = onlyRefusal(s, from, "proxy_protocol_invalid", /^127\.0\.0\.1:\d+$/);
      assert.equal(line.detail, 'Malformed PROXY v1 line "PROXY TCP4 203.0.113.7"');
      // No header at all when one is required: the ClientHello's record header is the evidence.
      from = s.refusals().length;
      assert.ok(
        await refused(proxiedTls(port, undefined, { ca: fx.ca, pair: fx.alice }), INITIALIZE),
      );
      await waitFor(() => s.refusals().length > from);
      await nextServed(s, fx, 42_003);
      line = onlyRefusal(s, from, "proxy_protocol_invalid", /^127\.0\.0\.1:\d+$/);
      assert.match(
        String(line.detail),
        /^Expected a PROXY protocol header, got bytes starting 16 03 0[13] [0-9a-f]{2} [0-9a-f]{2} 01 00 [0-9a-f]{2}$/,
      );
      assert.deepEqual(admitted(s).filter((p) => String(p).startsWith("127.")), []);
    });
  },
);

async function waitFor(ok: () => boolean): Promise<void> {
  // 10 s at most: only stops a hang.
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), "condition not met in 10 s");
}
