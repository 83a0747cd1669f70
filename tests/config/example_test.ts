import assert from "node:assert/strict";
import {
  configEnvTable,
  configReferenceTable,
  loadConfigFile,
  loadServeConfig,
  serveOptionsFromConfig,
} from "../../src/config/mod.ts";
import { listEnvKeys } from "../../src/config/env.ts";
import { serveConfigSchema } from "../../src/config/schema.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { makeConfigFixture } from "./_fixture.ts";

const EXAMPLE = new URL("../../examples/mcp-mtls.yaml", import.meta.url);
const EXAMPLE_JSON = new URL("../../examples/mcp-mtls.json", import.meta.url);

Deno.test("examples/mcp-mtls.yaml validates, and its files load beside a certs folder", async () => {
  const config = await loadServeConfig({ file: EXAMPLE.pathname });
  assert.equal(config.port, 8443);
  assert.equal(config.tls.clientAuth, "require");
  const fx = await makeConfigFixture();
  const options = await serveOptionsFromConfig(await loadServeConfig({ file: fx.yaml }), {
    logger: silentLogger,
  });
  assert.equal(options.tls.cert, fx.server.cert);
});

Deno.test("examples/mcp-mtls.json holds the same data as the YAML", async () => {
  assert.deepEqual(
    await loadConfigFile(EXAMPLE_JSON.pathname),
    await loadConfigFile(EXAMPLE.pathname),
  );
});

Deno.test("examples/mcp-mtls.yaml mentions every key, each with its default", async () => {
  const lines = (await Deno.readTextFile(EXAMPLE)).split("\n");
  for (const { path } of listEnvKeys(serveConfigSchema)) {
    const name = path[path.length - 1];
    const at = lines.findIndex((l, i) =>
      new RegExp(`^\\s*(# *)?(- )?${name}:`).test(l) &&
      // the key sits under its parent (or at the top)
      (path.length === 1
        ? /^#? ?[a-z]/i.test(l)
        : lines.slice(0, i).some((p) => new RegExp(`^\\s*(# *)?${path[path.length - 2]}:`).test(p)))
    );
    assert.ok(at >= 0, `key "${path.join(".")}" is in the example`);
    // The comment block right above the key (up to the previous key) says its default.
    const block: string[] = [];
    for (let i = at - 1; i >= 0 && /^\s*#/.test(lines[i]); i--) {
      if (/^\s*#\s*(- )?(?!Default)[A-Za-z]+:( |$)/.test(lines[i])) break; // a commented-out key
      block.push(lines[i]);
    }
    const above = block.join("\n");
    assert.match(above, /Default|Required|default/, `"${path.join(".")}" documents its default`);
  }
});

Deno.test("the README tables are generated from the schema: one row per key", () => {
  const keys = listEnvKeys(serveConfigSchema);
  const env = configEnvTable().split("\n");
  assert.equal(env.length, keys.length + 2);
  for (
    const v of [
      "MCP_MTLS_PORT",
      "MCP_MTLS_TLS_MIN_VERSION",
      "MCP_MTLS_POLICY",
      "MCP_MTLS_LIMITS_MAX_BODY_BYTES",
      "MCP_MTLS_TLS_ENABLED",
    ]
  ) {
    assert.ok(env.some((row) => row.startsWith(`| \`${v}\` |`)), v);
  }
  const ref = configReferenceTable().split("\n");
  assert.equal(ref.length, keys.length + 2);
  assert.ok(ref.includes("| `port` | integer | `8443` | Port; 0 picks a free one |"));
});
