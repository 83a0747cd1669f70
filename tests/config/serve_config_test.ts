import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import {
  loadServeConfig,
  type LoadServeConfigOptions,
  resolveServeConfig,
  serveOptionsFromConfig,
} from "../../src/config/mod.ts";
import { ConfigError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { PinStore } from "../../src/pins/pin_store.ts";
import { resolveServeOptions } from "../../src/mcp/server_options.ts";
import { type ConfigFixture, makeConfigFixture } from "./_fixture.ts";

let fx: ConfigFixture;
let n = 0;

/** Writes `text` as a config file in the fixture's `examples/` folder. */
async function file(text: string, ext = "yaml"): Promise<string> {
  const path = `${fx.root}/examples/c${++n}.${ext}`;
  await Deno.writeTextFile(path, text);
  return path;
}

const GOOD = `tls:
  cert: ../certs/server.crt
  key: ../certs/server.key
  ca: ../certs/ca.crt
`;

/** Loads the config and builds the server options, as `serve --config` does. */
async function start(options: LoadServeConfigOptions) {
  const config = await loadServeConfig(options);
  return await serveOptionsFromConfig(config, { logger: silentLogger, env: options.env });
}

async function refuses(options: LoadServeConfigOptions, message: string, key?: string) {
  await assert.rejects(start(options), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.equal(e.message, message);
    assert.ok(!e.message.includes("\n"), "one line");
    if (key !== undefined) assert.equal(e.key, key);
    return true;
  });
}

Deno.test({
  name: "config",
  async fn(t) {
    fx = await makeConfigFixture();
    await tests(t);
  },
});

async function tests(t: Deno.TestContext) {
  const dir = `${fx.root}/examples`;

  await t.step("defaults are the server's own defaults", async () => {
    const options = await start({ file: await file(GOOD) });
    const { logger: _a, now: _c, ...fromConfig } = resolveServeOptions(options);
    const { logger: _b, now: _d, ...plain } = resolveServeOptions({
      tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
    });
    assert.deepEqual(fromConfig, plain);
    assert.equal(options.tls.cert, fx.server.cert);
    assert.deepEqual(options.tls.ca, [fx.ca]);
    assert.equal(options.policy, "strict");
    assert.equal(options.tls.clientAuth, "require");
  });

  await t.step("MCP_MTLS_* variables change the effective options", async () => {
    const env = {
      MCP_MTLS_PORT: "9443",
      MCP_MTLS_TLS_MIN_VERSION: "TLSv1.3",
      MCP_MTLS_POLICY: "demo",
      MCP_MTLS_LIMITS_MAX_BODY_BYTES: "4096",
      MCP_MTLS_PEER_CN: "set by a bridge for its children: ignored",
      MCP_MTLS_TEST_SECRET: "test harness: ignored",
      HOME: "/root",
    };
    const yaml = await file(GOOD + "port: 8000\nlimits:\n  maxBodyBytes: 100000\n");
    const before = await start({ file: yaml });
    assert.equal(before.port, 8000);
    assert.equal(before.tls.minVersion, "TLSv1.2");
    assert.equal(before.policy, "strict");
    assert.equal(before.limits?.maxBodyBytes, 100000);
    const after = await start({ file: yaml, env });
    assert.equal(after.port, 9443);
    assert.equal(after.tls.minVersion, "TLSv1.3");
    assert.equal(after.policy, "demo");
    assert.equal(after.limits?.maxBodyBytes, 4096);
    assert.equal(after.limits?.maxConnections, 1024, "other keys of the object stay");
    // Options (or the command line) win over the environment.
    const cli = await start({ file: yaml, env, overrides: { port: 7000 } });
    assert.equal(cli.port, 7000);
  });

  await t.step("an unknown MCP_MTLS_ variable stops the start", async () => {
    await refuses(
      { file: await file(GOOD), env: { MCP_MTLS_FOO: "1" } },
      "Unknown environment variable MCP_MTLS_FOO: no config key has that name",
    );
  });

  await t.step("an unknown nested key", async () => {
    const f = await file(GOOD + "limits:\n  maxBodyByte: 10\n");
    await refuses(
      { file: f },
      `Unknown config key "limits.maxBodyByte" (in config file "${f}")`,
      "limits.maxBodyByte",
    );
  });

  await t.step("a wrong type", async () => {
    const f = await file(GOOD + 'port: "8443"\n');
    await refuses(
      { file: f },
      `Config key "port" is "8443": expected number (in config file "${f}")`,
      "port",
    );
    const j = await file(
      JSON.stringify({ tls: { cert: "a", key: "b", ca: "c" }, detailedTls: "yes" }),
      "json",
    );
    await refuses(
      { file: j },
      `Config key "detailedTls" is "yes": expected boolean (in config file "${j}")`,
    );
  });

  await t.step("a missing certificate file names the key and the path", async () => {
    await refuses(
      { file: await file(GOOD.replace("server.crt", "nope.crt")) },
      `Config key "tls.cert" is "${fx.certs}/nope.crt": expected a readable file (no such file)`,
      "tls.cert",
    );
    await refuses(
      { file: await file("certs: ../nowhere\n") },
      `Config key "certs" is "${fx.root}/nowhere": cannot read "${fx.root}/nowhere/server.crt" (no such file; run "mcp-mtls certs init --dir ${fx.root}/nowhere" first)`,
      "certs",
    );
  });

  await t.step(
    "a key value that is neither PEM nor a path is refused without echoing it",
    async () => {
      const keyBody = fx.server.key.split("\n").slice(1, -2).join("\n");
      const notPem = `Bag Attributes\n    localKeyID: 01\n${keyBody}`;
      await assert.rejects(
        start({ env: { MCP_MTLS_TLS_KEY: notPem }, file: await file(GOOD) }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.match(
            e.message,
            /^Config key "tls\.key" is neither PEM text nor a file path \(value not shown: \d+ characters over \d+ lines\)/,
          );
          assert.ok(!e.message.includes(keyBody.slice(0, 20)), "no key material in the message");
          return true;
        },
      );
    },
  );

  await t.step("PEM after 'Bag Attributes' lines (openssl pkcs12 -nodes) is accepted", async () => {
    const withBag = `Bag Attributes\n    localKeyID: 01\n${fx.server.key}`;
    const o = await start({ env: { MCP_MTLS_TLS_KEY: withBag }, file: await file(GOOD) });
    assert.equal(o.tls.key, withBag);
  });

  await t.step("a missing config file", async () => {
    await refuses(
      { file: `${dir}/absent.yaml` },
      `Cannot read config file "${dir}/absent.yaml": no such file`,
    );
  });

  await t.step("a port out of range, from the file and from the environment", async () => {
    const f = await file(GOOD + "port: 70000\n");
    await refuses(
      { file: f },
      `Config key "port" is 70000: expected at most 65535 (in config file "${f}")`,
      "port",
    );
    await refuses(
      { file: await file(GOOD), env: { MCP_MTLS_PORT: "-1" } },
      'Config key "port" is -1: expected at least 0 (from environment variable MCP_MTLS_PORT)',
    );
    await refuses(
      { file: await file(GOOD), overrides: { port: 65536 }, overridesSource: "the command line" },
      'Config key "port" is 65536: expected at most 65535 (from the command line)',
    );
  });

  await t.step("TLS 1.1 is refused", async () => {
    const f = await file(GOOD + "  minVersion: TLSv1.1\n");
    await refuses(
      { file: f },
      `Config key "tls.minVersion" is "TLSv1.1": expected one of "TLSv1.2", "TLSv1.3" (in config file "${f}")`,
      "tls.minVersion",
    );
  });

  await t.step("contradictions", async () => {
    const noCa = await file(GOOD.replace("  ca: ../certs/ca.crt\n", "  clientAuth: require\n"));
    await refuses(
      { file: noCa },
      `Config key "tls.ca" is missing: expected a CA file or PEM to verify client certificates, as "tls.clientAuth" is "require" with the strict policy (in config file "${noCa}")`,
      "tls.ca",
    );
    const demo = await file(GOOD + "  clientAuth: none\npolicy: demo\n");
    await refuses(
      { file: demo },
      `Config key "policy" is "demo": expected "strict" when "tls.clientAuth" is "none" (no client certificate is requested) (in config file "${demo}")`,
      "policy",
    );
    const pins = await file(GOOD + "  clientAuth: none\npins:\n  store: pins.json\n");
    await refuses(
      { file: pins },
      `Config key "pins" is {"store":"${dir}/pins.json"}: expected no pins when "tls.clientAuth" is "none" (no client certificate is requested to pin) (in config file "${pins}")`,
      "pins",
    );
    await refuses(
      {
        file: await file(GOOD),
        env: { MCP_MTLS_TLS_CLIENT_AUTH: "none", MCP_MTLS_POLICY: "demo" },
      },
      'Config key "policy" is "demo": expected "strict" when "tls.clientAuth" is "none" (no client certificate is requested) (from environment variable MCP_MTLS_POLICY)',
    );
    const plain = await file(GOOD + "  enabled: false\n");
    await refuses(
      { file: plain },
      `Config key "tls.enabled" is false: expected true (plain HTTP is not supported: mcp-mtls serves MCP only over TLS) (in config file "${plain}")`,
      "tls.enabled",
    );
    const both = await file(GOOD + "  pfx: ../certs/server.p12\n");
    await refuses(
      { file: both },
      `Config key "tls.pfx" is "${fx.certs}/server.p12": expected either "tls.pfx" or "tls.cert" + "tls.key", not both (in config file "${both}")`,
    );
    const stdio = await file(GOOD + "sessions: stateless\nstdio:\n  command: [node, s.js]\n");
    await refuses(
      { file: stdio },
      `Config key "stdio.mode" is "per-session": expected "shared" when "sessions" is "stateless" (per-session would start a child per request) (in config file "${stdio}")`,
    );
  });

  await t.step("health port and per-address limit contradictions", async () => {
    await refuses(
      { file: await file(GOOD + "health:\n  port: 8443\n") },
      `Config key "health.port" is 8443: expected a port other than "port" (8443) (in config file "${dir}/c${n}.yaml")`,
      "health.port",
    );
    await refuses(
      { file: await file(GOOD), env: { MCP_MTLS_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: "2000" } },
      'Config key "limits.maxConnectionsPerAddress" is 2000: expected at most "limits.maxConnections" (1024) (from environment variable MCP_MTLS_LIMITS_MAX_CONNECTIONS_PER_ADDRESS)',
    );
  });

  await t.step("an encrypted PEM key is opened with the passphrase", async () => {
    const encrypted = createPrivateKey(fx.server.key).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase: "s3cret",
    }) as string;
    await Deno.writeTextFile(`${fx.certs}/enc.key`, encrypted);
    const yaml = GOOD.replace("server.key", "enc.key");
    const opened = await start({
      file: await file(yaml + "  passphraseEnv: KEY_PASS\n"),
      env: { KEY_PASS: "s3cret" },
    });
    assert.equal(
      opened.tls.key,
      createPrivateKey(fx.server.key).export({
        type: "pkcs8",
        format: "pem",
      }),
    );
    await refuses(
      { file: await file(yaml) },
      'Config key "tls.key" is an encrypted key: expected a passphrase in "tls.passphraseEnv" or "tls.passphraseFile"',
      "tls.key",
    );
  });

  await t.step(
    "PKCS#12: opens with the passphrase from env or file, wrong one refused",
    async () => {
      const p12 = "tls:\n  pfx: ../certs/server.p12\n  ca: ../certs/ca.crt\n";
      const viaEnv = await start({
        file: await file(p12 + "  passphraseEnv: SERVER_P12_PASS\n"),
        env: { SERVER_P12_PASS: fx.p12Password },
      });
      assert.ok(viaEnv.tls.cert.startsWith(fx.server.cert), "leaf first, then the chain");
      assert.match(viaEnv.tls.key, /^-----BEGIN PRIVATE KEY-----/);
      await Deno.writeTextFile(`${fx.certs}/p12.pass`, fx.p12Password + "\n");
      const viaFile = await start({
        file: await file(p12 + "  passphraseFile: ../certs/p12.pass\n"),
      });
      assert.equal(viaFile.tls.cert, viaEnv.tls.cert);
      await refuses(
        {
          file: await file(p12 + "  passphraseEnv: SERVER_P12_PASS\n"),
          env: { SERVER_P12_PASS: "wrong" },
        },
        `Config key "tls.pfx" is "${fx.certs}/server.p12": expected a PKCS#12 file that opens with the passphrase (environment variable SERVER_P12_PASS): wrong password`,
        "tls.pfx",
      );
      await refuses(
        { file: await file(p12 + "  passphraseEnv: UNSET_VARIABLE\n"), env: {} },
        'Config key "tls.passphraseEnv" is "UNSET_VARIABLE": expected the name of a set environment variable',
      );
    },
  );

  await t.step("a passphrase is never taken literally (file, command line, env)", async () => {
    const f = await file(GOOD + "  passphrase: hunter2\n");
    const hint =
      'secrets never go in a config file or on the command line; name an environment variable in "tls.passphraseEnv" or a file in "tls.passphraseFile"';
    await refuses(
      { file: f },
      `Config key "tls.passphrase" is not allowed (in config file "${f}"): ${hint}`,
      "tls.passphrase",
    );
    await refuses(
      {
        file: await file(GOOD),
        overrides: { tls: { passphrase: "hunter2" } },
        overridesSource: "the command line",
      },
      `Config key "tls.passphrase" is not allowed (from the command line): ${hint}`,
    );
    await refuses(
      { file: await file(GOOD), env: { MCP_MTLS_TLS_PASSPHRASE: "hunter2" } },
      'Environment variable MCP_MTLS_TLS_PASSPHRASE is not read: name the variable holding the passphrase in "tls.passphraseEnv" (MCP_MTLS_TLS_PASSPHRASE_ENV), or give a file in "tls.passphraseFile"',
    );
  });

  await t.step("certs: DIR fills in the files and enforces ca.crl and pins.json", async () => {
    const f = await file("certs: ../certs\n");
    const plainDir = await start({ file: f });
    assert.equal(plainDir.tls.cert, fx.server.cert);
    assert.equal(plainDir.tls.key, fx.server.key);
    assert.deepEqual(plainDir.tls.ca, [fx.ca]);
    assert.equal(plainDir.revocation, undefined);
    assert.equal(plainDir.pins, undefined);
    await Deno.writeTextFile(`${fx.certs}/ca.crl`, "placeholder: the server reads it");
    await Deno.writeTextFile(`${fx.certs}/pins.json`, "{}");
    try {
      await refuses(
        { file: f },
        `Config key "certs" is "${fx.certs}/pins.json": expected a valid pin file ("version" must be 1, got undefined)`,
        "certs",
      );
      await Deno.writeTextFile(`${fx.certs}/pins.json`, '{"version": 1, "pins": {}}');
      const enforced = await start({ file: f });
      assert.deepEqual(enforced.revocation, {
        crls: [`${fx.certs}/ca.crl`],
        crlDistributionPoints: false,
        refreshInterval: 60_000,
      });
      const store = enforced.pins?.store;
      assert.ok(store instanceof PinStore, "opened, so a watcher can reload it");
      assert.equal(store.path, `${fx.certs}/pins.json`);
    } finally {
      await Deno.remove(`${fx.certs}/ca.crl`);
      await Deno.remove(`${fx.certs}/pins.json`);
    }
  });

  await t.step("resolveServeConfig(): CLI keys win, stdio and log pass through", async () => {
    const f = await file(
      GOOD + "log:\n  format: json\nstdio:\n  command: [node, server.js]\n  mode: shared\n",
    );
    const lines: string[] = [];
    const r = await resolveServeConfig({
      configFile: f,
      env: { MCP_MTLS_LOG_LEVEL: "debug" },
      cliOverrides: { hostname: "::1", port: 0 },
      logWrite: (l) => lines.push(l),
    });
    assert.equal(r.options.hostname, "::1");
    assert.equal(r.options.port, 0);
    assert.deepEqual(r.stdio, { command: ["node", "server.js"], mode: "shared" });
    assert.deepEqual(r.config.log, { level: "debug", format: "json" });
    r.logger.debug("hello");
    assert.equal(JSON.parse(lines[0]).msg, "hello");
    assert.equal(r.options.logger, r.logger);
    // Without a file and without anything naming a certificate, ./certs is used.
    await assert.rejects(
      resolveServeConfig({ env: {}, fallbackCerts: `${fx.root}/none` }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          `Config key "certs" is "${fx.root}/none": cannot read "${fx.root}/none/server.crt" (no such file; run "mcp-mtls certs init --dir ${fx.root}/none" first)`,
    );
    const fallback = await resolveServeConfig({ env: {}, fallbackCerts: fx.certs });
    assert.equal(fallback.options.tls.cert, fx.server.cert);
  });
}
