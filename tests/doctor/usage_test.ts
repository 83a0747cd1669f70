// `mcp-mtls doctor` on bad input: one line on stderr, nothing on stdout,
// exit 2 for usage errors and 1 for unreadable files.
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { captureIo } from "../cli/_io.ts";
import { files, runDoctor } from "./_peers.ts";

async function refused(args: string[], code: number, line: string): Promise<void> {
  const r = await runDoctor(args);
  assert.equal(r.err, `mcp-mtls: ${line}\n`);
  assert.equal(r.out, "");
  assert.equal(r.code, code);
}

Deno.test("doctor with an unknown flag exits 2 naming the flag", async () => {
  await refused(
    ["https://127.0.0.1:8443/mcp", "--bogus"],
    2,
    'Unknown option "--bogus" for "doctor" (see --help)',
  );
});

Deno.test("doctor without a URL exits 2", async () => {
  await refused([], 2, 'Missing URL: expected "doctor URL" (see --help)');
});

Deno.test("doctor with an http: URL exits 2: it diagnoses mutual TLS", async () => {
  await refused(
    ["http://127.0.0.1:8443/mcp"],
    2,
    'URL "http://127.0.0.1:8443/mcp" must use "https:": doctor diagnoses mutual TLS',
  );
});

Deno.test("doctor with a malformed URL exits 2", async () => {
  await refused(["not a url"], 2, 'Invalid URL "not a url": expected https://host:port/path');
});

Deno.test("doctor with --cert but no --key exits 2", async () => {
  const f = await files();
  await refused(
    ["https://127.0.0.1:8443/mcp", "--cert", f.client.cert],
    2,
    'Options "--cert" and "--key" go together: give both or neither',
  );
});

Deno.test("doctor with an invalid --pin exits 2 quoting it", async () => {
  const r = await runDoctor(["https://127.0.0.1:8443/mcp", "--pin", "abc"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /^mcp-mtls: Invalid pin "abc": expected "sha256\/<base64 SPKI SHA-256>"/);
});

Deno.test("doctor with an unreadable --cert file exits 1 naming the file", async () => {
  const f = await files();
  const missing = `${f.dir}/missing.crt`;
  await refused(
    ["https://127.0.0.1:8443/mcp", "--cert", missing, "--key", f.client.key],
    1,
    `Cannot read "${missing}": no such file`,
  );
});

Deno.test("doctor with a --ca file that holds no certificate exits 1", async () => {
  const f = await files();
  const r = await runDoctor(["https://127.0.0.1:8443/mcp", "--ca", f.client.key]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^mcp-mtls: .+\n$/);
  assert.ok(r.err.includes(f.client.key), r.err);
});

Deno.test("mcp-mtls doctor --help prints the usage and the overview lists doctor", async () => {
  const io = captureIo();
  assert.equal(await main(["doctor", "--help"], io), 0);
  assert.match(io.out, /^Usage: mcp-mtls doctor URL /);
  assert.match(io.out, /Exit status: 0 when every check passes, 1 when one fails, 2 on bad usage/);
  const overview = captureIo();
  await main(["--help"], overview);
  assert.match(overview.out, /^ {2}doctor {8}URL \[--cert F --key F\]/m);
});
