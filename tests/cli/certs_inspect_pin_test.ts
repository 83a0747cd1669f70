import assert from "node:assert/strict";
import { certsInit, certsInspect, certsPin } from "../../src/cli/main.ts";
import { opensslBytes, opensslPin, withTempDir } from "../pki/_openssl.ts";
import { captureIo } from "./_io.ts";

Deno.test("certs pin prints exactly what the openssl pipeline prints, for PEM and DER files", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir, "--key", "ec-p384"], captureIo()), 0);
    for (const name of ["ca", "server", "client"]) {
      const io = captureIo();
      assert.equal(await certsPin([`${dir}/${name}.crt`], io), 0, io.err);
      assert.equal(io.out, `${await opensslPin(`${dir}/${name}.crt`)}\n`);
    }
    const der = await opensslBytes(
      ["x509", "-outform", "der"],
      await Deno.readTextFile(`${dir}/server.crt`),
    );
    await Deno.writeFile(`${dir}/server.der`, der);
    const io = captureIo();
    assert.equal(await certsPin([`${dir}/server.der`], io), 0);
    assert.equal(io.out, `${await opensslPin(`${dir}/server.crt`)}\n`);
  });
});

Deno.test("certs inspect prints subject, SANs, EKU, pin and expiry as text", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir], captureIo()), 0);
    const io = captureIo();
    assert.equal(await certsInspect([`${dir}/server.crt`], io), 0, io.err);
    const pin = await opensslPin(`${dir}/server.crt`);
    assert.match(io.out, /^ {2}Subject: {4}CN=localhost\n/);
    assert.match(io.out, /\n {2}Issuer: {5}CN=mcp-mtls Root CA\n/);
    assert.match(io.out, /\n {2}SANs: {7}dns:localhost, ip:127\.0\.0\.1, ip:::1\n/);
    assert.match(io.out, /\n {2}Key type: {3}ec-p256\n/);
    assert.match(io.out, /\n {2}Key usage: {2}serverAuth\n/);
    assert.match(io.out, /\(expires in 36[45] days\)/);
    assert.ok(io.out.includes(`  SPKI pin:   ${pin}\n`));
    assert.match(io.out, /\n {2}Renew: {6}not yet\n$/);
  });
});

Deno.test("certs inspect --json prints one object per certificate, an array for a chain", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir], captureIo()), 0);
    let io = captureIo();
    assert.equal(await certsInspect([`${dir}/client.crt`, "--json"], io), 0);
    const info = JSON.parse(io.out);
    assert.equal(info.subject, "CN=mcp-client");
    assert.deepEqual(info.extendedKeyUsage, ["clientAuth"]);
    assert.equal(info.spkiPin, await opensslPin(`${dir}/client.crt`));
    assert.equal(typeof info.notAfter, "string");

    const chain = await Deno.readTextFile(`${dir}/client.crt`) +
      await Deno.readTextFile(`${dir}/ca.crt`);
    await Deno.writeTextFile(`${dir}/chain.pem`, chain);
    io = captureIo();
    assert.equal(await certsInspect([`${dir}/chain.pem`, "--json"], io), 0);
    assert.deepEqual(JSON.parse(io.out).map((i: { subject: string }) => i.subject), [
      "CN=mcp-client",
      "CN=mcp-mtls Root CA",
    ]);
    io = captureIo();
    assert.equal(await certsInspect([`${dir}/chain.pem`], io), 0);
    assert.match(io.out, /^Certificate 1 of 2\n/);
    assert.match(io.out, /\nCertificate 2 of 2\n/);
  });
});

Deno.test("certs inspect and pin fail with one line: missing file, a folder, corrupt PEM, a key file, no FILE", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/corrupt.crt`,
      "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
    );
    await Deno.writeTextFile(`${dir}/junk.crt`, "just some text\n");
    await Deno.writeTextFile(
      `${dir}/k.key`,
      "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    );
    const cases: [string[], number, string][] = [
      [[`${dir}/missing.crt`], 1, `Cannot read "${dir}/missing.crt": no such file`],
      [[dir], 1, `Cannot read "${dir}": is a directory`],
      [
        [`${dir}/corrupt.crt`],
        1,
        `Malformed PEM in "${dir}/corrupt.crt": a block is not base64 between matching BEGIN and END lines`,
      ],
      [[`${dir}/junk.crt`], 1, `Cannot parse "${dir}/junk.crt": not a PEM or DER certificate`],
      [[`${dir}/k.key`], 1, `No PEM "CERTIFICATE" block in "${dir}/k.key" (found "PRIVATE KEY")`],
      [[], 2, ""],
      [[`${dir}/a`, `${dir}/b`], 2, ""],
    ];
    for (const [command, run] of [["inspect", certsInspect], ["pin", certsPin]] as const) {
      for (const [args, code, message] of cases) {
        const io = captureIo();
        assert.equal(await run(args, io), code, `${command} ${args}`);
        assert.equal(io.out, "");
        assert.equal(io.err.split("\n").length, 2, io.err);
        if (message) assert.equal(io.err, `mcp-mtls: ${message}\n`);
      }
    }
    const io = captureIo();
    assert.equal(await certsPin([], io), 2);
    assert.equal(io.err, 'mcp-mtls: Missing FILE: expected "certs pin FILE"\n');
  });
});
