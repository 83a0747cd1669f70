/**
 * readProxyHeader() byte by byte: it must say "more" while a header may
 * still be arriving, refuse as soon as the bytes show it is not one, and
 * never need more than its bound.
 */

import assert from "node:assert/strict";
import { looksLikeProxyHeader, readProxyHeader } from "../../src/tls/server/proxy_protocol.ts";
import { v1, v2 } from "./_proxy_client.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("readProxyHeader() says more for every strict prefix of a valid header, then done", () => {
  for (
    const header of [
      v1("TCP4", "203.0.113.7", "10.0.0.1", 51000, 8443),
      v2({ src: "2001:db8::1", dst: "::1", tlvs: [0x04, 0, 2, 1, 2] }),
    ]
  ) {
    for (let n = 0; n < header.length; n++) {
      assert.deepEqual(readProxyHeader(header.subarray(0, n), 1024), { status: "more" }, `at ${n}`);
    }
    const withTls = Uint8Array.from([...header, 0x16, 0x03, 0x01]);
    const r = readProxyHeader(withTls, 1024);
    assert.equal(r.status, "done");
    assert.equal(r.status === "done" && r.length, header.length);
  }
});

Deno.test("readProxyHeader() refuses garbage from its first wrong byte", () => {
  assert.deepEqual(readProxyHeader(Uint8Array.of(0x16, 0x03), 1024), {
    status: "invalid",
    detail: "Expected a PROXY protocol header, got bytes starting 16 03",
  });
  assert.equal(readProxyHeader(enc("PROXX"), 1024).status, "invalid");
  // A v2 signature with a wrong byte in the middle.
  const sig = v2({ command: "local" });
  sig[6] = 0;
  assert.equal(readProxyHeader(sig.subarray(0, 7), 1024).status, "invalid");
});

Deno.test("readProxyHeader() refuses a v1 line without CRLF in 107 bytes, and malformed lines", () => {
  const long = enc(`PROXY TCP4 ${"1".repeat(120)}`);
  assert.deepEqual(readProxyHeader(long, 1024), {
    status: "invalid",
    detail: "PROXY v1 line longer than 107 bytes",
  });
  for (
    const line of [
      "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
      "PROXY TCP4 ::1 ::1 1 2\r\n",
      "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    ]
  ) {
    assert.equal(readProxyHeader(enc(line), 1024).status, "invalid", line);
  }
});

Deno.test("readProxyHeader() reads v2 commands and families as the spec says", () => {
  const bad = (bytes: Uint8Array) => readProxyHeader(bytes, 1024).status;
  const version3 = v2({ command: "local" });
  version3[12] = 0x31;
  assert.equal(bad(version3), "invalid");
  const command2 = v2({ command: "local" });
  command2[12] = 0x22;
  assert.equal(bad(command2), "invalid");
  const udp = v2({ src: "1.2.3.4", dst: "5.6.7.8" });
  udp[13] = 0x12;
  assert.equal(bad(udp), "invalid");
  // An IPv4 family whose declared length cannot hold the addresses.
  assert.equal(
    bad(v2({ src: "1.2.3.4", dst: "5.6.7.8", declaredLength: 8 }).subarray(0, 24)),
    "invalid",
  );
  const r = readProxyHeader(v2({ src: "::ffff:102:304", dst: "::1", sport: 7 }), 1024);
  assert.deepEqual(r.status === "done" && r.header.source, {
    address: "::ffff:1.2.3.4",
    port: 7,
    family: "IPv6",
  });
  assert.deepEqual(readProxyHeader(v2({}), 1024), {
    status: "done",
    header: { version: 2, command: "proxy" },
    length: 16,
  });
});

Deno.test("looksLikeProxyHeader() decides from as few bytes as it can", () => {
  assert.equal(looksLikeProxyHeader(Uint8Array.of(0x16)), "no");
  assert.equal(looksLikeProxyHeader(enc("PRO")), "maybe");
  assert.equal(looksLikeProxyHeader(enc("PROXY ")), "yes");
  assert.equal(looksLikeProxyHeader(v2({ command: "local" }).subarray(0, 11)), "maybe");
  assert.equal(looksLikeProxyHeader(v2({ command: "local" }).subarray(0, 12)), "yes");
});
