/**
 * The single binary, built here: `bun build --compile` of the npm build's CLI
 * (npm/build/src/cli/bin.js, made by `deno task build:npm`). The binary must
 * answer `--version`, make certificates, serve MCP over mTLS to the SDK client
 * (`initialize` + `tools/call whoami`) and refuse a client from another CA with
 * its reason code in the log. Its size and start-up time are printed (not
 * asserted: speed is measured, not asserted).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connectMcpClient } from "../../src/mcp/mod.ts";
import { VERSION } from "../../src/version.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { createRootCa, issueCertificate } from "../../src/pki/mod.ts";

const root = new URL("../../", import.meta.url).pathname;
const bun = `${root}npm/node_modules/.bin/bun`;
const entry = `${root}npm/build/src/cli/bin.js`;
const ready = existsSync(bun) && existsSync(entry);

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, cwd: root, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "bun build --compile makes one binary that serves MCP over mTLS and refuses by code",
  // Needs `deno task build:npm` (the README's test command runs it first).
  ignore: !ready,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-bun-binary-" });
    try {
      const bin = `${dir}/mcp-mtls`;
      const built = await run(bun, ["build", "--compile", entry, "--outfile", bin]);
      assert.equal(built.code, 0, built.stderr);
      const size = (await Deno.stat(bin)).size;

      await t.step("--version, and how long it takes to start", async () => {
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          const v = await run(bin, ["--version"]);
          times.push(performance.now() - t0);
          assert.equal(v.code, 0, v.stderr);
          assert.equal(v.stdout, `mcp-mtls ${VERSION}\n`);
        }
        console.log(
          `bun binary: ${(size / 1048576).toFixed(1)} MiB, --version in ${
            times.map((x) => x.toFixed(0)).join("/")
          } ms`,
        );
      });

      await t.step(
        "certs init, serve, SDK initialize + whoami, a refusal with its code",
        async () => {
          const certs = `${dir}/certs`;
          const init = await run(bin, ["certs", "init", "--dir", certs]);
          assert.equal(init.code, 0, init.stderr);
          const child = new Deno.Command(bin, {
            args: ["serve", "--certs", certs, "--port", "0", "--log-format", "json"],
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          let log = "";
          const logDone = (async () => {
            for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
              log += chunk;
            }
          })();
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
            assert.ok(url, `no URL printed by the binary: ${seen}\n${log}`);
            const ca = await Deno.readTextFile(`${certs}/ca.crt`);
            const client = await connectMcpClient(url, {
              cert: await Deno.readTextFile(`${certs}/client.crt`),
              key: await Deno.readTextFile(`${certs}/client.key`),
              ca,
            });
            try {
              const r = await client.callTool({ name: "whoami", arguments: {} });
              assert.match(JSON.stringify(r), /mcp-client/);
            } finally {
              await client.close();
            }
            // A client whose certificate another CA issued.
            const other = await createRootCa({ commonName: "Other CA" });
            const stranger = await issueCertificate(other, "client", {
              commonName: "stranger",
              exportable: true,
            });
            const refused = await connectMcpClient(url, {
              cert: stranger.certificatePem,
              key: stranger.privateKeyPem!,
              ca,
            }).then((c) => c.close().then(() => undefined), (e) => e);
            assert.ok(refused instanceof PeerRejectedError, `expected a refusal, got ${refused}`);
            const deadline = Date.now() + 10_000;
            while (!log.includes('"reason":"unknown_ca"') && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 50));
            }
            const line = log.split("\n").find((l) => l.includes('"reason":"unknown_ca"'));
            assert.ok(line, `no unknown_ca refusal in the binary's log:\n${log}`);
            assert.equal(JSON.parse(line).level, "warn");
          } finally {
            try {
              child.kill("SIGTERM");
            } catch { /* it exited already: the assertion above says why */ }
            await child.status;
            await child.stdout.cancel().catch(() => {});
            await logDone.catch(() => {});
          }
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
