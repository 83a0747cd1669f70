import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { spkiPin } from "../../src/pki/mod.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { newServerCredential, servedFingerprint, waitFor } from "./_ops.ts";
import { moduleTempDir } from "../_temp_dir.ts";

const fx: Fixtures = await makeFixtures();
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

/** Reads a stream into a growing string in the background. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const done = stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (text += chunk) }),
  ).catch(() => {});
  return { text: () => text, done };
}

Deno.test("serve reloads server.crt/server.key (and pins.json) written into its certs directory, and on SIGHUP, without a restart; a garbage file is refused, logged, and the last good certificate keeps serving", async () => {
  const dir = await moduleTempDir("mcp-mtls-ops-serve-");
  await Deno.writeTextFile(`${dir}/server.crt`, fx.server.cert);
  await Deno.writeTextFile(`${dir}/server.key`, fx.server.key, { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/ca.crt`, fx.ca);
  const pinFile = async (pin: string) =>
    await Deno.writeTextFile(
      `${dir}/pins.json`,
      JSON.stringify({
        version: 1,
        pins: { "spiffe://example.org/agent": { pins: [`sha256/${pin}`] } },
      }),
    );
  await pinFile(await spkiPin(fx.alice.cert));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../src/cli/serve.ts", import.meta.url).pathname,
      "--certs",
      dir,
      "--port",
      "0",
      "--log-format",
      "json",
      "--detailed-tls",
      "--health-port",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const logged = (msg: string, after = 0) =>
    err.text().split("\n").slice(after).map((l) => l.startsWith("{") ? JSON.parse(l) : undefined)
      .find((r) => r?.msg === msg);
  const lineCount = () => err.text().split("\n").length - 1;
  try {
    const url = await waitFor(() => /at (https:\S+)/.exec(out.text())?.[1], 20_000);
    const healthUrl = await waitFor(() =>
      /Health checks \(plain HTTP\) at (http:\S+)/.exec(out.text())?.[1]
    );
    const port = Number(new URL(url).port);
    assert.equal((await fetch(healthUrl).then((r) => r.json())).status, "ok");
    assert.equal(await servedFingerprint(fx, port, fx.alice), fp(fx.server.cert));

    // A pair replaced one file after the other: reloaded once, with the pair.
    const next = await newServerCredential(fx);
    let mark = lineCount();
    await Deno.writeTextFile(`${dir}/server.crt`, next.cert);
    await new Promise((r) => setTimeout(r, 50));
    await Deno.writeTextFile(`${dir}/server.key`, next.key);
    await waitFor(() => logged("TLS material reloaded", mark));
    assert.equal(await servedFingerprint(fx, port, fx.alice), next.fingerprint);
    const attempts = err.text().split("\n").slice(mark)
      .filter((l) => /"msg":"TLS (material reloaded|reload refused)/.test(l));
    assert.equal(attempts.length, 1, `one reload for the pair, got ${attempts.join("\n")}`);
    const handshake = await waitFor(() => logged("TLS handshake", mark));
    assert.match(handshake.protocol, /^TLSv1\.[23]$/);

    // Garbage: refused and logged; the last good certificate keeps serving.
    mark = lineCount();
    await Deno.writeTextFile(`${dir}/server.crt`, "garbage\n");
    const refused = await waitFor(() =>
      logged("TLS reload refused; the previous certificate keeps serving", mark)
    );
    assert.equal(refused.level, "error");
    assert.equal(await servedFingerprint(fx, port, fx.alice), next.fingerprint);

    // The original pair back (by the watcher), then SIGHUP reloads everything again.
    mark = lineCount();
    await Deno.writeTextFile(`${dir}/server.crt`, fx.server.cert);
    await Deno.writeTextFile(`${dir}/server.key`, fx.server.key);
    await waitFor(() => logged("TLS material reloaded", mark));
    mark = lineCount();
    child.kill("SIGHUP");
    await waitFor(() => logged("SIGHUP: reloading TLS material and pins", mark));
    await waitFor(() => logged("TLS material reloaded", mark));
    assert.equal(await servedFingerprint(fx, port, fx.alice), fp(fx.server.cert));

    // pins.json changed: alice is now pinned to another key and refused.
    assert.equal(logged("connection refused"), undefined, "alice matched her pin until now");
    assert.ok(logged("client admitted"));
    mark = lineCount();
    await pinFile(await spkiPin(fx.bob.cert));
    await waitFor(() => logged("client pins reloaded", mark));
    await servedFingerprint(fx, port, fx.alice).catch(() => {});
    const refusal = await waitFor(() => logged("connection refused", mark));
    assert.equal(refusal.reason, "pin_mismatch");

    for (const line of err.text().trimEnd().split("\n")) {
      assert.ok(!line.includes("PRIVATE KEY"), line);
    }
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await Promise.all([out.done, err.done]);
  }
});
