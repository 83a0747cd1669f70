/**
 * `connectMcpClient`: one call from a URL and certificates to a connected MCP SDK `Client`.
 *
 * @module
 */
// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/client/auth"
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthProviderSeam } from "../auth/client_provider.ts";
import { ConfigError } from "../errors.ts";
import { createMtlsFetch, type MtlsFetchOptions } from "./client_fetch.ts";

/**
 * Options of {@link connectMcpClient}: the {@link MtlsFetchOptions} plus how the client introduces itself.
 *
 * @example
 * ```ts
 * import type { ConnectMcpClientOptions } from "@mtls/mcp/mcp";
 * const options: ConnectMcpClientOptions = {
 *   clientInfo: { name: "my-agent", version: "1.2.0" },
 *   policy: "strict",
 * };
 * ```
 */
export interface ConnectMcpClientOptions extends MtlsFetchOptions {
  /** Name and version sent in `initialize`. @default {{ name: "mcp-mtls-client", version: "0.1.0" }} */
  clientInfo?: { name: string; version: string };
  /** Session id to resume, when the server keeps sessions. @default {none: a new session} */
  sessionId?: string;
  /**
   * The MCP SDK's OAuth seam: the SDK adds its tokens, and on a 401 runs its
   * own discovery (RFC 9728, RFC 8414) and token request, all over this mTLS
   * connection (see `mtlsClientCredentialsProvider` in `@mtls/mcp/auth`).
   * Not with `token` or `oauth`.
   * @default {none}
   */
  authProvider?: OAuthProviderSeam;
}

/**
 * Connects an MCP SDK `Client` to `url` over mutual TLS (Streamable HTTP) and
 * runs `initialize`. Refusals reject with the typed errors of
 * {@link createMtlsFetch}; nothing is left open when it rejects. `close()`
 * on the returned client also closes its connections.
 *
 * @example Call a tool on a server started with `deno task cli serve --certs certs`
 * ```ts ignore
 * import { connectMcpClient } from "@mtls/mcp/mcp";
 *
 * const client = await connectMcpClient("https://127.0.0.1:8443/mcp", {
 *   cert: await Deno.readTextFile("certs/client.crt"),
 *   key: await Deno.readTextFile("certs/client.key"),
 *   ca: await Deno.readTextFile("certs/ca.crt"),
 * });
 * try {
 *   console.log(await client.callTool({ name: "whoami", arguments: {} }));
 * } finally {
 *   await client.close();
 * }
 * ```
 */
export async function connectMcpClient(
  url: string | URL,
  options: ConnectMcpClientOptions = {},
): Promise<Client> {
  const {
    clientInfo = { name: "mcp-mtls-client", version: "0.1.0" },
    sessionId,
    authProvider,
    ...rest
  } = options;
  const endpoint = httpsEndpoint(url);
  if (authProvider && (rest.token !== undefined || rest.oauth !== undefined)) {
    throw new ConfigError('Option "authProvider" cannot be used with "token" or "oauth"', {
      key: "authProvider",
    });
  }
  const fetch = createMtlsFetch({
    ...rest,
    // The token is for this server: its URL is the resource indicator (RFC 8707).
    oauth: rest.oauth && { resource: endpoint.href, ...rest.oauth },
    // The SDK reads 401/403 challenges itself.
    returnAuthChallenges: rest.returnAuthChallenges ?? authProvider !== undefined,
  });
  const client = new Client(clientInfo);
  // close() also closes the pooled connections (an own property: the SDK calls this.close() too).
  const closeClient = client.close.bind(client);
  const transport = new StreamableHTTPClientTransport(endpoint, {
    fetch,
    sessionId,
    authProvider: authProvider as OAuthClientProvider | undefined,
  });
  client.close = async (): Promise<void> => {
    try {
      // End the MCP session (HTTP DELETE) so the server frees it now rather
      // than after its idle timeout; bounded, since the server may be gone.
      if (transport.sessionId) await endSession(transport);
      await closeClient();
    } finally {
      await fetch.close();
    }
  };
  try {
    await client.connect(transport);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  return client;
}

/**
 * `url` as a `URL`, refused with a {@link ConfigError} (key `url`) unless it
 * parses and uses `https:`. Internal: shared with `bridgeStdioToMcp`, not
 * exported from `mcp/mod.ts`.
 *
 * @example
 * ```ts
 * import { httpsEndpoint } from "./client_connect.ts";
 * console.assert(httpsEndpoint("https://127.0.0.1:8443/mcp").port === "8443");
 * ```
 */
export function httpsEndpoint(url: string | URL): URL {
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch (cause) {
    throw new ConfigError(`URL "${url}" is not a valid URL`, { key: "url", cause });
  }
  if (endpoint.protocol !== "https:") {
    throw new ConfigError(`URL "${url}" must use "https:" for mutual TLS`, { key: "url" });
  }
  return endpoint;
}

const END_SESSION_TIMEOUT_MS = 2_000;

async function endSession(transport: StreamableHTTPClientTransport): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    transport.terminateSession().catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, END_SESSION_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
}
