/**
 * The three ways to turn PROXY protocol on reach the listener: the config
 * key, the MCP_MTLS_PROXY_PROTOCOL_* variables and `serve --proxy-protocol`.
 */

import assert from "node:assert/strict";
import { loadServeConfig, serveOptionsFromConfig } from "../../src/config/mod.ts";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { makeFixtures } from "../server/_fixtures.ts";
import { mcpOver, proxiedTls, v1, v2 } from "./_proxy_client.ts";

const fx = await makeFixtures();

Deno.test("MCP_MTLS_PROXY_PROTOCOL_* and the config key become serveMcp's proxyProtocol", async () => {
  const config = await loadServeConfig({
    env: {
      MCP_MTLS_PROXY_PROTOCOL_TRUSTED: "10.0.0.0/8,::1",
      MCP_MTLS_PROXY_PROTOCOL_MAX_HEADER_BYTES: "512",
    },
    overrides: { certs: fx.dir },
  });
  assert.deepEqual(config.proxyProtocol, { trusted: ["10.0.0.0/8", "::1"], maxHeaderBytes: 512 });
  const options = await serveOptionsFromConfig(config, { logger: silentLogger });
  assert.deepEqual(options.proxyProtocol, { trusted: ["10.0.0.0/8", "::1"], maxHeaderBytes: 512 });
  const plain = await loadServeConfig({ overrides: { certs: fx.dir } });
  assert.equal(plain.proxyProtocol, undefined);
  await assert.rejects(
    () =>
      loadServeConfig({
        env: {
          MCP_MTLS_PROXY_PROTOCOL_TRUSTED: "127.0.0.1",
          MCP_MTLS_PROXY_PROTOCOL_MAX_HEADER_BYTES: "50",
        },
      }),
    /Config key "proxyProtocol\.maxHeaderBytes"/,
  );
});

Deno.test("serve --proxy-protocol trusts the listed balancer and logs the client's address", async () => {
  const ac = new AbortController();
  const io: CliIo & { out: string; err: string } = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: () => undefined,
  };
  const done = serve(
    [
      "--certs",
      fx.dir,
      "--port",
      "0",
      "--log-format",
      "json",
      "--proxy-protocol",
      "127.0.0.1/32, ::1",
    ],
    io,
    { signal: ac.signal },
  );
  try {
    let port = 0;
    for (let i = 0; i < 500 && !port; i++) {
      port = Number(/127\.0\.0\.1:(\d+)\/mcp/.exec(io.out)?.[1] ?? 0);
      if (!port) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(port, io.err);
    const s = await proxiedTls(port, v2({ src: "198.51.100.4", dst: "127.0.0.1", sport: 4242 }), {
      fx,
      cred: fx.alice,
    });
    const r = await mcpOver(s);
    s.destroy();
    assert.equal(r.status, 200);
    const admitted = io.err.split("\n").filter((l) => l.includes('"client admitted"'));
    assert.equal(JSON.parse(admitted[0]).peer, "198.51.100.4:4242");
    // From an address the flag does not list, a header is refused.
    await proxiedTls(port, v1("TCP4", "198.51.100.5", "127.0.0.1"), {
      fx,
      cred: fx.alice,
      localAddress: "127.0.0.9",
    }).then((t) => mcpOver(t)).catch(() => undefined);
    for (let i = 0; i < 250 && !io.err.includes("proxy_protocol_untrusted"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(io.err, /"reason":"proxy_protocol_untrusted"/);
  } finally {
    ac.abort();
    assert.equal(await done, 0);
  }
});
