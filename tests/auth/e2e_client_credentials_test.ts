// The client_credentials grant with tls_client_auth (RFC 8705 §2) against a
// real authorization server (oidc-provider in its own process, real sockets).
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { clientCredentialsToken } from "../../src/auth/client_credentials.ts";
import { discoverAuthorizationServer } from "../../src/auth/client_as_metadata.ts";
import { certificateThumbprint } from "../../src/auth/thumbprint.ts";
import { MtlsError } from "../../src/errors.ts";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { parseCertificates } from "../../src/pki/mod.ts";
import type { Pair } from "../client/_helpers.ts";
import { authFixtures, startTestAs } from "./_oidc_fixtures.ts";
import type { AuthorizationServer } from "./_oidc_provider.ts";

const RESOURCE = "https://127.0.0.1:8443/mcp";

async function thumbprintOf(pem: string): Promise<string> {
  const [cert] = parseCertificates(pem);
  return await certificateThumbprint(cert.der);
}

/** Runs `body` with an AS and an mTLS fetch for `who`, stopping both after. */
async function withAs(
  who: (f: Awaited<ReturnType<typeof authFixtures>>) => Pair,
  body: (as: AuthorizationServer, fetch: ReturnType<typeof createMtlsFetch>) => Promise<void>,
  ca?: (f: Awaited<ReturnType<typeof authFixtures>>) => string,
): Promise<void> {
  const f = await authFixtures();
  const as = await startTestAs(RESOURCE);
  const fetch = createMtlsFetch({ ...who(f), ca: ca ? ca(f) : f.ca });
  try {
    await body(as, fetch);
  } finally {
    await fetch.close();
    await as.stop();
  }
}

async function refusal(p: Promise<unknown>): Promise<MtlsError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MtlsError) return e;
    throw e;
  }
  assert.fail("expected a rejection");
}

Deno.test("clientCredentialsToken() gets a token bound to our certificate, for the resource and scope", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    const f = await authFixtures();
    const source = clientCredentialsToken({
      issuer: as.issuer,
      clientId: "agent-1",
      resource: RESOURCE,
      scope: ["tools:whoami"],
    }, fetch);
    const claims = decodeJwt(await source.token());
    assert.equal(claims.iss, as.issuer);
    assert.equal(claims.aud, RESOURCE);
    assert.equal(claims.client_id, "agent-1");
    assert.equal(claims.scope, "tools:whoami");
    assert.deepEqual(claims.cnf, { "x5t#S256": await thumbprintOf(f.client.cert) });
    assert.equal(await source.tokenEndpoint(), as.mtlsTokenEndpoint);
  });
});

Deno.test("clientCredentialsToken() reuses a fresh token and asks again after invalidate()", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-1", resource: RESOURCE },
      fetch,
    );
    const [a, b] = await Promise.all([source.token(), source.token()]);
    assert.equal(a, b); // one request for concurrent callers
    assert.equal(await source.token(), a);
    source.invalidate();
    const c = await source.token();
    assert.notEqual(c, a);
    assert.notEqual(decodeJwt(c).jti, decodeJwt(a).jti);
  });
});

Deno.test("clientCredentialsToken() asks again shortly before expiry (injected clock)", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    let now = Date.now();
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-1", resource: RESOURCE, now: () => now },
      fetch,
    );
    const a = await source.token();
    now += (300 - 31) * 1000; // the AS gives 300 s; 30 s before expiry it is still used
    assert.equal(await source.token(), a);
    now += 2_000;
    assert.notEqual(await source.token(), a);
  });
});

Deno.test("clientCredentialsToken() without the mTLS alias is refused by the AS: invalid_client", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    const source = clientCredentialsToken({
      issuer: as.issuer,
      clientId: "agent-1",
      resource: RESOURCE,
      tokenEndpoint: as.tokenEndpoint, // the listener that never asks for a certificate
    }, fetch);
    const e = await refusal(source.token());
    assert.equal(e.code, "token_request_failed");
    assert.equal(
      e.message,
      `Authorization server refused the token request to "${as.tokenEndpoint}" with HTTP 401: invalid_client (client authentication failed)`,
    );
  });
});

Deno.test("clientCredentialsToken() with another client's certificate is refused: invalid_client", async () => {
  // agent-2's certificate, asking as agent-1: the subject does not match the registration.
  await withAs((f) => f.agent2, async (as, fetch) => {
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-1", resource: RESOURCE },
      fetch,
    );
    const e = await refusal(source.token());
    assert.equal(e.code, "token_request_failed");
    assert.equal(
      e.message,
      `Authorization server refused the token request to "${as.mtlsTokenEndpoint}" with HTTP 401: invalid_client (client authentication failed)`,
    );
  });
});

Deno.test("clientCredentialsToken() with a certificate from an unknown CA is refused: invalid_client", async () => {
  await withAs((f) => f.otherClient, async (as, fetch) => {
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-1", resource: RESOURCE },
      fetch,
    );
    const e = await refusal(source.token());
    assert.equal(e.code, "token_request_failed");
    assert.match(e.message, /with HTTP 401: invalid_client \(client authentication failed\)$/);
  });
});

Deno.test("clientCredentialsToken() for a scope the client may not have is refused: invalid_scope", async () => {
  await withAs((f) => f.agent2, async (as, fetch) => {
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-2", resource: RESOURCE, scope: "tools:admin" },
      fetch,
    );
    const e = await refusal(source.token());
    assert.equal(e.code, "token_request_failed");
    assert.match(e.message, /with HTTP 400: invalid_scope \(/);
  });
});

Deno.test("clientCredentialsToken() for an unknown resource is refused: invalid_target", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-1", resource: "https://evil.example/mcp" },
      fetch,
    );
    const e = await refusal(source.token());
    assert.equal(e.code, "token_request_failed");
    assert.match(e.message, /with HTTP 400: invalid_target \(/);
  });
});

Deno.test("discoverAuthorizationServer() refuses metadata that names another issuer (RFC 8414 §3.3)", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    const claimed = `${as.issuer}/`; // same well-known URL, different identifier
    const e = await refusal(discoverAuthorizationServer(claimed, fetch));
    assert.equal(e.code, "token_request_failed");
    assert.equal(
      e.message,
      `Metadata at "${as.issuer}/.well-known/oauth-authorization-server" names issuer "${as.issuer}", expected "${claimed}" (RFC 8414 §3.3)`,
    );
  });
});

Deno.test("clientCredentialsToken() refuses an authorization server we do not trust, before sending anything", async () => {
  await withAs((f) => f.client, async (as, fetch) => {
    const source = clientCredentialsToken(
      { issuer: as.issuer, clientId: "agent-1", resource: RESOURCE },
      fetch,
    );
    const e = await refusal(source.token());
    assert.equal(e.code, "token_request_failed");
    assert.ok(e.cause instanceof MtlsError);
    assert.equal((e.cause as MtlsError).code, "unknown_ca");
  }, (f) => f.otherCa);
});

Deno.test("clientCredentialsToken() refuses bad options with ConfigError", () => {
  const fetch = () => Promise.reject(new Error("unused"));
  const bad = (o: Record<string, unknown>, message: string) =>
    assert.throws(
      () =>
        clientCredentialsToken(
          { issuer: "https://as.example", clientId: "a", ...o } as never,
          fetch,
        ),
      { code: "invalid_config", message },
    );
  bad(
    { issuer: "http://as.example" },
    'Option "oauth.issuer" must be an https URL, got "http://as.example"',
  );
  bad({ clientId: "" }, 'Option "oauth.clientId" must be a non-empty string');
  bad(
    { resource: "https://rs.example/mcp#x" },
    'Option "oauth.resource" must be an https URL without a fragment, got "https://rs.example/mcp#x"',
  );
  bad({ scope: ["a b"] }, 'Option "oauth.scope" has an invalid scope "a b"');
});
