/**
 * `mcp-mtls serve --config FILE` with an `auth` block (a JWKS file beside
 * the config, relative path) and one key from `MCP_MTLS_AUTH_*`, called with
 * curl as in the README's worked example.
 */
import assert from "node:assert/strict";
import { serve } from "../../src/cli/serve.ts";
import type { CliIo } from "../../src/cli/io.ts";
import { type Fixtures, INITIALIZE, makeFixtures, run } from "../server/_fixtures.ts";
import { boundToken, ISSUER, jwksOf, RESOURCE, signingKey } from "./_tokens.ts";

const fx: Fixtures = await makeFixtures();
const key = await signingKey("k1");

function captureIo(env: Record<string, string>): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env: (name: string) => env[name],
  };
  return io;
}

async function waitFor<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function curl(url: string, token?: string): Promise<{ code: number; stdout: string }> {
  return run("curl", [
    "-sS",
    "-i",
    "--cacert",
    fx.caFile,
    "--cert",
    fx.alice.certFile,
    "--key",
    fx.alice.keyFile,
    "-H",
    "content-type: application/json",
    "-H",
    "accept: application/json, text/event-stream",
    ...(token ? ["-H", `authorization: Bearer ${token}`] : []),
    "--data",
    JSON.stringify(INITIALIZE),
    url,
  ]);
}

Deno.test("serve --config with auth: curl without a token gets 401 + challenge, with a bound one 200", async () => {
  await Deno.writeTextFile(`${fx.dir}/jwks.json`, JSON.stringify(jwksOf(key)));
  const config = `${fx.dir}/auth.yaml`;
  await Deno.writeTextFile(
    config,
    [
      "auth:",
      `  resource: ${RESOURCE}`,
      `  authorizationServers: [${ISSUER}]`,
      "  jwks: jwks.json",
      "",
    ].join("\n"),
  );
  const ac = new AbortController();
  const io = captureIo({});
  // serve reads the process environment; the variable is needed only until the server is up.
  Deno.env.set("MCP_MTLS_AUTH_CLOCK_TOLERANCE_SEC", "5");
  const done = serve(["--config", config, "--certs", fx.dir, "--port", "0"], io, {
    signal: ac.signal,
  });
  try {
    const url = await waitFor(() => /at (https:\S+)/.exec(io.out)?.[1]).finally(() =>
      Deno.env.delete("MCP_MTLS_AUTH_CLOCK_TOLERANCE_SEC")
    );
    const refused = await curl(url);
    assert.equal(refused.code, 0);
    assert.match(refused.stdout, /^HTTP\/1\.1 401 /);
    assert.match(
      refused.stdout,
      /\r\nwww-authenticate: Bearer resource_metadata="https:\/\/127\.0\.0\.1:8443\/\.well-known\/oauth-protected-resource\/mcp"\r\n/i,
    );
    const ok = await curl(url, await boundToken(key, fx.alice));
    assert.match(ok.stdout, /^HTTP\/1\.1 200 /);
    assert.match(ok.stdout, /"protocolVersion"/);
    // Expired 10 s ago: inside the default 30 s leeway, outside the 5 s one the variable sets.
    const exp = Math.floor(Date.now() / 1000) - 10;
    const late = await curl(url, await boundToken(key, fx.alice, { exp }));
    assert.match(late.stdout, /^HTTP\/1\.1 401 /);
    assert.match(late.stdout, /error_description="Token has expired"/);
  } finally {
    ac.abort();
    assert.equal(await done, 0, io.err);
  }
});
