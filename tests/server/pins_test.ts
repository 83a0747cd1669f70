import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import { isMtlsError } from "../../src/errors.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import { computePins, PinStore } from "../../src/pins/mod.ts";
import { issueCertificate } from "../../src/pki/mod.ts";
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
const der = (c: Credential) => c.bundle.certificate.der;
const spki = (c: Credential) => computePins(der(c)).spki;

/** Another key and certificate for alice's identity (same SPIFFE ID and CN). */
async function aliceWithAnotherKey(): Promise<Credential> {
  const bundle = await issueCertificate(fx.caAsClient.bundle, "client", {
    commonName: "alice",
    subjectAltNames: "uri:spiffe://example.org/agent",
    exportable: true,
  });
  return {
    cert: bundle.certificatePem,
    key: bundle.privateKeyPem!,
    certFile: "",
    keyFile: "",
    bundle,
  };
}

const tryPost = (url: string, cred: Pick<Credential, "cert" | "key">) =>
  tryInitialize(fx, url, cred);
const pinRefusals = (log: ReturnType<typeof collectingLogger>) => refusals(log, "pin_mismatch");

Deno.test("pin allowlist: a matching client is admitted, any other refused pin_mismatch", async () => {
  const { server, log } = await startServer(fx, { pins: { allow: [spki(fx.alice)] } });
  try {
    assert.equal(await tryPost(server.url, fx.alice), 200);
    assert.equal(await tryPost(server.url, fx.bob), "refused");
    const [line, ...more] = pinRefusals(log);
    assert.equal(more.length, 0);
    assert.match(String(line.fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.ok(String(line.fields.detail).includes(`presented ${spki(fx.bob)}`));
    assert.ok(String(line.fields.detail).includes(`expected ${spki(fx.alice)}`));
    assert.equal(server.sessionCount, 1, "only alice's request was handled");
  } finally {
    await server.close();
  }
});

Deno.test("per-identity pins: the pinned key is admitted, another key for the same identity refused with both pins logged", async () => {
  const store = PinStore.memory({
    "spiffe://example.org/agent": [spki(fx.alice)],
    "spiffe://example.org/bob": [spki(fx.bob)],
  });
  const other = await aliceWithAnotherKey();
  const { server, log } = await startServer(fx, { pins: { store } });
  try {
    assert.equal(await tryPost(server.url, fx.alice), 200);
    assert.equal(await tryPost(server.url, fx.bob), 200);
    assert.equal(await tryPost(server.url, other), "refused");
    const [line] = pinRefusals(log);
    const detail = String(line.fields.detail);
    assert.ok(detail.includes('"spiffe://example.org/agent"'), detail);
    assert.ok(detail.includes(`presented ${spki(other)}`), detail);
    assert.ok(detail.includes(`expected ${spki(fx.alice)}`), detail);
    assert.equal(await tryPost(server.url, fx.alice), 200, "the pinned client is still served");
  } finally {
    await server.close();
  }
});

Deno.test("pin file with trust on first use: the first key is stored, a later different key refused", async () => {
  const dir = await moduleTempDir("mcp-mtls-server-pins-");
  const path = `${dir}/pins.json`;
  const { server, log } = await startServer(fx, { pins: { store: path, tofu: true } });
  try {
    assert.equal(await tryPost(server.url, fx.alice), 200);
    let saved: Record<string, { pins: string[] }> = {};
    for (let i = 0; i < 100 && !saved["spiffe://example.org/agent"]; i++) {
      await new Promise((r) => setTimeout(r, 20));
      saved = JSON.parse(await Deno.readTextFile(path).catch(() => "{}"));
      saved = (saved as { pins?: typeof saved }).pins ?? saved;
    }
    assert.deepEqual(saved["spiffe://example.org/agent"]?.pins, [spki(fx.alice)]);
    assert.equal(await tryPost(server.url, await aliceWithAnotherKey()), "refused");
    assert.equal(pinRefusals(log).length, 1);
    assert.equal(await tryPost(server.url, fx.alice), 200);
  } finally {
    await server.close();
  }
});

Deno.test("pin file without trust on first use: an identity with no pins is refused", async () => {
  const dir = await moduleTempDir("mcp-mtls-server-pins-");
  const path = `${dir}/pins.json`;
  const store = await PinStore.open(path);
  await store.add("cn:bob", spki(fx.bob));
  const { server, log } = await startServer(fx, { pins: { store: path } });
  try {
    assert.equal(await tryPost(server.url, fx.alice), "refused");
    assert.match(String(pinRefusals(log)[0].fields.detail), /expected no pins/);
  } finally {
    await server.close();
  }
});

Deno.test("pin options that contradict the rest are refused with a ConfigError naming the key", async () => {
  const tls = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  const cases: [Parameters<typeof serveMcp>[1], string][] = [
    [{ tls: { ...tls, clientAuth: "none" }, pins: { allow: [spki(fx.alice)] } }, "pins"],
    [{ tls, pins: { store: PinStore.memory(), tofu: true } }, "pins.tofu"],
    [{ tls, pins: { allow: ["sha256/not-a-pin"] } }, "pins.allow"],
    [{ tls, pins: {} }, "pins"],
  ];
  for (const [options, key] of cases) {
    await assert.rejects(
      serveMcp(demoServerFactory, { port: 0, logger: collectingLogger(), ...options }),
      (e) => isMtlsError(e, "invalid_config") && (e as { key?: string }).key === key,
      key,
    );
  }
});

Deno.test("serve --certs DIR enforces DIR/pins.json: the pinned identity is served, another key for it refused", async () => {
  const dir = await moduleTempDir("mcp-mtls-serve-pins-");
  await Deno.copyFile(fx.server.certFile, `${dir}/server.crt`);
  await Deno.copyFile(fx.server.keyFile, `${dir}/server.key`);
  await Deno.copyFile(fx.caFile, `${dir}/ca.crt`);
  const store = await PinStore.open(`${dir}/pins.json`);
  await store.add("spiffe://example.org/agent", spki(fx.alice));
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: () => undefined,
  };
  const ac = new AbortController();
  const done = serve(["--certs", dir, "--port", "0"], io, { signal: ac.signal });
  try {
    let url: string | undefined;
    for (let i = 0; i < 500 && !url; i++) {
      url = /at (https:\S+)/.exec(io.out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(url, `no URL printed; stderr: ${io.err}`);
    assert.match(io.err, /enforcing client pins/);
    assert.equal(await tryPost(url, fx.alice), 200);
    assert.equal(await tryPost(url, await aliceWithAnotherKey()), "refused");
    assert.match(io.err, /connection refused .*reason="pin_mismatch"/);
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
});
