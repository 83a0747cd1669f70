/**
 * The `auth` option and the token conditions of authorization rules,
 * refused at construction with exact messages; the challenge header's
 * quoting; the thumbprint.
 */
import assert from "node:assert/strict";
import { resolveAuthOptions } from "../../src/auth/options.ts";
import { bearerChallenge } from "../../src/auth/www_authenticate.ts";
import { sameThumbprint, thumbprintOfFingerprint } from "../../src/auth/thumbprint.ts";
import { compileAuthorization } from "../../src/policy/authorization.ts";
import { ConfigError } from "../../src/errors.ts";
import { readCertificate } from "../../src/cert/certificate.ts";
import { decodePem } from "../../src/cert/pem.ts";
import { type Fixtures, makeFixtures, startServer } from "../server/_fixtures.ts";
import { thumbprintOf } from "./_tokens.ts";

const base = {
  resource: "https://127.0.0.1:8443/mcp",
  authorizationServers: ["https://as.example"],
  jwks: { keys: [] },
};

function refused(options: unknown, message: string) {
  assert.throws(
    () => resolveAuthOptions(options as Parameters<typeof resolveAuthOptions>[0]),
    (e: unknown) => e instanceof ConfigError && e.message === message,
  );
}

Deno.test("auth options refuse none, HS* and non-https URLs with exact messages", () => {
  refused(
    { ...base, algorithms: ["ES256", "none"] },
    'Option "auth.algorithms" must not include "none": only asymmetric signatures are accepted (a symmetric key shared with the resource server could mint tokens)',
  );
  refused(
    { ...base, algorithms: ["HS256"] },
    'Option "auth.algorithms" must not include "HS256": only asymmetric signatures are accepted (a symmetric key shared with the resource server could mint tokens)',
  );
  refused(
    { ...base, resource: "http://127.0.0.1/mcp" },
    'Option "auth.resource" must be an https URL, got "http://127.0.0.1/mcp"',
  );
  refused(
    { ...base, resource: "https://h/mcp#x" },
    'Option "auth.resource" must not have a fragment, got "https://h/mcp#x"',
  );
  refused(
    { ...base, authorizationServers: [] },
    'Option "auth.authorizationServers" must be a non-empty list of strings, got []',
  );
  refused(
    { ...base, jwks: { url: "http://as/jwks" } },
    'Option "auth.jwks.url" must be an https URL, got "http://as/jwks"',
  );
  refused(
    { ...base, jwks: undefined },
    'Option "auth" needs "jwks" or "introspection" to check tokens',
  );
  refused(
    { ...base, clockToleranceSec: -1 },
    'Option "auth.clockToleranceSec" must be an integer from 0 to 600, got -1',
  );
  refused(
    { ...base, introspection: { url: "https://as/i", clientId: "c" } },
    'Option "auth.introspection.cert" and "auth.introspection.key" are required (tls_client_auth)',
  );
});

Deno.test("auth defaults: binding required, audience is the resource, issuers are the servers", () => {
  const o = resolveAuthOptions(base);
  assert.equal(o.requireBinding, true);
  assert.equal(o.forwardAuthorization, false);
  assert.deepEqual(o.audience, [base.resource]);
  assert.deepEqual(o.issuer, base.authorizationServers);
  assert.ok(!o.algorithms.some((a) => a === "none" || a.startsWith("HS")));
});

Deno.test("rules with scopes or claims need the auth option", async () => {
  const fx: Fixtures = await makeFixtures();
  await assert.rejects(
    startServer(fx, { authorization: { rules: [{ identity: "*", tools: ["*"], scopes: ["a"] }] } }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message ===
        'Option "authorization.rules[0]" asks for token scopes or claims but "auth" is not configured: no token is read',
  );
});

Deno.test("a rule with token conditions never matches without a token, and names missing scopes", () => {
  const authorize = compileAuthorization({
    rules: [
      { identity: "*", tools: ["read"] },
      { identity: "*", tools: ["write"], scopes: ["w"], clientId: "agent-*" },
    ],
  });
  const anonymous = authorize(undefined);
  assert.equal(anonymous("write"), false);
  assert.equal(anonymous.scopesFor?.("tool", "write"), undefined);
  const noScope = authorize(undefined, true, { clientId: "agent-1", scopes: [] });
  assert.equal(noScope("write"), false);
  assert.deepEqual(noScope.scopesFor?.("tool", "write"), ["w"]);
  const wrongClient = authorize(undefined, true, { clientId: "evil", scopes: ["w"] });
  assert.equal(wrongClient("write"), false);
  assert.equal(wrongClient.scopesFor?.("tool", "write"), undefined);
  assert.equal(authorize(undefined, true, { clientId: "agent-1", scopes: ["w"] })("write"), true);
  assert.throws(
    () => compileAuthorization({ rules: [{ identity: "*", tools: [], sub: "" }] }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message === 'Option "authorization.rules[0].sub" must be a non-empty glob',
  );
});

Deno.test("challenge values are quoted strings: quotes and backslashes escaped, controls replaced", () => {
  assert.equal(
    bearerChallenge({
      resourceMetadata: "https://h/m",
      error: "invalid_token",
      description: 'a "b" \\ c\r\nd',
    }),
    'Bearer resource_metadata="https://h/m", error="invalid_token", error_description="a \\"b\\" \\\\ c??d"',
  );
});

Deno.test("the thumbprint of a fingerprint is the certificate's x5t#S256, compared exactly", async () => {
  const fx: Fixtures = await makeFixtures();
  const expected = await thumbprintOf(fx.alice);
  // The model's fingerprint (what PeerIdentity carries), hex, and the thumbprint of the DER agree.
  const model = readCertificate(decodePem(fx.alice.cert, "alice")[0].der);
  assert.equal(thumbprintOfFingerprint(model.fingerprint), expected);
  const colons = model.fingerprint.toUpperCase().match(/../g)!.join(":");
  assert.equal(thumbprintOfFingerprint(colons), expected);
  assert.equal(sameThumbprint(expected, expected), true);
  assert.equal(sameThumbprint(expected, expected.slice(0, -1) + "A"), expected.endsWith("A"));
  assert.equal(sameThumbprint(expected, expected.slice(1)), false);
  assert.throws(() => thumbprintOfFingerprint("abc"), TypeError);
});
