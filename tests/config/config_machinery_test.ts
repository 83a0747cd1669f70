import assert from "node:assert/strict";
import { z } from "zod";
import { loadConfigFile } from "../../src/config/mod.ts";
import { applyEnvOverrides, listEnvKeys } from "../../src/config/env.ts";
import { validateConfig } from "../../src/config/validate.ts";
import { ConfigError } from "../../src/errors.ts";

const schema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8443),
  tls: z.strictObject({
    enabled: z.boolean().default(true),
    minVersion: z.enum(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
    ca: z.array(z.string()).optional(),
  }).prefault({}),
});

function configError(message: string, key?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.equal(e.code, "invalid_config");
    assert.equal(e.message, message);
    if (key !== undefined) assert.equal(e.key, key);
    return true;
  };
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfigFile() reads YAML and JSON to the same data", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.yaml`, "port: 9443\ntls:\n  minVersion: TLSv1.3\n");
    await Deno.writeTextFile(`${dir}/a.json`, '{"port": 9443, "tls": {"minVersion": "TLSv1.3"}}');
    assert.deepEqual(await loadConfigFile(`${dir}/a.yaml`), await loadConfigFile(`${dir}/a.json`));
  });
});

Deno.test("loadConfigFile() names a missing file", async () => {
  await assert.rejects(
    loadConfigFile("/nonexistent/mcp-mtls.yaml"),
    configError('Cannot read config file "/nonexistent/mcp-mtls.yaml": no such file'),
  );
});

Deno.test("loadConfigFile() gives line and column of a YAML syntax error", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "port: 1\ntls: [unclosed\n");
    await assert.rejects(loadConfigFile(`${dir}/bad.yaml`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^Cannot parse config file ".*bad\.yaml": line \d+, column \d+: /);
      return true;
    });
  });
});

Deno.test("loadConfigFile() refuses duplicate YAML keys", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/dup.yaml`, "port: 1\nport: 2\n");
    await assert.rejects(loadConfigFile(`${dir}/dup.yaml`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /line 2, column 1: Map keys must be unique/);
      return true;
    });
  });
});

Deno.test("loadConfigFile() rejects invalid JSON and a top-level list", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bad.json`, "{port: 1}");
    await assert.rejects(loadConfigFile(`${dir}/bad.json`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^Cannot parse config file ".*bad\.json": /);
      return true;
    });
    await Deno.writeTextFile(`${dir}/list.yaml`, "- a\n- b\n");
    await assert.rejects(
      loadConfigFile(`${dir}/list.yaml`),
      configError(
        `Config file "${dir}/list.yaml" must hold a mapping of keys to values, got a list`,
      ),
    );
  });
});

Deno.test("validateConfig() names key, value and expectation", () => {
  assert.throws(
    () => validateConfig(schema, { port: 70000 }),
    configError('Config key "port" is 70000: expected at most 65535', "port"),
  );
  assert.throws(
    () => validateConfig(schema, { port: "443" }),
    configError('Config key "port" is "443": expected number', "port"),
  );
  assert.throws(
    () => validateConfig(schema, { tls: { minVersion: "TLSv1.0" } }, 'config file "x.yaml"'),
    configError(
      'Config key "tls.minVersion" is "TLSv1.0": expected one of "TLSv1.2", "TLSv1.3" (in config file "x.yaml")',
      "tls.minVersion",
    ),
  );
  assert.throws(
    () => validateConfig(schema, { tls: { bogus: 1 } }),
    configError('Unknown config key "tls.bogus"', "tls.bogus"),
  );
});

Deno.test("validateConfig() applies defaults", () => {
  assert.deepEqual(validateConfig(schema, {}), {
    port: 8443,
    tls: { enabled: true, minVersion: "TLSv1.2" },
  });
});

Deno.test("listEnvKeys() derives MCP_MTLS_ names from the schema", () => {
  assert.deepEqual(listEnvKeys(schema).map((k) => `${k.variable}:${k.kind}`), [
    "MCP_MTLS_PORT:number",
    "MCP_MTLS_TLS_ENABLED:boolean",
    "MCP_MTLS_TLS_MIN_VERSION:string",
    "MCP_MTLS_TLS_CA:list",
  ]);
});

Deno.test("applyEnvOverrides() overrides single keys and leaves the input untouched", () => {
  const file = { port: 8443, tls: { minVersion: "TLSv1.2" } };
  const merged = applyEnvOverrides(schema, file, {
    MCP_MTLS_PORT: "9443",
    MCP_MTLS_TLS_ENABLED: "false",
    MCP_MTLS_TLS_CA: "a.crt, b.crt",
    HOME: "/root",
  });
  assert.deepEqual(merged, {
    port: 9443,
    tls: { minVersion: "TLSv1.2", enabled: false, ca: ["a.crt", "b.crt"] },
  });
  assert.deepEqual(file, { port: 8443, tls: { minVersion: "TLSv1.2" } });
});

Deno.test("applyEnvOverrides() refuses an unknown MCP_MTLS_ variable and a bad value", () => {
  assert.throws(
    () => applyEnvOverrides(schema, {}, { MCP_MTLS_PROT: "1" }),
    configError("Unknown environment variable MCP_MTLS_PROT: no config key has that name"),
  );
  assert.throws(
    () => applyEnvOverrides(schema, {}, { MCP_MTLS_PORT: "eighty" }),
    configError(
      'Environment variable MCP_MTLS_PORT="eighty" (key "port"): expected a number',
      "port",
    ),
  );
  assert.throws(
    () => applyEnvOverrides(schema, {}, { MCP_MTLS_TLS_ENABLED: "maybe" }),
    configError(
      'Environment variable MCP_MTLS_TLS_ENABLED="maybe" (key "tls.enabled"): expected true or false',
      "tls.enabled",
    ),
  );
});
