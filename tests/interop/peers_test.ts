/**
 * Real peers against serveMcp: curl, openssl s_client and a Node.js client,
 * all with OpenSSL underneath.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  parseMcpBody,
  run,
  startServer,
} from "../server/_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const NODE_CLIENT = fileURLToPath(new URL("./node_client.mjs", import.meta.url));
const NODE_RESUME_CLIENT = fileURLToPath(new URL("./node_resume_client.mjs", import.meta.url));

function curlInitialize(url: string, extra: string[]) {
  return run("curl", [
    "-sS",
    "--cacert",
    fx.caFile,
    ...extra,
    "-H",
    "content-type: application/json",
    "-H",
    "accept: application/json, text/event-stream",
    "-d",
    JSON.stringify(INITIALIZE),
    url,
  ]);
}

Deno.test("curl with a client certificate gets a JSON-RPC answer to initialize", async () => {
  const { server } = await startServer(fx);
  try {
    const r = await curlInitialize(server.url, [
      "--cert",
      fx.alice.certFile,
      "--key",
      fx.alice.keyFile,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const msg = parseMcpBody(r.stdout) as { id: number; result: { serverInfo: { name: string } } };
    assert.equal(msg.id, 1);
    assert.equal(msg.result.serverInfo.name, "mcp-mtls-demo");
  } finally {
    await server.close();
  }
});

for (const [version, flag] of [["1.3", "--tlsv1.3"], ["1.2", "--tls-max"]] as const) {
  Deno.test(`curl without a certificate (TLS ${version}) is refused at the handshake, logged as no_client_cert`, async () => {
    const { server, log } = await startServer(fx);
    try {
      const args = flag === "--tls-max" ? ["--tls-max", "1.2"] : [flag];
      const r = await curlInitialize(server.url, args);
      // 56: connection reset while reading (TLS 1.3: the client's handshake had already finished);
      // 35: handshake error; 52: empty reply. Never an HTTP response.
      assert.ok([35, 52, 56].includes(r.code), `curl exit ${r.code}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      const rec = await log.waitForReason("no_client_cert");
      assert.match(String(rec.fields.peer), /^127\.0\.0\.1:\d+$/);
    } finally {
      await server.close();
    }
  });
}

Deno.test("openssl s_client -tls1_1 is refused at the handshake with a handshake_failure alert", async () => {
  const { server, log } = await startServer(fx);
  try {
    const r = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${server.address.port}`,
      "-tls1_1",
      "-CAfile",
      fx.caFile,
    ], { stdin: "" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /alert handshake failure/);
    assert.match(r.stdout, /Cipher is \(NONE\)/);
    await log.waitForReason("protocol_version");
  } finally {
    await server.close();
  }
});

Deno.test("openssl s_client offering only CBC suites over TLS 1.2 is refused (protocol_version)", async () => {
  const { server, log } = await startServer(fx);
  try {
    const r = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${server.address.port}`,
      "-tls1_2",
      "-cipher",
      "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA",
      "-cert",
      fx.alice.certFile,
      "-key",
      fx.alice.keyFile,
      "-CAfile",
      fx.caFile,
    ], { stdin: "" });
    assert.notEqual(r.code, 0);
    const rec = await log.waitForReason("protocol_version");
    assert.match(String(rec.fields.detail), /NoCipherSuitesInCommon/);
  } finally {
    await server.close();
  }
});

Deno.test("a Node.js node:https client with a valid certificate succeeds", async () => {
  const { server } = await startServer(fx);
  try {
    const r = await run("node", [
      NODE_CLIENT,
      server.url,
      fx.caFile,
      fx.alice.certFile,
      fx.alice.keyFile,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^status 200 TLSv1\.3/);
    const msg = parseMcpBody(r.stdout.split("\n").slice(1).join("\n")) as { id: number };
    assert.equal(msg.id, 1);
  } finally {
    await server.close();
  }
});

Deno.test("a Node.js client with a certificate from another CA is refused (unknown_ca)", async () => {
  const { server, log } = await startServer(fx);
  try {
    const r = await run("node", [
      NODE_CLIENT,
      server.url,
      fx.caFile,
      fx.otherCaClient.certFile,
      fx.otherCaClient.keyFile,
    ]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    await log.waitForReason("unknown_ca");
  } finally {
    await server.close();
  }
});

for (const max of ["1.3", "1.2"]) {
  Deno.test(`a Node.js client resuming its TLS ${max} session is still identified and admitted`, async () => {
    const { server, log } = await startServer(fx);
    try {
      const r = await run("node", [
        ...(max === "1.2" ? ["--tls-max-v1.2"] : []),
        NODE_RESUME_CLIENT,
        server.url,
        fx.caFile,
        fx.alice.certFile,
        fx.alice.keyFile,
      ]);
      assert.deepStrictEqual(r.stdout.trim().split("\n"), [
        "status 200 reused=false",
        "status 200 reused=true",
        "status 200 reused=true",
      ]);
      assert.deepStrictEqual(log.reasons(), []);
      const opened = log.records.filter((x) => x.msg === "session opened");
      assert.equal(opened.length, 3);
      assert.ok(opened.every((x) => x.fields.client === "spiffe://example.org/agent"));
    } finally {
      await server.close();
    }
  });
}
