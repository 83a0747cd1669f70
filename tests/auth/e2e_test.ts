// End to end on real sockets: oidc-provider issues a certificate-bound token
// (client_credentials, tls_client_auth) and our client presents it to our
// server (serveMcp with `auth`), which checks it against the provider's JWKS.
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
// @ts-types="@modelcontextprotocol/sdk/client/auth"
import {
  discoverOAuthServerInfo,
  type OAuthClientProvider,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { clientCredentialsToken } from "../../src/auth/client_credentials.ts";
import { mtlsClientCredentialsProvider } from "../../src/auth/client_provider.ts";
import { tokenFromFile } from "../../src/auth/token_source_file.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { connectMcpClient, createMtlsFetch } from "../../src/mcp/mod.ts";
import type { Pair } from "../client/_helpers.ts";
import { moduleTempDir } from "../_temp_dir.ts";
import { authFixtures, startTestAs } from "./_oidc_fixtures.ts";
import { withStack } from "./_oidc_stack.ts";

type TextContent = { content: { type: string; text: string }[] };

const dir = await moduleTempDir("mcp-mtls-auth-e2e-");

/** A token from the AS for `who` (client `clientId`), for `resource`. */
async function tokenFor(
  issuer: string,
  who: Pair,
  clientId: string,
  resource: string,
  scope?: string,
): Promise<string> {
  const f = await authFixtures();
  const fetch = createMtlsFetch({ ...who, ca: f.ca });
  try {
    return await clientCredentialsToken({ issuer, clientId, resource, scope }, fetch).token();
  } finally {
    await fetch.close();
  }
}

/** The status and WWW-Authenticate header our server answers `token` with, on the wire. */
async function challenge(url: string, who: Pair, token: string) {
  const f = await authFixtures();
  const fetch = createMtlsFetch({ ...who, ca: f.ca, token, returnAuthChallenges: true });
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: "{}",
    });
    await res.body?.cancel();
    return { status: res.status, header: res.headers.get("www-authenticate") ?? "" };
  } finally {
    await fetch.close();
  }
}

/** Asserts a 401 invalid_token challenge pointing at our metadata. */
async function assertInvalidToken(url: string, who: Pair, token: string) {
  const { status, header } = await challenge(url, who, token);
  assert.equal(status, 401);
  const origin = new URL(url).origin;
  assert.ok(
    header.startsWith(
      `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="`,
    ),
    header,
  );
}

async function refusedWith(p: Promise<unknown>, code: string): Promise<PeerRejectedError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PeerRejectedError, String(e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected a refusal with ${code}`);
}

Deno.test("a token bound by oidc-provider (client_credentials over mTLS) lets the client call a tool", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const client = await connectMcpClient(url, {
      ...f.client,
      ca: f.ca,
      oauth: { issuer: as.issuer, clientId: "agent-1", scope: "tools:whoami" },
    });
    try {
      const who = await client.callTool({ name: "whoami", arguments: {} }) as TextContent;
      const payload = JSON.parse(who.content[0].text);
      assert.equal(payload.clientId, "agent-1");
      assert.match(JSON.stringify(payload.identity), /agent-1/);
    } finally {
      await client.close();
    }
  });
});

Deno.test("the same bound token sent with another certificate of the same CA is refused: token_binding_mismatch", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const stolen = await tokenFor(as.issuer, f.client, "agent-1", url, "tools:whoami");
    // agent-2 is admitted by TLS (same CA): only the binding can tell.
    const e = await refusedWith(
      connectMcpClient(url, { ...f.agent2, ca: f.ca, token: stolen }),
      "token_binding_mismatch",
    );
    assert.equal(
      e.message,
      `Server refused the request to "${url}" with HTTP 401: Token is bound to another client certificate`,
    );
  });
});

Deno.test("a token without the tool's scope gets 403 insufficient_scope", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const client = await connectMcpClient(url, {
      ...f.client,
      ca: f.ca,
      oauth: { issuer: as.issuer, clientId: "agent-1", scope: "tools:whoami" },
    });
    try {
      await client.callTool({ name: "whoami", arguments: {} }); // in scope
      const e = await refusedWith(
        client.callTool({ name: "echo", arguments: { text: "x" } }),
        "insufficient_scope",
      );
      assert.equal(
        e.message,
        `Server refused the request to "${url}" with HTTP 403: Tool "echo" needs scope "tools:admin"`,
      );
    } finally {
      await client.close();
    }
  });
});

Deno.test("a token oidc-provider issued for another audience gets 401 invalid_token", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const other = await tokenFor(as.issuer, f.client, "agent-1", "https://127.0.0.1:1/other");
    assert.equal(decodeJwt(other).aud, "https://127.0.0.1:1/other");
    await refusedWith(
      connectMcpClient(url, { ...f.client, ca: f.ca, token: other }),
      "invalid_token",
    );
    await assertInvalidToken(url, f.client, other);
  });
});

Deno.test("no token: 401 with a Bearer challenge naming the RFC 9728 metadata", async () => {
  const f = await authFixtures();
  await withStack(async ({ url }) => {
    await refusedWith(connectMcpClient(url, { ...f.client, ca: f.ca }), "token_missing");
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca, returnAuthChallenges: true });
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: "{}",
      });
      await res.body?.cancel();
      assert.equal(res.status, 401);
      const origin = new URL(url).origin;
      assert.equal(
        res.headers.get("www-authenticate"),
        `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`,
      );
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("the MCP SDK's own OAuth discovery finds our RFC 9728 metadata and the authorization server", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
    try {
      const info = await discoverOAuthServerInfo(url, { fetchFn: fetch });
      assert.equal(info.authorizationServerUrl, as.issuer);
      assert.equal(info.resourceMetadata?.resource, url);
      assert.equal(
        (info.resourceMetadata as Record<string, unknown>)
          ?.tls_client_certificate_bound_access_tokens,
        true,
      );
      assert.equal(info.authorizationServerMetadata?.issuer, as.issuer);
      const doc = await fetch(`${new URL(url).origin}/.well-known/oauth-protected-resource/mcp`);
      assert.match(doc.headers.get("content-type") ?? "", /^application\/json\b/);
      assert.deepEqual(await doc.json(), info.resourceMetadata);
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("the SDK's authProvider seam: 401, SDK discovery, client_credentials with tls_client_auth, then the call", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const asFetch = createMtlsFetch({ ...f.client, ca: f.ca });
    try {
      const authProvider = mtlsClientCredentialsProvider(
        { issuer: as.issuer, clientId: "agent-1", scope: "tools:whoami" },
        asFetch,
      ) as OAuthClientProvider;
      assert.equal(await authProvider.tokens(), undefined); // nothing before the 401
      const client = await connectMcpClient(url, { ...f.client, ca: f.ca, authProvider });
      try {
        const who = await client.callTool({ name: "whoami", arguments: {} }) as TextContent;
        assert.equal(JSON.parse(who.content[0].text).clientId, "agent-1");
        // The SDK read our RFC 9728 document and handed it to the provider.
        const state = await authProvider.discoveryState?.();
        assert.equal(state?.resourceMetadata?.resource, url);
        assert.equal(state?.authorizationServerUrl, as.issuer);
        const token = (await authProvider.tokens())?.access_token ?? "";
        assert.equal(decodeJwt(token).aud, url);
        assert.ok((decodeJwt(token).cnf as Record<string, string>)["x5t#S256"]);
      } finally {
        await client.close();
      }
    } finally {
      await asFetch.close();
    }
  });
});

Deno.test("tokenFromFile(): a token rewritten in the file is used from the next request", async () => {
  const f = await authFixtures();
  await withStack(async ({ as, url }) => {
    const path = `${dir}/token`;
    await Deno.writeTextFile(
      path,
      `${await tokenFor(as.issuer, f.client, "agent-1", url, "tools:whoami")}\n`,
    );
    const client = await connectMcpClient(url, {
      ...f.client,
      ca: f.ca,
      token: tokenFromFile(path),
    });
    try {
      await client.callTool({ name: "whoami", arguments: {} });
      // Now agent-2's token (bound to agent-2's certificate) lands in our file.
      await Deno.writeTextFile(
        path,
        await tokenFor(as.issuer, f.agent2, "agent-2", url, "tools:whoami"),
      );
      await refusedWith(
        client.callTool({ name: "whoami", arguments: {} }),
        "token_binding_mismatch",
      );
    } finally {
      await client.close().catch(() => {});
    }
  });
});

Deno.test("a token oidc-provider issued that has expired by the server's clock gets 401 invalid_token", async () => {
  const f = await authFixtures();
  // The server's clock runs an hour ahead: no waiting, and the AS's token is real.
  await withStack(async ({ as, url }) => {
    const token = await tokenFor(as.issuer, f.client, "agent-1", url, "tools:whoami");
    const e = await refusedWith(
      connectMcpClient(url, { ...f.client, ca: f.ca, token }),
      "invalid_token",
    );
    assert.match(e.message, /with HTTP 401: /);
    await assertInvalidToken(url, f.client, token);
  }, { now: () => Date.now() + 3_600_000 });
});

Deno.test("a token signed by another authorization server's key (same kid, an accepted issuer) gets 401 invalid_token", async () => {
  const f = await authFixtures();
  // A second oidc-provider with its own key: its issuer is accepted, its keys are not ours.
  const rogue = await startTestAs("https://127.0.0.1:*/mcp");
  try {
    await withStack(async ({ url }) => {
      const token = await tokenFor(rogue.issuer, f.client, "agent-1", url, "tools:whoami");
      await refusedWith(
        connectMcpClient(url, { ...f.client, ca: f.ca, token }),
        "invalid_token",
      );
      await assertInvalidToken(url, f.client, token);
    }, { moreIssuers: [rogue.issuer] });
  } finally {
    await rogue.stop();
  }
});
