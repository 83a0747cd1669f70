/**
 * `optionalCrls` and `watchFile` of createRevocationChecker(): an optional
 * CRL file that does not exist yet revokes nothing, a watched file is loaded
 * when it appears (with no refresh interval at all), and anything else that
 * is missing still fails closed.
 */
import assert from "node:assert/strict";
import { certsRevoke } from "../../src/cli/certs_revoke.ts";
import { watchFileChanges } from "../../src/cli/serve_watch.ts";
import { isMtlsError } from "../../src/errors.ts";
import { createRevocationChecker } from "../../src/revocation/mod.ts";
import { waitFor } from "../ops/_ops.ts";
import { memoryLogger } from "./_log.ts";
import { makeOpensslCa } from "./_openssl.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-opt-");
const quiet = { stdout: () => {}, stderr: () => {} };

Deno.test("createRevocationChecker() treats an absent optional CRL file as nothing revoked, loads it when the watcher sees it appear, and keeps it when it is deleted", async () => {
  const ca = await makeOpensslCa(root, "OptCA");
  const dave = await ca.issue("dave");
  const crl = `${ca.dir}/ca.crl`;
  const logger = memoryLogger();
  let changes = 0;
  const checker = createRevocationChecker({
    crls: [crl],
    optionalCrls: [crl],
    issuers: [ca.caDer],
    refreshInterval: 0, // only the watcher can bring the new file in
    crlDistributionPoints: false,
    watchFile: (path, onChange) => watchFileChanges(path, onChange, { logger }),
    onCrlChange: () => void changes++,
    logger,
  });
  try {
    await checker.ready;
    await checker.refresh(); // a second look at the absent file is not logged again
    const absent = logger.records.filter((r) => /does not exist yet/.test(r.msg));
    assert.deepEqual(absent.map((r) => [r.level, r.msg, r.fields]), [[
      "info",
      `CRL file "${crl}" does not exist yet: nothing is revoked until it appears`,
      { source: crl, watched: true },
    ]]);
    assert.equal(checker.state().crls[0].absent, true);
    const cached = checker.checkCached(dave.der, ca.caDer);
    assert.equal(cached?.status, "good", "decided without I/O");
    assert.equal(cached?.detail, `no CRL yet: "${crl}" does not exist`);
    assert.equal((await checker.check(dave.der, ca.caDer)).status, "good");

    assert.equal(await certsRevoke([dave.path, "--dir", ca.dir], quiet), 0);
    const v = await waitFor(() => {
      const c = checker.checkCached(dave.der, ca.caDer);
      return c?.status === "revoked" ? c : undefined;
    });
    assert.match(v.detail, /^listed in CRL "/);
    assert.equal(changes, 1, "the CRL that appeared is reported as a change");
    assert.equal(checker.state().crls[0].absent, undefined);

    // Deleting the CRL does not forgive anyone: the last good CRL stays.
    await Deno.remove(crl);
    await checker.refresh();
    assert.equal((await checker.check(dave.der, ca.caDer)).status, "revoked");
    assert.match(checker.state().crls[0].lastError!, /^Cannot read CRL "/);
  } finally {
    checker.close();
  }
});

Deno.test("createRevocationChecker() still fails closed for a missing CRL file that is not optional, even beside an absent optional one", async () => {
  const ca = await makeOpensslCa(root, "ClosedCA");
  const erin = await ca.issue("erin");
  const optional = `${ca.dir}/ca.crl`;
  const named = `${ca.dir}/named.crl`;
  for (const crls of [[named], [optional, named]]) {
    const checker = createRevocationChecker({
      crls,
      optionalCrls: crls.includes(optional) ? [optional] : [],
      issuers: [ca.caDer],
      crlDistributionPoints: false,
      logger: memoryLogger(),
    });
    try {
      await checker.ready;
      assert.equal(checker.checkCached(erin.der, ca.caDer), undefined);
      const v = await checker.check(erin.der, ca.caDer);
      assert.equal(v.status, "unknown", JSON.stringify(crls));
      assert.match(v.detail, new RegExp(`Cannot read CRL "${named}": ENOENT`));
      await assert.rejects(
        checker.verify(erin.der, ca.caDer, { peer: "127.0.0.1:1" }),
        (e) => isMtlsError(e, "revocation_unknown"),
      );
    } finally {
      checker.close();
    }
  }
});

Deno.test("createRevocationChecker() refuses optionalCrls that are not file paths in crls", () => {
  for (const [crls, p] of [[[], "a.crl"], [["http://x/ca.crl"], "http://x/ca.crl"]] as const) {
    assert.throws(
      () => createRevocationChecker({ crls: [...crls], optionalCrls: [p] }),
      (e) =>
        isMtlsError(e, "invalid_config") &&
        e.message === `Option "optionalCrls" names "${p}", which is not a file path in "crls"`,
    );
  }
});
