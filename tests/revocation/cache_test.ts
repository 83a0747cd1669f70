import assert from "node:assert/strict";
import { createCrl, crlToPem } from "../../src/pki/crl.ts";
import { createRevocationChecker, type FetchLike } from "../../src/revocation/mod.ts";
import { makeOpensslCa, openssl, startResponder } from "./_openssl.ts";
import { memoryLogger } from "./_log.ts";
import { readCertificate } from "../../src/cert/certificate.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-cache-");

function counting(): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const f = ((input: string, init?: RequestInit) => {
    calls.push(input);
    return fetch(input, init);
  }) as FetchLike & { calls: string[] };
  f.calls = calls;
  return f;
}

Deno.test("OCSP answers are cached until nextUpdate, shared by concurrent checks and kept on disk", async (t) => {
  const ca = await makeOpensslCa(root, "CacheCA");
  const responder = await startResponder(ca, await ca.issueResponder("responder"));
  await ca.setOcspUrl(responder.url);
  const bob = await ca.issue("bob");
  const alice = await ca.issue("alice");
  await responder.sync();
  const cacheDir = `${root}/revocation`;
  try {
    await t.step("a fresh cached answer is served without a network call", async () => {
      const f = counting();
      const c = createRevocationChecker({ ocsp: true, fetch: f, logger: memoryLogger(), cacheDir });
      assert.equal(c.checkCached(bob.der, ca.caDer), undefined);
      assert.equal((await c.check(bob.der, ca.caDer)).status, "good");
      assert.equal((await c.check(bob.der, ca.caDer)).status, "good");
      assert.equal(c.checkCached(bob.der, ca.caDer)?.status, "good");
      assert.equal(f.calls.length, 1);
      c.close();
    });

    await t.step("concurrent checks of one certificate share one request", async () => {
      const f = counting();
      const c = createRevocationChecker({ ocsp: true, fetch: f, logger: memoryLogger() });
      const vs = await Promise.all(Array.from({ length: 8 }, () => c.check(alice.der, ca.caDer)));
      assert.deepEqual(vs.map((v) => v.status), Array(8).fill("good"));
      assert.equal(f.calls.length, 1);
      c.close();
    });

    await t.step("an expired answer triggers a new request", async () => {
      const f = counting();
      let now = new Date();
      const c = createRevocationChecker({
        ocsp: true,
        fetch: f,
        now: () => now,
        logger: memoryLogger(),
      });
      const first = await c.check(alice.der, ca.caDer);
      assert.equal(f.calls.length, 1);
      now = new Date(first.validUntil!.getTime() + 1000); // past nextUpdate, within clock skew
      assert.equal(c.checkCached(alice.der, ca.caDer), undefined);
      assert.equal((await c.check(alice.der, ca.caDer)).status, "good");
      assert.equal(f.calls.length, 2);
      c.close();
    });

    await t.step(
      "a new checker reads a fresh answer from the disk cache, re-verified, without the network",
      async () => {
        const files = [...Deno.readDirSync(cacheDir)].map((e) => e.name);
        assert.equal(files.length, 1);
        assert.match(files[0], /^ocsp-[0-9a-f]+-[0-9a-f]+\.der$/);
        await responder.stop();
        const f = counting();
        const c = createRevocationChecker({
          ocsp: true,
          fetch: f,
          logger: memoryLogger(),
          cacheDir,
        });
        assert.equal((await c.check(bob.der, ca.caDer)).status, "good");
        assert.equal(f.calls.length, 0);
        c.close();
        // A tampered cache file is not trusted: the checker goes to the (now stopped) network.
        const path = `${cacheDir}/${files[0]}`;
        const bytes = await Deno.readFile(path);
        bytes[bytes.length - 5] ^= 0xff;
        await Deno.writeFile(path, bytes);
        const c2 = createRevocationChecker({
          ocsp: true,
          fetch: f,
          logger: memoryLogger(),
          cacheDir,
        });
        assert.equal((await c2.check(bob.der, ca.caDer)).status, "unknown");
        assert.equal(f.calls.length, 1);
        c2.close();
      },
    );
  } finally {
    await responder.stop();
  }
});

Deno.test("a CRL served over HTTP: a failed or bad refresh keeps the last good CRL", async () => {
  let body: Uint8Array | string = "";
  let status = 200;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(body as BodyInit, { status }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/ca.crl`;
  const ca = await makeOpensslCa(root, "HttpCA", { crl: url });
  const alice = await ca.issue("alice");
  const bob = await ca.issue("bob");
  await ca.revoke(alice.path);
  body = await Deno.readFile(await ca.gencrl());
  const logger = memoryLogger();
  const cacheDir = `${root}/crl-cache`;
  // No CRL configured: the checker follows the certificate's distribution point.
  const c = createRevocationChecker({
    issuers: [ca.caDer],
    refreshInterval: 0,
    cooldown: 0,
    logger,
    cacheDir,
  });
  try {
    assert.equal((await c.check(alice.der, ca.caDer)).status, "revoked");
    assert.equal((await c.check(bob.der, ca.caDer)).status, "good");
    assert.equal(c.state().crls[0].location, url);

    const attempts: [string, Uint8Array | string, number][] = [];
    attempts.push(["garbage", "garbage", 200]);
    attempts.push(["HTTP 500", "", 500]);
    // Same name, other key: openssl's AKI gives it away before the signature check.
    const twin = await makeOpensslCa(`${root}/twin`, "HttpCA");
    attempts.push(["other key", await Deno.readFile(await twin.gencrl()), 200]);
    const expected = [
      `Cannot load CRL "${url}": no "X509 CRL" PEM block and not DER`,
      `Cannot fetch "${url}": HTTP 500`,
    ];
    for (const [i, [, b, s]] of attempts.entries()) {
      body = b;
      status = s;
      await c.refresh();
      const st = c.state().crls[0];
      if (expected[i]) assert.equal(st.lastError, expected[i]);
      else assert.match(st.lastError!, /authority key identifier .* does not match the CA$/);
      assert.equal(st.crlNumber, 1n);
      assert.equal((await c.check(alice.der, ca.caDer)).status, "revoked");
    }
    const warnings = logger.records.filter((r) =>
      r.msg.startsWith("CRL refresh failed, keeping the last good CRL")
    );
    assert.equal(warnings.length, 3);

    // An older CRL number is refused too.
    const caKey = await crypto.subtle.importKey(
      "pkcs8",
      Uint8Array.from(
        atob(
          (await openssl(["pkcs8", "-topk8", "-nocrypt", "-in", ca.keyPath], root)).replace(
            /-----[^-]+-----|\s/g,
            "",
          ),
        ),
        (ch) => ch.charCodeAt(0),
      ),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign"],
    );
    const issuer = { certificate: readCertificate(ca.caDer), privateKey: caKey };
    body = crlToPem(await createCrl(issuer, [], { crlNumber: 0 }));
    status = 200;
    await c.refresh();
    assert.equal(
      c.state().crls[0].lastError,
      `Cannot load CRL "${url}": CRL number "0" is older than the loaded "1"`,
    );

    // A newer, valid CRL replaces it: bob is now revoked too.
    body = crlToPem(
      await createCrl(issuer, [{ serialNumber: alice.serial, revocationDate: new Date() }, {
        serialNumber: bob.serial,
        revocationDate: new Date(),
        reason: "superseded",
      }], { crlNumber: 2 }),
    );
    await c.refresh();
    assert.equal(c.state().crls[0].lastError, undefined);
    assert.equal(c.state().crls[0].crlNumber, 2n);
    assert.equal((await c.check(bob.der, ca.caDer)).revocationReason, "superseded");
  } finally {
    c.close();
    await server.shutdown();
  }
  // The fetched CRL was kept on disk: a new checker enforces it with the server gone.
  const f = counting();
  const c2 = createRevocationChecker({
    crls: [url],
    issuers: [ca.caDer],
    refreshInterval: 0,
    fetch: f,
    logger: memoryLogger(),
    cacheDir,
  });
  try {
    await c2.ready;
    assert.equal((await c2.check(bob.der, ca.caDer)).status, "revoked");
    assert.equal(f.calls.length, 1); // it tried the network, failed, and kept the disk copy
  } finally {
    c2.close();
  }
});
