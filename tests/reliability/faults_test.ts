// Faults: a slow or dead OCSP responder, a CRL URL answering garbage, the
// server certificate replaced with garbage during a reload, a pin file cut
// short mid-write, a full disk while writing certificates. Each keeps the last
// good state, loses nothing already written, and says what happened.
import assert from "node:assert/strict";
import tls from "node:tls";
import { MtlsError } from "../../src/errors.ts";
import { connectMcpClient, demoServerFactory, serveMcp } from "../../src/mcp/mod.ts";
import { createRevocationChecker } from "../../src/revocation/mod.ts";
import { PinStore } from "../../src/pins/mod.ts";
import { writeFileAtomic } from "../../src/fs/mod.ts";
import { main } from "../../src/cli/main.ts";
import { watchCertificates } from "../../src/cli/serve_watch.ts";
import type { Logger } from "../../src/log/mod.ts";
import { makePki, prng } from "./_harness.ts";
import { makeSamples, type Samples } from "./_samples.ts";

interface Rec {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}
function collector(): Logger & { records: Rec[] } {
  const records: Rec[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void records.push({ level, msg, fields });
  return { records, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A local HTTP responder whose behaviour the test switches: good, garbage, slow or down. */
function responder(good: () => Uint8Array, contentType: string) {
  const state = { mode: "good" as "good" | "garbage" | "slow", hits: 0, answered: 0 };
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    async () => {
      state.hits++;
      if (state.mode === "slow") await new Promise((r) => setTimeout(r, 3_000));
      const body = state.mode === "garbage" ? prng(state.hits).bytes(512) : good();
      state.answered++;
      return new Response(body as BodyInit, { headers: { "content-type": contentType } });
    },
  );
  return {
    state,
    url: `http://127.0.0.1:${server.addr.port}/`,
    async down() {
      ac.abort();
      await server.finished;
    },
  };
}

let samples: Promise<Samples> | undefined;
const getSamples = () => samples ??= makeSamples("faults");

Deno.test("OCSP responder slow: the check gives up at the timeout and denies with revocation_unknown, saying why", async () => {
  const s = await getSamples();
  const r = responder(() => s.ocspDer, "application/ocsp-response");
  const logger = collector();
  const checker = createRevocationChecker({
    ocsp: { url: r.url, nonce: false },
    timeout: 300,
    logger,
  });
  try {
    r.state.mode = "slow";
    await assert.rejects(checker.verify(s.leafDer, s.caDer), (e: unknown) => {
      assert.ok(e instanceof MtlsError, String(e));
      assert.equal(e.code, "revocation_unknown");
      assert.match(e.message, /timed out after 300 ms/);
      return true;
    });
    // It gave up first: the responder (3 s) had been asked but had not answered yet.
    assert.deepEqual([r.state.hits, r.state.answered], [1, 0]);
    assert.ok(
      logger.records.some((x) => x.level === "warn" && /OCSP check failed/.test(x.msg)),
      JSON.stringify(logger.records),
    );
  } finally {
    checker.close();
    await r.down();
  }
});

Deno.test("OCSP responder down after a good answer: the cached answer keeps admitting; a cold checker denies", async () => {
  const s = await getSamples();
  const r = responder(() => s.ocspDer, "application/ocsp-response");
  const logger = collector();
  const warm = createRevocationChecker({
    ocsp: { url: r.url, nonce: false },
    timeout: 500,
    logger,
  });
  const cold = createRevocationChecker({
    ocsp: { url: r.url, nonce: false },
    timeout: 500,
    logger,
  });
  const allow = createRevocationChecker({
    ocsp: { url: r.url, nonce: false },
    timeout: 500,
    failureMode: "allow",
    logger,
  });
  try {
    assert.equal((await warm.verify(s.leafDer, s.caDer)).status, "good");
    await r.down();
    const hits = r.state.hits;
    const again = await warm.verify(s.leafDer, s.caDer);
    assert.equal(again.status, "good", "last good answer lost");
    assert.equal(r.state.hits, hits);
    await assert.rejects(cold.verify(s.leafDer, s.caDer), (e: unknown) => {
      assert.ok(e instanceof MtlsError && e.code === "revocation_unknown", String(e));
      assert.match(e.message, /OCSP|revocation|unknown/i);
      return true;
    });
    const soft = await allow.verify(s.leafDer, s.caDer);
    assert.equal(soft.status, "unknown");
    assert.ok(logger.records.some((x) => x.level === "warn"), "soft-fail admitted silently");
  } finally {
    warm.close();
    cold.close();
    allow.close();
    await r.down();
  }
});

Deno.test("CRL URL answering garbage: the last good CRL stays in force and the failure is reported", async () => {
  const s = await getSamples();
  const r = responder(() => s.crlDer, "application/pkix-crl");
  const logger = collector();
  const checker = createRevocationChecker({
    crls: [r.url],
    issuers: [s.caDer],
    refreshInterval: 3_600_000,
    cooldown: 1,
    logger,
  });
  try {
    await checker.ready;
    assert.equal((await checker.check(s.leafDer, s.caDer)).status, "good");
    assert.equal((await checker.check(s.revokedDer, s.caDer)).status, "revoked");
    r.state.mode = "garbage";
    await checker.refresh();
    const state = checker.state().crls[0];
    assert.equal(state.loaded, true);
    assert.equal(state.entries, 1);
    assert.ok(state.lastError, "refresh failure not recorded");
    assert.equal((await checker.check(s.revokedDer, s.caDer)).status, "revoked", "lost the CRL");
    assert.equal((await checker.check(s.leafDer, s.caDer)).status, "good");
    assert.ok(
      logger.records.some((x) => x.level === "warn" && /CRL refresh failed/.test(x.msg)),
      JSON.stringify(logger.records),
    );
  } finally {
    checker.close();
    await r.down();
  }
});

Deno.test("CRL URL answering garbage from the start: revocation_unknown, never a crash", async () => {
  const s = await getSamples();
  const r = responder(() => s.crlDer, "application/pkix-crl");
  r.state.mode = "garbage";
  const logger = collector();
  const checker = createRevocationChecker({ crls: [r.url], issuers: [s.caDer], logger });
  try {
    await checker.ready;
    await assert.rejects(checker.verify(s.leafDer, s.caDer), (e: unknown) => {
      assert.ok(e instanceof MtlsError && e.code === "revocation_unknown", String(e));
      return true;
    });
    assert.ok(checker.state().crls[0].lastError);
  } finally {
    checker.close();
    await r.down();
  }
});

async function servedFingerprint(port: number, ca: string, cert: string, key: string) {
  const s = tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, cert, key });
  try {
    await new Promise((resolve, reject) => {
      s.once("secureConnect", resolve);
      s.once("error", reject);
    });
    return s.getPeerCertificate().fingerprint256;
  } finally {
    s.destroy();
  }
}

Deno.test("server certificate replaced with garbage during a reload: refused with a code, the old certificate keeps serving", async () => {
  const pki = await makePki("reload");
  const logger = collector();
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    tls: { ...pki.server, ca: pki.caPem },
    logger,
  });
  const stopWatch = watchCertificates({
    dir: pki.dir,
    reloadTls: server.reloadTls,
    logger,
    debounceMs: 50,
  });
  try {
    const { cert, key } = pki.client;
    const before = await servedFingerprint(server.address.port, pki.caPem, cert, key);
    await assert.rejects(server.reloadTls({ cert: "garbage" }), (e: unknown) => {
      assert.ok(e instanceof MtlsError, String(e));
      assert.equal(typeof e.code, "string");
      return true;
    });
    // The same through the file watcher: server.crt overwritten with garbage in place.
    await Deno.writeTextFile(pki.files.serverCert, "-----BEGIN CERTIFICATE-----\nAAAA\n");
    const refused = () =>
      logger.records.filter((x) => x.level === "error" && /TLS reload refused/.test(x.msg));
    for (let i = 0; i < 60 && refused().length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(refused().length, 2, JSON.stringify(logger.records.slice(-5)));
    assert.ok(refused().every((x) => typeof x.fields?.code === "string"));
    assert.equal(await servedFingerprint(server.address.port, pki.caPem, cert, key), before);
    const client = await connectMcpClient(server.url, { ...pki.client, ca: pki.caPem });
    try {
      const r = await client.callTool({ name: "echo", arguments: { text: "still here" } });
      assert.equal((r as { content: { text: string }[] }).content[0].text, "still here");
    } finally {
      await client.close();
    }
  } finally {
    stopWatch();
    await server.close();
  }
});

const pin = (n: number) => `sha256/${btoa(String.fromCharCode(...new Uint8Array(32).fill(n)))}`;

Deno.test("pin file: a crash between write and rename leaves a stray temp file; every pin survives", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rel-pins-" });
  try {
    const path = `${dir}/pins.json`;
    const store = await PinStore.open(path);
    await store.add("cn:a", pin(1));
    await store.add("cn:b", pin(2));
    await store.flush();
    const good = await Deno.readTextFile(path);
    // The writer died after writing half of the next version to its temp file.
    await Deno.writeTextFile(`${dir}/.pins.json.0badc0ffee00.tmp`, good.slice(0, good.length / 2));
    const reopened = await PinStore.open(path);
    assert.deepEqual(reopened.names().sort(), ["cn:a", "cn:b"]);
    assert.deepEqual(reopened.get("cn:b")?.pins, [pin(2)]);
    await reopened.add("cn:c", pin(3));
    await reopened.flush();
    assert.deepEqual((await PinStore.open(path)).names().sort(), ["cn:a", "cn:b", "cn:c"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pin file truncated mid-write: reload reports pin_store_corrupt, keeps the last good pins, never overwrites the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rel-pins-" });
  try {
    const path = `${dir}/pins.json`;
    const store = await PinStore.open(path);
    await store.add("cn:a", pin(1));
    await store.add("cn:b", pin(2));
    await store.flush();
    const good = await Deno.readTextFile(path);
    const truncated = good.slice(0, Math.floor(good.length * 0.6));
    await Deno.writeTextFile(path, truncated);
    await assert.rejects(store.reload(), (e: unknown) => {
      assert.ok(e instanceof MtlsError, String(e));
      assert.equal(e.code, "pin_store_corrupt");
      assert.ok(e.message.includes(path), e.message);
      return true;
    });
    assert.deepEqual(store.names().sort(), ["cn:a", "cn:b"], "last good pins lost");
    assert.deepEqual(store.get("cn:a")?.pins, [pin(1)]);
    await store.add("cn:c", pin(3)).catch(() => {});
    await store.flush().catch(() => {});
    assert.equal(await Deno.readTextFile(path), truncated, "the operator's file was overwritten");
    await assert.rejects(PinStore.open(path), (e: unknown) => {
      assert.ok(e instanceof MtlsError && e.code === "pin_store_corrupt", String(e));
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function sh(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr) };
  } catch (e) {
    return { ok: false, err: String(e) };
  }
}

/** Mounts a 64 KiB tmpfs, or says why it cannot (not root, no mount). */
async function tinyDisk(): Promise<{ dir: string; unmount(): Promise<void> } | string> {
  const dir = await Deno.makeTempDir({ prefix: "rel-full-" });
  const r = await sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  if (!r.ok) {
    await Deno.remove(dir);
    return r.err.trim() || "mount failed";
  }
  return {
    dir,
    async unmount() {
      await sh("umount", [dir]);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Fills the disk, then frees `pages` 4 KiB pages. */
async function fill(dir: string, pages: number): Promise<void> {
  await Deno.mkdir(`${dir}/.filler`);
  const names: string[] = [];
  for (let i = 0; i < 64; i++) {
    try {
      await Deno.writeFile(`${dir}/.filler/${i}`, new Uint8Array(4096));
      names.push(`${dir}/.filler/${i}`);
    } catch {
      break;
    }
  }
  for (const name of names.slice(names.length - pages)) await Deno.remove(name);
}

const probe = await tinyDisk();
const diskNote = typeof probe === "string"
  ? `skipped: cannot mount a tmpfs (${probe})`
  : "on a 64 KiB tmpfs";
if (typeof probe !== "string") await probe.unmount();
if (typeof probe === "string") console.log(`faults_test: disk-full tests ${diskNote}`);

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) out[e.name] = await Deno.readTextFile(`${dir}/${e.name}`);
  }
  return out;
}

Deno.test({
  name:
    `disk full: writeFileAtomic fails with file_io naming ENOSPC, keeps the old file, leaves no temp file (${diskNote})`,
  ignore: typeof probe === "string",
  async fn() {
    const disk = await tinyDisk();
    assert.ok(typeof disk !== "string", String(disk));
    try {
      const path = `${disk.dir}/server.crt`;
      await writeFileAtomic(path, "OLD CERTIFICATE\n");
      await fill(disk.dir, 0);
      await assert.rejects(writeFileAtomic(path, "N".repeat(16_384)), (e: unknown) => {
        assert.ok(e instanceof MtlsError, String(e));
        assert.equal(e.code, "file_io");
        assert.match(e.message, /No space|ENOSPC/i);
        assert.ok(e.message.includes(path), e.message);
        return true;
      });
      assert.equal(await Deno.readTextFile(path), "OLD CERTIFICATE\n");
      assert.deepEqual(Object.keys(await snapshot(disk.dir)), ["server.crt"]);
    } finally {
      await disk.unmount();
    }
  },
});

Deno.test({
  name:
    `disk full: certs issue fails with one line, writes no partial pair, keeps every existing file (${diskNote})`,
  ignore: typeof probe === "string",
  async fn() {
    const disk = await tinyDisk();
    assert.ok(typeof disk !== "string", String(disk));
    const io = { out: "", err: "" };
    const cli = {
      stdout: (t: string) => void (io.out += t),
      stderr: (t: string) => void (io.err += t),
      env: () => undefined,
    };
    try {
      const certs = `${disk.dir}/certs`;
      assert.equal(await main(["certs", "init", "--dir", certs], cli), 0, io.err);
      const before = await snapshot(certs);
      for (const pages of [0, 1]) {
        await fill(disk.dir, pages);
        io.err = "";
        const code = await main(["certs", "issue", "client", "bob", "--dir", certs], cli);
        assert.equal(code, 1, io.err);
        assert.equal(io.err.trim().split("\n").length, 1, io.err);
        assert.match(io.err, /No space|ENOSPC/i);
        assert.deepEqual(await snapshot(certs), before, `pages free: ${pages}`);
        await Deno.remove(`${disk.dir}/.filler`, { recursive: true });
      }
    } finally {
      await disk.unmount();
    }
  },
});

Deno.test({
  name: `disk full: certs init --force with no room keeps the previous certificates (${diskNote})`,
  ignore: typeof probe === "string",
  async fn() {
    const disk = await tinyDisk();
    assert.ok(typeof disk !== "string", String(disk));
    const io = { err: "" };
    const cli = {
      stdout: () => {},
      stderr: (t: string) => void (io.err += t),
      env: () => undefined,
    };
    try {
      const certs = `${disk.dir}/certs`;
      assert.equal(await main(["certs", "init", "--dir", certs], cli), 0, io.err);
      const before = await snapshot(certs);
      await fill(disk.dir, 0);
      const code = await main(["certs", "init", "--dir", certs, "--force"], cli);
      assert.equal(code, 1, io.err);
      assert.match(io.err, /No space|ENOSPC/i);
      assert.deepEqual(await snapshot(certs), before);
    } finally {
      await disk.unmount();
    }
  },
});

Deno.test("certs init --force that fails after its first file keeps the previous CA byte for byte", async () => {
  // A write that fails midway (disk full on a real file system, EIO, a directory in the
  // way): writeAll() in src/cli/files.ts rolls back by deleting every file it already
  // wrote, but with --force those files had replaced the previous ones by rename, so the
  // previous ca.crt and ca.key are gone, not restored.
  const dir = await Deno.makeTempDir({ prefix: "rel-force-" });
  const io = { err: "" };
  const cli = { stdout: () => {}, stderr: (t: string) => void (io.err += t), env: () => undefined };
  try {
    assert.equal(await main(["certs", "init", "--dir", dir], cli), 0, io.err);
    const before = await snapshot(dir);
    // The last file of the set cannot be replaced: a non-empty folder stands in its place.
    await Deno.remove(`${dir}/client.key`);
    await Deno.mkdir(`${dir}/client.key/in-the-way`, { recursive: true });
    delete before["client.key"];
    const code = await main(["certs", "init", "--dir", dir, "--force"], cli);
    assert.equal(code, 1, io.err);
    assert.equal(io.err.trim().split("\n").length, 1, io.err);
    const after = await snapshot(dir);
    assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort(), "files deleted");
    assert.deepEqual(after, before, "previous certificates replaced by a partial set");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
