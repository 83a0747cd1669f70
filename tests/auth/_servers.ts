/** Gateway and session helpers of the auth tests, on top of the gateway tests' own. */
import { startGateway } from "../gateway/_gateway.ts";
import { type Credential, type Fixtures, INITIALIZE } from "../server/_fixtures.ts";
import { initializeWith } from "./_tokens.ts";

export { inSession } from "../gateway/_gateway.ts";
export const startGatewayWith = startGateway;

/** Opens a session as `cred` with `token` (initialize + initialized); returns its id. */
export async function openSessionWith(
  fx: Fixtures,
  url: string,
  cred: Credential,
  token: string,
): Promise<string> {
  const r = await initializeWith(fx, url, cred, token, INITIALIZE);
  const id = r.headers.get("mcp-session-id");
  if (r.status !== 200 || !id) throw new Error(`initialize failed: ${r.status} ${r.text}`);
  const headers = { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" };
  await initializeWith(fx, url, cred, token, {
    jsonrpc: "2.0",
    method: "notifications/initialized",
  }, headers);
  return id;
}
