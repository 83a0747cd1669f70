/**
 * `serve --certs DIR` watches DIR/ca.crl: a `certs revoke` while the server
 * runs closes the revoked client's open connection and refuses its next one,
 * whether or not the file existed at start, without waiting for the periodic
 * refresh (60 s by default, left at its default here on purpose).
 */
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { certsRevoke } from "../../src/cli/certs_revoke.ts";
import { serve } from "../../src/cli/serve.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { normalizeSerial } from "../../src/revocation/mod.ts";
import { waitFor } from "../ops/_ops.ts";
import {
  type Credential,
  type Fixtures,
  makeFixtures,
  tryInitialize,
} from "../server/_fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const fx: Fixtures = await makeFixtures();
const quiet = { stdout: () => {}, stderr: () => {} };
const serialOf = (c: Credential) => normalizeSerial(c.bundle.certificate.serialNumber);

interface Line {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** A certs folder as `certs init` lays it out, from the fixture CA; no ca.crl. */
async function certsDir(): Promise<string> {
  const dir = await moduleTempDir("mcp-mtls-crl-watch-");
  const copy = (from: string, to: string) => Deno.copyFile(from, `${dir}/${to}`);
  await copy(fx.server.certFile, "server.crt");
  await copy(fx.server.keyFile, "server.key");
  await copy(fx.caFile, "ca.crt");
  await copy(fx.caAsClient.keyFile, "ca.key");
  return dir;
}

/** Runs `serve` in-process with JSON logs until `stop()`; `lines()` parses standard error. */
async function startServe(args: string[]) {
  const ac = new AbortController();
  let out = "";
  let err = "";
  const done = serve([...args, "--port", "0", "--log-format", "json"], {
    stdout: (t: string) => void (out += t),
    stderr: (t: string) => void (err += t),
    env: () => undefined,
  }, { signal: ac.signal });
  const lines = (): Line[] =>
    err.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const url = await waitFor(() => /at (https:\S+)/.exec(out)?.[1], 20_000).catch(async (e) => {
    ac.abort();
    await done;
    throw new Error(`no URL printed; stderr: ${err}`, { cause: e });
  });
  return {
    url,
    lines,
    refusals: (reason: string) =>
      lines().filter((l) => l.msg === "connection refused" && l.reason === reason),
    async stop() {
      ac.abort();
      assert.equal(await done, 0, err);
    },
  };
}

type Served = Awaited<ReturnType<typeof startServe>>;

const connect = (url: string, c: Credential): Promise<Client> =>
  connectMcpClient(url, { cert: c.cert, key: c.key, ca: fx.ca });
const echo = (c: Client, text: string) => c.callTool({ name: "echo", arguments: { text } });

/**
 * Alice and Bob hold open connections and make calls; `certs revoke` revokes
 * Alice. Her open connection is closed ("After a CRL update", revoked) and her
 * next connection refused (revoked); Bob keeps his connection and is served.
 */
async function revokeWhileConnected(s: Served, dir: string): Promise<void> {
  const alice = await connect(s.url, fx.alice);
  const bob = await connect(s.url, fx.bob);
  try {
    await echo(alice, "a1");
    await echo(bob, "b1");
    await echo(alice, "a2");
    const admitted = () => s.lines().filter((l) => l.msg === "client admitted").length;
    const before = admitted();
    assert.equal(s.refusals("revoked").length, 0);

    assert.equal(await certsRevoke([fx.alice.certFile, "--dir", dir], quiet), 0);
    const closed = await waitFor(() =>
      s.refusals("revoked").find((l) => String(l.detail).startsWith("After a CRL update: "))
    );
    assert.equal(closed.level, "warn");
    assert.match(String(closed.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(
      String(closed.detail),
      new RegExp(`Certificate serial "${serialOf(fx.alice)}" is revoked \\(unspecified\\): `),
    );
    await assert.rejects(echo(alice, "a3"));

    const atOpen = s.refusals("revoked").length;
    assert.equal(await tryInitialize(fx, s.url, fx.alice), "refused");
    const [refusal, ...more] = s.refusals("revoked").slice(atOpen);
    assert.equal(more.length, 0, "the refusal is logged once");
    assert.equal(refusal.level, "warn");
    assert.match(String(refusal.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(
      String(refusal.detail),
      new RegExp(`^Certificate serial "${serialOf(fx.alice)}" is revoked \\(unspecified\\): `),
    );

    await echo(bob, "b2");
    assert.equal(admitted(), before, "bob kept his open connection: no new admission");
    assert.equal(await tryInitialize(fx, s.url, fx.bob), 200, "the next good client is served");
  } finally {
    await alice.close().catch(() => {});
    await bob.close().catch(() => {});
  }
}

Deno.test("serve --certs DIR without ca.crl at start enforces a later certs revoke on open and new connections", async () => {
  const dir = await certsDir();
  const s = await startServe(["--certs", dir]);
  try {
    const absent = s.lines().filter((l) =>
      l.source === `${dir}/ca.crl` && /does not exist/.test(l.msg)
    );
    assert.equal(absent.length, 1, "the absent CRL is logged once");
    assert.equal(absent[0].level, "info");
    assert.equal(absent[0].watched, true);
    assert.equal(s.refusals("revocation_unknown").length, 0);
    await revokeWhileConnected(s, dir);
    assert.equal(
      s.refusals("revocation_unknown").length,
      0,
      "nobody was refused for want of a CRL",
    );
  } finally {
    await s.stop();
  }
});

Deno.test("serve --certs DIR with ca.crl at start enforces a later certs revoke on open and new connections", async () => {
  const dir = await certsDir();
  assert.equal(await certsRevoke([fx.expired.certFile, "--dir", dir], quiet), 0);
  const s = await startServe(["--certs", dir]);
  try {
    await revokeWhileConnected(s, dir);
  } finally {
    await s.stop();
  }
});

Deno.test("serve --certs DIR keeps the last good CRL enforced when ca.crl is overwritten with garbage, and logs one error", async () => {
  const dir = await certsDir();
  assert.equal(await certsRevoke([fx.alice.certFile, "--dir", dir], quiet), 0);
  const s = await startServe(["--certs", dir, "--log-level", "debug"]);
  try {
    assert.equal(await tryInitialize(fx, s.url, fx.alice), "refused");
    assert.equal(s.refusals("revoked").length, 1);
    const failed = () => s.lines().filter((l) => /^CRL refresh failed/.test(l.msg));
    assert.equal(failed().length, 0);
    // A plain (non-atomic) write: truncate, then write, so the watcher sees several events.
    await Deno.writeTextFile(`${dir}/ca.crl`, "-----BEGIN X509 CRL-----\ngarbage\n");
    const [line] = await waitFor(() => failed().length ? failed() : undefined);
    assert.equal(line.level, "error");
    assert.equal(line.source, `${dir}/ca.crl`);
    assert.match(line.msg, /^CRL refresh failed, keeping the last good CRL: Cannot load CRL "/);

    assert.equal(await tryInitialize(fx, s.url, fx.alice), "refused");
    assert.equal(s.refusals("revoked").length, 2, "alice is still revoked");
    assert.equal(s.refusals("revocation_unknown").length, 0);
    assert.equal(await tryInitialize(fx, s.url, fx.bob), 200);
    // The same garbage again: reloaded (seen at debug) but not logged as news.
    await Deno.writeTextFile(`${dir}/ca.crl`, "-----BEGIN X509 CRL-----\ngarbage\n");
    await waitFor(() => failed().length >= 2 || undefined);
    assert.deepEqual(failed().map((l) => l.level), ["error", "debug"], "one error line");
    assert.equal(await tryInitialize(fx, s.url, fx.alice), "refused");
    assert.equal(await tryInitialize(fx, s.url, fx.bob), 200);
  } finally {
    await s.stop();
  }
});

Deno.test("serve with an explicitly configured CRL file that is missing still refuses every client (revocation_unknown)", async () => {
  const dir = await certsDir();
  const missing = `${dir}/missing.crl`;
  const config = `${dir}/mcp-mtls.yaml`;
  await Deno.writeTextFile(config, `certs: ${dir}\nrevocation:\n  crls: [${missing}]\n`);
  const s = await startServe(["--config", config]);
  try {
    for (const c of [fx.alice, fx.bob]) {
      assert.equal(await tryInitialize(fx, s.url, c), "refused");
    }
    const refused = s.refusals("revocation_unknown");
    assert.equal(refused.length, 2);
    for (const [n, c] of [fx.alice, fx.bob].entries()) {
      assert.equal(refused[n].level, "warn");
      assert.match(String(refused[n].peer), /^127\.0\.0\.1:\d+$/);
      assert.equal(
        refused[n].detail,
        `Cannot establish the revocation status of certificate serial "${
          serialOf(c)
        }": no loaded CRL covers the certificate's issuer (Cannot read CRL "${missing}": ` +
          `ENOENT: no such file or directory, open '${missing}')`,
      );
    }
  } finally {
    await s.stop();
  }
});
