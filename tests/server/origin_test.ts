/**
 * DNS-rebinding protection: `serveMcp` accepts a request only when its `Host`
 * is one of the server's names on its port and its `Origin`, when sent, is the
 * server's own origin or a configured one. Hostile requests are written by
 * hand on a raw TLS socket (fetch implementations replace the `Host` header).
 */
import assert from "node:assert/strict";
import * as tls from "node:tls";
import { Buffer } from "node:buffer";
import { ConfigError } from "../../src/errors.ts";
import { loadServeConfig, serveOptionsFromConfig } from "../../src/config/mod.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { compileHostCheck } from "../../src/mcp/host_check.ts";
import { resolveServeOptions } from "../../src/mcp/server_options.ts";
import type { ObservableMcpServer } from "../../src/mcp/server.ts";
import { silentLogger } from "../../src/log/mod.ts";
import {
  collectingLogger,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  MCP_HEADERS,
  parseMcpBody,
  rawPost,
  run,
  startServer,
} from "./_fixtures.ts";
import { startBridge } from "../bridge/_helpers.ts";

const fx: Fixtures = await makeFixtures();

/**
 * One HTTP/1.1 request over mutual TLS (alice's certificate) with the
 * headers exactly as given, nothing added but content-length and
 * `connection: close`. Resolves the status and the body text once the
 * response is complete (the SDK keeps SSE responses' connections alive).
 */
async function rawRequest(
  address: { hostname: string; port: number },
  headers: Record<string, string>,
  { path = "/mcp", body = JSON.stringify(INITIALIZE) } = {},
): Promise<{ status: number; body: string }> {
  const socket = tls.connect({
    host: address.hostname,
    port: address.port,
    servername: "localhost",
    ca: fx.ca,
    cert: fx.alice.cert,
    key: fx.alice.key,
  });
  let text = "";
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const complete = new Promise<void>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("close", () => resolve());
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
      const bodyText = text.slice(end + 4);
      if (
        length ? Buffer.byteLength(bodyText) >= Number(length[1]) : bodyText.endsWith("0\r\n\r\n")
      ) {
        resolve();
      }
    });
  });
  const timer = setTimeout(() => socket.destroy(), 10_000);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const lines = [
      `POST ${path} HTTP/1.1`,
      ...Object.entries({ ...MCP_HEADERS, ...headers }).map(([k, v]) => `${k}: ${v}`),
      `content-length: ${Buffer.byteLength(body)}`,
      "connection: close",
    ];
    socket.write(lines.join("\r\n") + "\r\n\r\n" + body);
    await complete;
  } finally {
    clearTimeout(timer);
    socket.destroy();
    await closed;
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

/** The one `origin_denied` refusal logged, checked for level, peer and detail. */
function assertLoggedOnce(log: ReturnType<typeof collectingLogger>, detail: string) {
  const lines = log.records.filter((r) => r.fields.reason === "origin_denied");
  assert.equal(lines.length, 1, JSON.stringify(log.records));
  assert.equal(lines[0].level, "warn");
  assert.equal(lines[0].msg, "request refused");
  assert.match(String(lines[0].fields.peer), /^(127\.0\.0\.1|::1|\[::1\]):\d+$/);
  assert.equal(lines[0].fields.detail, detail);
}

/** A 403 whose JSON-RPC error carries reason `origin_denied` and `message`. */
function assertRefused(res: { status: number; body: string }, message: string) {
  assert.equal(res.status, 403, res.body);
  const body = JSON.parse(res.body);
  assert.equal(body.error.message, message);
  assert.deepEqual(body.error.data, { reason: "origin_denied" });
  assert.equal(body.id, null);
}

/** The next well-behaved client is still served. */
async function assertGoodClientServed(url: string) {
  const res = await rawPost(fx, url, fx.alice, INITIALIZE);
  assert.equal(res.status, 200, res.text);
  assert.equal((parseMcpBody(res.text) as { id: number }).id, 1);
}

Deno.test("serveMcp() refuses a request whose Host is not one of its names (origin_denied)", async () => {
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    const res = await rawRequest(server.address, {
      host: `evil.example.com:${port}`,
      origin: "http://evil.example.com",
    });
    const message =
      `Host header "evil.example.com:${port}" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`;
    assertRefused(res, message);
    assertLoggedOnce(log, message);
    await assertGoodClientServed(server.url);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses the server's own name on another port, and a missing port", async () => {
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    const other = port === 1 ? 2 : 1;
    assertRefused(
      await rawRequest(server.address, { host: `localhost:${other}` }),
      `Host header "localhost:${other}" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
    // No port means 443, the https default.
    assertRefused(
      await rawRequest(server.address, { host: "localhost" }),
      `Host header "localhost" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
    assert.equal(log.reasons().filter((r) => r === "origin_denied").length, 2);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses a hostile Origin even with a good Host", async () => {
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    const res = await rawRequest(server.address, {
      host: `localhost:${port}`,
      origin: "http://evil.example.com",
    });
    const message =
      `Origin header "http://evil.example.com" is not allowed: not this server's origin nor one of allowedOrigins`;
    assertRefused(res, message);
    assertLoggedOnce(log, message);
    await assertGoodClientServed(server.url);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses Origin: null", async () => {
  const { server, log } = await startServer(fx);
  try {
    const res = await rawRequest(server.address, {
      host: `127.0.0.1:${server.address.port}`,
      origin: "null",
    });
    const message =
      'Origin header "null" is not allowed: opaque origins (sandboxed frames, file: pages) are always refused';
    assertRefused(res, message);
    assertLoggedOnce(log, message);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses a hostile Host on any path: 403 before 404", async () => {
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    assertRefused(
      await rawRequest(server.address, { host: "evil.example.com" }, { path: "/nope" }),
      `Host header "evil.example.com" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
    const good = await rawRequest(server.address, { host: `localhost:${port}` }, { path: "/nope" });
    assert.equal(good.status, 404);
    assert.equal(log.reasons().filter((r) => r === "origin_denied").length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses a request with two Host headers or none", async () => {
  const { server } = await startServer(fx);
  try {
    const { port } = server.address;
    // Written by hand: a header object cannot hold the same name twice.
    const two = await rawRequest(server.address, {
      host: `localhost:${port}\r\nhost: evil.example.com`,
    });
    assertRefused(two, "Host header appears 2 times: expected one");
    // HTTP/1.1 requires Host: the runtime's HTTP parser answers 400 before serveMcp sees it.
    const none = await rawRequest(server.address, {});
    assert.equal(none.status, 400);
    await assertGoodClientServed(server.url);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() accepts its own origin, and a request without Origin", async () => {
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    const withOrigin = await rawPost(fx, server.url, fx.alice, INITIALIZE, {
      origin: `https://localhost:${port}`,
    });
    assert.equal(withOrigin.status, 200, withOrigin.text);
    // Host names compare case-insensitively, as DNS does.
    const upper = await rawRequest(server.address, {
      host: `LOCALHOST:${port}`,
      origin: `https://LocalHost:${port}`,
    });
    assert.equal(upper.status, 200, upper.body);
    const noOrigin = await rawRequest(server.address, { host: `127.0.0.1:${port}` });
    assert.equal(noOrigin.status, 200, noOrigin.body);
    assert.deepEqual(log.reasons(), []);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() on the IPv6 loopback accepts [::1] and the loopback names, not others", async () => {
  const { server, log } = await startServer(fx, { hostname: "::1" });
  try {
    const { port } = server.address;
    for (const host of [`[::1]:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]) {
      const res = await rawRequest(server.address, { host, origin: `https://[::1]:${port}` });
      assert.equal(res.status, 200, `${host}: ${res.body}`);
    }
    assertRefused(
      await rawRequest(server.address, { host: `[::2]:${port}` }),
      `Host header "[::2]:${port}" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
    assertLoggedOnce(
      log,
      `Host header "[::2]:${port}" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() accepts configured extra hosts and origins", async () => {
  const { server, log } = await startServer(fx, {
    allowedHosts: ["mcp.example.com:443", "Alt.Example.com"],
    allowedOrigins: ["https://app.example.com"],
  });
  try {
    const { port } = server.address;
    // Behind a proxy on 443: the browser sends no port.
    const proxied = await rawRequest(server.address, {
      host: "mcp.example.com",
      origin: "https://mcp.example.com",
    });
    assert.equal(proxied.status, 200, proxied.body);
    // A bare configured name means the server's own port.
    const alt = await rawRequest(server.address, {
      host: `alt.example.com:${port}`,
      origin: "https://app.example.com",
    });
    assert.equal(alt.status, 200, alt.body);
    assertRefused(
      await rawRequest(server.address, { host: "alt.example.com" }),
      `Host header "alt.example.com" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
    assertLoggedOnce(
      log,
      `Host header "alt.example.com" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`,
    );
    assert.ok(!log.records.some((r) => r.level === "warn" && /allowed(Hosts|Origins)/.test(r.msg)));
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() takes * only when configured, and warns about it at start", async () => {
  const { server, log } = await startServer(fx, { allowedHosts: ["*"] });
  try {
    const warnings = log.records.filter((r) => r.level === "warn" && /allowedHosts/.test(r.msg));
    assert.equal(warnings.length, 1);
    assert.equal(
      warnings[0].msg,
      'allowedHosts has "*": requests with any Host header are accepted (no DNS-rebinding protection by Host)',
    );
    const evilHost = await rawRequest(server.address, { host: "evil.example.com" });
    assert.equal(evilHost.status, 200, evilHost.body);
    // Origins stay checked: "*" in allowedHosts does not widen them.
    assertRefused(
      await rawRequest(server.address, {
        host: "evil.example.com",
        origin: "https://evil.example.com",
      }),
      'Origin header "https://evil.example.com" is not allowed: not this server\'s origin nor one of allowedOrigins',
    );
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() accepts the names of a certificate installed by reloadTls()", async () => {
  const { issueCertificate } = await import("../../src/pki/mod.ts");
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    const host = `mcp.example.com:${port}`;
    const message =
      `Host header "${host}" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`;
    assertRefused(await rawRequest(server.address, { host }), message);
    const renewed = await issueCertificate(fx.caAsClient.bundle, "server", {
      commonName: "localhost",
      subjectAltNames: "dns:localhost,ip:127.0.0.1,dns:mcp.example.com",
      exportable: true,
    });
    // serveMcp() returns an ObservableMcpServer; startServer() types it by the narrower interface.
    await (server as ObservableMcpServer).reloadTls({
      cert: renewed.certificatePem,
      key: renewed.privateKeyPem!,
    });
    const after = await rawRequest(server.address, { host, origin: `https://${host}` });
    assert.equal(after.status, 200, after.body);
    assertLoggedOnce(log, message);
  } finally {
    await server.close();
  }
});

Deno.test("resolveServeOptions() refuses an allowedOrigins entry that is not an origin", () => {
  const tlsOptions = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  assert.throws(
    () => resolveServeOptions({ tls: tlsOptions, allowedOrigins: ["app.example.com"] }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, "allowedOrigins");
      assert.equal(
        e.message,
        'Option "allowedOrigins" has "app.example.com": expected an origin, http(s)://host[:port] with no path (like "https://app.example.com"), or "*"',
      );
      return true;
    },
  );
  assert.throws(
    () => resolveServeOptions({ tls: tlsOptions, allowedHosts: ["https://mcp.example.com"] }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(
        e.message,
        'Option "allowedHosts" has "https://mcp.example.com": expected a host or host:port (like "mcp.example.com:8443" or "[::1]:8443"), "*.domain", or "*"',
      );
      return true;
    },
  );
  assert.throws(
    () => resolveServeOptions({ tls: tlsOptions, allowedOrigins: ["null"] }),
    /expected a real origin: "null" \(sandboxed frames, file: pages\) is always refused/,
  );
});

Deno.test("config: allowedHosts and allowedOrigins come from the file and MCP_MTLS_* variables", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-origin-config-" });
  try {
    const file = `${dir}/mcp-mtls.yaml`;
    await Deno.writeTextFile(
      file,
      [
        `tls: { cert: ${fx.server.certFile}, key: ${fx.server.keyFile}, ca: ${fx.caFile} }`,
        "allowedHosts: [mcp.example.com:443]",
        "allowedOrigins:",
        "  - https://app.example.com",
        "  - app.example.com",
      ].join("\n"),
    );
    await assert.rejects(loadServeConfig({ file }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, "allowedOrigins.1");
      assert.equal(
        e.message,
        `Config key "allowedOrigins.1" is "app.example.com": expected an origin, http(s)://host[:port] with no path (like "https://app.example.com"), or "*" (in config file "${file}")`,
      );
      return true;
    });
    await assert.rejects(
      loadServeConfig({ file, env: { MCP_MTLS_ALLOWED_HOSTS: "ok.example.com, bad/path" } }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(
          e.message,
          'Config key "allowedHosts.1" is "bad/path": expected a host or host:port (like "mcp.example.com:8443" or "[::1]:8443"), "*.domain", or "*" (from environment variable MCP_MTLS_ALLOWED_HOSTS)',
        );
        return true;
      },
    );
    const config = await loadServeConfig({
      file,
      env: {
        MCP_MTLS_ALLOWED_ORIGINS: "https://app.example.com, https://b.example.com:8443",
        MCP_MTLS_ALLOWED_HOSTS: "[::1]:9443",
      },
    });
    assert.deepEqual(config.allowedHosts, ["[::1]:9443"]);
    assert.deepEqual(config.allowedOrigins, [
      "https://app.example.com",
      "https://b.example.com:8443",
    ]);
    const options = await serveOptionsFromConfig(config, { logger: silentLogger, env: {} });
    assert.deepEqual(options.allowedHosts, ["[::1]:9443"]);
    assert.deepEqual(options.allowedOrigins, config.allowedOrigins);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the SDK client (connectMcpClient) works with the default host check", async () => {
  const { server, log } = await startServer(fx);
  try {
    for (const url of [server.url, server.url.replace("127.0.0.1", "localhost")]) {
      const client = await connectMcpClient(url, {
        ca: fx.ca,
        cert: fx.alice.cert,
        key: fx.alice.key,
        logger: collectingLogger(),
      });
      try {
        const result = await client.callTool({ name: "whoami", arguments: {} });
        assert.match(JSON.stringify(result), /spiffe:\/\/example\.org\/agent/);
      } finally {
        await client.close();
      }
    }
    assert.deepEqual(log.reasons(), []);
  } finally {
    await server.close();
  }
});

Deno.test("curl without Origin is served; curl with a forged Host is refused", async () => {
  const { server, log } = await startServer(fx);
  try {
    const curl = (...extra: string[]) =>
      run("curl", [
        "-sS",
        "--cacert",
        fx.caFile,
        "--cert",
        fx.alice.certFile,
        "--key",
        fx.alice.keyFile,
        "-H",
        "content-type: application/json",
        "-H",
        "accept: application/json, text/event-stream",
        "--data",
        JSON.stringify(INITIALIZE),
        "-w",
        "\\n%{http_code}",
        ...extra,
        server.url,
      ]);
    const good = await curl();
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /\n200$/);
    const forged = await curl("-H", "Host: evil.example.com");
    assert.equal(forged.code, 0, forged.stderr);
    assert.match(forged.stdout, /"reason":"origin_denied"/);
    assert.match(forged.stdout, /\n403$/);
    assertLoggedOnce(
      log,
      `Host header "evil.example.com" is not allowed: not one of this server's names on port ${server.address.port} (see allowedHosts)`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("serveStdioMcp() (serve -- CMD) refuses a hostile Host before any child starts", async () => {
  const { server, log } = await startBridge(fx);
  try {
    const { port } = server.address;
    const message =
      `Host header "evil.example.com:${port}" is not allowed: not one of this server's names on port ${port} (see allowedHosts)`;
    assertRefused(
      await rawRequest(server.address, { host: `evil.example.com:${port}` }),
      message,
    );
    assertLoggedOnce(log, message);
    assert.equal(server.sessionCount, 0);
    await assertGoodClientServed(server.url);
  } finally {
    await server.close();
  }
});

Deno.test("compileHostCheck() on every interface allows the certificate's names only", () => {
  const check = compileHostCheck({
    hostname: "0.0.0.0",
    port: () => 8443,
    cert: fx.server.cert, // dns:localhost, ip:127.0.0.1
  });
  assert.deepEqual(check.hosts, ["localhost:8443", "127.0.0.1:8443"]);
  const verdict = (host: string, origin?: string) =>
    check.check(["Host", host, ...(origin ? ["Origin", origin] : [])])?.message;
  assert.equal(verdict("localhost:8443"), undefined);
  assert.equal(verdict("127.0.0.1:8443", "https://localhost:8443"), undefined);
  // 0.0.0.0 is not a name: browsers reaching it ("0.0.0.0 day") are refused.
  assert.match(verdict("0.0.0.0:8443")!, /^Host header "0\.0\.0\.0:8443" is not allowed/);
  assert.match(verdict("[::1]:8443")!, /is not allowed/);
  assert.match(verdict("localhost:8443", "https://localhost:8443/")!, /not an origin/);
  assert.match(verdict("localhost:8443", "http://localhost:8443")!, /is not allowed/);
  assert.equal(verdict("localhost.:8443"), undefined);
  assert.equal(
    check.check(["Origin", "https://localhost:8443"])?.message,
    "Host header is missing",
  );
  // The WHATWG URL parser's canonical forms, as browsers write them.
  const loopback = compileHostCheck({ hostname: "::1", port: () => 8443, cert: fx.server.cert });
  assert.equal(loopback.check(["host", "[0:0:0:0:0:0:0:1]:8443"]), undefined);
  assert.equal(loopback.check(["host", "[::1]:8443", "origin", "https://[::1]:8443"]), undefined);
});

Deno.test("compileHostCheck() matches a wildcard certificate name on one label only", async () => {
  const { createRootCa, issueCertificate } = await import("../../src/pki/mod.ts");
  const ca = await createRootCa({ commonName: "Wildcard CA" });
  const cert = await issueCertificate(ca, "server", {
    commonName: "wild",
    subjectAltNames: "dns:*.mcp.example.com",
  });
  const check = compileHostCheck({ hostname: "::", port: () => 443, cert: cert.certificatePem });
  const ok = (host: string) => check.check(["host", host]) === undefined;
  assert.ok(ok("a.mcp.example.com"));
  assert.ok(ok("A.MCP.example.com:443"));
  assert.ok(!ok("mcp.example.com"));
  assert.ok(!ok("a.b.mcp.example.com"));
  assert.ok(!ok("evil-mcp.example.com"));
  assert.equal(check.warnings.length, 0);
});

Deno.test("compileHostCheck() warns when no Host at all can match", () => {
  // bob's certificate names a SPIFFE ID only: no DNS or IP name a client could use.
  const check = compileHostCheck({ hostname: "0.0.0.0", port: () => 8443, cert: fx.bob.cert });
  assert.deepEqual(check.hosts, []);
  assert.deepEqual(check.warnings, [
    "No Host header can match: the server listens on every interface and its certificate has no DNS or IP names; set allowedHosts",
  ]);
  assert.match(check.check(["host", "localhost:8443"])!.message, /is not allowed/);
});
