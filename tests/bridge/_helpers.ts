/**
 * Helpers for the bridge tests: a server fronting examples/stdio_server.ts,
 * and an SDK client reaching it through `mcp-mtls connect` over stdio.
 */
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { serveStdioMcp, type ServeStdioOptions } from "../../src/mcp/bridge_stdio_server.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";
import { collectingLogger, type Credential, type Fixtures } from "../server/_fixtures.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const STDIO_SERVER = [Deno.execPath(), "run", "-A", `${ROOT}examples/stdio_server.ts`];
export const CLI = `${ROOT}src/cli/main.ts`;

/** serveStdioMcp in front of examples/stdio_server.ts, on a free port. */
export async function startBridge(
  fx: Fixtures,
  options: Omit<Partial<ServeStdioOptions>, "tls"> = {},
): Promise<{ server: McpMtlsServer; log: ReturnType<typeof collectingLogger> }> {
  const log = collectingLogger();
  const server = await serveStdioMcp(STDIO_SERVER, {
    port: 0,
    logger: log,
    child: { closeTimeoutMs: 500 },
    ...options,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
  });
  return { server, log };
}

/** `connect` arguments for `url` presenting `cred` and trusting the test CA. */
export function connectArgs(fx: Fixtures, url: string, cred?: Credential): string[] {
  return [
    "run",
    "-A",
    CLI,
    "connect",
    url,
    ...(cred ? ["--cert", cred.certFile, "--key", cred.keyFile] : []),
    "--ca",
    fx.caFile,
  ];
}

/** An SDK Client talking stdio to a `connect` process; `stderr` collects its standard error. */
export async function stdioClient(
  fx: Fixtures,
  url: string,
  cred: Credential,
): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: connectArgs(fx, url, cred),
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => (err += new TextDecoder().decode(chunk)));
  const client = new Client({ name: "bridge-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => err };
}

/** The text of the first content item of a tool result. */
export function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  return content?.[0]?.text ?? "";
}

/** Waits until `check` is true, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
