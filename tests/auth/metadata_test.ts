/**
 * RFC 9728 protected resource metadata served by the mTLS listener: the
 * fields and content type, both paths, readable only by admitted clients,
 * and found by the MCP SDK client's own discovery (from the 401 challenge
 * and from the server URL).
 */
import assert from "node:assert/strict";
import net from "node:net";
import {
  discoverOAuthProtectedResourceMetadata,
  extractWWWAuthenticateParams,
} from "@modelcontextprotocol/sdk/client/auth.js";
import {
  clientFetch,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  rawPost,
  startServer,
} from "../server/_fixtures.ts";
import { authOptions, ISSUER, jwksOf, signingKey } from "./_tokens.ts";

const fx: Fixtures = await makeFixtures();
const jwks = jwksOf(await signingKey("k1"));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A server whose `resource` is its own URL. */
async function withServer(fn: (url: string, resource: string) => Promise<void>) {
  const port = await freePort();
  const resource = `https://127.0.0.1:${port}/mcp`;
  const authorization = {
    rules: [{ identity: "*", tools: ["whoami"] }, {
      identity: "*",
      tools: ["*"],
      scopes: ["mcp:admin"],
    }],
  };
  const { server } = await startServer(fx, {
    port,
    auth: authOptions(jwks, { resource, resourceName: "test resource" }),
    authorization,
  });
  try {
    await fn(server.url, resource);
  } finally {
    await server.close();
  }
}

Deno.test("metadata is refused to a client without a certificate (TLS refusal, not a document)", async () => {
  await withServer(async (url) => {
    const fetch = clientFetch(fx);
    try {
      await assert.rejects(
        fetch(new URL("/.well-known/oauth-protected-resource", url)),
        (e: { code?: string }) => e.code === "no_client_cert",
      );
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("metadata documents list the resource, servers, scopes and bound tokens, as JSON at both paths", async () => {
  await withServer(async (url, resource) => {
    const fetch = clientFetch(fx, fx.bob);
    try {
      for (
        const path of [
          "/.well-known/oauth-protected-resource",
          "/.well-known/oauth-protected-resource/mcp",
        ]
      ) {
        const r = await fetch(new URL(path, url));
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("content-type"), "application/json");
        assert.deepEqual(await r.json(), {
          resource,
          authorization_servers: [ISSUER],
          scopes_supported: ["mcp:admin"],
          bearer_methods_supported: ["header"],
          tls_client_certificate_bound_access_tokens: true,
          resource_name: "test resource",
        });
      }
      const post = await fetch(new URL("/.well-known/oauth-protected-resource", url), {
        method: "POST",
        body: "{}",
      });
      assert.equal(post.status, 405);
      await post.body?.cancel();
      const other = await fetch(new URL("/.well-known/oauth-protected-resource/other", url));
      assert.equal(other.status, 404);
      await other.body?.cancel();
    } finally {
      await fetch.close();
    }
  });
});

Deno.test("the SDK client finds the metadata from the 401 challenge and from the server URL", async () => {
  await withServer(async (url, resource) => {
    const fetch = clientFetch(fx, fx.alice);
    try {
      // The server's real 401 (the raw wire: our fetch would raise it as a typed error).
      const r = await rawPost(fx, url, fx.alice, INITIALIZE);
      assert.equal(r.status, 401);
      const response = new Response(null, { status: 401, headers: r.headers });
      const params = extractWWWAuthenticateParams(response);
      assert.equal(
        String(params.resourceMetadataUrl),
        `${new URL("/.well-known/oauth-protected-resource/mcp", url)}`,
      );
      const viaChallenge = await discoverOAuthProtectedResourceMetadata(
        new URL(url),
        { resourceMetadataUrl: params.resourceMetadataUrl },
        fetch,
      );
      assert.equal(viaChallenge.resource, resource);
      const viaUrl = await discoverOAuthProtectedResourceMetadata(new URL(url), undefined, fetch);
      assert.deepEqual(viaUrl.authorization_servers, [ISSUER]);
      assert.equal(viaUrl.tls_client_certificate_bound_access_tokens, true);
    } finally {
      await fetch.close();
    }
  });
});
