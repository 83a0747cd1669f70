import assert from "node:assert/strict";
import {
  type CertificateBundle,
  createIntermediateCa,
  createRootCa,
  issueCertificate,
  type KeyType,
} from "../../src/pki/mod.ts";
import { openssl, withTempDir } from "./_openssl.ts";

/** Writes the chain and asserts `openssl verify` accepts server and client, with the right purpose. */
async function assertOpensslAccepts(
  dir: string,
  root: CertificateBundle,
  leaves: { server: CertificateBundle; client: CertificateBundle },
  intermediate?: CertificateBundle,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/ca.crt`, root.certificatePem);
  const untrusted: string[] = [];
  if (intermediate) {
    await Deno.writeTextFile(`${dir}/int.crt`, intermediate.certificatePem);
    untrusted.push("-untrusted", `${dir}/int.crt`);
  }
  for (const [role, leaf] of Object.entries(leaves)) {
    await Deno.writeTextFile(`${dir}/${role}.crt`, leaf.certificatePem);
    const purpose = role === "server" ? "sslserver" : "sslclient";
    const r = await openssl([
      "verify",
      "-CAfile",
      `${dir}/ca.crt`,
      ...untrusted,
      "-purpose",
      purpose,
      `${dir}/${role}.crt`,
    ]);
    assert.equal(r.code, 0, `${role}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout.trim(), `${dir}/${role}.crt: OK`);
  }
}

const FAST_TYPES: KeyType[] = ["ec-p256", "ec-p384", "ed25519", "rsa-2048", "rsa-3072"];

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

// RSA-4096 key generation takes seconds on CI: this is the only test that makes such keys.
Deno.test("openssl verify accepts rsa-4096 server and client certificates, directly and through an intermediate", async () => {
  await withTempDir(async (dir) => {
    const root = await createRootCa({ keyType: "rsa-4096" });
    const server = await issueCertificate(root, "server", { keyType: "rsa-4096" });
    const intermediate = await createIntermediateCa(root);
    const client = await issueCertificate(intermediate, "client", { keyType: "rsa-4096" });
    await assertOpensslAccepts(dir, root, {
      server,
      client: await issueCertificate(root, "client"),
    });
    await assertOpensslAccepts(dir, root, {
      server: await issueCertificate(intermediate, "server"),
      client,
    }, intermediate);
  });
});

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
