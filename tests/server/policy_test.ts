import { isMtlsError } from "../../src/errors.ts";
/** Unit tests of the compiled policy pieces: identity, chain checks, rules, globs, handshake errors. */
import assert from "node:assert/strict";
import { readCertificate } from "../../src/cert/mod.ts";
import {
  compileAuthorization,
  compileGlob,
  compilePolicy,
  identityLabel,
  peerIdentity,
  verifyClientChain,
} from "../../src/policy/mod.ts";
import {
  createIntermediateCa,
  createRootCa,
  issueCertificate,
  spkiPin,
} from "../../src/pki/mod.ts";
import { classifyHandshakeError } from "../../src/tls/server/handshake_errors.ts";
import { type Fixtures, makeFixtures } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const x509 = (pem: string) => readCertificate(pem);

Deno.test("peerIdentity() reads CN, every SAN, SPIFFE ID, serial, issuer, validity, fingerprint and SPKI pin", async () => {
  const id = peerIdentity(x509(fx.alice.cert));
  assert.equal(id.commonName, "alice");
  assert.equal(id.spiffeId, "spiffe://example.org/agent");
  assert.deepStrictEqual(id.subjectAltNames, {
    dns: ["alice.local"],
    ip: ["10.0.0.7"],
    uri: ["spiffe://example.org/agent"],
    email: ["alice@example.org"],
  });
  assert.equal(id.issuer, "CN=Test Root CA");
  assert.match(id.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(id.spkiPin, await spkiPin(fx.alice.bundle.certificate));
  assert.equal(id.notAfter, fx.alice.bundle.certificate.notAfter.toISOString());
  assert.equal(identityLabel(id), "spiffe://example.org/agent");
  assert.equal(identityLabel({ ...id, spiffeId: undefined }), "cn:alice");
});

Deno.test("readCertificate() refuses an extension with no identifier or value with invalid_der", () => {
  // A certificate skeleton (Ed25519 algorithm, empty names) whose extensions hold one empty SEQUENCE.
  const tlv = (tag: number, ...parts: number[][]) => {
    const body = parts.flat();
    return [tag, body.length, ...body];
  };
  const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
  const ed25519 = tlv(0x30, tlv(0x06, [0x2b, 0x65, 0x70]));
  const tbs = tlv(
    0x30,
    tlv(0xa0, tlv(0x02, [0x02])), // version v3
    tlv(0x02, [0x01]), // serial
    ed25519,
    tlv(0x30), // issuer
    tlv(0x30, tlv(0x17, ascii("250101000000Z")), tlv(0x17, ascii("350101000000Z"))),
    tlv(0x30), // subject
    tlv(0x30, ed25519, tlv(0x03, [0x00])), // spki
    tlv(0xa3, tlv(0x30, tlv(0x30))), // extensions: [ {} ]
  );
  const der = new Uint8Array(tlv(0x30, tbs, ed25519, tlv(0x03, [0x00])));
  assert.throws(() => readCertificate(der), (e: unknown) => {
    assert.ok(isMtlsError(e, "invalid_der"), `expected invalid_der, got ${e}`);
    assert.equal(
      (e as Error).message,
      "Cannot read certificate DER: extension without an identifier and a value",
    );
    return true;
  });
});

Deno.test("readCertificate() reads IPv6 SANs, basic constraints and EKU", async () => {
  const ca = await createRootCa();
  const leaf = await issueCertificate(ca, "server", { subjectAltNames: "ip:::1,dns:localhost" });
  const f = x509(leaf.certificatePem);
  assert.deepStrictEqual(f.subjectAltNames.ip, ["::1"]);
  assert.deepStrictEqual(f.extendedKeyUsage, ["1.3.6.1.5.5.7.3.1"]);
  assert.equal(f.basicConstraints?.ca ?? false, false);
  assert.equal(x509(fx.ca).basicConstraints?.ca, true);
});

Deno.test("verifyClientChain() follows an intermediate and enforces maxChainDepth", async () => {
  const root = await createRootCa();
  const mid = await createIntermediateCa(root);
  const leaf = await issueCertificate(mid, "client", { commonName: "deep" });
  const anchors = [x509(root.certificatePem)];
  const now = new Date();
  const ok = verifyClientChain(x509(leaf.certificatePem), [x509(mid.certificatePem)], {
    anchors,
    maxChainDepth: 1,
    now,
  });
  assert.ok(!("reason" in ok) && ok.chain.length === 3);
  const tooDeep = verifyClientChain(x509(leaf.certificatePem), [x509(mid.certificatePem)], {
    anchors,
    maxChainDepth: 0,
    now,
  });
  assert.ok("reason" in tooDeep && tooDeep.reason === "unknown_ca");
  assert.match(tooDeep.message, /longer than maxChainDepth 0/);
  const missing = verifyClientChain(x509(leaf.certificatePem), [], {
    anchors,
    maxChainDepth: 3,
    now,
  });
  assert.ok("reason" in missing && missing.reason === "unknown_ca");
});

Deno.test("compilePolicy() with several CAs accepts a client of either", () => {
  const policy = compilePolicy("strict", { ca: [fx.ca, fx.otherCa] });
  const v = policy.checkCertificate(x509(fx.otherCaClient.cert), []);
  assert.ok(!("reason" in v) && v.trusted);
});

Deno.test("compilePolicy() uses the injected clock for validity", () => {
  const later = new Date(Date.now() + 3 * 365 * 86_400_000);
  const policy = compilePolicy("strict", { ca: [fx.ca], now: () => later });
  const v = policy.checkCertificate(x509(fx.alice.cert), []);
  assert.ok("reason" in v && v.reason === "expired");
});

Deno.test("compileAuthorization() matches by SPIFFE glob, CN, SAN kind, fingerprint and *", () => {
  const alice = peerIdentity(x509(fx.alice.cert));
  const bob = peerIdentity(x509(fx.bob.cert));
  const authorize = compileAuthorization({
    rules: [
      { identity: "spiffe://example.org/a*", tools: ["agent_*"] },
      { identity: "cn:bob", tools: ["bob_only"] },
      { identity: "dns:*.LOCAL", tools: ["dns_tool"] },
      { identity: "san:alice@example.org", tools: ["mail_tool"] },
      { identity: `fingerprint:${bob.fingerprint.toUpperCase()}`, tools: ["fp_tool"] },
      { identity: "*", tools: ["public"] },
    ],
  });
  const a = authorize(alice);
  const b = authorize(bob);
  const anon = authorize(undefined);
  assert.deepStrictEqual(
    ["agent_x", "bob_only", "dns_tool", "mail_tool", "fp_tool", "public", "other"].map(a),
    [true, false, true, true, false, true, false],
  );
  assert.deepStrictEqual(
    ["agent_x", "bob_only", "dns_tool", "fp_tool", "public"].map(b),
    [false, true, false, true, true],
  );
  assert.deepStrictEqual(["public", "agent_x"].map(anon), [true, false]);
});

Deno.test("compileAuthorization() without rules allows everything; with rules, nothing unlisted", () => {
  assert.equal(compileAuthorization(undefined)(undefined)("anything"), true);
  assert.equal(compileAuthorization({ rules: [] })(undefined)("anything"), false);
});

Deno.test("compileGlob() treats everything but * literally", () => {
  const m = compileGlob("echo.*(x)");
  assert.equal(m("echo.anything(x)"), true);
  assert.equal(m("echoXanything(x)"), false);
  assert.equal(compileGlob("whoami")("whoami2"), false);
});

Deno.test("classifyHandshakeError() maps Deno's node:tls errors to reason codes", () => {
  const cases: [unknown, string][] = [
    [new Error("TLS handshake timeout"), "handshake_timeout"],
    [
      Object.assign(new Error("peer is incompatible: SignatureAlgorithmsExtensionRequired"), {
        code: "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
      }),
      "protocol_version",
    ],
    [new Error("peer is incompatible: NoCipherSuitesInCommon"), "protocol_version"],
    [
      Object.assign(new Error("peer sent no certificates"), {
        code: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",
      }),
      "no_client_cert",
    ],
    [Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), "handshake_failed"],
  ];
  for (const [err, reason] of cases) assert.equal(classifyHandshakeError(err).reason, reason);
});

Deno.test("compileAuthorization(): names in an untrusted (demo-admitted) certificate match no rule but * and fingerprint:", () => {
  const alice = {
    commonName: "alice",
    subject: "CN=alice",
    subjectAltNames: { dns: [], ip: [], uri: ["spiffe://example.org/alice"], email: [] },
    spiffeId: "spiffe://example.org/alice",
    serialNumber: "01",
    issuer: "CN=alice",
    notBefore: "2026-01-01T00:00:00.000Z",
    notAfter: "2027-01-01T00:00:00.000Z",
    fingerprint: "ab".repeat(32),
    spkiPin: "x",
  };
  const authorize = compileAuthorization({
    rules: [
      { identity: "cn:alice", tools: ["admin"] },
      { identity: "spiffe://example.org/*", tools: ["deploy"] },
      { identity: `fingerprint:${"AB".repeat(32)}`, tools: ["echo"] },
      { identity: "*", tools: ["time"] },
    ],
  });
  const trusted = authorize(alice);
  assert.deepEqual(["admin", "deploy", "echo", "time"].map(trusted), [true, true, true, true]);
  const untrusted = authorize(alice, false);
  assert.deepEqual(["admin", "deploy", "echo", "time"].map(untrusted), [false, false, true, true]);
});
