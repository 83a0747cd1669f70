/**
 * One text form for iPAddress SANs (RFC 5952, IPv4-mapped addresses in mixed
 * notation per its section 5) across every reader — the certificate model,
 * peerIdentity(), inspectCertificate(), parseSubjectAltNames() — and in
 * authorization rules, whichever way a user writes the address.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readCertificate } from "../../src/cert/mod.ts";
import { isMtlsError } from "../../src/errors.ts";
import { canonicalIpAddress, ipAddressText, parseIpAddress } from "../../src/cert/ip_address.ts";
import {
  createRootCa,
  inspectCertificate,
  issueCertificate,
  parseSubjectAltNames,
} from "../../src/pki/mod.ts";
import { compileAuthorization, peerIdentity } from "../../src/policy/mod.ts";
import { opensslClientCert } from "./_openssl_certs.ts";

/** Written form → canonical form (RFC 5952 §4, §5). */
const CANONICAL: [string, string][] = [
  ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // longest run, not the first (§4.2.3)
  ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // leftmost of equal runs (§4.2.3)
  ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single 0 group is not compressed (§4.2.2)
  ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"], // lowercase, no leading zeros (§4.1, §4.3)
  ["2001:db8::0:1", "2001:db8::1"],
  ["0:0:0:0:0:0:0:0", "::"],
  ["0:0:0:0:0:0:0:1", "::1"],
  ["1:0:0:0:0:0:0:0", "1::"],
  ["fe80:0:0:0:0:0:0:1", "fe80::1"],
  ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
  ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"], // :: for one group is expanded back (§4.2.2)
  ["::ffff:1.2.3.4", "::ffff:1.2.3.4"], // IPv4-mapped: mixed notation (§5)
  ["::ffff:102:304", "::ffff:1.2.3.4"],
  ["0:0:0:0:0:FFFF:0102:0304", "::ffff:1.2.3.4"],
  ["::1.2.3.4", "::102:304"], // deprecated IPv4-compatible: plain hex
  ["64:ff9b::1.2.3.4", "64:ff9b::102:304"],
  ["127.0.0.1", "127.0.0.1"],
  ["10.0.0.7", "10.0.0.7"],
];

const INVALID = [
  "",
  "1::2::3",
  "12345::",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7",
  ":1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7:",
  ":::",
  "1.2.3",
  "1.2.3.4.5",
  "256.1.1.1",
  "01.2.3.4", // a leading zero reads as octal in some parsers: refused
  "::ffff:1.2.3.256",
  "::1.2.3.4:5",
  "[::1]",
  "fe80::1%eth0",
  "g::1",
  " ::1",
  "localhost",
];

Deno.test("canonicalIpAddress() writes RFC 5952 text: longest zero run, leftmost on ties, never a single group, lowercase, IPv4-mapped in mixed notation", () => {
  for (const [written, canonical] of CANONICAL) {
    assert.equal(canonicalIpAddress(written), canonical, written);
    // Canonical text is a fixed point, and bytes round-trip.
    assert.equal(canonicalIpAddress(canonical), canonical, canonical);
    assert.equal(ipAddressText(parseIpAddress(written)!), canonical, written);
  }
});

Deno.test("parseIpAddress() refuses anything that is not exactly an IPv4 or IPv6 address", () => {
  for (const text of INVALID) {
    assert.equal(parseIpAddress(text), undefined, JSON.stringify(text));
    assert.equal(canonicalIpAddress(text), undefined, JSON.stringify(text));
  }
});

Deno.test("ipAddressText() reads 4 and 16 bytes and refuses other lengths with a RangeError", () => {
  assert.equal(ipAddressText(new Uint8Array([192, 0, 2, 1])), "192.0.2.1");
  assert.equal(ipAddressText(new Uint8Array(16)), "::");
  for (const n of [0, 3, 5, 8, 15, 17, 32]) {
    assert.throws(() => ipAddressText(new Uint8Array(n)), RangeError);
  }
});

const SANS = "IP:1:0:0:2:0:0:0:3,IP:2001:db8:0:0:1:0:0:1,IP:::ffff:1.2.3.4,IP:10.0.0.7," +
  "IP:2001:DB8:0:1:1:1:1:1,IP:0:0:0:0:0:0:0:1";
const EXPECTED_IPS = [
  "1:0:0:2::3",
  "2001:db8::1:0:0:1",
  "::ffff:1.2.3.4",
  "10.0.0.7",
  "2001:db8:0:1:1:1:1:1",
  "::1",
];

Deno.test("every reader renders iPAddress SANs of an openssl certificate the same canonical way", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-ip-test-" });
  try {
    const { cert } = await opensslClientCert(dir, {
      name: "ips",
      subject: "/CN=ips",
      subjectAltName: SANS,
    });
    const x = readCertificate(cert);
    assert.deepStrictEqual(x.subjectAltNames.ip, EXPECTED_IPS);
    assert.deepStrictEqual(peerIdentity(x).subjectAltNames.ip, EXPECTED_IPS);
    const inspected = (await inspectCertificate(cert)).subjectAltNames;
    assert.deepStrictEqual(
      inspected.filter((s) => s.type === "ip").map((s) => s.value),
      EXPECTED_IPS,
    );
    const parsed = parseSubjectAltNames(SANS.replaceAll("IP:", "ip:"));
    assert.deepStrictEqual(parsed.map((s) => s.value), EXPECTED_IPS);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("our PKI writes the address given in any form and every reader gives it back canonical", async () => {
  const ca = await createRootCa();
  const written = "ip:1:0:0:2:0:0:0:3,ip:::FFFF:102:304,ip:2001:0db8:0:0:1:0:0:1,ip:10.0.0.7";
  const leaf = await issueCertificate(ca, "client", { subjectAltNames: written });
  const x = new X509Certificate(leaf.certificatePem);
  const want = ["1:0:0:2::3", "::ffff:1.2.3.4", "2001:db8::1:0:0:1", "10.0.0.7"];
  assert.deepStrictEqual(
    peerIdentity(readCertificate(leaf.certificatePem)).subjectAltNames.ip,
    want,
  );
  const inspected = (await inspectCertificate(leaf.certificate)).subjectAltNames;
  assert.deepStrictEqual(inspected.map((s) => s.value), want);
  // openssl reads the bytes we wrote as the addresses we meant.
  assert.match(x.subjectAltName ?? "", /IP Address:1:0:0:2::3/);
});

Deno.test("compileAuthorization() matches ip: and san: rules however the address is written, against openssl and PKI certificates", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-ip-test-" });
  try {
    const openssl = peerIdentity(
      readCertificate(
        (await opensslClientCert(dir, { name: "ips", subject: "/CN=ips", subjectAltName: SANS }))
          .cert,
      ),
    );
    const ca = await createRootCa();
    const pki = peerIdentity(
      readCertificate(
        (await issueCertificate(ca, "client", {
          subjectAltNames: "ip:1:0:0:2::3,ip:::ffff:1.2.3.4,ip:10.0.0.7",
        })).certificatePem,
      ),
    );
    const other = peerIdentity(
      readCertificate(
        (await issueCertificate(ca, "client", {
          subjectAltNames: "ip:1:0:0:2::4,ip:10.1.0.8,ip:::ffff:1.2.3.5",
        }))
          .certificatePem,
      ),
    );
    const selectors = [
      "ip:1:0:0:2::3",
      "ip:1::2:0:0:0:3", // the text the old reader produced: the same address, different text
      "ip:1:0:0:2:0:0:0:3",
      "ip:0001:0000:0000:0002:0000:0000:0000:0003",
      "san:1:0:0:2:0:0:0:3",
      "ip:::ffff:1.2.3.4",
      "ip:::ffff:102:304",
      "ip:::FFFF:0102:0304",
      "san:::ffff:102:304",
      "ip:10.0.0.7",
      "san:10.0.0.7",
      "ip:10.0.0.*",
    ];
    for (const identity of selectors) {
      const mayCall = compileAuthorization({ rules: [{ identity, tools: ["t"] }] });
      assert.equal(mayCall(openssl)("t"), true, `${identity} vs openssl certificate`);
      assert.equal(mayCall(pki)("t"), true, `${identity} vs PKI certificate`);
      assert.equal(mayCall(other)("t"), false, `${identity} vs another address`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compileAuthorization() refuses an ip: rule that is neither an address nor a glob", () => {
  for (const identity of ["ip:1::2::3", "ip:localhost", "ip:", "ip:300.1.1.1"]) {
    assert.throws(
      () => compileAuthorization({ rules: [{ identity, tools: ["*"] }] }),
      (e: unknown) => {
        assert.ok(isMtlsError(e, "invalid_config"), String(e));
        assert.equal(
          (e as Error).message,
          `Option "authorization.rules[0].identity" must be an IPv4 or IPv6 address (or a glob with *) after "ip:", got "${identity}"`,
        );
        return true;
      },
    );
  }
});
