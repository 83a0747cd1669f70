/**
 * A raw JSON-RPC stdio MCP server for the routing tests. Its one tool,
 * `confirm`, logs a line (`notifications/message`) and reports progress for
 * its caller, asks the client to confirm (`elicitation/create`, always with
 * request id 1000, as a predictable id would be), then returns, as JSON text,
 * who called, every response it got to id 1000, and finally sends
 * `notifications/tools/list_changed`.
 */
const IDENTITY = "io.github.mcp-mtls/identity";
const encoder = new TextEncoder();
const out = (m: unknown): void => {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(m) + "\n"));
};

type Message = {
  id?: string | number;
  method?: string;
  params?: Record<string, unknown> & { _meta?: Record<string, unknown> };
  result?: unknown;
  error?: unknown;
};
let waiting: { id: string | number; caller: unknown; token: unknown } | undefined;
const answers: unknown[] = [];

function handle(m: Message): void {
  if (m.method === "initialize") {
    return out({
      jsonrpc: "2.0",
      id: m.id,
      result: {
        protocolVersion: m.params?.protocolVersion,
        capabilities: { tools: { listChanged: true }, logging: {} },
        serverInfo: { name: "asking-child", version: "1" },
      },
    });
  }
  if (m.method === "tools/list") {
    return out({
      jsonrpc: "2.0",
      id: m.id,
      result: { tools: [{ name: "confirm", inputSchema: { type: "object" } }] },
    });
  }
  if (m.method === "tools/call" && m.id !== undefined) {
    const caller = (m.params?._meta?.[IDENTITY] as { commonName?: string })?.commonName;
    waiting = { id: m.id, caller, token: m.params?._meta?.progressToken };
    out({
      jsonrpc: "2.0",
      method: "notifications/message",
      params: { level: "info", data: `secret log line for ${caller}` },
    });
    if (waiting.token !== undefined) {
      out({
        jsonrpc: "2.0",
        method: "notifications/progress",
        params: { progressToken: waiting.token, progress: 1, total: 2 },
      });
    }
    return out({
      jsonrpc: "2.0",
      id: 1000,
      method: "elicitation/create",
      params: {
        message: `Delete everything of ${caller}?`,
        requestedSchema: { type: "object", properties: {} },
      },
    });
  }
  if (m.method === undefined && m.id === 1000) {
    answers.push(m.result ?? { error: m.error });
    if (!waiting) return;
    const { id, caller, token } = waiting;
    waiting = undefined;
    if (token !== undefined) {
      out({
        jsonrpc: "2.0",
        method: "notifications/progress",
        params: { progressToken: token, progress: 2, total: 2 },
      });
    }
    out({
      jsonrpc: "2.0",
      id,
      result: { content: [{ type: "text", text: JSON.stringify({ caller, answers }) }] },
    });
    return out({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
  }
  if (m.method === undefined && m.id !== undefined) answers.push({ unexpected: m });
}

const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (line) handle(JSON.parse(line));
  }
}
