/**
 * The `jsonResponse` key: from a YAML or JSON file and `MCP_MTLS_JSON_RESPONSE`,
 * into `serveMcp`'s options; bad values and the stdio combination refused with
 * one line.
 */
import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import {
  loadServeConfig,
  type LoadServeConfigOptions,
  serveOptionsFromConfig,
} from "../../src/config/mod.ts";
import { ConfigError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { type ConfigFixture, makeConfigFixture } from "./_fixture.ts";

const fx: ConfigFixture = await makeConfigFixture();
let n = 0;

/** Writes `text` as a config file in the fixture's `examples/` folder. */
async function file(text: string, ext = "yaml"): Promise<string> {
  const path = `${fx.root}/examples/j${++n}.${ext}`;
  await Deno.writeTextFile(path, text);
  return path;
}

const CERTS = "certs: ../certs\n";

/** Loads the config and builds the server options, as `serve --config` does. */
async function start(options: LoadServeConfigOptions) {
  const config = await loadServeConfig(options);
  return {
    config,
    options: await serveOptionsFromConfig(config, { logger: silentLogger, env: options.env }),
  };
}

async function refuses(options: LoadServeConfigOptions, message: string) {
  await assert.rejects(start(options), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    assert.equal(e.message, message);
    assert.equal(e.key, "jsonResponse");
    return true;
  });
}

Deno.test("jsonResponse defaults to false and is left out of the server options", async () => {
  const { config, options } = await start({ file: await file(CERTS) });
  assert.equal(config.jsonResponse, false);
  assert.equal(options.jsonResponse, undefined);
});

Deno.test("jsonResponse: true in a YAML file reaches serveMcp's options", async () => {
  const { config, options } = await start({ file: await file(CERTS + "jsonResponse: true\n") });
  assert.equal(config.jsonResponse, true);
  assert.equal(options.jsonResponse, true);
});

Deno.test("jsonResponse: true in a JSON file reaches serveMcp's options", async () => {
  const path = await file(JSON.stringify({ certs: "../certs", jsonResponse: true }), "json");
  assert.equal((await start({ file: path })).options.jsonResponse, true);
});

Deno.test("MCP_MTLS_JSON_RESPONSE overrides the file: true/1/yes/on and false/0/no/off", async () => {
  const path = await file(CERTS + "jsonResponse: false\n");
  for (const v of ["true", "1", "yes", "on", "TRUE"]) {
    const { options } = await start({ file: path, env: { MCP_MTLS_JSON_RESPONSE: v } });
    assert.equal(options.jsonResponse, true, v);
  }
  const on = await file(CERTS + "jsonResponse: true\n");
  for (const v of ["false", "0", "no", "off"]) {
    const { config } = await start({ file: on, env: { MCP_MTLS_JSON_RESPONSE: v } });
    assert.equal(config.jsonResponse, false, v);
  }
});

Deno.test("MCP_MTLS_JSON_RESPONSE=maybe is refused with one line", async () => {
  await refuses(
    { file: await file(CERTS), env: { MCP_MTLS_JSON_RESPONSE: "maybe" } },
    'Environment variable MCP_MTLS_JSON_RESPONSE="maybe" (key "jsonResponse"): expected true or false',
  );
});

Deno.test('jsonResponse: "yes" in YAML (a string in YAML 1.2) is refused with one line', async () => {
  const path = await file(CERTS + "jsonResponse: yes\n");
  await refuses(
    { file: path },
    `Config key "jsonResponse" is "yes": expected boolean (in config file "${path}")`,
  );
  const quoted = await file(CERTS + 'jsonResponse: "true"\n');
  await refuses(
    { file: quoted },
    `Config key "jsonResponse" is "true": expected boolean (in config file "${quoted}")`,
  );
});

const STDIO =
  'expected false when "stdio" is set (the SDK would drop the progress, log, sampling and elicitation messages the child sends during a call)';

Deno.test("jsonResponse with stdio in the same file is refused with one line", async () => {
  const path = await file(CERTS + "jsonResponse: true\nstdio:\n  command: [deno, run, x.ts]\n");
  await refuses(
    { file: path },
    `Config key "jsonResponse" is true: ${STDIO} (in config file "${path}")`,
  );
});

function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: () => undefined,
  };
  return io;
}

Deno.test("serve -- CMD with MCP_MTLS_JSON_RESPONSE=true exits 1 with one line naming the variable", async () => {
  const io = captureIo();
  Deno.env.set("MCP_MTLS_JSON_RESPONSE", "true");
  let code: number;
  try {
    code = await serve(
      ["--certs", fx.certs, "--port", "0", "--", Deno.execPath(), "--version"],
      io,
    );
  } finally {
    Deno.env.delete("MCP_MTLS_JSON_RESPONSE");
  }
  assert.equal(code, 1);
  assert.equal(io.out, "");
  assert.equal(
    io.err,
    `mcp-mtls: Config key "jsonResponse" is true: ${STDIO} (from environment variable MCP_MTLS_JSON_RESPONSE)\n`,
  );
});
