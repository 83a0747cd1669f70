import assert from "node:assert/strict";
import { certsRevoke } from "../../src/cli/certs_revoke.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { serve } from "../../src/cli/serve.ts";
import { isMtlsError } from "../../src/errors.ts";
import { createCrl, crlToPem } from "../../src/pki/crl.ts";
import type { CrlEntryInput } from "../../src/pki/mod.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { normalizeSerial } from "../../src/revocation/mod.ts";
import { makeOpensslCa, startResponder } from "../revocation/_openssl.ts";
import { waitFor } from "../ops/_ops.ts";
import {
  collectingLogger,
  type Credential,
  type Fixtures,
  makeFixtures,
  refusals,
  startServer,
  tryInitialize,
} from "./_fixtures.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const fx: Fixtures = await makeFixtures();
const caBundle = fx.caAsClient.bundle;
const serialOf = (c: Credential) => c.bundle.certificate.serialNumber;

async function writeCrl(path: string, revoked: Credential[], crlNumber: number): Promise<void> {
  const entries: CrlEntryInput[] = revoked.map((c) => ({
    serialNumber: serialOf(c),
    revocationDate: new Date(Date.now() - 1000),
    reason: "keyCompromise",
  }));
  const der = await createCrl(caBundle, entries, { crlNumber });
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, crlToPem(der));
  await Deno.rename(tmp, path); // atomic, as `certs revoke` writes it
}

const tryPost = (url: string, cred: Pick<Credential, "cert" | "key">) =>
  tryInitialize(fx, url, cred);

Deno.test("a client certificate revoked in a CRL is refused at connection time (revoked), the next good client is served", async () => {
  const crl = `${fx.dir}/revoked-bob.crl`;
  await writeCrl(crl, [fx.bob], 1);
  const { server, log } = await startServer(fx, { revocation: { crls: [crl] } });
  try {
    assert.equal(await tryPost(server.url, fx.bob), "refused");
    const [line, ...more] = refusals(log, "revoked");
    assert.equal(more.length, 0, "the refusal is logged once");
    assert.match(String(line.fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(
      String(line.fields.detail),
      // Messages show the serial normalized (no leading zeros), so compare that form.
      new RegExp(`serial "${normalizeSerial(serialOf(fx.bob))}" is revoked \\(keyCompromise\\)`),
    );
    assert.equal(server.sessionCount, 0, "no request of the refused connection was handled");
    assert.equal(await tryPost(server.url, fx.alice), 200);
  } finally {
    await server.close();
  }
});

Deno.test("a revocation written while the server runs is enforced from the next connection after the CRL reload", async () => {
  const crl = `${fx.dir}/live.crl`;
  await writeCrl(crl, [], 1);
  const { server, log } = await startServer(fx, {
    revocation: { crls: [crl], refreshInterval: 300 },
  });
  try {
    assert.equal(await tryPost(server.url, fx.alice), 200);
    await writeCrl(crl, [fx.alice], 2);
    // No restart, no retry: once the new CRL is loaded, alice's very next connection is refused.
    await waitFor(() =>
      log.records.find((r) => r.msg === "CRL loaded" && r.fields.crlNumber === "2")
    );
    assert.equal(await tryPost(server.url, fx.alice), "refused");
    // One refusal for the refused attempt; an earlier connection of alice still open at the
    // update is closed too, and logged as "After a CRL update" (tested separately below).
    const atAdmission = refusals(log, "revoked").filter((r) =>
      !String(r.fields.detail).startsWith("After a CRL update")
    );
    assert.equal(atAdmission.length, 1);
    assert.equal(await tryPost(server.url, fx.bob), 200, "other clients are still served");
  } finally {
    await server.close();
  }
});

Deno.test("a CRL update closes an already open connection of the revoked client; other clients keep theirs", async () => {
  const crl = `${fx.dir}/live-open.crl`;
  await writeCrl(crl, [], 1);
  const { server, log } = await startServer(fx, {
    revocation: { crls: [crl], refreshInterval: 200 },
  });
  const connect = (c: Credential) =>
    connectMcpClient(server.url, { cert: c.cert, key: c.key, ca: fx.ca });
  const alice = await connect(fx.alice);
  const bob = await connect(fx.bob);
  try {
    await alice.callTool({ name: "echo", arguments: { text: "a" } });
    await bob.callTool({ name: "echo", arguments: { text: "b" } });
    const admitted = () => log.records.filter((r) => r.msg === "client admitted").length;
    const before = admitted();
    await writeCrl(crl, [fx.alice], 2);
    let closed;
    for (let i = 0; i < 60 && !closed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      closed = refusals(log, "revoked").find((r) =>
        String(r.fields.detail).startsWith("After a CRL update: ")
      );
    }
    assert.ok(
      closed,
      "alice's open connection is refused with reason revoked after the CRL update",
    );
    await assert.rejects(alice.callTool({ name: "echo", arguments: { text: "again" } }));
    await bob.callTool({ name: "echo", arguments: { text: "still here" } });
    assert.equal(
      log.records.filter((r) => r.msg === "client admitted").length,
      before,
      "bob kept his connection: no new admission",
    );
  } finally {
    await alice.close().catch(() => {});
    await bob.close().catch(() => {});
    await server.close();
  }
});

Deno.test("revocation options that contradict the rest are refused with a ConfigError naming the key", async () => {
  const tls = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  await assert.rejects(
    serveMcp(demoServerFactory, {
      port: 0,
      tls: { ...tls, clientAuth: "none" },
      revocation: { crls: [`${fx.dir}/x.crl`] },
      logger: collectingLogger(),
    }),
    (e) => isMtlsError(e, "invalid_config") && (e as { key?: string }).key === "revocation",
  );
  await assert.rejects(
    serveMcp(demoServerFactory, {
      port: 0,
      tls,
      revocation: { crlDistributionPoints: false },
      logger: collectingLogger(),
    }),
    (e) => isMtlsError(e, "invalid_config") && /has no source/.test((e as Error).message),
  );
});

Deno.test("OCSP for client certificates against a real openssl responder: good, revoked, responder down under deny and allow", async (t) => {
  const root = await moduleTempDir("mcp-mtls-server-ocsp-");
  const ca = await makeOpensslCa(root, "ClientOcspCA");
  const responder = await startResponder(ca, await ca.issueResponder("responder"));
  await ca.setOcspUrl(responder.url);
  const cred = async (cn: string) => {
    const { path } = await ca.issue(cn);
    return {
      cert: await Deno.readTextFile(path),
      key: await Deno.readTextFile(`${ca.dir}/${cn}.key`),
    };
  };
  const [good, revoked, late, later] = [
    await cred("good"),
    await cred("revoked"),
    await cred("late"),
    await cred("later"),
  ];
  await ca.revoke(`${ca.dir}/revoked.crt`);
  await responder.sync();
  const caPem = await Deno.readTextFile(ca.caPath);
  let sessionsBuilt = 0;
  const counting = () => (sessionsBuilt++, demoServerFactory());
  const start = (
    failureMode: "deny" | "allow",
    fetch?: typeof globalThis.fetch,
    factory = counting,
  ) =>
    startServer(fx, {
      tls: { ca: caPem },
      revocation: { ocsp: true, failureMode, timeout: 1000, ...(fetch ? { fetch } : {}) },
    }, factory);
  const servers: Awaited<ReturnType<typeof start>>["server"][] = [];
  try {
    const deny = await start("deny");
    servers.push(deny.server);
    await t.step("a good certificate is admitted", async () => {
      assert.equal(await tryPost(deny.server.url, good), 200);
    });
    await t.step("a revoked certificate is refused with reason revoked", async () => {
      assert.equal(await tryPost(deny.server.url, revoked), "refused");
      assert.equal(refusals(deny.log, "revoked").length, 1);
    });
    await t.step(
      "a slow responder: the request waits for the verdict and is never handled when revoked",
      async () => {
        const events: string[] = [];
        const slowFetch = async (input: RequestInfo | URL, init?: RequestInit) => {
          await new Promise((r) => setTimeout(r, 300));
          const res = await fetch(input, init);
          events.push("OCSP answered");
          return res;
        };
        const slow = await start(
          "deny",
          slowFetch,
          () => (events.push("session built"), counting()),
        );
        servers.push(slow.server);
        const before = sessionsBuilt;
        assert.equal(await tryPost(slow.server.url, good), 200);
        assert.deepEqual(events, ["OCSP answered", "session built"], "MCP waited for the verdict");
        assert.equal(sessionsBuilt, before + 1);
        assert.equal(await tryPost(slow.server.url, revoked), "refused");
        assert.equal(
          sessionsBuilt,
          before + 1,
          "the revoked client's initialize never reached MCP",
        );
        assert.equal(refusals(slow.log, "revoked").length, 1);
      },
    );
    await responder.stop();
    await t.step(
      "responder stopped: a cached good answer still admits, without the network",
      async () => {
        assert.equal(await tryPost(deny.server.url, good), 200);
      },
    );
    await t.step(
      "responder stopped, deny: an unchecked certificate is refused revocation_unknown",
      async () => {
        assert.equal(await tryPost(deny.server.url, late), "refused");
        const [line] = refusals(deny.log, "revocation_unknown");
        assert.match(String(line.fields.detail), /Cannot establish the revocation status/);
      },
    );
    const allow = await start("allow");
    servers.push(allow.server);
    await t.step("responder stopped, allow: admitted, with one warning per admission", async () => {
      assert.equal(await tryPost(allow.server.url, later), 200);
      assert.equal(await tryPost(allow.server.url, later), 200);
      const warnings = allow.log.records.filter((r) =>
        r.level === "warn" && r.fields.reason === "revocation_unknown" &&
        /^Admitting certificate serial/.test(r.msg)
      );
      assert.equal(warnings.length, 2);
      assert.equal(refusals(allow.log, "revocation_unknown").length, 0);
    });
  } finally {
    await responder.stop();
    for (const s of servers) await s.close();
  }
});

function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: () => undefined,
  };
  return io;
}

Deno.test("serve --certs DIR enforces DIR/ca.crl written by certs revoke (revoked)", async () => {
  const dir = await moduleTempDir("mcp-mtls-serve-crl-");
  const copy = (from: string, to: string) => Deno.copyFile(from, `${dir}/${to}`);
  await copy(fx.server.certFile, "server.crt");
  await copy(fx.server.keyFile, "server.key");
  await copy(fx.caFile, "ca.crt");
  await copy(fx.caAsClient.keyFile, "ca.key");
  const quiet = { stdout: () => {}, stderr: () => {} };
  assert.equal(await certsRevoke([fx.bob.certFile, "--dir", dir], quiet), 0);
  const ac = new AbortController();
  const io = captureIo();
  const done = serve(["--certs", dir, "--port", "0", "--crl-refresh", "0.3"], io, {
    signal: ac.signal,
  });
  try {
    let url: string | undefined;
    for (let i = 0; i < 500 && !url; i++) {
      url = /at (https:\S+)/.exec(io.out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(url, `no URL printed; stderr: ${io.err}`);
    assert.match(io.err, /enforcing the CRL/);
    assert.equal(await tryPost(url, fx.bob), "refused");
    assert.match(io.err, /connection refused .*reason="revoked"/);
    assert.equal(await tryPost(url, fx.alice), 200);

    // `certs revoke` while the server runs: no restart, and once the new CRL is loaded,
    // alice's very next connection is refused.
    const loaded = () => io.err.split("\n").filter((l) => l.includes("CRL loaded")).length;
    const before = loaded();
    assert.equal(await certsRevoke([fx.alice.certFile, "--dir", dir], quiet), 0);
    await waitFor(() => loaded() > before || undefined);
    assert.equal(await tryPost(url, fx.alice), "refused");
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
});

Deno.test("serve --certs DIR without ca.crl says nothing is revoked until the watched file appears", async () => {
  const ac = new AbortController();
  const io = captureIo();
  const done = serve(["--certs", fx.dir, "--port", "0"], io, { signal: ac.signal });
  try {
    for (let i = 0; i < 500 && !io.out.includes("https://"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(
      io.err,
      /INFO +CRL file ".*\/ca\.crl" does not exist yet: nothing is revoked until it appears .*watched=true/,
    );
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
});
