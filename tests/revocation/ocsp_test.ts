import * as pkijs from "pkijs";
import * as asn1js from "asn1js";
import assert from "node:assert/strict";
import { isMtlsError } from "../../src/errors.ts";
import { createRevocationChecker, type FetchLike } from "../../src/revocation/mod.ts";
import { makeOpensslCa, startResponder } from "./_openssl.ts";
import { memoryLogger } from "./_log.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-ocsp-");

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("OCSP against a real openssl ocsp responder on 127.0.0.1", async (t) => {
  const ca = await makeOpensslCa(root, "OcspCA");
  const responder = await startResponder(ca, await ca.issueResponder("responder"));
  const url = responder.url;
  await ca.setOcspUrl(url);
  const alice = await ca.issue("alice");
  const bob = await ca.issue("bob");
  const carol = await ca.issueUnrecorded("carol", "7777");
  await ca.revoke(alice.path, "keyCompromise");
  await responder.sync();
  const others: { stop(): Promise<void> }[] = [];
  const checker = (extra: Parameters<typeof createRevocationChecker>[0] = {}) =>
    createRevocationChecker({ ocsp: true, logger: memoryLogger(), ...extra });
  try {
    await t.step("a good certificate is admitted", async () => {
      const c = checker();
      const v = await c.verify(bob.der, ca.caDer);
      assert.equal(v.status, "good");
      assert.equal(v.source, "ocsp");
      assert.equal(v.detail, `OCSP responder "${url}" says good`);
      assert.ok(v.validUntil! > new Date()); // openssl -nmin 10 sets nextUpdate
      c.close();
    });

    await t.step("a revoked certificate is refused with revoked and its reason", async () => {
      const c = checker({ ocsp: { hash: "SHA-256" } });
      await assert.rejects(
        c.verify(alice.der, ca.caDer, { peer: "127.0.0.1:4000" }),
        (e) =>
          isMtlsError(e, "revoked") &&
          e.message ===
            `Certificate serial "${alice.serial}" is revoked (keyCompromise): OCSP responder "${url}" says revoked`,
      );
      c.close();
    });

    await t.step(
      "a certificate the responder does not know is refused with revocation_unknown",
      async () => {
        const c = checker();
        await assert.rejects(
          c.verify(carol.der, ca.caDer),
          (e) =>
            isMtlsError(e, "revocation_unknown") &&
            e.message ===
              `Cannot establish the revocation status of certificate serial "7777": OCSP responder "${url}" does not know the certificate`,
        );
        c.close();
      },
    );

    await t.step("a response signed by the issuer itself is accepted", async () => {
      const r = await startResponder(ca, { cert: ca.caPath, key: ca.keyPath });
      others.push(r);
      const c = checker({ ocsp: { url: r.url } });
      assert.equal((await c.check(bob.der, ca.caDer)).status, "good");
      c.close();
      await r.stop();
    });

    await t.step("a response signed by the wrong key is refused", async () => {
      const rogueCa = await makeOpensslCa(root, "RogueCA");
      const rogue = await rogueCa.issueResponder("rogue-responder");
      const noEku = { cert: bob.path, key: `${ca.dir}/bob.key` }; // our CA's cert, but not for OCSP signing
      for (const bad of [rogue, noEku]) {
        const r = await startResponder(ca, bad);
        others.push(r);
        const c = checker({ ocsp: { url: r.url } });
        await assert.rejects(
          c.verify(bob.der, ca.caDer),
          (e) =>
            isMtlsError(e, "revocation_unknown") &&
            e.message ===
              `Cannot establish the revocation status of certificate serial "${bob.serial}": Invalid OCSP response from "${r.url}": signature does not verify with the issuer or a responder it authorized`,
        );
        c.close();
        await r.stop();
      }
    });

    await t.step("a response echoing another nonce is refused", async () => {
      let sent = "", swapped = new Uint8Array();
      const tamper: FetchLike = (input, init) => {
        const req = pkijs.OCSPRequest.fromBER((init!.body as Uint8Array).slice());
        const ext = req.tbsRequest.requestExtensions![0];
        sent = hex(
          (asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result as asn1js.OctetString)
            .valueBlock.valueHexView,
        );
        swapped = crypto.getRandomValues(new Uint8Array(16));
        ext.extnValue = new asn1js.OctetString({
          valueHex: new asn1js.OctetString({ valueHex: swapped }).toBER(),
        });
        return fetch(input, { ...init, body: new Uint8Array(req.toSchema(true).toBER()) });
      };
      const c = checker({ fetch: tamper });
      await assert.rejects(
        c.verify(bob.der, ca.caDer),
        (e) =>
          isMtlsError(e, "revocation_unknown") &&
          e.message ===
            `Cannot establish the revocation status of certificate serial "${bob.serial}": Invalid OCSP response from "${url}": nonce "${
              hex(swapped)
            }" does not match the request's "${sent}"`,
      );
      c.close();
    });

    await t.step("a garbage response is refused with its reason", async () => {
      const garbage: FetchLike = () => Promise.resolve(new Response("garbage, not DER"));
      const c = checker({ fetch: garbage });
      await assert.rejects(
        c.verify(bob.der, ca.caDer),
        (e) =>
          isMtlsError(e, "revocation_unknown") &&
          e.message ===
            `Cannot establish the revocation status of certificate serial "${bob.serial}": Invalid OCSP response from "${url}": not a DER OCSP response (DER value at offset 0 overruns its container)`,
      );
      c.close();
    });

    await t.step(
      "a responder that never answers times out, then cools down without new connections",
      async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const silentUrl = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
        const held: Deno.Conn[] = [];
        const accepting = (async () => {
          for await (const conn of listener) held.push(conn);
        })();
        let calls = 0;
        const counting: FetchLike = (i, init) => (calls++, fetch(i, init));
        const c = checker({
          ocsp: { url: silentUrl },
          timeout: 300,
          cooldown: 60_000,
          fetch: counting,
        });
        const prefix =
          `Cannot establish the revocation status of certificate serial "${bob.serial}": `;
        await assert.rejects(
          c.verify(bob.der, ca.caDer),
          (e) =>
            isMtlsError(e, "revocation_unknown") &&
            e.message === `${prefix}Cannot fetch "${silentUrl}": timed out after 300 ms`,
        );
        await assert.rejects(
          c.verify(bob.der, ca.caDer),
          (e) =>
            isMtlsError(e, "revocation_unknown") &&
            new RegExp(
              `^${
                prefix.replace(/[()]/g, "\\$&")
              }Cannot fetch "${silentUrl}": cooling down until \\S+ after "timed out after 300 ms"$`,
            ).test(e.message),
        );
        assert.equal(calls, 1);
        c.close();
        listener.close();
        for (const h of held) h.close();
        await accepting.catch(() => {});
      },
    );

    await t.step(
      "responder stopped: deny refuses with revocation_unknown, allow admits and logs every time",
      async () => {
        // Its port is released: the certificates' OCSP URL now refuses connections.
        await responder.stop();
        const deny = checker();
        await assert.rejects(
          deny.verify(bob.der, ca.caDer),
          (e) =>
            isMtlsError(e, "revocation_unknown") &&
            e.message.startsWith(
              `Cannot establish the revocation status of certificate serial "${bob.serial}": Cannot fetch "${url}": `,
            ),
        );
        deny.close();
        const logger = memoryLogger();
        const allow = createRevocationChecker({
          ocsp: true,
          failureMode: "allow",
          cooldown: 0,
          logger,
        });
        for (let i = 0; i < 3; i++) {
          assert.equal(
            (await allow.verify(bob.der, ca.caDer, { peer: "127.0.0.1:1" })).status,
            "unknown",
          );
        }
        const admitted = logger.records.filter((r) =>
          r.level === "warn" && r.msg.startsWith("Admitting")
        );
        assert.equal(admitted.length, 3);
        assert.equal(admitted[0].fields?.peer, "127.0.0.1:1");
        assert.match(String(admitted[0].fields?.detail), new RegExp(`^Cannot fetch "${url}"`));
        allow.close();
      },
    );
  } finally {
    await responder.stop();
    for (const o of others) await o.stop();
  }
});
