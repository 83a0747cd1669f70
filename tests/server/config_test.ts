import assert from "node:assert/strict";
import { ConfigError, RuntimeError } from "../../src/errors.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import type { ServeMcpOptions } from "../../src/mcp/server_options.ts";
import { checkDenoVersion } from "../../src/tls/runtime_check.ts";
import { type Fixtures, makeFixtures } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const tls = () => ({ cert: fx.server.cert, key: fx.server.key, ca: fx.ca });

async function refuses(options: ServeMcpOptions, key: string, message: string) {
  await assert.rejects(serveMcp(demoServerFactory, { port: 0, ...options }), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `ConfigError expected, got ${e}`);
    assert.equal(e.key, key);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("serveMcp refuses client auth required with no CA", () =>
  refuses(
    { tls: { cert: fx.server.cert, key: fx.server.key } },
    "tls.ca",
    'Option "tls.ca" is required: client auth is "require" with the strict policy, but no CA is configured to verify client certificates',
  ));

Deno.test("serveMcp refuses the demo policy with client auth none", () =>
  refuses(
    { tls: { ...tls(), clientAuth: "none" }, policy: "demo" },
    "policy",
    'Option "policy" cannot be "demo" when "tls.clientAuth" is "none": no client certificate is requested to apply it to',
  ));

Deno.test("serveMcp refuses a minimum TLS version below 1.2", () =>
  refuses(
    // deno-lint-ignore no-explicit-any
    { tls: { ...tls(), minVersion: "TLSv1.1" as any } },
    "tls.minVersion",
    'Option "tls.minVersion" must be "TLSv1.2" or "TLSv1.3", got "TLSv1.1": nothing below TLS 1.2 is allowed',
  ));

Deno.test("serveMcp refuses a non-AEAD cipher suite", () =>
  refuses(
    { tls: { ...tls(), ciphers: "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA" } },
    "tls.ciphers",
    'Option "tls.ciphers" may only name ECDHE AES-GCM or ChaCha20-Poly1305 suites, got "AES128-SHA"',
  ));

Deno.test("serveMcp refuses identity rules when client auth is none", () =>
  refuses(
    {
      tls: { ...tls(), clientAuth: "none" },
      authorization: { rules: [{ identity: "cn:alice", tools: ["*"] }] },
    },
    "authorization.rules",
    'Option "authorization.rules" selects identities but "tls.clientAuth" is "none": no client has an identity',
  ));

Deno.test("serveMcp refuses an unknown identity selector", () =>
  refuses(
    { tls: tls(), authorization: { rules: [{ identity: "team:blue", tools: ["*"] }] } },
    "authorization.rules[0].identity",
    'Option "authorization.rules[0].identity" must start with "spiffe://", "cn:", "san:", "dns:", "ip:", "uri:", "email:" or "fingerprint:", or be "*", got "team:blue"',
  ));

Deno.test("serveMcp refuses an out-of-range port and a zero limit", async () => {
  await refuses(
    { tls: tls(), port: 70000 },
    "port",
    'Option "port" must be an integer from 0 to 65535, got "70000"',
  );
  await refuses(
    { tls: tls(), limits: { maxBodyBytes: 0 } },
    "limits.maxBodyBytes",
    'Option "limits.maxBodyBytes" must be a positive integer, got "0"',
  );
});

Deno.test("serveMcp refuses a missing server key", () =>
  refuses(
    { tls: { cert: fx.server.cert, key: "", ca: fx.ca } },
    "tls.key",
    'Option "tls.key" must be a PEM private key',
  ));

Deno.test("checkDenoVersion accepts 2.9 and newer", () => {
  for (const v of ["2.9.0", "2.9.6", "2.10.1", "3.0.0-rc.1", Deno.version.deno]) {
    assert.doesNotThrow(() => checkDenoVersion(v), v);
  }
});

Deno.test("checkDenoVersion refuses Deno older than 2.9 with one clear line", () => {
  for (const v of ["2.8.9", "1.46.3", "2.0.0"]) {
    assert.throws(() => checkDenoVersion(v), (e: unknown) => {
      assert.ok(e instanceof RuntimeError);
      assert.equal(e.code, "unsupported_runtime");
      assert.equal(
        e.message,
        `Deno "${v}" is too old: mcp-mtls needs 2.9 or newer (older node:tls reports a client without a certificate as authorized, denoland/deno#34366)`,
      );
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
  assert.throws(() => checkDenoVersion("nightly"), /Cannot read Deno version "nightly"/);
});
