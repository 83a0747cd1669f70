import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createIntermediateCa, createRootCa, issueCertificate } from "../../src/pki/mod.ts";
import { compilePolicy } from "../../src/policy/policy.ts";
import { VerdictCache } from "../../src/policy/verdict_cache.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import {
  collectingLogger,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  parseMcpBody,
  run,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const x509 = (pem: string) => new X509Certificate(pem);
const DAY = 86_400_000;

/** A policy on a settable clock, counting how often the intermediates were read. */
function counted(policyName: "strict" | "demo", ca: string[], size?: number) {
  let at = new Date();
  const policy = compilePolicy(policyName, { ca, now: () => at, verdictCacheSize: size });
  let reads = 0;
  const check = (pem: string, intermediates: string[] = []) =>
    policy.checkPresented(x509(pem), () => {
      reads++;
      return intermediates.map(x509);
    });
  return {
    check,
    reads: () => reads,
    setNow: (d: Date) => (at = d),
  };
}

Deno.test("checkPresented() reads the intermediates and checks the chain once per leaf certificate", async () => {
  const root = await createRootCa({ commonName: "Once Root" });
  const mid = await createIntermediateCa(root, { commonName: "Once Intermediate" });
  const [a, b] = await Promise.all(
    ["a", "b"].map((cn) => issueCertificate(mid, "client", { commonName: cn })),
  );
  const p = counted("strict", [root.certificatePem]);
  const first = p.check(a.certificatePem, [mid.certificatePem]);
  const second = p.check(a.certificatePem, [mid.certificatePem]);
  assert.ok(!("reason" in first) && first.trusted);
  assert.equal(second, first, "same verdict object for the same certificate bytes");
  assert.equal(p.reads(), 1);
  p.check(b.certificatePem, [mid.certificatePem]);
  assert.equal(p.reads(), 2, "another certificate is a miss");
  assert.ok(Object.isFrozen((first as { identity: object }).identity), "shared identity is frozen");
});

Deno.test("checkPresented() does not read the intermediates of a leaf issued by a trusted CA", () => {
  const p = counted("strict", [fx.ca]);
  const v = p.check(fx.alice.cert);
  assert.ok(!("reason" in v) && v.trusted && v.chain.length === 2);
  assert.equal(p.check(fx.alice.cert), v);
  assert.equal(p.reads(), 0);
});

Deno.test("checkPresented() never remembers a refusal", () => {
  const p = counted("strict", [fx.ca]);
  for (let i = 0; i < 3; i++) {
    const v = p.check(fx.otherCaClient.cert);
    assert.ok("reason" in v && v.reason === "unknown_ca");
  }
  assert.equal(p.reads(), 3);
});

Deno.test("checkPresented() checks validity again on a hit: a remembered certificate that expired is refused as expired", () => {
  const p = counted("strict", [fx.ca]);
  assert.ok(!("reason" in p.check(fx.alice.cert)));
  p.setNow(new Date(Date.now() + 3 * 365 * DAY));
  const v = p.check(fx.alice.cert);
  assert.ok("reason" in v && v.reason === "expired", JSON.stringify(v));
  p.setNow(new Date(Date.now() - 3 * 365 * DAY));
  const early = p.check(fx.alice.cert);
  assert.ok("reason" in early && early.reason === "not_yet_valid", JSON.stringify(early));
});

Deno.test("checkPresented() remembers a chain proven with intermediates; a hit needs none", async () => {
  const root = await createRootCa({ commonName: "Cache Root" });
  const mid = await createIntermediateCa(root, { commonName: "Cache Intermediate" });
  const leaf = await issueCertificate(mid, "client", { commonName: "deep-leaf" });
  const p = counted("strict", [root.certificatePem]);
  const v = p.check(leaf.certificatePem, [mid.certificatePem]);
  assert.ok(!("reason" in v) && v.chain.length === 3);
  // The chain was proven with the intermediate before; the same leaf bytes
  // under the same anchors need not send it again.
  assert.equal(p.check(leaf.certificatePem, []), v);
  assert.equal(p.reads(), 1);
});

Deno.test("VerdictCache bounds a hit by the whole chain: the certificate expiring first ends it", async () => {
  const short = await createRootCa({ commonName: "Short-lived", days: 5 });
  const cache = new VerdictCache();
  const leaf = x509(fx.alice.cert); // valid for about a year
  cache.set(leaf.raw, {
    identity: { subjectAltNames: { dns: [], ip: [], uri: [], email: [] } } as never,
    chain: [leaf, x509(short.certificatePem)],
    trusted: true,
  });
  assert.ok(cache.get(leaf.raw, Date.now()));
  assert.equal(cache.get(leaf.raw, Date.now() + 7 * DAY), undefined);
  assert.equal(cache.size, 0, "an out-of-period entry is dropped");
});

Deno.test("checkPresented() with verdictCacheSize 0 checks every time", () => {
  const p = counted("strict", [fx.ca], 0);
  p.check(fx.otherCaClient.cert);
  p.check(fx.otherCaClient.cert);
  const a = p.check(fx.alice.cert);
  assert.ok(!("reason" in a) && a.trusted);
  assert.notEqual(p.check(fx.alice.cert), a, "nothing remembered");
  assert.equal(p.reads(), 2, "a leaf of a trusted CA still needs no intermediates");
});

Deno.test("checkPresented() under demo remembers an untrusted acceptance as untrusted", () => {
  const p = counted("demo", [fx.ca]);
  const a = p.check(fx.selfSigned.cert);
  const b = p.check(fx.selfSigned.cert);
  assert.ok(!("reason" in a) && a.trusted === false);
  assert.equal(b, a);
  assert.equal(p.reads(), 1);
});

Deno.test("VerdictCache evicts the least recently used entry when full", () => {
  const cache = new VerdictCache(2);
  const v = (pem: string) => ({
    identity: { subjectAltNames: { dns: [], ip: [], uri: [], email: [] } } as never,
    chain: [x509(pem)],
    trusted: true,
  });
  const [a, b, c] = [fx.alice, fx.bob, fx.server].map((x) => x509(x.cert).raw);
  const now = Date.now();
  cache.set(a, v(fx.alice.cert));
  cache.set(b, v(fx.bob.cert));
  assert.ok(cache.get(a, now), "touch a, so b is now the oldest");
  cache.set(c, v(fx.server.cert));
  assert.equal(cache.size, 2);
  assert.equal(cache.get(b, now), undefined);
  assert.ok(cache.get(a, now));
  assert.ok(cache.get(c, now));
  cache.clear();
  assert.equal(cache.size, 0);
});

Deno.test("server: a client certificate seen before is admitted again, and a reload to another CA refuses it", async () => {
  const log = collectingLogger();
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    logger: log,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
  });
  const curl = () =>
    run("curl", [
      "-sS",
      "--cacert",
      fx.caFile,
      "--cert",
      fx.alice.certFile,
      "--key",
      fx.alice.keyFile,
      "-H",
      "content-type: application/json",
      "-H",
      "accept: application/json, text/event-stream",
      "-d",
      JSON.stringify(INITIALIZE),
      server.url,
    ]);
  try {
    for (let i = 0; i < 2; i++) {
      const r = await curl();
      assert.equal(r.code, 0, r.stderr);
      assert.equal((parseMcpBody(r.stdout) as { id: number }).id, 1);
    }
    // The server's certificate stays, but only the other CA is trusted now.
    await server.reloadTls({ cert: fx.server.cert, key: fx.server.key, ca: fx.otherCa });
    const r = await curl();
    assert.notEqual(r.code, 0, "a remembered verdict must not outlive the trust it was made with");
    const rec = await log.waitForReason("unknown_ca");
    assert.match(String(rec.fields.detail), /alice|Test Root CA/);
  } finally {
    await server.close();
  }
});
