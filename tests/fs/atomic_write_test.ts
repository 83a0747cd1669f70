import assert from "node:assert/strict";
import { writeFileAtomic } from "../../src/fs/mod.ts";
import { isMtlsError } from "../../src/errors.ts";

Deno.test("writeFileAtomic() writes with the requested mode and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeFileAtomic(`${dir}/k.key`, "secret", { mode: 0o600 });
    assert.equal(await Deno.readTextFile(`${dir}/k.key`), "secret");
    assert.equal((await Deno.stat(`${dir}/k.key`)).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["k.key"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() with overwrite false refuses an existing file and keeps it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.key`, "original");
    await assert.rejects(
      writeFileAtomic(`${dir}/ca.key`, "new", { overwrite: false }),
      (e) => isMtlsError(e, "file_exists") && e.message === `Refusing to overwrite "${dir}/ca.key"`,
    );
    assert.equal(await Deno.readTextFile(`${dir}/ca.key`), "original");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ca.key"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic() into a missing folder raises file_not_found", async () => {
  await assert.rejects(
    writeFileAtomic("/nonexistent-dir-mcp-mtls/x.crt", "x"),
    (e) => isMtlsError(e, "file_not_found") && e.message.startsWith('Cannot write "/nonexistent'),
  );
});
