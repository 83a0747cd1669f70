import assert from "node:assert/strict";
import tls, { type TLSSocket } from "node:tls";
import { readCertificate } from "../../src/cert/mod.ts";
import {
  firstPresentedIntermediate,
  peerLeaf,
  presentedIntermediates,
} from "../../src/tls/server/admit.ts";
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
  refusals,
  run,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const x509 = (pem: string) => readCertificate(pem);
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
    policy,
    reads: () => reads,
    setNow: (d: Date) => (at = d),
  };
}

Deno.test("checkPresented() checks the chain once per leaf certificate and presented chain", async () => {
  const root = await createRootCa({ commonName: "Once Root" });
  const mid = await createIntermediateCa(root, { commonName: "Once Intermediate" });
  const [a, b] = await Promise.all(
    ["a", "b"].map((cn) => issueCertificate(mid, "client", { commonName: cn })),
  );
  const p = counted("strict", [root.certificatePem]);
  const first = p.check(a.certificatePem, [mid.certificatePem]);
  const second = p.check(a.certificatePem, [mid.certificatePem]);
  assert.ok(!("reason" in first) && first.trusted);
  assert.equal(second, first, "same verdict object for the same certificate and chain");
  // A hit still reads what was presented, to compare it with the remembered chain.
  assert.equal(p.reads(), 2);
  assert.notEqual(
    p.check(b.certificatePem, [mid.certificatePem]),
    first,
    "another certificate is a miss",
  );
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

const cacheRoot = await createRootCa({ commonName: "Cache Root", exportable: true });
const cacheMid = await createIntermediateCa(cacheRoot, {
  commonName: "Cache Intermediate",
  exportable: true,
});
const deepLeaf = await issueCertificate(cacheMid, "client", {
  commonName: "deep-leaf",
  exportable: true,
});
const MISSING_MID =
  /^Certificate "CN=deep-leaf" was issued by "CN=Cache Intermediate", which is not a trusted CA$/;

Deno.test("checkPresented() refuses a leaf without its intermediate every time, before and after the same leaf was admitted with its chain", () => {
  for (const size of [1024, 0]) {
    const p = counted("strict", [cacheRoot.certificatePem], size);
    let admitted: unknown;
    for (let round = 0; round < 3; round++) {
      const alone = p.check(deepLeaf.certificatePem, []);
      assert.ok("reason" in alone, `round ${round}, cache ${size}: admitted without its chain`);
      assert.equal(alone.reason, "unknown_ca");
      assert.match(alone.message, MISSING_MID);
      const full = p.check(deepLeaf.certificatePem, [cacheMid.certificatePem]);
      assert.ok(!("reason" in full) && full.trusted && full.chain.length === 3);
      if (size > 0 && round > 0) assert.equal(full, admitted, "the full chain is still remembered");
      admitted = full;
    }
    const last = p.check(deepLeaf.certificatePem, []);
    assert.ok("reason" in last && last.reason === "unknown_ca", JSON.stringify(last));
  }
});

Deno.test("checkPresented() finds a one-intermediate chain again from the first presented certificate alone", async () => {
  const otherMid = await createIntermediateCa(cacheRoot, { commonName: "First Other" });
  const p = counted("strict", [cacheRoot.certificatePem]);
  const leaf = () => x509(deepLeaf.certificatePem);
  const full = (pems: string[]) => () => {
    fullReads++;
    return pems.map(x509);
  };
  let fullReads = 0;
  const v = p.check(deepLeaf.certificatePem, [cacheMid.certificatePem]);
  assert.ok(!("reason" in v) && v.chain.length === 3);
  const policy = p.policy;
  // The same intermediate first: a hit, without reading them all.
  const mid = x509(cacheMid.certificatePem);
  assert.equal(policy.checkPresented(leaf(), full([cacheMid.certificatePem]), () => mid), v);
  assert.equal(fullReads, 0);
  // Another certificate first, though the intermediate follows: decided afresh.
  const other = x509(otherMid.certificatePem);
  const afresh = policy.checkPresented(
    leaf(),
    full([otherMid.certificatePem, cacheMid.certificatePem]),
    () => other,
  );
  assert.ok(!("reason" in afresh) && afresh !== v, "a full check, not the remembered verdict");
  assert.equal(fullReads, 1);
  // Nothing after the leaf (or a runtime that cannot tell): the full read decides.
  const alone = policy.checkPresented(leaf(), full([]), () => undefined);
  assert.ok("reason" in alone && alone.reason === "unknown_ca", JSON.stringify(alone));
  assert.equal(fullReads, 2);
});

Deno.test("checkPresented() refuses a remembered leaf presented with another CA instead of its intermediate", async () => {
  const otherMid = await createIntermediateCa(cacheRoot, { commonName: "Other Intermediate" });
  const p = counted("strict", [cacheRoot.certificatePem]);
  assert.ok(!("reason" in p.check(deepLeaf.certificatePem, [cacheMid.certificatePem])));
  for (const presented of [[otherMid.certificatePem], [fx.ca], [otherMid.certificatePem, fx.ca]]) {
    const v = p.check(deepLeaf.certificatePem, presented);
    assert.ok("reason" in v && v.reason === "unknown_ca", JSON.stringify(v));
    assert.match(v.message, MISSING_MID);
  }
});

Deno.test("checkPresented() under demo gives the verdict of what this connection presented, whatever came before", () => {
  const p = counted("demo", [cacheRoot.certificatePem]);
  for (let round = 0; round < 3; round++) {
    const alone = p.check(deepLeaf.certificatePem, []);
    assert.ok(!("reason" in alone), JSON.stringify(alone));
    assert.equal(alone.trusted, false, `round ${round}: trusted without its chain`);
    const full = p.check(deepLeaf.certificatePem, [cacheMid.certificatePem]);
    assert.ok(!("reason" in full), JSON.stringify(full));
    assert.equal(full.trusted, true, `round ${round}: untrusted with its chain`);
  }
});

Deno.test("VerdictCache bounds a hit by the whole chain: the certificate expiring first ends it", async () => {
  const short = await createRootCa({ commonName: "Short-lived", days: 5 });
  const cache = new VerdictCache();
  const leaf = x509(fx.alice.cert); // valid for about a year
  cache.set(leaf, {
    identity: { subjectAltNames: { dns: [], ip: [], uri: [], email: [] } } as never,
    chain: [leaf, x509(short.certificatePem)],
    trusted: true,
  });
  const none = () => [];
  assert.ok(cache.get(leaf, Date.now(), none));
  assert.equal(cache.get(leaf, Date.now() + 7 * DAY, none), undefined);
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
  // An untrusted verdict holds only for the same presented chain, so a hit reads it.
  assert.equal(p.reads(), 2);
});

Deno.test("VerdictCache evicts the least recently used entry when full", () => {
  const cache = new VerdictCache(2);
  const v = (pem: string) => ({
    identity: { subjectAltNames: { dns: [], ip: [], uri: [], email: [] } } as never,
    chain: [x509(pem)],
    trusted: true,
  });
  const [a, b, c] = [fx.alice, fx.bob, fx.server].map((x) => x509(x.cert));
  const now = Date.now();
  const none = () => [];
  cache.set(a, v(fx.alice.cert), []);
  cache.set(b, v(fx.bob.cert), []);
  assert.ok(cache.get(a, now, none), "touch a, so b is now the oldest");
  cache.set(c, v(fx.server.cert), []);
  assert.equal(cache.size, 2);
  assert.equal(cache.get(b, now, none), undefined);
  assert.ok(cache.get(a, now, none));
  assert.ok(cache.get(c, now, none));
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

/** curl POSTs `initialize` presenting `certFile` (leaf, maybe followed by its chain). */
const curlInitialize = (url: string, certFile: string, keyFile: string) =>
  run("curl", [
    "-sS",
    "--cacert",
    fx.caFile,
    "--cert",
    certFile,
    "--key",
    keyFile,
    "-H",
    "content-type: application/json",
    "-H",
    "accept: application/json, text/event-stream",
    "-d",
    JSON.stringify(INITIALIZE),
    url,
  ]);

Deno.test("server: a leaf sent without its intermediate is refused every time, before and after it was admitted with its chain", async () => {
  const leafFile = `${fx.dir}/deep-leaf.crt`;
  const chainFile = `${fx.dir}/deep-leaf-chain.crt`;
  const keyFile = `${fx.dir}/deep-leaf.key`;
  await Deno.writeTextFile(leafFile, deepLeaf.certificatePem);
  await Deno.writeTextFile(chainFile, deepLeaf.certificatePem + cacheMid.certificatePem);
  await Deno.writeTextFile(keyFile, deepLeaf.privateKeyPem!, { mode: 0o600 });
  const { server, log } = await startServer(fx, { tls: { ca: cacheRoot.certificatePem } });
  const refusedSoFar = () => refusals(log, "unknown_ca").length;
  const refusedOnce = async (round: number) => {
    const before = refusedSoFar();
    const r = await curlInitialize(server.url, leafFile, keyFile);
    assert.notEqual(r.code, 0, `round ${round}: admitted without its intermediate: ${r.stdout}`);
    const end = Date.now() + 5000;
    while (refusedSoFar() === before && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const mine = refusals(log, "unknown_ca").slice(before);
    assert.equal(mine.length, 1, `round ${round}: ${JSON.stringify(mine)}`);
    assert.equal(mine[0].level, "warn");
    assert.match(String(mine[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(String(mine[0].fields.detail), MISSING_MID);
  };
  try {
    for (let round = 0; round < 3; round++) {
      await refusedOnce(round);
      const ok = await curlInitialize(server.url, chainFile, keyFile);
      assert.equal(ok.code, 0, ok.stderr + JSON.stringify(log.records.slice(-3)));
      assert.equal((parseMcpBody(ok.stdout) as { id: number }).id, 1);
    }
    await refusedOnce(3);
  } finally {
    await server.close();
  }
});

Deno.test("firstPresentedIntermediate() is the first certificate a client sent after its leaf, whatever it is", async () => {
  const stranger = await createRootCa({ commonName: "Stranger Root" });
  const seen: (string | undefined)[][] = [];
  const server = tls.createServer({
    cert: fx.server.cert,
    key: fx.server.key,
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.on("secureConnection", (s: TLSSocket) => {
    seen.push([
      firstPresentedIntermediate(s)?.subject.text,
      presentedIntermediates(s, peerLeaf(s)!)[0]?.subject.text,
    ]);
    s.destroy();
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const keyFile = `${fx.dir}/first-leaf.key`;
  await Deno.writeTextFile(keyFile, deepLeaf.privateKeyPem!, { mode: 0o600 });
  try {
    const orders = [
      [],
      [cacheMid.certificatePem],
      [stranger.certificatePem, cacheMid.certificatePem],
      [cacheRoot.certificatePem, cacheMid.certificatePem],
    ];
    for (const [n, rest] of orders.entries()) {
      const certFile = `${fx.dir}/first-${n}.crt`;
      await Deno.writeTextFile(certFile, [deepLeaf.certificatePem, ...rest].join(""));
      await run("curl", [
        "-sS",
        "--cacert",
        fx.caFile,
        "--cert",
        certFile,
        "--key",
        keyFile,
        `https://127.0.0.1:${port}/`,
      ]);
    }
    assert.deepEqual(seen, [
      [undefined, undefined],
      ["CN=Cache Intermediate", "CN=Cache Intermediate"],
      ["CN=Stranger Root", "CN=Stranger Root"],
      ["CN=Cache Root", "CN=Cache Root"],
    ]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
