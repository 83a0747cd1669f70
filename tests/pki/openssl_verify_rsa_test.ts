import { createIntermediateCa, createRootCa, issueCertificate } from "../../src/pki/mod.ts";
import { assertOpensslAccepts, withTempDir } from "./_openssl.ts";

// RSA key generation dominates the suite's time (seconds per key on two cores), so each
// test makes one leaf key pair and certifies it four times; the intermediate is EC.
function rsaKeyPair(bits: number): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    false,
    ["sign", "verify"],
  );
}

for (const [keyType, bits] of [["rsa-2048", 2048], ["rsa-3072", 3072]] as const) {
  Deno.test(`openssl verify accepts ${keyType} server and client certificates directly and through an intermediate`, async () => {
    await withTempDir(async (dir) => {
      const root = await createRootCa({ keyType });
      const keyPair = await rsaKeyPair(bits);
      const leaf = { keyType, keyPair };
      const server = await issueCertificate(root, "server", leaf);
      const client = await issueCertificate(root, "client", leaf);
      await assertOpensslAccepts(dir, root, { server, client });
      const intermediate = await createIntermediateCa(root);
      const viaServer = await issueCertificate(intermediate, "server", leaf);
      const viaClient = await issueCertificate(intermediate, "client", leaf);
      await assertOpensslAccepts(dir, root, { server: viaServer, client: viaClient }, intermediate);
    });
  });
}

// RSA-4096: the only test in the suite that makes such a key (through the library, once).
Deno.test("openssl verify accepts rsa-4096 server and client certificates directly and through an intermediate", async () => {
  await withTempDir(async (dir) => {
    const root = await createRootCa();
    const intermediate = await createIntermediateCa(root);
    const first = await issueCertificate(root, "server", { keyType: "rsa-4096" });
    const keyPair = {
      privateKey: first.privateKey,
      publicKey: await crypto.subtle.importKey(
        "spki",
        first.certificate.publicKey.spki.slice(),
        first.privateKey.algorithm as RsaHashedImportParams,
        true,
        ["verify"],
      ),
    };
    const client = await issueCertificate(root, "client", { keyPair });
    await assertOpensslAccepts(dir, root, { server: first, client });
    const viaServer = await issueCertificate(intermediate, "server", { keyPair });
    const viaClient = await issueCertificate(intermediate, "client", { keyPair });
    await assertOpensslAccepts(dir, root, { server: viaServer, client: viaClient }, intermediate);
  });
});
