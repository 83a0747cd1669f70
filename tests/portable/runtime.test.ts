import assert from "node:assert/strict";
import { test } from "node:test";
import { readFile, stat } from "node:fs/promises";
import { certsInit } from "../../src/cli/certs_init.ts";
import { runtimeLabel } from "../../src/runtime/mod.ts";
import { EXPECTED_RUNTIME, RUNTIME, withTempDir } from "./_env.ts";

test("the portable suite runs on the runtime its runner named", () => {
  assert.equal(RUNTIME, EXPECTED_RUNTIME);
  assert.match(runtimeLabel(), new RegExp(`^${EXPECTED_RUNTIME} \\d+\\.\\d+`));
});

test("certs init writes a CA, a server and a client, keys 0600, folder 0700", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/certs`;
    let out = "";
    let err = "";
    const io = {
      stdout: (t: string) => void (out += t),
      stderr: (t: string) => void (err += t),
      env: () => undefined,
    };
    assert.equal(await certsInit(["--dir", dir], io), 0, err);
    assert.match(out, /^Created a CA, a server and a client certificate \(ec-p256\)/);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    for (const k of ["ca.key", "server.key", "client.key"]) {
      assert.equal((await stat(`${dir}/${k}`)).mode & 0o777, 0o600, k);
    }
    assert.match(await readFile(`${dir}/ca.crt`, "utf8"), /^-----BEGIN CERTIFICATE-----/);
  });
});
