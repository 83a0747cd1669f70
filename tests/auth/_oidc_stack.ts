// The whole stack of the auth end-to-end tests on 127.0.0.1: oidc-provider
// (its own process) and serveMcp with `auth` checking its tokens against the
// provider's jwks_uri, with scope rules on the demo tools.
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { silentLogger } from "../../src/log/mod.ts";
import { demoServerFactory, serveMcp } from "../../src/mcp/mod.ts";
import { authFixtures, startTestAs } from "./_oidc_fixtures.ts";
import type { AuthorizationServer } from "./_oidc_provider.ts";

export interface Stack {
  as: AuthorizationServer;
  /** The MCP endpoint, also the token audience (resource). */
  url: string;
}

/** A port the kernel just handed out, released again. */
async function ephemeralPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Runs `body` against oidc-provider and serveMcp. Rules: `whoami` needs
 * scope `tools:whoami`, `echo` needs `tools:admin`.
 *
 * Why the server's port is picked before it starts: the RFC 9728 `resource`
 * (the token audience) is the server's URL, port included, and the MCP
 * SDK's discovery checks that it has the URL's origin; `serveMcp` takes
 * `auth.resource` up front. The window between releasing the port and
 * binding it again is retried if another process took it.
 */
export async function withStack(
  body: (s: Stack) => Promise<void>,
  extra: { now?: () => number; moreIssuers?: string[] } = {},
): Promise<void> {
  const f = await authFixtures();
  const as = await startTestAs("https://127.0.0.1:*/mcp");
  try {
    let server: Awaited<ReturnType<typeof serveMcp>> | undefined;
    for (let attempt = 1; !server; attempt++) {
      const port = await ephemeralPort();
      try {
        server = await serveMcp(demoServerFactory, {
          port,
          tls: { ...f.server, ca: f.ca },
          logger: silentLogger,
          auth: {
            resource: `https://127.0.0.1:${port}/mcp`,
            authorizationServers: [as.issuer, ...extra.moreIssuers ?? []],
            jwks: { url: as.jwksUri, ca: f.ca },
            ...(extra.now ? { now: extra.now } : {}),
          },
          authorization: {
            rules: [
              { identity: "*", tools: ["whoami"], scopes: ["tools:whoami"] },
              { identity: "*", tools: ["echo"], scopes: ["tools:admin"] },
            ],
          },
        });
      } catch (e) {
        if (attempt >= 3 || !/EADDRINUSE|in use/i.test(String(e))) throw e;
      }
    }
    try {
      await body({ as, url: server.url });
    } finally {
      await server.close();
    }
  } finally {
    await as.stop();
  }
}
