/**
 * Client certificates that the TLS stack (rustls under Deno's node:tls)
 * refuses inside the handshake, before our own verification runs: each is
 * logged once at warn as `bad_certificate` with the peer, and the next good
 * client is served. Clients that give up on their own stay at info.
 *
 * The wire, measured with openssl s_client 3.0 against Deno 2.9.6: the server
 * sends "certificate unknown" (46) for a malformed certificate and "decrypt
 * error" (51) when it cannot verify the client's signature, but destroys the
 * socket at once, so the client often gets a reset instead (the alert arrived
 * in 17 to 24 of 30 tries): not asserted. Its `tlsClientError` carries the same
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE error for both.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { CertificateError } from "../../src/errors.ts";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";
import { classifyHandshakeError } from "../../src/tls/server/handshake_errors.ts";
import {
  clientFetch,
  collectingLogger,
  type Fixtures,
  INITIALIZE,
  type LogRecord,
  makeFixtures,
  MCP_HEADERS,
  parseMcpBody,
  run,
  startServer,
} from "./_fixtures.ts";
import {
  type HostileCertificates,
  makeHostileCertificates,
  type Presented,
} from "./_hostile_certs.ts";

const fx: Fixtures = await makeFixtures();
const hostile: HostileCertificates = await makeHostileCertificates(fx);
const otherCaFile = `${fx.dir}/other-ca.crt`;
await Deno.writeTextFile(otherCaFile, fx.otherCa);

const VERSIONS = ["tls1_2", "tls1_3"] as const;
type Version = typeof VERSIONS[number];

/** What the server logs about one handshake that did not complete. */
const isHandshakeLine = (r: LogRecord) =>
  r.msg === "connection refused" || r.msg === "handshake abandoned by client";

async function waitForLine(records: LogRecord[], from: number): Promise<void> {
  const end = Date.now() + 10_000; // only stops a hang; nothing here is timed
  while (!records.slice(from).some(isHandshakeLine)) {
    if (Date.now() > end) {
      throw new Error(`No handshake line logged; got ${JSON.stringify(records.slice(from))}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs openssl s_client presenting `p`; returns its output and the server lines it caused. */
async function sClient(
  server: McpMtlsServer,
  records: LogRecord[],
  version: Version,
  args: string[],
): Promise<{ wire: string; from: number }> {
  const from = records.length;
  const r = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${server.address.port}`,
    `-${version}`,
    "-ign_eof",
    ...args,
  ], { stdin: "GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n" });
  await waitForLine(records, from);
  return { wire: r.stdout + r.stderr, from };
}

const presenting = (p: Presented) => ["-CAfile", fx.caFile, "-cert", p.certFile, "-key", p.keyFile];

async function assertGoodClientServed(server: McpMtlsServer) {
  const fetch = clientFetch(fx, fx.alice);
  try {
    const res = await fetch(server.url, {
      method: "POST",
      headers: MCP_HEADERS,
      body: JSON.stringify(INITIALIZE),
    });
    assert.equal(res.status, 200);
    const msg = parseMcpBody(await res.text()) as { result?: { serverInfo?: unknown } };
    assert.ok(msg.result?.serverInfo);
  } finally {
    await fetch.close();
  }
}

/** The one handshake line logged since `from` (checked after a later request, so a late duplicate counts). */
function onlyLine(records: LogRecord[], from: number): LogRecord {
  const lines = records.slice(from).filter(isHandshakeLine);
  assert.equal(lines.length, 1, `logged once: ${JSON.stringify(lines)}`);
  assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
  return lines[0];
}

const NOT_PROVEN = "did not prove it holds the certificate's key, or the certificate is malformed";

const refusedCases: {
  what: string;
  cert: keyof HostileCertificates;
  detail: string;
  args?: string[];
}[] = [
  {
    what: "alice's certificate presented without her key (bad CertificateVerify)",
    cert: "stolen",
    detail: NOT_PROVEN,
  },
  {
    what: "a certificate with an unknown critical extension",
    cert: "unknownCritical",
    detail: NOT_PROVEN,
  },
  {
    what: "a certificate with an RSA-1024 key",
    cert: "rsa1024",
    detail: NOT_PROVEN,
    // Debian's openssl refuses to use a 1024-bit key at its default security level.
    args: ["-cipher", "DEFAULT@SECLEVEL=0"],
  },
  {
    what: "a certificate with two subjectAltName extensions",
    cert: "duplicateExtension",
    detail: NOT_PROVEN,
  },
  {
    what: "a 70 KB certificate",
    cert: "oversized",
    detail: "HandshakePayloadTooLarge",
  },
];

for (const c of refusedCases) {
  Deno.test(`serveMcp() refuses ${c.what} in the handshake: bad_certificate at warn, TLS 1.2 and 1.3`, async () => {
    const { server, log } = await startServer(fx);
    try {
      for (const version of VERSIONS) {
        const { from } = await sClient(server, log.records, version, [
          ...presenting(hostile[c.cert]),
          ...(c.args ?? []),
        ]);
        await assertGoodClientServed(server);
        const line = onlyLine(log.records, from);
        assert.equal(line.level, "warn", `${version}: ${JSON.stringify(line)}`);
        assert.equal(line.msg, "connection refused");
        assert.equal(line.fields.reason, "bad_certificate", `${version}: ${JSON.stringify(line)}`);
        assert.ok(String(line.fields.detail).includes(c.detail), String(line.fields.detail));
      }
    } finally {
      await server.close();
    }
  });
}

Deno.test("serveMcp() logs a client that refuses the server's certificate as abandoned at info, not as a refusal", async () => {
  const { server, log } = await startServer(fx);
  try {
    for (const version of VERSIONS) {
      const { wire, from } = await sClient(server, log.records, version, [
        ...["-CAfile", otherCaFile, "-verify_return_error"],
        ...["-cert", fx.alice.certFile, "-key", fx.alice.keyFile],
      ]);
      assert.match(wire, /certificate verify failed/);
      await assertGoodClientServed(server);
      const line = onlyLine(log.records, from);
      assert.equal(line.level, "info", `${version}: ${JSON.stringify(line)}`);
      assert.equal(line.msg, "handshake abandoned by client");
      assert.equal(line.fields.reason, "handshake_failed");
      assert.ok(String(line.fields.detail).includes("received fatal alert: UnknownCA"));
    }
  } finally {
    await server.close();
  }
});

/** Opens a raw TCP connection, writes `bytes`, and waits until the server closes it. */
async function rawExchange(server: McpMtlsServer, bytes: Uint8Array): Promise<void> {
  const s = net.connect(server.address.port, "127.0.0.1");
  const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
  s.on("error", () => {});
  s.on("data", () => {});
  s.once("connect", () => s.write(bytes));
  const guard = setTimeout(() => s.destroy(), 10_000);
  await closed;
  clearTimeout(guard);
}

Deno.test("serveMcp() logs plain HTTP on the TLS port as abandoned at info", async () => {
  const { server, log } = await startServer(fx);
  try {
    const from = log.records.length;
    await rawExchange(server, new TextEncoder().encode("GET /mcp HTTP/1.1\r\nHost: x\r\n\r\n"));
    await waitForLine(log.records, from);
    await assertGoodClientServed(server);
    const line = onlyLine(log.records, from);
    assert.equal(line.level, "info");
    assert.equal(line.fields.reason, "handshake_failed");
    assert.ok(String(line.fields.detail).includes("InvalidContentType"));
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses a record announcing a 70,000-byte handshake message as bad_certificate at warn", async () => {
  // The stack names no message type: an oversized ClientHello looks exactly like an
  // oversized Certificate, so both are logged as a refusal rather than hidden at info.
  const { server, log } = await startServer(fx);
  try {
    const from = log.records.length;
    await rawExchange(server, new Uint8Array([0x16, 3, 1, 0, 4, 0x01, 0x01, 0x11, 0x70]));
    await waitForLine(log.records, from);
    await assertGoodClientServed(server);
    const line = onlyLine(log.records, from);
    assert.equal(line.level, "warn");
    assert.equal(line.fields.reason, "bad_certificate");
    assert.ok(String(line.fields.detail).includes("HandshakePayloadTooLarge"));
  } finally {
    await server.close();
  }
});

Deno.test("createMtlsFetch() with a certificate its own TLS stack will not send fails with CertificateError", async () => {
  const { server, log } = await startServer(fx);
  const fetch = createMtlsFetch({
    ca: fx.ca,
    cert: await Deno.readTextFile(hostile.unknownCritical.certFile),
    key: await Deno.readTextFile(hostile.unknownCritical.keyFile),
    keepAlive: false,
    logger: collectingLogger(),
  });
  try {
    const from = log.records.length;
    await assert.rejects(
      fetch(server.url, { method: "POST", headers: MCP_HEADERS, body: JSON.stringify(INITIALIZE) }),
      (e: unknown) => {
        assert.ok(e instanceof CertificateError, String(e));
        assert.equal(e.code, "invalid_certificate");
        assert.match(
          e.message,
          /^Our client certificate cannot be used: the TLS stack refused it before sending anything to "127\.0\.0\.1:\d+" \("ERR_SSL_UNSUPPORTED_PROTOCOL: unsupported protocol"\)/,
        );
        return true;
      },
    );
    assert.equal(log.records.slice(from).filter((r) => r.msg === "client admitted").length, 0);
  } finally {
    await fetch.close();
    await server.close();
  }
});

Deno.test("classifyHandshakeError() maps the errors measured on Deno 2.9.6", () => {
  const e = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: [Error, string, string][] = [
    [
      e("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unable to verify the first certificate"),
      "bad_certificate",
      NOT_PROVEN,
    ],
    [
      e(
        "ERR_SSL_WRONG_VERSION_NUMBER",
        "received corrupt message of type HandshakePayloadTooLarge (SSL routines:ssl3_get_record:wrong version number)",
      ),
      "bad_certificate",
      "over 64 KiB",
    ],
    [
      e(
        "ERR_SSL_WRONG_VERSION_NUMBER",
        "received corrupt message of type InvalidContentType (SSL routines:ssl3_get_record:wrong version number)",
      ),
      "handshake_failed",
      "InvalidContentType",
    ],
    [
      e("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "received fatal alert: UnknownCA"),
      "handshake_failed",
      "UnknownCA",
    ],
    [
      e("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", "received fatal alert: BadCertificate"),
      "handshake_failed",
      "BadCertificate",
    ],
    [e("ECONNRESET", "socket hang up"), "handshake_failed", "socket hang up"],
  ];
  for (const [err, reason, detail] of cases) {
    const got = classifyHandshakeError(err);
    assert.equal(got.reason, reason, err.message);
    assert.ok(got.detail.includes(detail), got.detail);
  }
});
