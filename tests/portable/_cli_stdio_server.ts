/**
 * A stdio MCP server that runs unchanged on Deno, Node.js and Bun, for
 * `serve -- COMMAND`: newline-delimited JSON-RPC on stdin/stdout, written by
 * hand (no SDK, so a `.mjs` in a temporary folder needs no node_modules). It
 * answers `initialize`, `ping`, `tools/list` and `tools/call` of one tool,
 * `whoami`, which reports the runtime running it and the caller's identity as
 * the bridge handed it: `params._meta["io.github.mcp-mtls/identity"]` and the
 * `MCP_MTLS_PEER_*` environment.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { RUNTIME } from "./_env.ts";

const SOURCE = `// Written by tests/portable/_cli_stdio_server.ts.
import process from "node:process";
import { createInterface } from "node:readline";

const META = "io.github.mcp-mtls/identity";
const runtime = typeof globalThis.Bun !== "undefined"
  ? "bun"
  : typeof globalThis.Deno !== "undefined" ? "deno" : "node";
const send = (message) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...message }) + "\\n");
const WHOAMI = {
  name: "whoami",
  description: "The runtime running this server and the caller the bridge named.",
  inputSchema: { type: "object", properties: {} },
};

function answer(m) {
  switch (m.method) {
    case "initialize":
      return {
        protocolVersion: m.params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: "portable-stdio", version: "1.0.0" },
      };
    case "ping":
      return {};
    case "tools/list":
      return { tools: [WHOAMI] };
    case "tools/call": {
      if (m.params?.name !== "whoami") return undefined;
      const env = process.env;
      const payload = {
        runtime,
        pid: process.pid,
        fromMeta: m.params._meta?.[META] ?? null,
        fromEnv: {
          commonName: env.MCP_MTLS_PEER_CN ?? null,
          label: env.MCP_MTLS_PEER_LABEL ?? null,
          fingerprint: env.MCP_MTLS_PEER_FINGERPRINT ?? null,
        },
      };
      return { content: [{ type: "text", text: JSON.stringify(payload) }] };
    }
  }
  return undefined;
}

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  const m = JSON.parse(line);
  if (m.id === undefined || m.method === undefined) return; // a notification or a response
  const result = answer(m);
  if (result) send({ id: m.id, result });
  else send({ id: m.id, error: { code: -32601, message: "Method not found: " + m.method } });
});
lines.on("close", () => process.exit(0));
process.stderr.write("portable-stdio ready on " + runtime + "\\n");
`;

/**
 * Writes the server to `dir` and returns the command that runs it on the
 * runtime running this file (`deno run -A`, `node` or `bun`).
 */
export async function writeStdioServer(dir: string): Promise<string[]> {
  const path = join(dir, "portable_stdio_server.mjs");
  await writeFile(path, SOURCE);
  return RUNTIME === "deno" ? [process.execPath, "run", "-A", path] : [process.execPath, path];
}
