/**
 * Malformed params of the methods the server itself inspects (`initialize`,
 * `tools/call`, alone or in a batch) get a JSON-RPC invalid-params error
 * (-32602, HTTP 400), never an HTTP 500, whatever the authorization rules
 * and the session mode.
 */
import assert from "node:assert/strict";
import {
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  parseMcpBody,
  rawPost,
  startServer,
} from "./_fixtures.ts";
import type { ObservableMcpServer } from "../../src/mcp/server.ts";
import type { ServeMcpOptions } from "../../src/mcp/server_options.ts";

const fx: Fixtures = await makeFixtures();
const PROTOCOL = { "mcp-protocol-version": "2025-06-18" };

const call = (params: unknown, id: unknown = 2) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  ...(params === undefined ? {} : { params }),
});

/** Request body, then the expected `error.message` (the `id` is echoed when it is a string or number). */
const CASES: [string, unknown, string, unknown][] = [
  [
    "a name whose toString is not a function",
    call({ name: { toString: 1 } }),
    'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received object',
    2,
  ],
  [
    "a name that is an object",
    call({ name: { a: 1 } }, "x-1"),
    'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received object',
    "x-1",
  ],
  [
    "a name that is a number",
    call({ name: 5 }),
    'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received number',
    2,
  ],
  [
    "no name",
    call({}),
    'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received undefined',
    2,
  ],
  [
    "no params",
    call(undefined),
    'Invalid params for "tools/call" at "params": Invalid input: expected object, received undefined',
    2,
  ],
  [
    "params that are a string",
    call("whoami"),
    'Invalid params for "tools/call" at "params": Invalid input: expected object, received string',
    2,
  ],
  [
    "params that are an array",
    call(["whoami"]),
    'Invalid params for "tools/call" at "params": Invalid input: expected object, received array',
    2,
  ],
  [
    "arguments that are an array",
    call({ name: "whoami", arguments: [1] }),
    'Invalid params for "tools/call" at "params.arguments": Invalid input: expected record, received array',
    2,
  ],
  [
    "a bad call inside a batch",
    [call({ name: "whoami" }, 3), call({ name: { toString: 1 } }, 4)],
    'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received object',
    4,
  ],
  [
    "an id that is an object",
    call({ name: { toString: 1 } }, { toString: 1 }),
    'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received object',
    null,
  ],
];

const INIT_CASES: [string, unknown, string][] = [
  [
    "initialize without params",
    { jsonrpc: "2.0", id: 1, method: "initialize" },
    'Invalid params for "initialize" at "params": Invalid input: expected object, received undefined',
  ],
  [
    "initialize with a numeric protocolVersion",
    { ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion: 20250618 } },
    'Invalid params for "initialize" at "params.protocolVersion": Invalid input: expected string, received number',
  ],
  [
    "initialize with a clientInfo that is a string",
    { ...INITIALIZE, params: { ...INITIALIZE.params, clientInfo: "x" } },
    'Invalid params for "initialize" at "params.clientInfo": Invalid input: expected object, received string',
  ],
];

const SETUPS: [string, Partial<ServeMcpOptions>][] = [
  ["stateful", {}],
  ["stateless", { sessions: "stateless" }],
  ["with authorization rules", {
    authorization: { rules: [{ identity: "*", tools: ["whoami"] }] },
  }],
];

for (const [setup, options] of SETUPS) {
  Deno.test(`serveMcp() answers malformed tools/call params with invalid params (400, -32602), ${setup}`, async () => {
    const { server, log } = await startServer(fx, options);
    try {
      const init = await rawPost(fx, server.url, fx.alice, INITIALIZE);
      assert.equal(init.status, 200);
      const session = init.headers.get("mcp-session-id");
      const headers = { ...PROTOCOL, ...(session ? { "mcp-session-id": session } : {}) };
      for (const [what, body, message, id] of CASES) {
        const r = await rawPost(fx, server.url, fx.alice, body, headers);
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.deepEqual(
          JSON.parse(r.text),
          { jsonrpc: "2.0", error: { code: -32602, message }, id },
          what,
        );
      }
      // The next good call is served, and nothing was logged as an error.
      const ok = await rawPost(fx, server.url, fx.alice, call({ name: "whoami" }), headers);
      assert.equal(ok.status, 200);
      const result = parseMcpBody(ok.text) as { result: { content: { text: string }[] } };
      assert.equal(JSON.parse(result.result.content[0].text).identity.commonName, "alice");
      assert.deepEqual(log.records.filter((r) => r.level === "error"), []);
      assert.equal((server as ObservableMcpServer).metrics().requests.failed, 0);
    } finally {
      await server.close();
    }
  });

  Deno.test(`serveMcp() answers malformed initialize params with invalid params (400, -32602), ${setup}`, async () => {
    const { server, log } = await startServer(fx, options);
    try {
      for (const [what, body, message] of INIT_CASES) {
        const r = await rawPost(fx, server.url, fx.alice, body);
        assert.equal(r.status, 400, `${what}: ${r.text}`);
        assert.deepEqual(
          JSON.parse(r.text),
          { jsonrpc: "2.0", error: { code: -32602, message }, id: 1 },
          what,
        );
      }
      assert.equal(server.sessionCount, 0, "no session was opened");
      assert.equal((await rawPost(fx, server.url, fx.alice, INITIALIZE)).status, 200);
      assert.deepEqual(log.records.filter((r) => r.level === "error"), []);
    } finally {
      await server.close();
    }
  });
}
