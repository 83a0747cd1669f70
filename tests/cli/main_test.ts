import assert from "node:assert/strict";
import { main, VERSION } from "../../src/cli/main.ts";
import { listDir, opensslPin, withTempDir } from "../pki/_openssl.ts";
import { captureIo } from "./_io.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;

/** Spawns `deno run -A src/cli/main.ts ...args`. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("the mcp-mtls process: certs init then certs pin prints the openssl pin, exit 0", async () => {
  await withTempDir(async (dir) => {
    const init = await cli(["certs", "init", "--dir", dir]);
    assert.equal(init.code, 0, init.stderr);
    assert.equal(init.stderr, "");
    assert.equal(listDir(dir).length, 6);
    const pin = await cli(["certs", "pin", `${dir}/server.crt`]);
    assert.equal(pin.code, 0);
    assert.equal(pin.stdout, `${await opensslPin(`${dir}/server.crt`)}\n`);
  });
});

Deno.test("the mcp-mtls process: bad input exits 2 or 1 with exactly one line on stderr", async () => {
  await withTempDir(async (dir) => {
    const unknownFlag = await cli(["certs", "init", "--dir", dir, "--frobnicate"]);
    assert.equal(unknownFlag.code, 2);
    assert.equal(
      unknownFlag.stderr,
      'mcp-mtls: Unknown option "--frobnicate" for "certs init" (see --help)\n',
    );
    assert.deepEqual(listDir(dir), []);
    const missing = await cli(["certs", "inspect", `${dir}/nope.crt`]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `mcp-mtls: Cannot read "${dir}/nope.crt": no such file\n`);
    const unknown = await cli(["certs", "frob"]);
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.stderr,
      'mcp-mtls: Unknown command "certs frob" (see "mcp-mtls --help")\n',
    );
  });
});

Deno.test("the mcp-mtls process: --version and --help", async () => {
  const version = await cli(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `mcp-mtls ${VERSION}\n`);
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^mcp-mtls \d+\.\d+\.\d+: mutual TLS for the Model Context Protocol\n/);
  assert.match(help.stdout, /\n {2}certs pin {5}FILE\n/);
});

Deno.test("main() routes every certs command's --help and exits 0", async () => {
  for (const command of ["init", "issue", "inspect", "pin"]) {
    const io = captureIo();
    assert.equal(await main(["certs", command, "--help"], io), 0, command);
    assert.match(io.out, new RegExp(`^Usage: mcp-mtls certs ${command} `));
  }
  const serveHelp = captureIo();
  assert.equal(await main(["serve", "--help"], serveHelp), 0);
  assert.match(serveHelp.out, /^Usage: mcp-mtls serve /);
  const io = captureIo();
  assert.equal(await main(["certs", "--help"], io), 0);
  assert.match(io.out, /^Usage: mcp-mtls certs SUBCOMMAND\n/);
});

Deno.test("main() without arguments prints the overview on stderr and exits 2", async () => {
  const io = captureIo();
  assert.equal(await main([], io), 2);
  assert.equal(io.out, "");
  assert.match(io.err, /^mcp-mtls .*\n\nUsage: mcp-mtls COMMAND/);
});

Deno.test("main() answers unknown commands cleanly with exit 2", async () => {
  for (
    const [args, name] of [[["frobnicate"], "frobnicate"], [
      ["certs", "nope"],
      "certs nope",
    ]] as const
  ) {
    const io = captureIo();
    assert.equal(await main([...args], io), 2);
    assert.equal(io.err, `mcp-mtls: Unknown command "${name}" (see "mcp-mtls --help")\n`);
  }
});

Deno.test("VERSION is deno.json's version", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(VERSION, denoJson.version);
});
