import assert from "node:assert/strict";
import { certsInit, certsIssue } from "../../src/cli/main.ts";
import { createRootCa, fromPkcs12 } from "../../src/pki/mod.ts";
import { listDir, openssl, opensslOk, withTempDir } from "../pki/_openssl.ts";
import { captureIo, modeOf } from "./_io.ts";

const SIX = ["ca.crt", "ca.key", "client.crt", "client.key", "server.crt", "server.key"];

/** A temp certs folder with `certs init` already run. */
async function withCerts(fn: (dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir], captureIo()), 0);
    await fn(dir);
  });
}

Deno.test("certs issue client writes NAME.crt and NAME.key that openssl verifies, with the SANs asked for", async () => {
  await withCerts(async (dir) => {
    const io = captureIo();
    const code = await certsIssue([
      "client",
      "agent-1",
      "--dir",
      dir,
      "--san",
      "uri:spiffe://example.org/agent-1,email:agent@example.org",
      "--key",
      "rsa-2048",
    ], io);
    assert.equal(code, 0, io.err);
    assert.deepEqual(listDir(dir), [...SIX, "agent-1.crt", "agent-1.key"].sort());
    assert.equal(await modeOf(`${dir}/agent-1.key`), 0o600);
    const r = await openssl([
      "verify",
      "-CAfile",
      `${dir}/ca.crt`,
      "-purpose",
      "sslclient",
      `${dir}/agent-1.crt`,
    ]);
    assert.equal(r.stdout.trim(), `${dir}/agent-1.crt: OK`, r.stderr);
    const text = await opensslOk(["x509", "-in", `${dir}/agent-1.crt`, "-noout", "-text"]);
    assert.match(text, /Subject: CN = agent-1/);
    assert.match(text, /URI:spiffe:\/\/example\.org\/agent-1, email:agent@example\.org/);
    assert.match(text, /Public Key Algorithm: rsaEncryption/);
    assert.match(
      io.out,
      /SANs: {5}uri:spiffe:\/\/example\.org\/agent-1, email:agent@example\.org\n/,
    );
  });
});

Deno.test("certs issue server NAME without --san names NAME itself", async () => {
  await withCerts(async (dir) => {
    assert.equal(await certsIssue(["server", "api.example.com", "--dir", dir], captureIo()), 0);
    const r = await opensslOk([
      "x509",
      "-in",
      `${dir}/api.example.com.crt`,
      "-noout",
      "-ext",
      "subjectAltName",
    ]);
    assert.match(r, /DNS:api\.example\.com/);
  });
});

Deno.test("certs issue --p12 writes a .p12 that openssl opens with the password from the environment", async () => {
  await withCerts(async (dir) => {
    const io = captureIo({ P12_PASS: "correct horse" });
    const code = await certsIssue([
      "client",
      "laptop",
      "--dir",
      dir,
      "--p12",
      "--password-env",
      "P12_PASS",
    ], io);
    assert.equal(code, 0, io.err);
    assert.equal(await modeOf(`${dir}/laptop.p12`), 0o600);
    const info = await openssl([
      "pkcs12",
      "-info",
      "-in",
      `${dir}/laptop.p12`,
      "-passin",
      "pass:correct horse",
      "-nodes",
    ]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stderr + info.stdout, /PBES2, PBKDF2, AES-256-CBC/);
    assert.match(info.stdout, /subject=CN = laptop/);
    assert.match(info.stdout, /subject=CN = mcp-mtls Root CA/);
    const wrong = await openssl([
      "pkcs12",
      "-info",
      "-in",
      `${dir}/laptop.p12`,
      "-passin",
      "pass:nope",
      "-noout",
    ]);
    assert.notEqual(wrong.code, 0);
    const back = await fromPkcs12(await Deno.readFile(`${dir}/laptop.p12`), "correct horse");
    assert.equal(back.certificate.subject.text, "CN=laptop");
  });
});

Deno.test("certs issue --p12 without a password exits 2 and writes nothing", async () => {
  await withCerts(async (dir) => {
    const io = captureIo();
    assert.equal(await certsIssue(["client", "laptop", "--dir", dir, "--p12"], io), 2);
    assert.equal(
      io.err,
      'mcp-mtls: No PKCS#12 password: set the environment variable "MCP_MTLS_P12_PASSWORD" (or name another with --password-env)\n',
    );
    assert.deepEqual(listDir(dir), SIX);
  });
});

Deno.test("certs issue signs with a CA that openssl made (SEC1 EC key)", async () => {
  await withTempDir(async (dir) => {
    await opensslOk(["ecparam", "-name", "prime256v1", "-genkey", "-out", `${dir}/ca.key`]);
    await opensslOk([
      "req",
      "-x509",
      "-new",
      "-key",
      `${dir}/ca.key`,
      "-subj",
      "/CN=openssl CA",
      "-days",
      "7",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-out",
      `${dir}/ca.crt`,
    ]);
    const io = captureIo();
    assert.equal(
      await certsIssue(["server", "localhost", "--dir", dir, "--key", "ec-p384"], io),
      0,
      io.err,
    );
    const r = await openssl([
      "verify",
      "-CAfile",
      `${dir}/ca.crt`,
      "-purpose",
      "sslserver",
      `${dir}/localhost.crt`,
    ]);
    assert.equal(r.stdout.trim(), `${dir}/localhost.crt: OK`, r.stderr);
  });
});

const USAGE_ERRORS: [string[], string][] = [
  [
    ["client", "x", "--san", "foo:bar"],
    'Invalid SAN "foo:bar": expected dns:, ip:, uri: or email:',
  ],
  [
    ["client", "x", "--san", "ip:300.1.1.1"],
    'Invalid SAN "ip:300.1.1.1": not an IPv4 or IPv6 address',
  ],
  [["client", "x", "--bogus"], 'Unknown option "--bogus" for "certs issue" (see --help)'],
  [
    ["client", "x", "--key", "rsa-1024"],
    'Unknown key type "rsa-1024": expected one of ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096',
  ],
  [["client", "x", "--days", "-5"], 'Option "--days" needs a value'],
  [
    ["client", "x", "--days", "abc"],
    'Invalid --days "abc": expected a whole number from 1 to 36500',
  ],
  [["admin", "x"], 'Invalid role "admin": expected "server" or "client"'],
  [["client"], 'Missing arguments: expected "certs issue server|client NAME" (see --help)'],
  [
    ["client", "../evil"],
    'Invalid name "../evil": use letters, digits, ".", "_" and "-" (at most 64 characters)',
  ],
  [["server", "ca"], 'Invalid name "ca": it is reserved for the CA'],
  [["client", "x", "y"], 'Unexpected argument "y" for "certs issue" (see --help)'],
  [["client", "x", "--password-env", "V"], 'Option "--password-env" needs --p12'],
];

for (const [args, message] of USAGE_ERRORS) {
  Deno.test(`certs issue ${args.join(" ")} exits 2 with one line and writes nothing`, async () => {
    await withCerts(async (dir) => {
      const io = captureIo();
      assert.equal(await certsIssue([...args, "--dir", dir], io), 2);
      assert.equal(io.err, `mcp-mtls: ${message}\n`);
      assert.deepEqual(listDir(dir), SIX);
    });
  });
}

Deno.test("certs issue without a CA exits 1 and says to run certs init", async () => {
  await withTempDir(async (dir) => {
    const io = captureIo();
    assert.equal(await certsIssue(["client", "x", "--dir", dir], io), 1);
    assert.equal(
      io.err,
      `mcp-mtls: Cannot read "${dir}/ca.crt": no such file (run "mcp-mtls certs init" first)\n`,
    );
    assert.deepEqual(listDir(dir), []);
  });
});

Deno.test("certs issue with a corrupt CA certificate or a mismatched CA key exits 1 and writes nothing", async () => {
  await withCerts(async (dir) => {
    const goodCa = await Deno.readTextFile(`${dir}/ca.crt`);
    await Deno.writeTextFile(
      `${dir}/ca.crt`,
      goodCa.replace(/[A-Za-z]{20}/, "AAAAAAAAAAAAAAAAAAAA"),
    );
    let io = captureIo();
    assert.equal(await certsIssue(["client", "x", "--dir", dir], io), 1);
    assert.equal(io.err, `mcp-mtls: PEM block 1 in "${dir}/ca.crt" is not a valid certificate\n`);

    await Deno.writeTextFile(`${dir}/ca.crt`, goodCa);
    await Deno.copyFile(`${dir}/server.key`, `${dir}/ca.key`);
    io = captureIo();
    assert.equal(await certsIssue(["client", "x", "--dir", dir], io), 1);
    assert.equal(
      io.err,
      `mcp-mtls: Private key "${dir}/ca.key" does not belong to certificate "${dir}/ca.crt"\n`,
    );
    assert.deepEqual(listDir(dir), SIX);
  });
});

Deno.test("certs issue refuses to overwrite an existing NAME.crt without --force", async () => {
  await withCerts(async (dir) => {
    assert.equal(await certsIssue(["client", "x", "--dir", dir], captureIo()), 0);
    const before = await Deno.readTextFile(`${dir}/x.crt`);
    const io = captureIo();
    assert.equal(await certsIssue(["client", "x", "--dir", dir], io), 1);
    assert.equal(io.err, `mcp-mtls: Refusing to overwrite "${dir}/x.crt" (use --force)\n`);
    assert.equal(await Deno.readTextFile(`${dir}/x.crt`), before);
    assert.equal(await certsIssue(["client", "x", "--dir", dir, "--force"], captureIo()), 0);
    assert.notEqual(await Deno.readTextFile(`${dir}/x.crt`), before);
  });
});

Deno.test("certs issue refuses a ca.crt that is not a CA, and a CA that has expired, with exit 1", async () => {
  await withCerts(async (dir) => {
    await Deno.copyFile(`${dir}/server.crt`, `${dir}/ca.crt`);
    await Deno.copyFile(`${dir}/server.key`, `${dir}/ca.key`);
    const io = captureIo();
    assert.equal(await certsIssue(["client", "x", "--dir", dir], io), 1);
    assert.equal(
      io.err,
      `mcp-mtls: Certificate "${dir}/ca.crt" (CN=localhost) is not a CA certificate\n`,
    );
  });
  await withTempDir(async (dir) => {
    const ca = await createRootCa({
      notBefore: new Date("2020-01-01T00:00:00Z"),
      notAfter: new Date("2021-01-01T00:00:00Z"),
      exportable: true,
    });
    await Deno.writeTextFile(`${dir}/ca.crt`, ca.certificatePem);
    await Deno.writeTextFile(`${dir}/ca.key`, ca.privateKeyPem!);
    const io = captureIo();
    assert.equal(await certsIssue(["client", "x", "--dir", dir], io), 1);
    assert.equal(
      io.err,
      'mcp-mtls: CA "CN=mcp-mtls Root CA" expired on 2021-01-01T00:00:00.000Z: it cannot issue certificates\n',
    );
    assert.deepEqual(listDir(dir), ["ca.crt", "ca.key"]);
  });
});
