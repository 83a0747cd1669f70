/**
 * Bound tokens in front of the two other servers: the gateway (checked
 * before anything is forwarded; the client's `Authorization` header not
 * passed upstream unless `forwardAuthorization`) and the stdio bridge.
 */
import assert from "node:assert/strict";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { inSession, openSessionWith, startGatewayWith } from "./_servers.ts";
import { startUpstream } from "../gateway/_upstream.ts";
import { startBridge } from "../bridge/_helpers.ts";
import {
  authOptions,
  boundToken,
  initializeWith,
  invalidChallenge,
  jwksOf,
  signingKey,
} from "./_tokens.ts";

const fx: Fixtures = await makeFixtures();
const key = await signingKey("k1");
const jwks = jwksOf(key);

Deno.test("gateway: a stolen token is refused token_binding_mismatch and nothing reaches the upstream", async () => {
  const upstream = await startUpstream();
  const { gateway } = await startGatewayWith(fx, upstream.url, { auth: authOptions(jwks) });
  try {
    const token = await boundToken(key, fx.alice);
    const r = await initializeWith(fx, gateway.url, fx.bob, token);
    assert.equal(r.status, 401);
    assert.equal(r.reason, "token_binding_mismatch");
    assert.equal(r.challenge, invalidChallenge("Token is bound to another client certificate"));
    const none = await initializeWith(fx, gateway.url, fx.alice, undefined);
    assert.equal(none.reason, "token_missing");
    assert.equal(upstream.log.length, 0);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("gateway: a bound token goes through, and its Authorization header stays at the gateway", async () => {
  const upstream = await startUpstream();
  const authorization = {
    rules: [
      { identity: "cn:alice", tools: ["echo"] },
      { identity: "cn:alice", tools: ["secret"], scopes: ["mcp:secret"] },
    ],
  };
  const { gateway } = await startGatewayWith(fx, upstream.url, {
    auth: authOptions(jwks),
    authorization,
  });
  try {
    const token = await boundToken(key, fx.alice);
    const session = await openSessionWith(fx, gateway.url, fx.alice, token);
    const echo = {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "echo", arguments: { text: "hi" } },
    };
    const ok = await initializeWith(fx, gateway.url, fx.alice, token, echo, inSession(session));
    assert.equal(ok.status, 200);
    assert.match(ok.text, /"hi"/);
    assert.ok(upstream.log.length > 0);
    assert.ok(upstream.log.every((r) => r.headers.authorization === undefined));
    const secret = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "secret" } };
    const denied = await initializeWith(
      fx,
      gateway.url,
      fx.alice,
      token,
      secret,
      inSession(session),
    );
    assert.equal(denied.status, 403);
    assert.equal(denied.reason, "insufficient_scope");
    assert.match(denied.challenge ?? "", /error="insufficient_scope", scope="mcp:secret"/);
    assert.ok(!upstream.messages().some((m) => (m.params as { name?: string })?.name === "secret"));
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("gateway: forwardAuthorization passes the client's token upstream", async () => {
  const upstream = await startUpstream();
  const { gateway } = await startGatewayWith(fx, upstream.url, {
    auth: authOptions(jwks, { forwardAuthorization: true }),
  });
  try {
    const token = await boundToken(key, fx.alice);
    assert.equal((await initializeWith(fx, gateway.url, fx.alice, token)).status, 200);
    assert.equal(upstream.log[0].headers.authorization, `Bearer ${token}`);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("stdio bridge: no token, a stolen token and a bound one", async () => {
  const { server } = await startBridge(fx, { auth: authOptions(jwks) });
  try {
    const token = await boundToken(key, fx.alice);
    const none = await initializeWith(fx, server.url, fx.alice, undefined);
    assert.equal(none.status, 401);
    assert.equal(none.reason, "token_missing");
    const stolen = await initializeWith(fx, server.url, fx.bob, token);
    assert.equal(stolen.reason, "token_binding_mismatch");
    const session = await openSessionWith(fx, server.url, fx.alice, token);
    const echo = {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "echo", arguments: { text: "bridged" } },
    };
    const ok = await initializeWith(fx, server.url, fx.alice, token, echo, inSession(session));
    assert.equal(ok.status, 200);
    assert.match(ok.text, /bridged/);
  } finally {
    await server.close();
  }
});
