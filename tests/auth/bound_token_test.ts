/**
 * Bound tokens on the in-process server (`serveMcp` with `auth`), over real
 * sockets: tokens signed in the test with jose, each refusal checked by
 * status, reason code, message and the exact `WWW-Authenticate` header.
 * Hostile cases first: no token, a stolen token on another certificate,
 * expired, another audience, another issuer, an unknown key, `alg: none`,
 * HS256, an unbound token, a missing scope.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SignJWT } from "jose";
import { Agent, fetch as undiciFetch } from "undici";
import {
  clientFetch,
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  MCP_HEADERS,
  rawPost,
  startServer,
} from "../server/_fixtures.ts";
import {
  authOptions,
  boundToken,
  initializeWith,
  invalidChallenge,
  ISSUER,
  jwksOf,
  METADATA_URL,
  noneToken,
  RESOURCE,
  signingKey,
  signToken,
} from "./_tokens.ts";

const fx: Fixtures = await makeFixtures();
const key = await signingKey("k1");
const unknown = await signingKey("k2");
const impostor = await signingKey("k1"); // another key claiming the issuer's kid
const jwks = jwksOf(key);
const now = () => Math.floor(Date.now() / 1000);

/** A server with bound tokens; `fn` gets its URL and log. */
async function withServer(
  fn: (url: string, log: Awaited<ReturnType<typeof startServer>>["log"]) => Promise<void>,
  extra: Parameters<typeof authOptions>[1] = {},
  options: Parameters<typeof startServer>[1] = {},
) {
  const { server, log } = await startServer(fx, { auth: authOptions(jwks, extra), ...options });
  try {
    await fn(server.url, log);
  } finally {
    await server.close();
  }
}

/** Calls whoami with the SDK client presenting `cred` and `token`. */
async function whoami(
  url: string,
  cred: Credential,
  token: string,
): Promise<Record<string, unknown>> {
  const fetch = clientFetch(fx, cred);
  const client = new Client({ name: "auth-test", version: "1.0.0" });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        fetch,
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const result = await client.callTool({ name: "whoami", arguments: {} });
    const text = (result.content as { type: string; text: string }[])[0].text;
    return JSON.parse(text);
  } finally {
    await client.close();
    await fetch.close();
  }
}

Deno.test("a request without a token gets 401 token_missing with only resource_metadata", async () => {
  await withServer(async (url, log) => {
    const r = await initializeWith(fx, url, fx.alice, undefined);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, `Bearer resource_metadata="${METADATA_URL}"`);
    assert.equal(r.reason, "token_missing");
    assert.equal(r.message, "A bearer token is required");
    assert.ok(log.reasons().includes("token_missing"));
    // Another scheme is no bearer token either (RFC 6750 §3.1).
    const basic = await rawPost(fx, url, fx.alice, INITIALIZE, { authorization: "Basic YTpi" });
    assert.equal(basic.status, 401);
    assert.equal(
      basic.headers.get("www-authenticate"),
      `Bearer resource_metadata="${METADATA_URL}"`,
    );
  });
});

Deno.test("a token stolen from alice and sent with bob's certificate is refused token_binding_mismatch", async () => {
  const token = await boundToken(key, fx.alice);
  await withServer(async (url) => {
    const r = await initializeWith(fx, url, fx.bob, token);
    assert.equal(r.status, 401);
    assert.equal(r.reason, "token_binding_mismatch");
    assert.equal(r.message, "Token is bound to another client certificate");
    assert.equal(r.challenge, invalidChallenge("Token is bound to another client certificate"));
    // The owner, on the same server, is admitted.
    assert.equal((await initializeWith(fx, url, fx.alice, token)).status, 200);
    // Once verified for alice (and remembered), it is still bob's certificate that decides.
    const again = await initializeWith(fx, url, fx.bob, token);
    assert.equal(again.reason, "token_binding_mismatch");
  });
});

Deno.test("a token bound to a certificate is refused for a client with no certificate", async () => {
  const token = await boundToken(key, fx.alice);
  await withServer(
    async (url) => {
      const r = await initializeWith(fx, url, undefined, token);
      assert.equal(r.status, 401);
      assert.equal(r.reason, "token_binding_mismatch");
      assert.equal(r.message, "Token is bound to a client certificate, and none was presented");
    },
    {},
    { tls: { clientAuth: "optional" } },
  );
});

const refusals: [string, () => Promise<string>, string][] = [
  ["expired", () => boundToken(key, fx.alice, { exp: now() - 120 }), "Token has expired"],
  [
    "for another audience",
    () => boundToken(key, fx.alice, { aud: "https://other.example/mcp" }),
    `Token audience is not \\"${RESOURCE}\\"`,
  ],
  [
    "from another issuer",
    () => boundToken(key, fx.alice, { iss: "https://evil.example" }),
    'Token issuer \\"https://evil.example\\" is not accepted',
  ],
  ["signed by an unknown key", () => signedBy(unknown), "Token signing key is unknown"],
  [
    "signed by a key posing as a known kid",
    () => signedBy(impostor),
    "Token signature does not verify",
  ],
  ["with alg none", () => noneToken(fx.alice), 'Token algorithm \\"none\\" is not accepted'],
  ["signed HS256", () => hsToken(), 'Token algorithm \\"HS256\\" is not accepted'],
  ["without exp", () => boundToken(key, fx.alice, { exp: undefined }), "Token has no expiry (exp)"],
  [
    "not valid yet",
    () => boundToken(key, fx.alice, { nbf: now() + 600 }),
    "Token is not valid yet",
  ],
  ["not a JWT", () => Promise.resolve("opaque-token-value"), "Token is not a valid signed JWT"],
];

async function signedBy(k: typeof key): Promise<string> {
  return await boundToken(k, fx.alice);
}

async function hsToken(): Promise<string> {
  // A symmetric key is what an attacker would try with the public JWK as the secret.
  const secret = new TextEncoder().encode(JSON.stringify(key.jwk));
  return await new SignJWT({ sub: "alice", scope: "mcp:tools" }).setProtectedHeader({
    alg: "HS256",
    kid: "k1",
  }).setIssuer(ISSUER).setAudience(RESOURCE).setExpirationTime(now() + 3600).sign(secret);
}

for (const [what, make, description] of refusals) {
  Deno.test(`a token ${what} gets 401 invalid_token with the exact challenge`, async () => {
    const token = await make();
    await withServer(async (url) => {
      const r = await initializeWith(fx, url, fx.alice, token);
      assert.equal(r.status, 401);
      assert.equal(r.reason, "invalid_token");
      assert.equal(r.message, description.replaceAll('\\"', '"'));
      assert.equal(r.challenge, invalidChallenge(description));
    });
  });
}

Deno.test("an unbound token is refused token_unbound by default, accepted with requireBinding false", async () => {
  const token = await signToken(key);
  await withServer(async (url) => {
    const r = await initializeWith(fx, url, fx.alice, token);
    assert.equal(r.status, 401);
    assert.equal(r.reason, "token_unbound");
    assert.equal(r.message, 'Token is not bound to a client certificate (no cnf "x5t#S256")');
    assert.equal(
      r.challenge,
      invalidChallenge('Token is not bound to a client certificate (no cnf \\"x5t#S256\\")'),
    );
  });
  await withServer(async (url, log) => {
    assert.equal((await initializeWith(fx, url, fx.alice, token)).status, 200);
    assert.ok(
      log.records.some((r) =>
        r.level === "warn" && r.msg.startsWith("Bound tokens are not required")
      ),
    );
  }, { requireBinding: false });
});

Deno.test("a token without the tool's scope gets 403 insufficient_scope naming the scope", async () => {
  const token = await boundToken(key, fx.alice, { scope: "mcp:tools" });
  const authorization = {
    rules: [
      { identity: "cn:alice", tools: ["whoami", "echo"] },
      { identity: "cn:alice", tools: ["time"], scopes: ["mcp:admin"] },
    ],
  };
  await withServer(
    async (url) => {
      const call = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "time" } };
      const r = await initializeWith(fx, url, fx.alice, token, call);
      assert.equal(r.status, 403);
      assert.equal(r.reason, "insufficient_scope");
      assert.equal(r.message, 'Tool "time" needs scope "mcp:admin"');
      assert.equal(
        r.challenge,
        `Bearer resource_metadata="${METADATA_URL}", error="insufficient_scope", scope="mcp:admin", error_description="Tool \\"time\\" needs scope \\"mcp:admin\\""`,
      );
      // A tool no rule grants alice at all stays identity_denied.
      const other = { ...call, params: { name: "rm" } };
      assert.equal(
        (await initializeWith(fx, url, fx.alice, token, other)).reason,
        "identity_denied",
      );
      // With the scope, the same call goes through.
      const admin = await boundToken(key, fx.alice, { scope: "mcp:tools mcp:admin" });
      assert.equal((await initializeWith(fx, url, fx.alice, admin, call)).status, 200);
    },
    {},
    { authorization, sessions: "stateless" },
  );
});

Deno.test("rules can match the token's sub and client_id as well as the certificate", async () => {
  const authorization = {
    rules: [{ identity: "cn:alice", tools: ["*"], sub: "alice", clientId: "agent-*" }],
  };
  const call = {
    jsonrpc: "2.0",
    id: 3,
    method: "tools/call",
    params: { name: "echo", arguments: { text: "x" } },
  };
  await withServer(
    async (url) => {
      const ok = await boundToken(key, fx.alice);
      assert.equal((await initializeWith(fx, url, fx.alice, ok, call)).status, 200);
      const otherSub = await boundToken(key, fx.alice, { sub: "mallory" });
      assert.equal(
        (await initializeWith(fx, url, fx.alice, otherSub, call)).reason,
        "identity_denied",
      );
      const otherClient = await boundToken(key, fx.alice, { client_id: "evil" });
      assert.equal(
        (await initializeWith(fx, url, fx.alice, otherClient, call)).reason,
        "identity_denied",
      );
    },
    {},
    { authorization, sessions: "stateless" },
  );
});

Deno.test("a bound token with the right certificate reaches the tool: whoami shows token and identity", async () => {
  const token = await boundToken(key, fx.alice, { scope: "mcp:tools mcp:read" });
  await withServer(async (url) => {
    const me = await whoami(url, fx.alice, token);
    assert.equal(me.clientId, "agent-1");
    assert.equal((me.identity as { commonName: string }).commonName, "alice");
    const t = me.token as Record<string, unknown>;
    assert.equal(t.sub, "alice");
    assert.deepEqual(t.scopes, ["mcp:tools", "mcp:read"]);
    assert.equal(t.bound, true);
    assert.equal(typeof t.expiresAt, "number");
  });
});

Deno.test("a token that expires during a kept-alive connection is refused on its next request", async () => {
  let clock = Date.now();
  const token = await boundToken(key, fx.alice, { exp: Math.floor(clock / 1000) + 60 });
  const { server } = await startServer(fx, { auth: authOptions(jwks, { now: () => clock }) });
  const agent = new Agent({
    connect: { ca: fx.ca, cert: fx.alice.cert, key: fx.alice.key },
    connections: 1,
  });
  const post = async () => {
    const res = await undiciFetch(server.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` },
      body: JSON.stringify(INITIALIZE),
      dispatcher: agent,
    });
    return {
      status: res.status,
      challenge: res.headers.get("www-authenticate"),
      text: await res.text(),
    };
  };
  try {
    assert.equal((await post()).status, 200);
    assert.equal((await post()).status, 200);
    clock += 120_000; // past exp and the 30 s leeway
    const late = await post();
    assert.equal(late.status, 401);
    assert.equal(late.challenge, invalidChallenge("Token has expired"));
  } finally {
    await agent.close();
    await server.close();
  }
});
