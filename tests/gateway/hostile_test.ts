/**
 * The gateway against hostile clients: replayed sessions, forged identity
 * headers and `_meta`, denied tools/resources/prompts. Every assertion on
 * what was stopped is made on the upstream's own request log.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readCertificate } from "../../src/cert/certificate.ts";
import { makeFixtures } from "../server/_fixtures.ts";
import { call, inSession, openSession, post, startGateway } from "./_gateway.ts";
import { startUpstream } from "./_upstream.ts";

const fx = await makeFixtures();
const ALICE_LABEL = "spiffe://example.org/agent";

function sessionRequests(upstream: { log: { headers: Record<string, unknown> }[] }, id: string) {
  return upstream.log.filter((r) => r.headers["mcp-session-id"] === id).length;
}

Deno.test("serveGateway() refuses another certificate's session before the upstream sees it", async () => {
  const upstream = await startUpstream();
  const { gateway, log } = await startGateway(fx, upstream.url);
  try {
    const id = await openSession(fx, gateway.url, fx.alice);
    const seenBefore = sessionRequests(upstream, id);
    const r = await post(
      fx,
      gateway.url,
      fx.bob,
      call(7, "tools/call", {
        name: "echo",
        arguments: { text: "hi" },
      }),
      inSession(id),
    );
    assert.equal(r.status, 403);
    assert.deepEqual(r.messages[0].error, {
      code: -32001,
      message: `Session "${id}" belongs to another client certificate`,
      data: { reason: "identity_denied" },
    });
    assert.equal(
      sessionRequests(upstream, id),
      seenBefore,
      "the upstream saw the replayed session",
    );
    const refused = log.records.filter((x) => x.msg === "request refused");
    assert.equal(refused.length, 1);
    assert.equal(refused[0].level, "warn");
    assert.equal(refused[0].fields.reason, "identity_denied");
    assert.match(String(refused[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    // The owner is still served.
    const ok = await post(
      fx,
      gateway.url,
      fx.alice,
      call(8, "tools/call", {
        name: "echo",
        arguments: { text: "still mine" },
      }),
      inSession(id),
    );
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.messages[0].result, { content: [{ type: "text", text: "still mine" }] });
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("serveGateway() answers 404 for a session it never opened, without asking the upstream", async () => {
  const upstream = await startUpstream();
  const { gateway } = await startGateway(fx, upstream.url);
  try {
    const r = await post(fx, gateway.url, fx.alice, call(1, "tools/list"), inSession("made-up"));
    assert.equal(r.status, 404);
    assert.equal((r.messages[0].error as { message: string }).message, "Session not found");
    assert.equal(upstream.log.length, 0);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("serveGateway() replaces forged Client-Cert, identity headers and _meta identity with the caller's", async () => {
  const upstream = await startUpstream();
  const { gateway } = await startGateway(fx, upstream.url);
  try {
    const forged = {
      "client-cert": `:${Buffer.from(readCertificate(fx.bob.cert).der).toString("base64")}:`,
      "client-cert-chain": ":Zm9yZ2Vk:",
      "mcp-mtls-identity": "cn:root",
      "x-forwarded-client-cert": 'Hash=00;Subject="CN=root"',
      "x-forwarded-for": "10.9.9.9",
      // The header workers use between themselves for a verified caller (src/workers/session_forward.ts).
      "x-mcp-mtls-forwarded-peer": '{"peer":"10.9.9.9:1","trusted":true}',
    };
    const id = await openSession(fx, gateway.url, fx.alice);
    const r = await post(fx, gateway.url, fx.alice, {
      jsonrpc: "2.0",
      id: 5,
      method: "tools/call",
      params: {
        name: "identity",
        arguments: {},
        _meta: { "io.github.mcp-mtls/identity": { commonName: "root", fingerprint: "00" } },
      },
    }, { ...inSession(id), ...forged });
    assert.equal(r.status, 200);
    const seen = upstream.log.find((x) => (x.body as { id?: number })?.id === 5)!;
    const aliceDer = readCertificate(fx.alice.cert).der;
    assert.equal(seen.headers["client-cert"], `:${Buffer.from(aliceDer).toString("base64")}:`);
    // The chain as the TLS stack linked it: alice sent no intermediates, so the CA alone.
    const caDer = readCertificate(fx.ca).der;
    assert.equal(seen.headers["client-cert-chain"], `:${Buffer.from(caDer).toString("base64")}:`);
    assert.equal(seen.headers["mcp-mtls-identity"], ALICE_LABEL);
    assert.equal(seen.headers["x-forwarded-client-cert"], undefined);
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen.headers["x-mcp-mtls-forwarded-peer"], undefined);
    const meta = (seen.body as { params: { _meta: Record<string, { commonName?: string }> } })
      .params._meta["io.github.mcp-mtls/identity"];
    assert.equal(meta.commonName, "alice");
    const shown = JSON.parse(
      (r.messages[0].result as { content: { text: string }[] }).content[0].text,
    );
    assert.equal(shown.commonName, "alice");
    assert.equal(shown.spiffeId, ALICE_LABEL);
    // Every request the upstream got carried the real certificate, the initialize included.
    for (const x of upstream.log) {
      assert.equal(x.headers["client-cert"], `:${Buffer.from(aliceDer).toString("base64")}:`);
    }
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("serveGateway() never forwards a denied tool, resource, template completion or prompt", async () => {
  const upstream = await startUpstream();
  const { gateway, log } = await startGateway(fx, upstream.url, {
    authorization: {
      rules: [{
        identity: "cn:alice",
        tools: ["echo"],
        resources: ["file:///public/*"],
        prompts: ["greeting"],
      }],
    },
  });
  try {
    const id = await openSession(fx, gateway.url, fx.alice);
    const denied: [string, Record<string, unknown>, string][] = [
      ["tools/call", { name: "secret", arguments: {} }, 'Tool "secret"'],
      ["resources/read", { uri: "file:///secret/key" }, 'Resource "file:///secret/key"'],
      ["resources/subscribe", { uri: "file:///secret/key" }, 'Resource "file:///secret/key"'],
      ["resources/read", { uri: "file:///secret/files/x" }, 'Resource "file:///secret/files/x"'],
      ["prompts/get", { name: "secret-prompt" }, 'Prompt "secret-prompt"'],
      [
        "completion/complete",
        { ref: { type: "ref/prompt", name: "secret-prompt" }, argument: { name: "a", value: "" } },
        'Prompt "secret-prompt"',
      ],
    ];
    let n = 100;
    for (const [method, params, what] of denied) {
      const before = upstream.log.length;
      const r = await post(fx, gateway.url, fx.alice, call(++n, method, params), inSession(id));
      assert.equal(r.status, 403, method);
      assert.deepEqual(r.messages[0], {
        jsonrpc: "2.0",
        id: n,
        error: {
          code: -32001,
          message: `${what} is not allowed for ${ALICE_LABEL}`,
          data: { reason: "identity_denied" },
        },
      });
      assert.equal(upstream.log.length, before, `${method} reached the upstream`);
    }
    // A batch with one denied request is refused whole.
    const before = upstream.log.length;
    const batch = await post(fx, gateway.url, fx.alice, [
      call(200, "tools/call", { name: "echo", arguments: { text: "x" } }),
      call(201, "prompts/get", { name: "secret-prompt" }),
    ], inSession(id));
    assert.equal(batch.status, 403);
    assert.equal(upstream.log.length, before);
    assert.equal(
      log.records.filter((x) =>
        x.msg === "request refused" && x.fields.reason === "identity_denied"
      )
        .length,
      denied.length + 1,
    );
    // Lists show only what alice may use.
    const names = async (method: string, key: string, field: string) => {
      const r = await post(fx, gateway.url, fx.alice, call(++n, method), inSession(id));
      return (r.messages[0].result as Record<string, { [k: string]: string }[]>)[key]
        .map((x) => x[field]).sort();
    };
    assert.deepEqual(await names("tools/list", "tools", "name"), ["echo"]);
    assert.deepEqual(await names("resources/list", "resources", "uri"), ["file:///public/readme"]);
    assert.deepEqual(
      await names("resources/templates/list", "resourceTemplates", "uriTemplate"),
      ["file:///public/files/{name}"],
    );
    assert.deepEqual(await names("prompts/list", "prompts", "name"), ["greeting"]);
    // What is allowed still works.
    const read = await post(
      fx,
      gateway.url,
      fx.alice,
      call(++n, "resources/read", {
        uri: "file:///public/files/a",
      }),
      inSession(id),
    );
    assert.equal(
      (read.messages[0].result as { contents: { text: string }[] }).contents[0].text,
      "file a",
    );
    const prompt = await post(
      fx,
      gateway.url,
      fx.alice,
      call(++n, "prompts/get", {
        name: "greeting",
        arguments: { name: "bob" },
      }),
      inSession(id),
    );
    assert.equal(prompt.status, 200);
    // The upstream never saw a denied name.
    const seen = upstream.messages().map((m) => JSON.stringify(m.params ?? {}));
    for (const bad of ["secret-prompt", "file:///secret/", '"secret"']) {
      assert.ok(!seen.some((s) => s.includes(bad)), `the upstream saw ${bad}`);
    }
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("serveGateway() refuses a certificate that matches no rule everything, lists included", async () => {
  const upstream = await startUpstream();
  const { gateway } = await startGateway(fx, upstream.url, {
    authorization: {
      rules: [{ identity: "cn:alice", tools: ["*"], resources: ["*"], prompts: ["*"] }],
    },
  });
  try {
    const id = await openSession(fx, gateway.url, fx.bob);
    for (
      const [method, key] of [["tools/list", "tools"], ["resources/list", "resources"], [
        "prompts/list",
        "prompts",
      ]]
    ) {
      const r = await post(fx, gateway.url, fx.bob, call(1, method), inSession(id));
      assert.deepEqual((r.messages[0].result as Record<string, unknown[]>)[key], [], method);
    }
    const r = await post(
      fx,
      gateway.url,
      fx.bob,
      call(2, "resources/read", { uri: "file:///public/readme" }),
      inSession(id),
    );
    assert.equal(r.status, 403);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("serveGateway() holds each identity to maxSessionsPerIdentity, ending evicted sessions upstream", async () => {
  const upstream = await startUpstream();
  const { gateway, log } = await startGateway(fx, upstream.url, {
    limits: { maxSessionsPerIdentity: 2 },
  });
  try {
    const first = await openSession(fx, gateway.url, fx.alice);
    await openSession(fx, gateway.url, fx.alice);
    await openSession(fx, gateway.url, fx.alice);
    assert.equal(gateway.sessionCount, 2);
    const evicted = log.records.find((x) => x.msg === "session evicted");
    assert.equal(evicted?.fields.session, first);
    // The upstream was told (DELETE), and the session is gone at the gateway.
    for (let i = 0; i < 100 && !upstream.log.some((x) => x.method === "DELETE"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const del = upstream.log.find((x) => x.method === "DELETE");
    assert.equal(del?.headers["mcp-session-id"], first);
    const r = await post(fx, gateway.url, fx.alice, call(1, "tools/list"), inSession(first));
    assert.equal(r.status, 404);
    // Bob has his own quota.
    await openSession(fx, gateway.url, fx.bob);
    assert.equal(gateway.sessionCount, 3);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});
