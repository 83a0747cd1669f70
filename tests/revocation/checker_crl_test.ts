import assert from "node:assert/strict";
import { isMtlsError } from "../../src/errors.ts";
import { createRevocationChecker } from "../../src/revocation/mod.ts";
import { certsRevoke } from "../../src/cli/certs_revoke.ts";
import { makeOpensslCa } from "./_openssl.ts";
import { memoryLogger } from "./_log.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-chk-");

const ca = await makeOpensslCa(root, "CheckCA");
const alice = await ca.issue("alice");
const bob = await ca.issue("bob");
await ca.revoke(alice.path, "keyCompromise");
const crlPath = await ca.gencrl();

Deno.test("createRevocationChecker() enforces a CRL made by openssl ca -gencrl", async () => {
  const logger = memoryLogger();
  const checker = createRevocationChecker({ crls: [crlPath], issuers: [ca.caDer], logger });
  try {
    await checker.ready;
    await assert.rejects(
      checker.verify(alice.der, ca.caDer, { peer: "127.0.0.1:5000" }),
      (e) =>
        isMtlsError(e, "revoked") && (e as { peer?: string }).peer === "127.0.0.1:5000" &&
        e.message ===
          `Certificate serial "${alice.serial}" is revoked (keyCompromise): listed in CRL "${crlPath}"`,
    );
    const good = await checker.verify(bob.der, ca.caDer);
    assert.equal(good.status, "good");
    assert.equal(good.source, "crl");
    assert.equal(good.detail, `not listed in CRL "${crlPath}"`);
    // Once verified, the handshake path can answer from memory.
    assert.equal(checker.checkCached(alice.der, ca.caDer)?.status, "revoked");
    assert.equal(checker.state().crls[0].entries, 1);
  } finally {
    checker.close();
  }
});

Deno.test("createRevocationChecker() verifies a CRL lazily against the issuer given at check time", async () => {
  const checker = createRevocationChecker({ crls: [crlPath], logger: memoryLogger() });
  try {
    assert.equal(checker.checkCached(alice.der, ca.caDer), undefined);
    assert.equal((await checker.check(alice.der, ca.caDer)).status, "revoked");
    assert.equal(checker.checkCached(alice.der, ca.caDer)?.status, "revoked");
  } finally {
    checker.close();
  }
});

Deno.test("createRevocationChecker() treats an expired CRL as unknown: deny refuses, allow admits and warns each time", async () => {
  const later = new Date(Date.now() + 8 * 86_400_000); // openssl made it valid for 7 days
  const deny = createRevocationChecker({
    crls: [crlPath],
    issuers: [ca.caDer],
    now: () => later,
    logger: memoryLogger(),
  });
  const logger = memoryLogger();
  const allow = createRevocationChecker({
    crls: [crlPath],
    issuers: [ca.caDer],
    now: () => later,
    failureMode: "allow",
    logger,
  });
  try {
    await deny.ready;
    const crl = deny.state().crls[0];
    await assert.rejects(
      deny.verify(bob.der, ca.caDer),
      (e) =>
        isMtlsError(e, "revocation_unknown") &&
        e.message ===
          `Cannot establish the revocation status of certificate serial "${bob.serial}": CRL "${crlPath}" expired at ${
            crl.nextUpdate!.toISOString()
          }`,
    );
    // Even a listed serial is only "unknown" once the CRL is stale: deny still refuses.
    await assert.rejects(
      deny.verify(alice.der, ca.caDer),
      (e) => isMtlsError(e, "revocation_unknown"),
    );
    for (let i = 0; i < 2; i++) {
      assert.equal((await allow.verify(bob.der, ca.caDer)).status, "unknown");
    }
    const warnings = logger.records.filter((r) => r.msg.startsWith("Admitting certificate"));
    assert.equal(warnings.length, 2);
    assert.equal(
      warnings[0].msg,
      `Admitting certificate serial "${bob.serial}" with unknown revocation status (failureMode "allow")`,
    );
    assert.equal(warnings[0].fields?.reason, "revocation_unknown");
  } finally {
    deny.close();
    allow.close();
  }
});

Deno.test("createRevocationChecker() with no CRL for the issuer refuses with revocation_unknown", async () => {
  const other = await makeOpensslCa(root, "OtherCA");
  const carol = await other.issue("carol");
  const checker = createRevocationChecker({ crls: [crlPath], logger: memoryLogger() });
  try {
    await assert.rejects(
      checker.verify(carol.der, other.caDer),
      (e) =>
        isMtlsError(e, "revocation_unknown") &&
        e.message ===
          `Cannot establish the revocation status of certificate serial "${carol.serial}": no loaded CRL covers the certificate's issuer`,
    );
  } finally {
    checker.close();
  }
});

Deno.test("createRevocationChecker() refuses a CRL file signed by another key and names it", async () => {
  const twin = await makeOpensslCa(`${root}/twin`, "CheckCA"); // same name, different key
  await twin.issue("x");
  const forged = await twin.gencrl();
  const checker = createRevocationChecker({
    crls: [forged],
    issuers: [ca.caDer],
    logger: memoryLogger(),
  });
  try {
    await checker.ready;
    const st = checker.state().crls[0];
    assert.equal(st.loaded, false);
    assert.match(
      st.lastError!,
      new RegExp(
        `^Cannot load CRL "${forged}": authority key identifier "[0-9a-f]+" does not match the CA$`,
      ),
    );
    await assert.rejects(
      checker.verify(bob.der, ca.caDer),
      (e) => isMtlsError(e, "revocation_unknown") && e.message.includes(st.lastError!),
    );
  } finally {
    checker.close();
  }
});

Deno.test("createRevocationChecker() rejects bad options with a ConfigError", () => {
  assert.throws(
    () => createRevocationChecker({ failureMode: "maybe" as "deny" }),
    (e) =>
      isMtlsError(e, "invalid_config") &&
      e.message === 'Option "failureMode" must be deny or allow, got "maybe"',
  );
  assert.throws(
    () => createRevocationChecker({ mode: "ocsp" }),
    (e) =>
      isMtlsError(e, "invalid_config") &&
      e.message === 'Option "mode" is "ocsp" but "ocsp" is not enabled',
  );
  assert.throws(
    () => createRevocationChecker({ timeout: -1 }),
    (e) =>
      isMtlsError(e, "invalid_config") &&
      e.message === 'Option "timeout" must be a non-negative number of ms, got "-1"',
  );
});

Deno.test("a revocation made with certs revoke while the checker runs takes effect within the refresh interval", async () => {
  const dir = `${root}/live`;
  const live = await makeOpensslCa(dir, "LiveCA");
  const dave = await live.issue("dave");
  const certs = live.dir; // ca.crt and ca.key live here
  const quiet = { stdout: () => {}, stderr: () => {} };
  const other = await live.issue("erin");
  assert.equal(await certsRevoke([other.path, "--dir", certs], quiet), 0); // makes ca.crl
  const checker = createRevocationChecker({
    crls: [`${certs}/ca.crl`],
    issuers: [live.caDer],
    refreshInterval: 100,
    logger: memoryLogger(),
  });
  try {
    await checker.ready;
    assert.equal((await checker.check(dave.der, live.caDer)).status, "good");
    assert.equal(
      await certsRevoke([dave.path, "--dir", certs, "--reason", "cessationOfOperation"], quiet),
      0,
    );
    const deadline = Date.now() + 3000;
    let v = await checker.check(dave.der, live.caDer);
    while (v.status !== "revoked" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      v = await checker.check(dave.der, live.caDer);
    }
    assert.equal(v.status, "revoked");
    assert.equal(v.revocationReason, "cessationOfOperation");
    assert.equal(checker.state().crls[0].crlNumber, 2n);
  } finally {
    checker.close();
  }
});
