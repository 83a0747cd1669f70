/**
 * The gateway's options, config key and CLI flag: validation errors word for
 * word, the authorization rules for resources and prompts, and
 * `serve --upstream URL` end to end.
 */

import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { loadServeConfig } from "../../src/config/serve_config.ts";
import { ConfigError } from "../../src/errors.ts";
import { serveGateway } from "../../src/gateway/serve_gateway.ts";
import {
  resolveUpstreamOptions,
  type UpstreamOptions,
} from "../../src/gateway/upstream_options.ts";
import { upstreamFromConfig } from "../../src/gateway/from_config.ts";
import { compileAuthorization } from "../../src/policy/authorization.ts";
import { makeFixtures } from "../server/_fixtures.ts";
import { openSession } from "./_gateway.ts";
import { startUpstream } from "./_upstream.ts";

const fx = await makeFixtures();

function refused(options: UpstreamOptions | string, message: string, key: string) {
  assert.throws(() => resolveUpstreamOptions(options), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, message);
    assert.equal(e.key, key);
    return true;
  });
}

Deno.test("resolveUpstreamOptions() refuses bad upstream options with one exact line", () => {
  refused(
    "ftp://127.0.0.1/mcp",
    'Option "upstream.url" must be an "http:" or "https:" URL, got "ftp://127.0.0.1/mcp"',
    "upstream.url",
  );
  refused(
    "not a url",
    'Option "upstream.url" must be an "http:" or "https:" URL, got "not a url"',
    "upstream.url",
  );
  refused(
    "http://mcp.example.com/mcp",
    'Option "upstream.url" uses "http:" with the non-loopback host "mcp.example.com": the caller\'s identity would cross the network in clear text and anyone there could forge it; use "https:" (with "upstream.cert" and "upstream.key")',
    "upstream.url",
  );
  refused(
    { url: "http://127.0.0.1:3000/mcp", pins: ["sha256/x"] },
    'Option "upstream.pins" needs an "https:" upstream URL, got "http://127.0.0.1:3000/mcp"',
    "upstream.pins",
  );
  refused(
    { url: "https://127.0.0.1:3000/mcp", cert: fx.alice.cert },
    'Option "upstream.cert" needs "upstream.key" too',
    "upstream.cert",
  );
  refused(
    { url: "http://127.0.0.1:3000/mcp", requestTimeoutMs: 0 },
    'Option "upstream.requestTimeoutMs" must be a positive integer of milliseconds, got "0"',
    "upstream.requestTimeoutMs",
  );
  refused(
    { url: "http://127.0.0.1:3000/mcp", headers: { "Client-Cert": ":AA==:" } },
    'Option "upstream.headers" cannot set "Client-Cert": the gateway sets it, or it belongs to one hop',
    "upstream.headers",
  );
  refused(
    { url: "http://[::1]:3000/mcp", headers: { "x-api-key": "a\r\nb" } },
    'Option "upstream.headers" has a value for "x-api-key" that is not one line of text',
    "upstream.headers",
  );
  const ok = resolveUpstreamOptions({
    url: "http://localhost:3000/mcp",
    headers: { "X-Api-Key": "k" },
  });
  assert.deepEqual(ok.headers, { "x-api-key": "k" });
  assert.equal(ok.connectTimeoutMs, 10_000);
  assert.equal(ok.requestTimeoutMs, 30_000);
});

Deno.test("serveGateway() refuses jsonResponse and stateless sessions, and bad client TLS material under upstream.*", async () => {
  const tls = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  await assert.rejects(
    () => serveGateway("http://127.0.0.1:1/mcp", { tls, port: 0, jsonResponse: true }),
    {
      message:
        'Option "jsonResponse" does not apply to a gateway: the upstream MCP server decides it',
    },
  );
  await assert.rejects(
    () =>
      serveGateway(
        { url: "https://127.0.0.1:1/mcp", cert: fx.alice.cert, key: fx.bob.key },
        { tls, port: 0 },
      ),
    (e: unknown) => {
      assert.match(
        String((e as Error).message),
        /^Option "upstream\.key" does not belong to the certificate/,
      );
      return true;
    },
  );
});

Deno.test("compileAuthorization() grants resources and prompts only where a rule names them", () => {
  const authorize = compileAuthorization({
    rules: [
      { identity: "cn:alice", tools: ["*"], resources: ["file:///public/*"], prompts: ["greet*"] },
      { identity: "cn:bob", tools: ["echo"] },
    ],
  });
  const id = (cn: string) => ({
    commonName: cn,
    subject: `CN=${cn}`,
    subjectAltNames: { dns: [], ip: [], uri: [], email: [] },
    serialNumber: "01",
    issuer: "CN=ca",
    notBefore: "",
    notAfter: "",
    fingerprint: "00".repeat(32),
    spkiPin: "",
  });
  const alice = authorize(id("alice"));
  assert.equal(alice.resource?.("file:///public/a/b"), true);
  assert.equal(alice.resource?.("file:///secret/a"), false);
  assert.equal(alice.prompt?.("greeting"), true);
  assert.equal(alice.prompt?.("other"), false);
  const bob = authorize(id("bob"));
  assert.equal(bob("echo"), true);
  assert.equal(bob.resource?.("file:///public/a"), false);
  assert.equal(bob.prompt?.("greeting"), false);
  const open = compileAuthorization(undefined)(undefined);
  assert.equal(open.resource?.("anything"), true);
  assert.throws(
    () =>
      compileAuthorization({
        rules: [{ identity: "*", tools: [], resources: "x" as unknown as string[] }],
      }),
    { message: 'Option "authorization.rules[0].resources" must be an array of globs' },
  );
});

Deno.test("loadServeConfig() reads the upstream key and refuses it beside stdio", async () => {
  const base = { tls: { cert: fx.server.certFile, key: fx.server.keyFile, ca: [fx.caFile] } };
  const config = await loadServeConfig({
    overrides: {
      ...base,
      upstream: { url: "https://127.0.0.1:3000/mcp", ca: [fx.caFile], requestTimeoutMs: 5000 },
    },
    env: { MCP_MTLS_UPSTREAM_CONNECT_TIMEOUT_MS: "2000" },
  });
  assert.equal(config.upstream?.connectTimeoutMs, 2000);
  const options = await upstreamFromConfig(config.upstream!);
  assert.deepEqual(options.ca, [fx.ca]);
  await assert.rejects(
    () =>
      loadServeConfig({
        overrides: {
          ...base,
          upstream: { url: "http://127.0.0.1:1/mcp" },
          stdio: { command: ["x"] },
        },
      }),
    (e: unknown) => {
      assert.match(
        String((e as Error).message),
        /^Config key "upstream" is "http:\/\/127\.0\.0\.1:1\/mcp": expected either "upstream" or "stdio", not both/,
      );
      return true;
    },
  );
  await assert.rejects(
    () => upstreamFromConfig({ url: "https://127.0.0.1:1/mcp", ca: [`${fx.dir}/missing.crt`] }),
    {
      message:
        `Config key "upstream.ca.0" is "${fx.dir}/missing.crt": expected a readable file (no such file)`,
    },
  );
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

Deno.test("serve --upstream URL proxies to the upstream; with -- COMMAND it is refused", async () => {
  const upstream = await startUpstream();
  const ac = new AbortController();
  const io = captureIo();
  const done = serve(["--certs", fx.dir, "--port", "0", "--upstream", upstream.url], io, {
    signal: ac.signal,
  });
  try {
    let url: string | undefined;
    for (let i = 0; i < 500 && !url; i++) {
      url = /at (https:\S+)/.exec(io.out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(url, io.err);
    await openSession(fx, url, fx.alice);
    assert.equal(upstream.log[0].headers["mcp-mtls-identity"], "spiffe://example.org/agent");
  } finally {
    ac.abort();
    assert.equal(await done, 0);
    await upstream.close();
  }
  const io2 = captureIo();
  const code = await serve(["--upstream", "http://127.0.0.1:1/mcp", "--", "node", "x.js"], io2);
  assert.equal(code, 2);
  assert.equal(
    io2.err.split("\n")[0],
    'mcp-mtls: Option "--upstream" cannot be used with a stdio server command after "--"',
  );
});
