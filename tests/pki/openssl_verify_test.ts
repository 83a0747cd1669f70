import assert from "node:assert/strict";
import {
  createIntermediateCa,
  createRootCa,
  issueCertificate,
  type KeyType,
} from "../../src/pki/mod.ts";
import { assertOpensslAccepts, openssl, withTempDir } from "./_openssl.ts";

const FAST_TYPES: KeyType[] = ["ec-p256", "ec-p384", "ed25519"];

for (const keyType of FAST_TYPES) {
  Deno.test(`openssl verify accepts ${keyType} server and client certificates directly and through an intermediate`, async () => {
    await withTempDir(async (dir) => {
      const root = await createRootCa({ keyType });
      const server = await issueCertificate(root, "server", {
        keyType,
        subjectAltNames: "dns:localhost",
      });
      const client = await issueCertificate(root, "client", { keyType });
      await assertOpensslAccepts(dir, root, { server, client });

      const intermediate = await createIntermediateCa(root, { keyType });
      const viaServer = await issueCertificate(intermediate, "server", { keyType });
      const viaClient = await issueCertificate(intermediate, "client", { keyType });
      await assertOpensslAccepts(dir, root, { server: viaServer, client: viaClient }, intermediate);
    });
  });
}

Deno.test("openssl verify accepts a leaf whose key type differs from its CA's", async () => {
  await withTempDir(async (dir) => {
    const root = await createRootCa({ keyType: "ed25519" });
    const server = await issueCertificate(root, "server", { keyType: "rsa-2048" });
    const client = await issueCertificate(root, "client", { keyType: "ec-p384" });
    await assertOpensslAccepts(dir, root, { server, client });
  });
});

Deno.test("openssl verify rejects a certificate from another CA", async () => {
  await withTempDir(async (dir) => {
    const root = await createRootCa();
    const other = await createRootCa({ commonName: "Other CA" });
    const client = await issueCertificate(other, "client");
    await Deno.writeTextFile(`${dir}/ca.crt`, root.certificatePem);
    await Deno.writeTextFile(`${dir}/client.crt`, client.certificatePem);
    const r = await openssl(["verify", "-CAfile", `${dir}/ca.crt`, `${dir}/client.crt`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /unable to get local issuer certificate/);
  });
});

Deno.test("openssl verify rejects a client certificate used as a server (EKU is enforced)", async () => {
  await withTempDir(async (dir) => {
    const root = await createRootCa();
    const client = await issueCertificate(root, "client");
    await Deno.writeTextFile(`${dir}/ca.crt`, root.certificatePem);
    await Deno.writeTextFile(`${dir}/client.crt`, client.certificatePem);
    const r = await openssl([
      "verify",
      "-CAfile",
      `${dir}/ca.crt`,
      "-purpose",
      "sslserver",
      `${dir}/client.crt`,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /unsuitable certificate purpose/);
  });
});
