import assert from "node:assert/strict";
import { createCrl, createRootCa, crlToPem, issueCertificate } from "../../src/pki/mod.ts";
import { isMtlsError } from "../../src/errors.ts";
import { createRevocationChecker } from "../../src/revocation/mod.ts";
import { openssl, startResponder } from "./_openssl.ts";
import { memoryLogger } from "./_log.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-pki-");
const der = (c: { certificate: { der: Uint8Array } }) => c.certificate.der;

for (const keyType of ["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const) {
  Deno.test(`certificates from our PKI (${keyType}): our CRL verifies in openssl and is enforced by the checker`, async () => {
    const ca = await createRootCa({ commonName: `Rev ${keyType}`, keyType });
    const alice = await issueCertificate(ca, "client", {
      commonName: "alice",
      crlDistributionPoints: ["http://127.0.0.1:9/ca.crl"],
    });
    const bob = await issueCertificate(ca, "client", { commonName: "bob" });
    const crl = await createCrl(ca, [{
      serialNumber: alice.certificate.serialNumber,
      revocationDate: new Date(),
      reason: "keyCompromise",
    }], { crlNumber: 1 });
    const dir = await Deno.makeTempDir({ dir: root });
    await Deno.writeTextFile(`${dir}/ca.crl`, crlToPem(crl));
    await Deno.writeTextFile(`${dir}/ca.crt`, ca.certificatePem);
    assert.match(
      await openssl(["crl", "-in", "ca.crl", "-CAfile", "ca.crt", "-verify", "-noout"], dir),
      /verify OK/,
    );
    const checker = createRevocationChecker({
      crls: [`${dir}/ca.crl`],
      issuers: [ca.certificatePem],
      logger: memoryLogger(),
    });
    try {
      await assert.rejects(checker.verify(der(alice), der(ca)), (e) => isMtlsError(e, "revoked"));
      assert.equal((await checker.verify(der(bob), der(ca))).status, "good");
      // verifyChain: leaf first, then its issuer.
      assert.equal((await checker.verifyChain([der(bob), der(ca)]))[0].status, "good");
    } finally {
      checker.close();
    }
  });
}

Deno.test("modes: crl-then-ocsp asks OCSP only when no CRL decides; ocsp-then-crl falls back to the CRL", async () => {
  const ca = await createRootCa({ commonName: "Mode CA", keyType: "ec-p256", exportable: true });
  const responderCert = await issueCertificate(ca, "client", {
    commonName: "responder",
    extendedKeyUsage: ["ocspSigning"],
    exportable: true,
  });
  const dir = await Deno.makeTempDir({ dir: root });
  const caPath = `${dir}/ca.crt`;
  await Deno.writeTextFile(caPath, ca.certificatePem);
  await Deno.writeTextFile(`${dir}/r.crt`, responderCert.certificatePem);
  await Deno.writeTextFile(`${dir}/r.key`, responderCert.privateKeyPem!);
  await Deno.writeTextFile(`${dir}/index.txt`, "");
  await Deno.writeTextFile(`${dir}/index.txt.attr`, "unique_subject = no\n");
  // Started first: the leaf names the port it really listens on.
  const responder = await startResponder({ dir, caPath }, {
    cert: `${dir}/r.crt`,
    key: `${dir}/r.key`,
  });
  const url = responder.url;
  const covered = await issueCertificate(ca, "client", { commonName: "covered", ocspUrl: url });
  // openssl's index.txt: V <expiry> <revocation> <serial> unknown <subject>. Replaced by a
  // rename (a new inode), as `openssl ca` does, so that the responder sees the change.
  const serial = covered.certificate.serialNumber.toUpperCase();
  await Deno.writeTextFile(
    `${dir}/index.txt.new`,
    `R\t301001010000Z\t260101000000Z,keyCompromise\t${serial}\tunknown\t/CN=covered\n`,
  );
  await Deno.rename(`${dir}/index.txt.new`, `${dir}/index.txt`);
  await responder.sync();
  const crlPath = `${dir}/ca.crl`;
  await Deno.writeTextFile(crlPath, crlToPem(await createCrl(ca, [], { crlNumber: 1 }))); // says "good"
  try {
    const leaf = der(covered), issuer = der(ca);
    let ocspCalls = 0;
    const counting = (i: string, init?: RequestInit) => (ocspCalls++, fetch(i, init));
    let c = createRevocationChecker({
      crls: [crlPath],
      ocsp: true,
      mode: "crl-then-ocsp",
      fetch: counting,
      logger: memoryLogger(),
    });
    let v = await c.check(leaf, issuer);
    assert.deepEqual([v.status, v.source], ["good", "crl"]);
    assert.equal(ocspCalls, 0); // the CRL decided; OCSP never asked
    c.close();
    c = createRevocationChecker({
      crls: [crlPath],
      ocsp: true,
      mode: "ocsp-then-crl",
      logger: memoryLogger(),
    });
    v = await c.check(leaf, issuer);
    assert.deepEqual([v.status, v.source, v.revocationReason], [
      "revoked",
      "ocsp",
      "keyCompromise",
    ]);
    c.close();
    await responder.stop(); // its port is released: the leaf's OCSP URL now refuses connections
    c = createRevocationChecker({
      crls: [crlPath],
      ocsp: true,
      mode: "ocsp-then-crl",
      cooldown: 0,
      logger: memoryLogger(),
    });
    v = await c.check(leaf, issuer);
    assert.deepEqual([v.status, v.source], ["good", "crl"]); // responder down: the CRL answers
    c.close();
  } finally {
    await responder.stop();
  }
});
