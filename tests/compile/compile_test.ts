/**
 * The single binary: `deno compile` builds the CLI into one executable, which
 * must answer `--version`, serve over mTLS and answer one tools/call.
 *
 * `deno compile` needs a `denort` runtime, which it downloads unless
 * DENORT_BIN names one. The build runs when the module loads, so that a
 * failed download (no network, DENORT_BIN unset) reports the test as ignored
 * rather than passed; any other build failure fails the test.
 */
import assert from "node:assert/strict";
import { connectMcpClient } from "../../src/mcp/mod.ts";
import { VERSION } from "../../src/cli/main.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const root = new URL("../../", import.meta.url).pathname;

async function run(cmd: string, args: string[], opts: { env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: root,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const dir = await moduleTempDir("mcp-mtls-compile-");
const bin = `${dir}/mcp-mtls`;
const built = await run(Deno.execPath(), ["compile", "-A", "--output", bin, "src/cli/main.ts"]);
/** The only failure that is not ours: the runtime could not be downloaded. */
const noDenort = built.code !== 0 && !Deno.env.get("DENORT_BIN") &&
  /dns error|Failed downloading|failed to lookup|error sending request/i.test(built.stderr);
if (noDenort) {
  console.log(
    "deno compile: ignored: the denort runtime could not be downloaded and DENORT_BIN is not set",
  );
}

Deno.test({
  name: "deno compile builds a binary that serves MCP over mTLS",
  ignore: noDenort,
  async fn(t) {
    assert.equal(built.code, 0, `deno compile failed:\n${built.stderr}`);

    await t.step("--version", async () => {
      const v = await run(bin, ["--version"]);
      assert.equal(v.code, 0);
      assert.equal(v.stdout.trim(), `mcp-mtls ${VERSION}`);
    });

    await t.step("serve and one tools/call over mTLS", async () => {
      const certs = `${dir}/certs`;
      assert.equal((await run(bin, ["certs", "init", "--dir", certs])).code, 0);
      const child = new Deno.Command(bin, {
        args: ["serve", "--certs", certs, "--port", "0"],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        let url: string | undefined;
        while (!url) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += value;
          url = seen.match(/https:\/\/127\.0\.0\.1:\d+\/mcp/)?.[0];
        }
        reader.releaseLock();
        assert.ok(url, `no URL printed by the binary: ${seen}`);
        const client = await connectMcpClient(url, {
          cert: await Deno.readTextFile(`${certs}/client.crt`),
          key: await Deno.readTextFile(`${certs}/client.key`),
          ca: await Deno.readTextFile(`${certs}/ca.crt`),
        });
        try {
          const r = await client.callTool({ name: "whoami", arguments: {} });
          assert.match(JSON.stringify(r), /mcp-client/);
        } finally {
          await client.close();
        }
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await child.stdout.cancel().catch(() => {});
        await child.stderr.cancel().catch(() => {});
      }
    });
  },
});
