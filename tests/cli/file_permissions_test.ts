import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { certsInit, serve } from "../../src/cli/main.ts";
import { checkCertsPermissions } from "../../src/cli/file_permissions.ts";
import { withTempDir } from "../pki/_openssl.ts";
import { captureIo, modeOf } from "./_io.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

async function waitFor<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("certs init creates its folder 0700 even under umask 000", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/certs`;
    // A child process, so the umask is the one a careless shell would have.
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        `umask 000 && exec "${Deno.execPath()}" run -A "${MAIN}" certs init --dir "$1"`,
        "sh",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(`${dir}/ca.key`), 0o600);
    assert.deepEqual(await checkCertsPermissions(dir), []);
  });
});

Deno.test("certs init leaves the mode of an existing folder alone", async () => {
  await withTempDir(async (tmp) => {
    await Deno.chmod(tmp, 0o750);
    const io = captureIo();
    assert.equal(await certsInit(["--dir", tmp], io), 0, io.err);
    assert.equal(await modeOf(tmp), 0o750);
  });
});

Deno.test("checkCertsPermissions() names a writable folder, a writable CA file and a readable key", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir], captureIo()), 0);
    await Deno.chmod(dir, 0o777);
    await Deno.chmod(`${dir}/ca.crt`, 0o664);
    await Deno.chmod(`${dir}/server.key`, 0o644);
    const findings = await checkCertsPermissions(dir);
    assert.deepEqual(findings, [
      { path: dir, mode: 0o777, problem: "writable by group and others", fix: `chmod go-w ${dir}` },
      {
        path: `${dir}/ca.crt`,
        mode: 0o664,
        problem: "writable by group",
        fix: `chmod go-w ${dir}/ca.crt`,
      },
      {
        path: `${dir}/server.key`,
        mode: 0o644,
        problem: "readable or writable by group and others",
        fix: `chmod 600 ${dir}/server.key`,
      },
    ]);
  });
});

Deno.test("serve warns at start when its certificate folder is world-writable, and not when private", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await certsInit(["--dir", dir], captureIo()), 0);
    for (const [mode, expected] of [[0o700, 0], [0o777, 1]] as const) {
      await Deno.chmod(dir, mode);
      const ac = new AbortController();
      const io = captureIo();
      const done = serve(["--certs", dir, "--port", "0", "--log-format", "json"], io, {
        signal: ac.signal,
      });
      try {
        await waitFor(() => /at (https:\S+)/.exec(io.out)?.[1]);
      } finally {
        ac.abort();
        assert.equal(await done, 0);
      }
      const warnings = io.err.split("\n").filter((l) => l.includes("another local user"));
      assert.equal(warnings.length, expected, io.err);
      if (expected) {
        const line = JSON.parse(warnings[0]);
        assert.equal(line.level, "warn");
        assert.equal(line.path, dir);
        assert.equal(line.mode, "0777");
        assert.equal(line.fix, `chmod go-w ${dir}`);
        assert.equal(
          line.msg,
          `"${dir}" is writable by group and others: another local user could change whom this server trusts or read its keys`,
        );
      }
    }
  });
});
