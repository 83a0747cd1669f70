/**
 * The gateway in front of an MCP server that is not TypeScript: the
 * official Python SDK (`mcp` 2.3.0, `MCPServer` over Streamable HTTP on
 * uvicorn), installed into a virtual environment from this machine's local
 * Python package mirror (`/opt/pypi`; the public PyPI is not reachable
 * here). The same SDK client body runs directly against it and through the
 * gateway, and both must see the same results.
 *
 * Where the mirror is missing, the test is reported as ignored with the
 * reason, never passed.
 */

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { collectingLogger, makeFixtures } from "../server/_fixtures.ts";
import { startGateway } from "./_gateway.ts";

const MIRROR = "/opt/pypi/simple";
const PACKAGES = ["mcp==2.3.0", "uvicorn"];
const script = new URL("./_python_upstream.py", import.meta.url).pathname;

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } catch (e) {
    return { ok: false, out: String(e) };
  }
}

/** A Python with the MCP SDK (made once per machine and reused), or why there is none. */
async function pythonWithMcp(): Promise<{ python?: string; why?: string }> {
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/mcp-mtls-test-venv-mcp-2.3.0`;
  const python = `${dir}/bin/python`;
  const check = ["-c", "import mcp.server.mcpserver, uvicorn"];
  if ((await run(python, check)).ok) return { python };
  try {
    await Deno.stat(`${MIRROR}/mcp`);
  } catch {
    return { why: `no local Python package mirror with "mcp" at ${MIRROR}` };
  }
  // Built aside and renamed into place, so that a parallel or broken run never leaves half a venv.
  const tmp = `${dir}.${Deno.pid}`;
  const venv = await run("python3", ["-m", "venv", tmp]);
  if (!venv.ok) return { why: `python3 -m venv failed: ${venv.out.trim()}` };
  const pip = await run(`${tmp}/bin/pip`, [
    "install",
    "--quiet",
    "--index-url",
    `file://${MIRROR}`,
    "--extra-index-url",
    "file:///opt/pypi-more/simple",
    ...PACKAGES,
  ]);
  if (!pip.ok) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new Error(`pip install ${PACKAGES.join(" ")} from ${MIRROR} failed: ${pip.out}`);
  }
  await Deno.rename(tmp, dir).catch(() => Deno.remove(tmp, { recursive: true }));
  return { python };
}

const found = await pythonWithMcp();
if (found.why) console.log(`python_parity_test: ignored: ${found.why}`);
const fx = await makeFixtures();

async function startPython(python: string): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = new Deno.Command(python, {
    args: [script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  while (!/listening \d+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the Python upstream exited before listening: ${text}`);
    text += value;
  }
  clearTimeout(timer);
  reader.releaseLock();
  proc.stdout.cancel().catch(() => {});
  const port = /listening (\d+)/.exec(text)![1];
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async stop() {
      const kill = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.stdin.close().catch(() => {});
      await proc.status;
      clearTimeout(kill);
    },
  };
}

/** The body both paths run. */
async function exercise(client: Client): Promise<Record<string, unknown>> {
  return {
    tools: (await client.listTools()).tools.map((t: { name: string }) => t.name).sort(),
    echo: await client.callTool({ name: "echo", arguments: { text: "hi" } }),
    add: await client.callTool({ name: "add", arguments: { a: 2, b: 3 } }),
    resources: (await client.listResources()).resources.map((r: { uri: string }) => r.uri),
    templates: (await client.listResourceTemplates()).resourceTemplates
      .map((t: { uriTemplate: string }) => t.uriTemplate),
    readme: await client.readResource({ uri: "file:///public/readme" }),
    file: await client.readResource({ uri: "file:///public/files/x" }),
    prompts: (await client.listPrompts()).prompts.map((p: { name: string }) => p.name),
    prompt: await client.getPrompt({ name: "greeting", arguments: { name: "bob" } }),
  };
}

Deno.test({
  name:
    "serveGateway() in front of the Python MCP SDK's server behaves like that server reached directly",
  ignore: found.python === undefined,
  async fn() {
    const direct = await startPython(found.python!);
    const behind = await startPython(found.python!);
    const { gateway } = await startGateway(fx, behind.url);
    const fetch = createMtlsFetch({
      cert: fx.alice.cert,
      key: fx.alice.key,
      ca: fx.ca,
      logger: collectingLogger(),
    });
    const clients: Client[] = [];
    try {
      const a = new Client({ name: "parity", version: "1.0.0" });
      clients.push(a);
      await a.connect(new StreamableHTTPClientTransport(new URL(direct.url)));
      const directly = await exercise(a);
      const b = new Client({ name: "parity", version: "1.0.0" });
      clients.push(b);
      await b.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { fetch }));
      const through = await exercise(b);
      assert.deepEqual(through, directly);
      // The body really reached the Python server: spot checks.
      assert.deepEqual(directly.tools, ["add", "echo"]);
      assert.match(JSON.stringify(directly.add), /"5"|:5\b/);
      assert.match(JSON.stringify(directly.prompt), /Hello, bob!/);
      assert.match(JSON.stringify(directly.file), /file x/);
    } finally {
      for (const c of clients) await c.close().catch(() => {});
      await fetch.close();
      await gateway.close();
      await direct.stop();
      await behind.stop();
    }
  },
});
