import assert from "node:assert/strict";
import { fromPkcs12, toPkcs12 } from "../../src/pki/pkcs12.ts";
import type { Pkcs12KeyType } from "../../src/pki/pkcs12.ts";
import type { Certificate } from "../../src/cert/certificate.ts";
import { CertificateError } from "../../src/errors.ts";
import { moduleTempDir } from "../_temp_dir.ts";

/** Runs openssl; returns stdout and stderr as text, throwing on a non-zero exit. */
async function openssl(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`openssl ${args.join(" ")} failed:\n${text}`);
  return text;
}

const KEYGEN: Record<Pkcs12KeyType, string[]> = {
  "ec-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  "ec-p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
  "ed25519": ["-algorithm", "ED25519"],
  "rsa-2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
  "rsa-3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
  "rsa-4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
};
const IMPORT: Record<string, Algorithm | EcKeyImportParams | RsaHashedImportParams> = {
  "ec-p256": { name: "ECDSA", namedCurve: "P-256" } as EcKeyImportParams,
  "ec-p384": { name: "ECDSA", namedCurve: "P-384" } as EcKeyImportParams,
  "ed25519": { name: "Ed25519" },
  "rsa-2048": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as RsaHashedImportParams,
};
const TYPES = ["ec-p256", "ec-p384", "ed25519", "rsa-2048"] as const;

/** A CA and, per key type, a leaf signed by it, made by openssl in a folder removed at unload. */
async function fixture(): Promise<string> {
  const dir = await moduleTempDir("pkcs12_test_");
  await openssl(["genpkey", ...KEYGEN["ec-p256"], "-out", "ca.key"], dir);
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=Test CA",
      "-days",
      "2",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  for (const t of TYPES) {
    await openssl(["genpkey", ...KEYGEN[t], "-out", `${t}.key`], dir);
    await openssl(
      ["req", "-new", "-key", `${t}.key`, "-subj", `/CN=leaf ${t}`, "-out", `${t}.csr`],
      dir,
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      `${t}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-days",
      "2",
      "-out",
      `${t}.crt`,
    ], dir);
    await openssl(["x509", "-in", `${t}.crt`, "-outform", "DER", "-out", `${t}.der`], dir);
    await openssl([
      "pkcs8",
      "-topk8",
      "-nocrypt",
      "-in",
      `${t}.key`,
      "-outform",
      "DER",
      "-out",
      `${t}.pk8`,
    ], dir);
  }
  await openssl(["x509", "-in", "ca.crt", "-outform", "DER", "-out", "ca.der"], dir);
  return dir;
}

const dir = await fixture();
const read = (name: string) => Deno.readFile(`${dir}/${name}`);

async function extractableKey(t: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey("pkcs8", await read(`${t}.pk8`), IMPORT[t], true, ["sign"]);
}

/** Proves the key belongs to the certificate by signing with it and verifying with the certificate. */
async function assertKeyMatches(key: CryptoKey, certificate: Certificate) {
  const data = new TextEncoder().encode("proof");
  const alg = key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : key.algorithm;
  const sig = await crypto.subtle.sign(alg, key, data);
  const spki = certificate.publicKey.spki.slice();
  const pub = await crypto.subtle.importKey("spki", spki, key.algorithm, true, ["verify"]);
  assert.ok(
    await crypto.subtle.verify(alg, pub, sig, data),
    "signature verifies with the certificate",
  );
}

for (const t of TYPES) {
  Deno.test(`toPkcs12() writes a ${t} file that openssl opens as PBES2/AES-256-CBC with an HMAC-SHA256 MAC`, async () => {
    const p12 = await toPkcs12(
      {
        certificate: await read(`${t}.der`),
        privateKey: await extractableKey(t),
        chain: [await read("ca.der")],
        friendlyName: "my client",
      },
      "correct horse",
    );
    await Deno.writeFile(`${dir}/ours-${t}.p12`, p12);
    const info = await openssl([
      "pkcs12",
      "-info",
      "-in",
      `ours-${t}.p12`,
      "-passin",
      "pass:correct horse",
      "-noout",
    ], dir);
    assert.match(info, /MAC: sha256, Iteration 2048/);
    assert.match(
      info,
      /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/,
    );
    assert.match(
      info,
      /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/,
    );
    // openssl extracts exactly our leaf and key.
    const certs = await openssl(
      ["pkcs12", "-in", `ours-${t}.p12`, "-passin", "pass:correct horse", "-clcerts", "-nokeys"],
      dir,
    );
    assert.match(certs, /friendlyName: my client/);
    assert.match(certs, new RegExp(`subject=CN = leaf ${t}`));
    await openssl([
      "pkcs12",
      "-in",
      `ours-${t}.p12`,
      "-passin",
      "pass:correct horse",
      "-nocerts",
      "-nodes",
      "-out",
      `x-${t}.key`,
    ], dir);
    const a = await openssl(["pkey", "-in", `x-${t}.key`, "-pubout"], dir);
    const b = await openssl(["pkey", "-in", `${t}.key`, "-pubout"], dir);
    assert.equal(a, b);
  });

  Deno.test(`fromPkcs12() reads a ${t} file made by "openssl pkcs12 -export" (default settings)`, async () => {
    await openssl(
      [
        "pkcs12",
        "-export",
        "-in",
        `${t}.crt`,
        "-inkey",
        `${t}.key`,
        "-certfile",
        "ca.crt",
        "-out",
        `ossl-${t}.p12`,
        "-passout",
        "pass:pässwörd",
      ],
      dir,
    );
    const got = await fromPkcs12(await read(`ossl-${t}.p12`), "pässwörd", {
      name: `ossl-${t}.p12`,
    });
    assert.equal(got.keyType, t);
    assert.deepEqual(got.certificate.der, await read(`${t}.der`));
    assert.equal(got.chain.length, 1);
    assert.deepEqual(got.chain[0].der, await read("ca.der"));
    assert.equal(got.privateKey.extractable, false);
    await assertKeyMatches(got.privateKey, got.certificate);
  });
}

Deno.test('fromPkcs12() reads "openssl pkcs12 -export -legacy" files (RC2-40 certificates, 3DES key)', async () => {
  for (const t of ["ec-p256", "rsa-2048"]) {
    await openssl(
      [
        "pkcs12",
        "-export",
        "-legacy",
        "-in",
        `${t}.crt`,
        "-inkey",
        `${t}.key`,
        "-certfile",
        "ca.crt",
        "-out",
        `legacy-${t}.p12`,
        "-passout",
        "pass:old",
      ],
      dir,
    );
    const info = await openssl([
      "pkcs12",
      "-info",
      "-legacy",
      "-in",
      `legacy-${t}.p12`,
      "-passin",
      "pass:old",
      "-noout",
    ], dir);
    assert.match(info, /pbeWithSHA1And40BitRC2-CBC/);
    assert.match(info, /pbeWithSHA1And3-KeyTripleDES-CBC/);
    const got = await fromPkcs12(await read(`legacy-${t}.p12`), "old");
    assert.deepEqual(got.certificate.der, await read(`${t}.der`));
    assert.equal(got.chain.length, 1);
    await assertKeyMatches(got.privateKey, got.certificate);
  }
});

Deno.test("fromPkcs12() reads back what toPkcs12() wrote, chain and extractable key included", async () => {
  const key = await extractableKey("ec-p384");
  const p12 = await toPkcs12(
    { certificate: await read("ec-p384.der"), privateKey: key, chain: [await read("ca.der")] },
    "pw",
    {
      iterations: 10_000,
    },
  );
  const got = await fromPkcs12(p12, "pw", { extractable: true });
  assert.equal(got.keyType, "ec-p384");
  assert.deepEqual(got.certificate.der, await read("ec-p384.der"));
  assert.deepEqual(got.chain[0].der, await read("ca.der"));
  assert.deepEqual(
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", got.privateKey)),
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)),
  );
});

Deno.test("fromPkcs12() refuses a wrong password with bad_password and names the file", async () => {
  const p12 = await toPkcs12({
    certificate: await read("ec-p256.der"),
    privateKey: await extractableKey("ec-p256"),
  }, "right");
  await assert.rejects(fromPkcs12(p12, "wrong", { name: "certs/client.p12" }), (e: unknown) => {
    assert.ok(e instanceof CertificateError);
    assert.equal(e.code, "bad_password");
    assert.equal(e.message, 'Cannot open PKCS#12 "certs/client.p12": wrong password');
    return true;
  });
  // openssl's own files too
  await assert.rejects(fromPkcs12(await read("ossl-ec-p256.p12"), "wrong"), {
    code: "bad_password",
    message: "Cannot open PKCS#12 data: wrong password",
  });
});

Deno.test("fromPkcs12() reports a truncated or garbage file as invalid_der", async () => {
  const p12 = await toPkcs12({
    certificate: await read("ec-p256.der"),
    privateKey: await extractableKey("ec-p256"),
  }, "pw");
  for (
    const bad of [
      p12.subarray(0, p12.length - 40),
      p12.subarray(0, 100),
      new TextEncoder().encode("not a p12"),
      new Uint8Array(),
    ]
  ) {
    await assert.rejects(fromPkcs12(bad, "pw", { name: "x.p12" }), (e: unknown) => {
      assert.ok(e instanceof CertificateError);
      assert.equal(e.code, "invalid_der");
      assert.match(e.message, /^Cannot open PKCS#12 "x\.p12": not a valid PKCS#12 file/);
      return true;
    });
  }
});

Deno.test("toPkcs12() refuses a non-extractable key, a key of another certificate and an empty password", async () => {
  const der = await read("ec-p256.der");
  const fixed = await crypto.subtle.importKey(
    "pkcs8",
    await read("ec-p256.pk8"),
    IMPORT["ec-p256"],
    false,
    ["sign"],
  );
  await assert.rejects(toPkcs12({ certificate: der, privateKey: fixed }, "pw"), {
    code: "invalid_key",
  });
  await assert.rejects(
    toPkcs12({ certificate: der, privateKey: await extractableKey("ed25519") }, "pw"),
    { code: "key_mismatch" },
  );
  await assert.rejects(
    toPkcs12({ certificate: der, privateKey: await extractableKey("ec-p256") }, ""),
    { code: "invalid_argument" },
  );
  await assert.rejects(
    toPkcs12({
      certificate: new Uint8Array([48, 3, 1, 1, 0]),
      privateKey: await extractableKey("ec-p256"),
    }, "pw"),
    {
      code: "invalid_der",
    },
  );
});

Deno.test("fromPkcs12() reports a file that holds a key but no certificate as invalid_certificate", async () => {
  await openssl(
    [
      "pkcs12",
      "-export",
      "-in",
      "ec-p256.crt",
      "-inkey",
      "ec-p384.key",
      "-nocerts",
      "-out",
      "keyonly.p12",
      "-passout",
      "pass:pw",
    ],
    dir,
  );
  await assert.rejects(fromPkcs12(await read("keyonly.p12"), "pw"), {
    code: "invalid_certificate",
    message: "Cannot open PKCS#12 data: it holds no certificate",
  });
});

Deno.test("fromPkcs12() reads other openssl choices: AES-128 key, 3DES certificates, SHA-512 MAC; RC2-128 and 2-key 3DES; no MAC; empty password", async () => {
  const variants = [
    ["-keypbe", "AES-128-CBC", "-certpbe", "DES-EDE3-CBC", "-macalg", "sha512", "-iter", "5000"],
    ["-legacy", "-keypbe", "PBE-SHA1-2DES", "-certpbe", "PBE-SHA1-RC2-128", "-macalg", "sha1"],
    ["-nomac"],
  ];
  for (const [i, extra] of variants.entries()) {
    await openssl([
      "pkcs12",
      "-export",
      "-in",
      "ec-p256.crt",
      "-inkey",
      "ec-p256.key",
      "-out",
      `v${i}.p12`,
      "-passout",
      "pass:pw",
      ...extra,
    ], dir);
    const got = await fromPkcs12(await read(`v${i}.p12`), "pw", { name: `v${i}.p12` });
    assert.deepEqual(
      got.certificate.der,
      await read("ec-p256.der"),
      extra.join(" "),
    );
  }
  await openssl([
    "pkcs12",
    "-export",
    "-in",
    "ec-p256.crt",
    "-inkey",
    "ec-p256.key",
    "-out",
    "empty.p12",
    "-passout",
    "pass:",
  ], dir);
  assert.equal((await fromPkcs12(await read("empty.p12"), "")).keyType, "ec-p256");
});

Deno.test("fromPkcs12() refuses RC4-encrypted files with unsupported_key naming the scheme", async () => {
  await openssl(
    [
      "pkcs12",
      "-export",
      "-legacy",
      "-keypbe",
      "PBE-SHA1-RC4-128",
      "-in",
      "ec-p256.crt",
      "-inkey",
      "ec-p256.key",
      "-out",
      "rc4.p12",
      "-passout",
      "pass:pw",
    ],
    dir,
  );
  await assert.rejects(fromPkcs12(await read("rc4.p12"), "pw", { name: "rc4.p12" }), {
    code: "unsupported_key",
    message:
      'Cannot open PKCS#12 "rc4.p12": encryption "pbeWithSHAAnd128BitRC4" is not supported; ' +
      're-export it with "openssl pkcs12 -export" (AES-256-CBC)',
  });
});
