import assert from "node:assert/strict";
import { createIntermediateCa, createRootCa, issueCertificate } from "../../src/pki/mod.ts";
import {
  collectingLogger,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  parseMcpBody,
  run,
} from "./_fixtures.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";

const fx: Fixtures = await makeFixtures();

Deno.test("server admits a client that sends its intermediate CA, and maxChainDepth 0 refuses it", async () => {
  const root = await createRootCa({ commonName: "Chain Root" });
  const mid = await createIntermediateCa(root, { commonName: "Chain Intermediate" });
  const leaf = await issueCertificate(mid, "client", { commonName: "deep", exportable: true });
  const certFile = `${fx.dir}/deep-chain.crt`;
  const keyFile = `${fx.dir}/deep.key`;
  await Deno.writeTextFile(certFile, leaf.certificatePem + mid.certificatePem);
  await Deno.writeTextFile(keyFile, leaf.privateKeyPem!);
  for (const maxChainDepth of [1, 0]) {
    const log = collectingLogger();
    const server = await serveMcp(demoServerFactory, {
      port: 0,
      logger: log,
      maxChainDepth,
      tls: { cert: fx.server.cert, key: fx.server.key, ca: root.certificatePem },
    });
    try {
      const r = await run("curl", [
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
        server.url,
      ]);
      if (maxChainDepth === 1) {
        assert.equal(r.code, 0, r.stderr + JSON.stringify(log.records));
        assert.equal((parseMcpBody(r.stdout) as { id: number }).id, 1);
      } else {
        assert.notEqual(r.code, 0);
        const rec = await log.waitForReason("unknown_ca");
        assert.match(String(rec.fields.detail), /maxChainDepth 0/);
      }
    } finally {
      await server.close();
    }
  }
});
