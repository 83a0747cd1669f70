/**
 * Token keys and answers fetched over https on 127.0.0.1: a JWKS server
 * trusted through a given CA (cached, refetched for a new `kid`, refused
 * when its certificate is not trusted or it is down: 503
 * `auth_unavailable`, never a verdict on the token), and RFC 7662
 * introspection of opaque tokens over mutual TLS (`tls_client_auth`), cached.
 */
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Agent, fetch as undiciFetch } from "undici";
import {
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  MCP_HEADERS,
  startServer,
} from "../server/_fixtures.ts";
import {
  boundToken,
  initializeWith,
  invalidChallenge,
  ISSUER,
  jwksOf,
  RESOURCE,
  signingKey,
  startJwksServer,
  thumbprintOf,
} from "./_tokens.ts";

const fx: Fixtures = await makeFixtures();
const k1 = await signingKey("k1");
const k2 = await signingKey("k2");

Deno.test("a JWKS over https is fetched once, kept, and fetched again for a new kid", async () => {
  let keys = jwksOf(k1);
  const jwksServer = await startJwksServer(fx, () => keys);
  const { server } = await startServer(fx, {
    auth: {
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      jwks: { url: jwksServer.url, ca: fx.ca, cooldownMs: 1 },
    },
  });
  try {
    const token = await boundToken(k1, fx.alice);
    assert.equal((await initializeWith(fx, server.url, fx.alice, token)).status, 200);
    assert.equal((await initializeWith(fx, server.url, fx.alice, token)).status, 200);
    assert.equal(jwksServer.fetches(), 1);
    // The authorization server rotates to k2: a k2 token makes the key set refetch.
    keys = jwksOf(k1, k2);
    await new Promise((r) => setTimeout(r, 5)); // past the 1 ms cooldown
    const rotated = await boundToken(k2, fx.alice);
    assert.equal((await initializeWith(fx, server.url, fx.alice, rotated)).status, 200);
    assert.equal(jwksServer.fetches(), 2);
  } finally {
    await server.close();
    await jwksServer.close();
  }
});

Deno.test("a JWKS server whose certificate is not trusted gives 503 auth_unavailable, cause logged", async () => {
  const jwksServer = await startJwksServer(fx, () => jwksOf(k1));
  const { server, log } = await startServer(fx, {
    auth: {
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      jwks: { url: jwksServer.url, ca: fx.otherCa },
    },
  });
  try {
    const r = await initializeWith(fx, server.url, fx.alice, await boundToken(k1, fx.alice));
    assert.equal(r.status, 503);
    assert.equal(r.reason, "auth_unavailable");
    assert.equal(r.message, "The authorization server's keys cannot be fetched; try again later");
    assert.equal(r.challenge, null);
    assert.equal(jwksServer.fetches(), 0);
    const logged = log.records.find((x) => x.msg === "token check failed");
    assert.ok(logged, "the cause is logged");
    assert.match(String(logged.fields.cause), /unknown_ca|certificate|CA/i);
  } finally {
    await server.close();
    await jwksServer.close();
  }
});

Deno.test("a JWKS server that is down gives 503 auth_unavailable", async () => {
  const jwksServer = await startJwksServer(fx, () => jwksOf(k1));
  const url = jwksServer.url;
  await jwksServer.close();
  const { server } = await startServer(fx, {
    auth: { resource: RESOURCE, authorizationServers: [ISSUER], jwks: { url, ca: fx.ca } },
  });
  try {
    const r = await initializeWith(fx, server.url, fx.alice, await boundToken(k1, fx.alice));
    assert.equal(r.status, 503);
    assert.equal(r.reason, "auth_unavailable");
  } finally {
    await server.close();
  }
});

/** An RFC 7662 endpoint requiring a client certificate; `answers` maps token → answer. */
async function startIntrospection(answers: Record<string, Record<string, unknown>>) {
  const seen: { token: string; clientId: string; peerCn?: string }[] = [];
  const server = https.createServer({
    cert: fx.server.cert,
    key: fx.server.key,
    ca: fx.ca,
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const form = new URLSearchParams(body);
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push({
        token: form.get("token") ?? "",
        clientId: form.get("client_id") ?? "",
        peerCn: peer?.subject?.CN as string | undefined,
      });
      const answer = answers[form.get("token") ?? ""] ?? { active: false };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/introspect`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

Deno.test("opaque tokens are introspected over mTLS (tls_client_auth), cached, and bound", async () => {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const x5t = await thumbprintOf(fx.alice);
  const as = await startIntrospection({
    "opaque-alice": {
      active: true,
      iss: ISSUER,
      aud: RESOURCE,
      sub: "alice",
      client_id: "agent-1",
      scope: "mcp:tools",
      exp,
      cnf: { "x5t#S256": x5t },
    },
    "opaque-other-aud": {
      active: true,
      iss: ISSUER,
      aud: "https://other.example",
      exp,
      cnf: { "x5t#S256": x5t },
    },
  });
  const { server } = await startServer(fx, {
    auth: {
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      introspection: {
        url: as.url,
        clientId: "mcp-server",
        cert: fx.alice.cert,
        key: fx.alice.key,
        ca: fx.ca,
      },
    },
  });
  try {
    assert.equal((await initializeWith(fx, server.url, fx.alice, "opaque-alice")).status, 200);
    assert.equal((await initializeWith(fx, server.url, fx.alice, "opaque-alice")).status, 200);
    assert.equal(as.seen.filter((s) => s.token === "opaque-alice").length, 1, "cached");
    assert.deepEqual(as.seen[0], {
      token: "opaque-alice",
      clientId: "mcp-server",
      peerCn: "alice",
    });
    // Stolen: bob presents alice's opaque token.
    const stolen = await initializeWith(fx, server.url, fx.bob, "opaque-alice");
    assert.equal(stolen.reason, "token_binding_mismatch");
    const inactive = await initializeWith(fx, server.url, fx.alice, "opaque-revoked");
    assert.equal(inactive.status, 401);
    assert.equal(inactive.challenge, invalidChallenge("Token is not active"));
    const aud = await initializeWith(fx, server.url, fx.alice, "opaque-other-aud");
    assert.equal(aud.message, `Token audience is not "${RESOURCE}"`);
  } finally {
    await server.close();
    await as.close();
  }
});

Deno.test("an opaque token revoked at the authorization server is refused once its cached answer ends, same connection", async () => {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const x5t = await thumbprintOf(fx.alice);
  const answers: Record<string, Record<string, unknown>> = {
    "opaque-1": { active: true, iss: ISSUER, exp, cnf: { "x5t#S256": x5t } },
  };
  const as = await startIntrospection(answers);
  let clock = Date.now();
  const { server } = await startServer(fx, {
    auth: {
      resource: RESOURCE,
      authorizationServers: [ISSUER],
      introspection: {
        url: as.url,
        clientId: "mcp-server",
        cert: fx.alice.cert,
        key: fx.alice.key,
        ca: fx.ca,
        cacheTtlMs: 1_000,
      },
      now: () => clock,
    },
  });
  // One kept-alive connection for every request.
  const agent = new Agent({
    connect: { ca: fx.ca, cert: fx.alice.cert, key: fx.alice.key },
    connections: 1,
  });
  const post = async () => {
    const res = await undiciFetch(server.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, authorization: "Bearer opaque-1" },
      body: JSON.stringify(INITIALIZE),
      dispatcher: agent,
    });
    await res.text();
    return res.status;
  };
  try {
    assert.equal(await post(), 200);
    answers["opaque-1"] = { active: false };
    assert.equal(await post(), 200, "the cached answer still holds");
    clock += 1_001;
    assert.equal(await post(), 401, "asked again: revoked");
    assert.equal(as.seen.length, 2);
  } finally {
    await agent.close();
    await server.close();
    await as.close();
  }
});
