import assert from "node:assert/strict";
import { certsInit } from "../../src/cli/main.ts";
import { listDir, openssl, withTempDir } from "../pki/_openssl.ts";
import { captureIo, modeOf } from "./_io.ts";

const SIX = ["ca.crt", "ca.key", "client.crt", "client.key", "server.crt", "server.key"];

Deno.test("certs init writes a CA, server and client that openssl verifies, keys mode 0600", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/certs`;
    const io = captureIo();
    assert.equal(await certsInit(["--dir", dir], io), 0, io.err);
    assert.equal(io.err, "");
    assert.deepEqual(listDir(dir), SIX);
    for (const key of ["ca.key", "server.key", "client.key"]) {
      assert.equal(await modeOf(`${dir}/${key}`), 0o600, key);
    }
    assert.equal(await modeOf(`${dir}/ca.crt`), 0o644);
    for (const [role, purpose] of [["server", "sslserver"], ["client", "sslclient"]]) {
      const r = await openssl([
        "verify",
        "-CAfile",
        `${dir}/ca.crt`,
        "-purpose",
        purpose,
        `${dir}/${role}.crt`,
      ]);
      assert.equal(r.stdout.trim(), `${dir}/${role}.crt: OK`, r.stderr);
      // openssl agrees the key belongs to the certificate.
      const certPub = await openssl(["x509", "-in", `${dir}/${role}.crt`, "-pubkey", "-noout"]);
      const keyPub = await openssl(["pkey", "-in", `${dir}/${role}.key`, "-pubout"]);
      assert.equal(keyPub.stdout, certPub.stdout);
    }
    const text = await openssl([
      "x509",
      "-in",
      `${dir}/server.crt`,
      "-noout",
      "-ext",
      "subjectAltName",
    ]);
    assert.match(text.stdout, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    assert.match(io.out, /^Created a CA, a server and a client certificate \(ec-p256\) in "/);
  });
});

Deno.test("certs init --key ed25519 --days 30 makes ed25519 certificates that live 30 days", async () => {
  await withTempDir(async (dir) => {
    const io = captureIo();
    assert.equal(
      await certsInit(["--dir", dir, "--key", "ed25519", "--days", "30"], io),
      0,
      io.err,
    );
    const r = await openssl(["x509", "-in", `${dir}/client.crt`, "-noout", "-text"]);
    assert.match(r.stdout, /Public Key Algorithm: ED25519/);
    assert.equal(
      (await openssl(["x509", "-in", `${dir}/ca.crt`, "-noout", "-checkend", String(29 * 86400)]))
        .code,
      0,
    );
    assert.equal(
      (await openssl(["x509", "-in", `${dir}/ca.crt`, "-noout", "-checkend", String(31 * 86400)]))
        .code,
      1,
    );
  });
});

Deno.test("certs init refuses an existing CA without --force and leaves the old files intact", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir], captureIo()), 0);
    const before = await Promise.all(SIX.map((f) => Deno.readTextFile(`${dir}/${f}`)));
    const io = captureIo();
    assert.equal(await certsInit(["--dir", dir], io), 1);
    assert.equal(
      io.err,
      `mcp-mtls: Refusing to overwrite "${dir}/ca.crt": a CA already exists in "${dir}" (use --force to replace it)\n`,
    );
    assert.equal(io.out, "");
    assert.deepEqual(await Promise.all(SIX.map((f) => Deno.readTextFile(`${dir}/${f}`))), before);
    assert.deepEqual(listDir(dir), SIX);

    assert.equal(await certsInit(["--dir", dir, "--force"], captureIo()), 0);
    assert.notEqual(await Deno.readTextFile(`${dir}/ca.key`), before[1]);
    assert.deepEqual(listDir(dir), SIX);
  });
});

const USAGE_ERRORS: [string[], string][] = [
  [["--foo"], 'Unknown option "--foo" for "certs init" (see --help)'],
  [
    ["--key", "dsa"],
    'Unknown key type "dsa": expected one of ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096',
  ],
  [["--days", "0"], 'Invalid --days "0": expected a whole number from 1 to 36500'],
  [["--days", "ten"], 'Invalid --days "ten": expected a whole number from 1 to 36500'],
  [["--days", "1.5"], 'Invalid --days "1.5": expected a whole number from 1 to 36500'],
  [["--days", "99999"], 'Invalid --days "99999": expected a whole number from 1 to 36500'],
  [["--days"], 'Option "--days" needs a value'],
  [["--force=yes"], 'Option "--force" does not take a value'],
  [["extra"], 'Unexpected argument "extra" for "certs init" (see --help)'],
];

for (const [args, message] of USAGE_ERRORS) {
  Deno.test(`certs init ${args.join(" ")} exits 2 with one line and creates nothing`, async () => {
    await withTempDir(async (tmp) => {
      const io = captureIo();
      assert.equal(await certsInit(["--dir", `${tmp}/certs`, ...args], io), 2);
      assert.equal(io.err, `mcp-mtls: ${message}\n`);
      assert.equal(io.out, "");
      assert.deepEqual(listDir(tmp), []);
    });
  });
}

Deno.test("certs init removes what it wrote when a later write fails", async () => {
  await withTempDir(async (dir) => {
    // A folder where client.key should go makes the last write fail.
    await Deno.mkdir(`${dir}/client.key`);
    const io = captureIo();
    assert.equal(await certsInit(["--dir", dir, "--force"], io), 1);
    assert.match(io.err, new RegExp(`^mcp-mtls: Cannot write "${dir}/client.key": .+\\n$`));
    assert.deepEqual(listDir(dir), ["client.key"]);
  });
});

Deno.test("certs init removes the folder it created when writing fails", async () => {
  await withTempDir(async (tmp) => {
    const io = captureIo();
    // A file where the folder should be: the folder cannot be created.
    await Deno.writeTextFile(`${tmp}/blocker`, "");
    assert.equal(await certsInit(["--dir", `${tmp}/blocker/certs`], io), 1);
    assert.match(io.err, /^mcp-mtls: Cannot create folder ".*blocker\/certs": /);
    assert.deepEqual(listDir(tmp), ["blocker"]);
  });
});

Deno.test("certs init --help prints usage and exits 0", async () => {
  const io = captureIo();
  assert.equal(await certsInit(["--help"], io), 0);
  assert.match(io.out, /^Usage: mcp-mtls certs init \[--dir certs\]/);
  assert.equal(io.err, "");
});
