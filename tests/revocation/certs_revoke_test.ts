import assert from "node:assert/strict";
import { certsRevoke } from "../../src/cli/certs_revoke.ts";
import { certsInit } from "../../src/cli/certs_init.ts";
import { parseCrl, verifyCrl } from "../../src/revocation/mod.ts";
import { makeOpensslCa, openssl } from "./_openssl.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = await moduleTempDir("rev-cli-");

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const line = (to: string[]) => (t: string) => {
    assert.ok(t.endsWith("\n"), "each write is one full line");
    to.push(t.slice(0, -1));
  };
  return { out, err, io: { stdout: line(out), stderr: line(err) } };
}

const listing = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("certs revoke FILE records the revocation and writes a CRL openssl verifies", async () => {
  const ca = await makeOpensslCa(root, "CliCA");
  const alice = await ca.issue("alice");
  const bob = await ca.issue("bob");
  const c = capture();
  const now = new Date("2026-11-21T12:00:00Z");
  assert.equal(
    await certsRevoke([alice.path, "--dir", ca.dir, "--reason", "keyCompromise"], {
      ...c.io,
      now: () => now,
    }),
    0,
  );
  assert.deepEqual(c.err, []);
  assert.equal(
    c.out[0],
    `Revoked serial "${alice.serial}" (CN=alice), reason keyCompromise; wrote "${ca.dir}/ca.crl" (CRL number 1, 1 entries, next update 2026-11-28T12:00:00.000Z)`,
  );
  assert.match(
    await openssl(["crl", "-in", "ca.crl", "-CAfile", "ca.crt", "-verify", "-noout"], ca.dir),
    /verify OK/,
  );

  // A second revocation by serial keeps the first and bumps the CRL number.
  assert.equal(
    await certsRevoke([bob.serial.toUpperCase(), "--dir", ca.dir, "--reason", "superseded"], c.io),
    0,
  );
  const crl = parseCrl(await Deno.readFile(`${ca.dir}/ca.crl`), "ca.crl");
  await verifyCrl(crl, ca.caDer);
  assert.equal(crl.crlNumber, 2n);
  assert.equal(crl.lookup(alice.serial)?.reason, "keyCompromise");
  assert.equal(crl.lookup(bob.serial)?.reason, "superseded");
  const state = JSON.parse(await Deno.readTextFile(`${ca.dir}/revoked.json`));
  assert.equal(state.crlNumber, "2");
  assert.deepEqual(state.revoked.map((r: { serial: string }) => r.serial), [
    alice.serial,
    bob.serial,
  ]);
  const text = await openssl(["crl", "-in", "ca.crl", "-noout", "-text"], ca.dir);
  assert.match(text, /Key Compromise/);
  assert.match(text, /Superseded/);

  // Revoking again changes nothing.
  const c2 = capture();
  assert.equal(await certsRevoke([alice.path, "--dir", ca.dir], c2.io), 0);
  assert.equal(
    c2.out[0],
    `Serial "${alice.serial}" is already revoked; "${ca.dir}/ca.crl" unchanged`,
  );
});

Deno.test("certs revoke continues the CRL number of an existing CRL made by openssl", async () => {
  const ca = await makeOpensslCa(root, "NumCA");
  const a = await ca.issue("a");
  await Deno.writeTextFile(`${ca.dir}/crlnumber`, "2A\n");
  await ca.gencrl(); // CRL number 0x2a
  assert.equal(await certsRevoke([a.path, "--dir", ca.dir], capture().io), 0);
  assert.equal(parseCrl(await Deno.readFile(`${ca.dir}/ca.crl`), "ca.crl").crlNumber, 43n);
});

Deno.test("certs revoke with an unknown reason exits 2 and writes nothing", async () => {
  const ca = await makeOpensslCa(root, "ReasonCA");
  const a = await ca.issue("a");
  const before = listing(ca.dir);
  const c = capture();
  assert.equal(await certsRevoke([a.path, "--dir", ca.dir, "--reason", "bored"], c.io), 2);
  assert.deepEqual(c.err, ['Unknown revocation reason "bored" (see --help for the list)']);
  assert.deepEqual(listing(ca.dir), before);
});

Deno.test("certs revoke reports bad usage with exit code 2", async () => {
  let c = capture();
  assert.equal(await certsRevoke([], c.io), 2);
  assert.deepEqual(c.err, ["Expected one FILE or SERIAL, got 0 (see --help)"]);
  c = capture();
  assert.equal(await certsRevoke(["1a", "--frobnicate"], c.io), 2);
  assert.match(c.err[0], /^Unknown option '--frobnicate'.* \(see --help\)$/);
  c = capture();
  assert.equal(await certsRevoke(["1a", "--days", "0"], c.io), 2);
  assert.deepEqual(c.err, ['Option "--days" must be a whole number from 1 to 3650, got "0"']);
  c = capture();
  assert.equal(await certsRevoke(["--help"], c.io), 0);
  assert.match(c.out[0], /^Usage: mcp-mtls certs revoke FILE\|SERIAL/);
});

Deno.test("certs revoke works on a certs folder made by certs init", async () => {
  const dir = `${root}/init`;
  const quiet = { stdout: () => {}, stderr: () => {}, env: () => undefined };
  assert.equal(await certsInit(["--dir", dir], quiet), 0);
  const c = capture();
  assert.equal(
    await certsRevoke([`${dir}/client.crt`, "--dir", dir, "--reason", "keyCompromise"], c.io),
    0,
  );
  assert.match(
    await openssl(["crl", "-in", "ca.crl", "-CAfile", "ca.crt", "-verify", "-noout"], dir),
    /verify OK/,
  );
  const crl = parseCrl(await Deno.readFile(`${dir}/ca.crl`), "ca.crl");
  await verifyCrl(crl, await Deno.readFile(`${dir}/ca.crt`));
  assert.equal(crl.size, 1);
});

Deno.test("certs revoke with a missing CA, an unreadable certificate or a foreign certificate exits 1", async () => {
  const empty = await Deno.makeTempDir({ dir: root });
  let c = capture();
  assert.equal(await certsRevoke(["1a", "--dir", empty], c.io), 1);
  assert.deepEqual(c.err, [`Cannot read CA certificate "${empty}/ca.crt": no such file`]);
  assert.deepEqual(listing(empty), []);

  const ca = await makeOpensslCa(root, "ErrCA");
  const before = listing(ca.dir);
  c = capture();
  assert.equal(await certsRevoke([`${root}/nope.crt`, "--dir", ca.dir], c.io), 1);
  assert.deepEqual(c.err, [`Cannot read certificate "${root}/nope.crt": no such file`]);

  const stranger = await (await makeOpensslCa(root, "StrangerCA")).issue("s");
  c = capture();
  assert.equal(await certsRevoke([stranger.path, "--dir", ca.dir], c.io), 1);
  assert.deepEqual(c.err, [
    `Certificate "${stranger.path}" was not issued by this CA ("CN=ErrCA")`,
  ]);

  await Deno.writeTextFile(`${root}/junk.crt`, "junk");
  c = capture();
  assert.equal(await certsRevoke([`${root}/junk.crt`, "--dir", ca.dir], c.io), 1);
  assert.deepEqual(c.err, [
    `Cannot read certificate "${root}/junk.crt": no "CERTIFICATE" PEM block and not DER`,
  ]);
  assert.deepEqual(listing(ca.dir), before);

  await Deno.writeTextFile(`${ca.dir}/revoked.json`, "{not json");
  c = capture();
  assert.equal(await certsRevoke(["1a", "--dir", ca.dir], c.io), 1);
  assert.match(
    c.err[0],
    new RegExp(`^Cannot read "${ca.dir}/revoked.json": not a revocation state file`),
  );
  assert.equal(await Deno.readTextFile(`${ca.dir}/revoked.json`), "{not json");
  assert.equal(listing(ca.dir).includes("ca.crl"), false);
});
