// The `mcp-mtls` command on every runtime (Deno, Node.js, Bun), as a user runs
// it: the certs commands in-process and as a child process of the runtime
// under test, checked by openssl; `serve -- COMMAND` bridging to a stdio
// server run by that runtime; `connect` and `doctor` against a running server;
// and `serve` as a child that enforces a new CRL without a restart and stops
// cleanly on SIGTERM.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { certsInit } from "../../src/cli/certs_init.ts";
import { certsInspect } from "../../src/cli/certs_inspect.ts";
import { certsIssue } from "../../src/cli/certs_issue.ts";
import { certsPin } from "../../src/cli/certs_pin.ts";
import { certsRevoke } from "../../src/cli/certs_revoke.ts";
import { doctor } from "../../src/cli/doctor.ts";
import { serve } from "../../src/cli/serve.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { normalizeSerial } from "../../src/revocation/mod.ts";
import {
  captureIo,
  type Finished,
  opensslOk,
  runCli,
  runProgram,
  startCli,
  waitUntil,
} from "./_cli_process.ts";
import { writeStdioServer } from "./_cli_stdio_server.ts";
import { RUNTIME, withTempDir } from "./_env.ts";

/** Generous: a child process of Deno compiles the CLI first; only stops a hang. */
const SLOW = { timeout: 180_000 };

/** Runs `mcp-mtls certs ...` one way or another; resolves to how it ended. */
type Runner = (args: string[], env?: Record<string, string>) => Promise<Finished>;

/** Calls the command functions (certsInit, certsIssue, ...) with a recording io. */
const inProcess: Runner = async (args, env = {}) => {
  const io = captureIo(env);
  const [group, name, ...rest] = args;
  assert.equal(group, "certs");
  const commands = {
    init: certsInit,
    issue: certsIssue,
    inspect: certsInspect,
    pin: certsPin,
    revoke: certsRevoke,
  };
  const command = commands[name as keyof typeof commands];
  const code = await command(rest, io);
  return { code, signal: null, stdout: io.out, stderr: io.err };
};

/** Runs the CLI as a child process of the runtime under test. */
const asChild: Runner = (args, env = {}) => runCli(args, { env });

/** Fails with the command's output when it did not exit 0; returns its stdout. */
function ok(r: Finished, what: string): string {
  assert.equal(r.code, 0, `${what} exited with ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, "", what);
  return r.stdout;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
const fingerprintOf = (pem: string) =>
  new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();

/** The SPKI pin as the documented openssl pipeline computes it. */
async function opensslPin(certFile: string): Promise<string> {
  const pipeline =
    `openssl x509 -in '${certFile}' -pubkey -noout | openssl pkey -pubin -outform der` +
    " | openssl dgst -sha256 -binary | openssl base64 -A";
  const r = await runProgram("sh", ["-c", pipeline]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/**
 * The certs commands, one after the other, as a user runs them, each result
 * checked with openssl: init, issue (server, and client with --p12), inspect
 * --json, pin, revoke.
 */
async function certsScenario(run: Runner, tmp: string): Promise<void> {
  const dir = join(tmp, "certs"); // does not exist yet: init makes it 0700
  const at = (name: string) => join(dir, name);

  const init = ok(await run(["certs", "init", "--dir", dir]), "certs init");
  assert.match(init, /^Created a CA, a server and a client certificate \(ec-p256\) in "/);
  assert.equal(await modeOf(dir), 0o700, "a new certs folder is 0700");
  for (const key of ["ca.key", "server.key", "client.key"]) {
    assert.equal(await modeOf(at(key)), 0o600, key);
  }
  const verify = (purpose: string, file: string, ...extra: string[]) =>
    runProgram("openssl", ["verify", "-CAfile", at("ca.crt"), "-purpose", purpose, ...extra, file]);
  assert.equal(
    ok(await verify("sslserver", at("server.crt")), "verify"),
    `${at("server.crt")}: OK\n`,
  );
  assert.equal(
    ok(await verify("sslclient", at("client.crt")), "verify"),
    `${at("client.crt")}: OK\n`,
  );
  // The purpose is checked: a client certificate is no server certificate.
  assert.notEqual((await verify("sslserver", at("client.crt"))).code, 0);

  const server = ok(
    await run([
      "certs",
      "issue",
      "server",
      "api",
      "--dir",
      dir,
      "--san",
      "dns:api.example.test,ip:127.0.0.2",
    ]),
    "certs issue server",
  );
  assert.match(server, /^Issued a server certificate for CN=api \(ec-p256\):/);
  assert.equal(await modeOf(at("api.key")), 0o600);
  assert.equal(ok(await verify("sslserver", at("api.crt")), "verify"), `${at("api.crt")}: OK\n`);
  assert.match(
    await opensslOk(["x509", "-in", at("api.crt"), "-noout", "-ext", "subjectAltName"]),
    /DNS:api\.example\.test, IP Address:127\.0\.0\.2/,
  );

  const password = { P12_PW: "correct horse battery" };
  const client = ok(
    await run([
      "certs",
      "issue",
      "client",
      "agent-1",
      "--dir",
      dir,
      "--san",
      "uri:spiffe://example.org/agent-1",
      "--p12",
      "--password-env",
      "P12_PW",
    ], password),
    "certs issue client --p12",
  );
  assert.match(client, /agent-1\.p12/);
  assert.equal(await modeOf(at("agent-1.key")), 0o600);
  assert.equal(await modeOf(at("agent-1.p12")), 0o600, "the .p12 holds the key");
  assert.equal(
    ok(await verify("sslclient", at("agent-1.crt")), "verify"),
    `${at("agent-1.crt")}: OK\n`,
  );
  const p12 = (env: Record<string, string>) =>
    runProgram("openssl", [
      "pkcs12",
      "-info",
      "-in",
      at("agent-1.p12"),
      "-passin",
      "env:P12_PW",
      "-nodes",
    ], { env });
  const opened = await p12(password);
  assert.equal(opened.code, 0, opened.stderr);
  assert.match(opened.stderr, /PBES2, PBKDF2, AES-256-CBC/);
  assert.match(opened.stdout, /subject=CN = agent-1/);
  assert.match(opened.stdout, /-----BEGIN PRIVATE KEY-----/);
  // The key inside is the key of the certificate.
  const keyInside = /-----BEGIN PRIVATE KEY-----[^]*?-----END PRIVATE KEY-----\n/.exec(
    opened.stdout,
  )![0];
  assert.equal(
    await opensslOk(["pkey", "-pubout"], { stdin: keyInside }),
    await opensslOk(["x509", "-in", at("agent-1.crt"), "-pubkey", "-noout"]),
  );
  const wrong = await p12({ P12_PW: "wrong" });
  assert.notEqual(wrong.code, 0, "a wrong password does not open the .p12");
  assert.match(wrong.stderr, /mac verify (error|failure)/i);

  const inspected = JSON.parse(
    ok(await run(["certs", "inspect", at("agent-1.crt"), "--json"]), "certs inspect"),
  );
  const pem = await readFile(at("agent-1.crt"), "utf8");
  const serial = normalizeSerial(
    (await opensslOk(["x509", "-in", at("agent-1.crt"), "-noout", "-serial"])).replace(
      /^serial=/,
      "",
    ),
  )!;
  assert.equal(inspected.subject, "CN=agent-1");
  assert.equal(inspected.issuer, "CN=mcp-mtls Root CA");
  assert.deepEqual(inspected.subjectAltNames, [
    { type: "uri", value: "spiffe://example.org/agent-1" },
  ]);
  assert.deepEqual(inspected.extendedKeyUsage, ["clientAuth"]);
  assert.equal(inspected.isCa, false);
  assert.equal(normalizeSerial(inspected.serialNumber), serial);
  assert.equal(inspected.fingerprint, fingerprintOf(pem));

  const pin = ok(await run(["certs", "pin", at("agent-1.crt")]), "certs pin");
  assert.equal(pin, `${await opensslPin(at("agent-1.crt"))}\n`);
  assert.equal(pin.trim(), inspected.spkiPin);

  const revoked = ok(
    await run(["certs", "revoke", at("agent-1.crt"), "--dir", dir, "--reason", "keyCompromise"]),
    "certs revoke",
  );
  assert.match(
    revoked,
    new RegExp(
      `^Revoked serial "${serial}" \\(CN=agent-1\\), reason keyCompromise; ` +
        `wrote "${at("ca.crl").replace(/[.]/g, "\\.")}" \\(CRL number 1, 1 entries, `,
    ),
  );
  const crl = await runProgram("openssl", [
    "crl",
    "-in",
    at("ca.crl"),
    "-CAfile",
    at("ca.crt"),
    "-noout",
    "-text",
  ]);
  assert.equal(crl.code, 0, crl.stderr);
  assert.match(crl.stdout + crl.stderr, /verify OK/, "the CRL is signed by the CA");
  assert.match(crl.stdout, new RegExp(`Serial Number: 0*${serial.toUpperCase()}\\n`));
  assert.match(crl.stdout, /Key Compromise/);
  assert.match(crl.stdout, /X509v3 CRL Number: \n\s+1\n/);
  const crlCheck = ["-crl_check", "-CRLfile", at("ca.crl")];
  const refused = await verify("sslclient", at("agent-1.crt"), ...crlCheck);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stdout + refused.stderr, /certificate revoked/);
  assert.equal(
    ok(await verify("sslclient", at("client.crt"), ...crlCheck), "verify with the CRL"),
    `${at("client.crt")}: OK\n`,
  );
}

test(
  "certs init, issue, inspect, pin and revoke in-process write what openssl accepts",
  SLOW,
  async () => {
    await withTempDir((tmp) => certsScenario(inProcess, tmp));
  },
);

test(
  `certs init, issue, inspect, pin and revoke as child processes of ${RUNTIME} write what openssl accepts`,
  SLOW,
  async () => {
    await withTempDir((tmp) => certsScenario(asChild, tmp));
  },
);

/** A certs folder made by `certs init`, plus a second client (bob) and a CA it does not trust. */
async function certsFolder(tmp: string) {
  const dir = join(tmp, "certs");
  const other = join(tmp, "other");
  const quiet = captureIo();
  assert.equal(await certsInit(["--dir", dir], quiet), 0, quiet.err);
  assert.equal(await certsIssue(["client", "bob", "--dir", dir], quiet), 0, quiet.err);
  assert.equal(await certsInit(["--dir", other], quiet), 0, quiet.err);
  const read = (path: string) => readFile(path, "utf8");
  const pair = async (d: string, name: string) => ({
    cert: await read(join(d, `${name}.crt`)),
    key: await read(join(d, `${name}.key`)),
    certFile: join(d, `${name}.crt`),
    keyFile: join(d, `${name}.key`),
  });
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    ca: await read(join(dir, "ca.crt")),
    otherCaFile: join(other, "ca.crt"),
    client: await pair(dir, "client"),
    bob: await pair(dir, "bob"),
    /** A client certificate from the other CA. */
    intruder: await pair(other, "client"),
  };
}

type Folder = Awaited<ReturnType<typeof certsFolder>>;

/** Runs `serve args --port 0` in-process until `stop()`; its URL, and what it wrote. */
async function startServe(args: string[]) {
  const ac = new AbortController();
  const io = captureIo();
  const done = serve([...args, "--port", "0"], io, { signal: ac.signal });
  let exited: number | undefined;
  done.then((code) => (exited = code));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    ac.abort();
    assert.equal(await done, 0, io.err);
  };
  try {
    const url = await waitUntil(
      () => {
        if (exited !== undefined) throw new Error(`serve exited with ${exited}`);
        return /at (https:\S+)/.exec(io.out)?.[1];
      },
      "the URL of serve",
    ).catch((e) => {
      throw new Error(`serve printed no URL; stderr: ${io.err}`, { cause: e });
    });
    return { url, io, stop };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}

/** The lines of `text` that a newline has ended (the last may still be half written). */
function completeLines(text: string): string[] {
  return text.split("\n").slice(0, -1);
}

/** The text of the first content item of a tool result. */
function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content[0].text;
}

/** Calls `whoami` as `who` and returns its parsed answer. */
async function whoami(url: string, f: Folder, who: { cert: string; key: string }) {
  const client = await connectMcpClient(url, { cert: who.cert, key: who.key, ca: f.ca });
  try {
    const tools = await client.listTools();
    assert.ok(tools.tools.some((t: { name: string }) => t.name === "whoami"));
    return JSON.parse(text(await client.callTool({ name: "whoami", arguments: {} })));
  } finally {
    await client.close();
  }
}

test(
  `serve -- COMMAND bridges a stdio server run by ${RUNTIME}, which sees each caller's identity`,
  SLOW,
  async () => {
    await withTempDir(async (tmp) => {
      const f = await certsFolder(tmp);
      const command = await writeStdioServer(tmp);
      const s = await startServe(["--certs", f.dir, "--", ...command]);
      try {
        const client = await whoami(s.url, f, f.client);
        assert.equal(client.runtime, RUNTIME, "the child runs on the runtime under test");
        assert.equal(client.fromMeta.commonName, "mcp-client");
        assert.equal(client.fromMeta.fingerprint, fingerprintOf(f.client.cert));
        assert.deepEqual(client.fromEnv, {
          commonName: "mcp-client",
          label: "cn:mcp-client",
          fingerprint: fingerprintOf(f.client.cert),
        });
        const bob = await whoami(s.url, f, f.bob);
        assert.equal(bob.fromMeta.commonName, "bob");
        assert.equal(bob.fromEnv.commonName, "bob");
        assert.notEqual(bob.pid, client.pid, "one child per session");
      } finally {
        await s.stop();
      }
      assert.match(s.io.err, /bridging to a stdio MCP server/);
      assert.match(s.io.err, /Stopping\.\.\.\n/);
    });
  },
);

const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "portable-cli-test", version: "1.0.0" },
  },
};

/** The JSON-RPC messages a `connect` child has written so far (every stdout line must be one). */
function messages(
  out: string,
): { id?: number; result?: Record<string, unknown>; error?: unknown }[] {
  return completeLines(out).filter((l) => l !== "").map((l) => JSON.parse(l));
}

test(
  `connect as a child process of ${RUNTIME} bridges its stdin and stdout to the server`,
  SLOW,
  async () => {
    await withTempDir(async (tmp) => {
      const f = await certsFolder(tmp);
      const s = await startServe(["--certs", f.dir]);
      try {
        const c = startCli([
          "connect",
          s.url,
          "--cert",
          f.client.certFile,
          "--key",
          f.client.keyFile,
          "--ca",
          f.caFile,
        ]);
        try {
          const answer = (id: number) =>
            waitUntil(() => messages(c.stdout()).find((m) => m.id === id), `answer ${id}`);
          c.write(JSON.stringify(INITIALIZE) + "\n");
          const init = await answer(1);
          assert.equal((init.result?.serverInfo as { name: string }).name, "mcp-mtls-demo");
          c.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) + "\n");
          c.write(
            JSON.stringify({
              jsonrpc: "2.0",
              id: 2,
              method: "tools/call",
              params: { name: "whoami", arguments: {} },
            }) + "\n",
          );
          const who = JSON.parse(text((await answer(2)).result));
          assert.equal(who.identity.commonName, "mcp-client");
          assert.equal(who.identity.fingerprint, fingerprintOf(f.client.cert));
          c.endInput();
          const end = await c.finished;
          assert.equal(end.code, 0, end.stderr);
          assert.equal(end.stderr, "");
          assert.deepEqual(messages(end.stdout).map((m) => m.id), [1, 2]);
          // End of input ended the MCP session on the server (DELETE), not just the process.
          await waitUntil(() => /INFO +session closed /.exec(s.io.err) ?? undefined, "the end");
        } finally {
          await c.kill();
        }
      } finally {
        await s.stop();
      }
    });
  },
);

test(
  `connect as a child process of ${RUNTIME} refuses a server from another CA: one line, exit 1`,
  SLOW,
  async () => {
    await withTempDir(async (tmp) => {
      const f = await certsFolder(tmp);
      const s = await startServe(["--certs", f.dir]);
      try {
        const r = await runCli([
          "connect",
          s.url,
          "--cert",
          f.client.certFile,
          "--key",
          f.client.keyFile,
          "--ca",
          f.otherCaFile,
        ], { stdin: JSON.stringify(INITIALIZE) + "\n" });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stdout, "", "nothing but JSON-RPC on stdout, and no answer came");
        const host = new URL(s.url).host.replaceAll(".", "\\.");
        assert.match(
          r.stderr,
          new RegExp(`^mcp-mtls: refused \\(unknown_ca\\): Server "${host}" `),
        );
        assert.equal(r.stderr.split("\n").length, 2, `one line: ${JSON.stringify(r.stderr)}`);
        assert.doesNotMatch(s.io.err, /client admitted|session opened/);
      } finally {
        await s.stop();
      }
    });
  },
);

interface Step {
  name: string;
  status: "pass" | "fail" | "warn" | "skip";
  code?: string;
  fix?: string;
}

test(
  "doctor --json passes every step against serve, and names unknown_ca for a client of another CA",
  SLOW,
  async () => {
    await withTempDir(async (tmp) => {
      const f = await certsFolder(tmp);
      const s = await startServe(["--certs", f.dir]);
      try {
        const diagnose = async (who: { certFile: string; keyFile: string }) => {
          const io = captureIo();
          const args = [s.url, "--cert", who.certFile, "--key", who.keyFile, "--ca", f.caFile];
          const code = await doctor([...args, "--json"], io);
          assert.equal(io.err, "");
          const result = JSON.parse(io.out) as { url: string; ok: boolean; steps: Step[] };
          return { code, result, verdict: new Map(result.steps.map((x) => [x.name, x])) };
        };
        const good = await diagnose(f.client);
        assert.equal(good.code, 0);
        assert.equal(good.result.ok, true);
        assert.equal(good.result.url, s.url);
        for (const name of ["TCP", "TLS", "Chain", "Expiry", "Hostname", "Client", "MCP"]) {
          assert.equal(good.verdict.get(name)?.status, "pass", name);
        }
        assert.ok(good.result.steps.every((x) => x.status === "pass" || x.status === "skip"));

        const unknownCa = () => s.io.err.split("\n").filter((l) => /reason="unknown_ca"/.test(l));
        const before = unknownCa().length;
        const bad = await diagnose(f.intruder);
        assert.equal(bad.code, 1);
        assert.equal(bad.result.ok, false);
        for (const name of ["TCP", "TLS", "Chain", "Hostname"]) {
          assert.equal(bad.verdict.get(name)?.status, "pass", name);
        }
        const client = bad.verdict.get("Client")!;
        assert.equal(client.status, "fail");
        assert.equal(client.code, "unknown_ca");
        assert.ok(client.fix && client.fix.length > 0, "a failure carries a fix");
        assert.equal(bad.verdict.get("MCP")?.status, "skip");
        assert.deepEqual(bad.result.steps.filter((x) => x.status === "fail").map((x) => x.name), [
          "Client",
        ]);
        // The server refused it once, at warn, naming the peer.
        await waitUntil(() => unknownCa().length > before || undefined, "the refusal in the log");
        const refusals = unknownCa();
        assert.equal(refusals.length, before + 1, s.io.err);
        assert.match(refusals.at(-1)!, / WARN .*connection refused peer="127\.0\.0\.1:\d+"/);
      } finally {
        await s.stop();
      }
    });
  },
);

test(
  `doctor as a child process of ${RUNTIME} prints the failing step and exits 1`,
  SLOW,
  async () => {
    await withTempDir(async (tmp) => {
      const f = await certsFolder(tmp);
      const s = await startServe(["--certs", f.dir]);
      try {
        const r = await runCli([
          "doctor",
          s.url,
          "--cert",
          f.intruder.certFile,
          "--key",
          f.intruder.keyFile,
          "--ca",
          f.caFile,
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stdout, /\n\S+ Client +unknown_ca: /);
        assert.match(
          r.stdout,
          new RegExp(`\\n1 check failed for ${s.url.replace(/[.]/g, "\\.")}\\n$`),
        );
      } finally {
        await s.stop();
      }
    });
  },
);

interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

test(
  `serve as a child process of ${RUNTIME} enforces a certs revoke without a restart and stops on SIGTERM`,
  SLOW,
  async () => {
    await withTempDir(async (tmp) => {
      const f = await certsFolder(tmp);
      const crlFile = join(f.dir, "ca.crl");
      const server = startCli(["serve", "--certs", f.dir, "--port", "0", "--log-format", "json"]);
      try {
        const url = (await server.waitFor(/Serving MCP over mutual TLS at (https:\S+)\n/))[1];
        assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
        const log = (): LogLine[] =>
          completeLines(server.stderr()).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
        const refusals = (reason: string) =>
          log().filter((l) => l.msg === "connection refused" && l.reason === reason);
        assert.equal((await whoami(url, f, f.client)).identity.commonName, "mcp-client");

        // `certs revoke`, run as a user would while the server runs.
        const serial = normalizeSerial(new X509Certificate(f.client.cert).serialNumber);
        const revoke = await runCli(["certs", "revoke", f.client.certFile, "--dir", f.dir]);
        assert.equal(revoke.code, 0, revoke.stderr);
        const loaded = await waitUntil(
          () => log().find((l) => l.msg === "CRL loaded" && l.source === crlFile),
          "the server to load the new CRL",
        );
        assert.equal(loaded.level, "info");
        assert.equal(loaded.entries, 1);

        const error = await whoami(url, f, f.client).then(() => undefined, (e) => e);
        // The server judges the certificate after the TLS 1.3 handshake and closes the
        // connection without an alert: the client cannot tell why; the server's log can.
        assert.ok(error instanceof PeerRejectedError, `expected a refusal, got ${error}`);
        assert.match(error.message, /closed the connection right after the handshake/);
        // Bun's fetch reports every refusal as a reset, so the client there handshakes once
        // more to learn why: two refused connections. Log lines cross a pipe: they may
        // arrive after the client saw the close.
        const connections = RUNTIME === "bun" ? 2 : 1;
        const logged = await waitUntil(
          () => refusals("revoked").length >= connections ? refusals("revoked") : undefined,
          "the refusal in the log",
        );
        for (const refusal of logged) {
          assert.equal(refusal.level, "warn");
          assert.match(String(refusal.peer), /^127\.0\.0\.1:\d+$/);
          assert.match(
            String(refusal.detail),
            new RegExp(`^Certificate serial "${serial}" is revoked \\(unspecified\\): `),
          );
        }
        assert.equal(
          (await whoami(url, f, f.bob)).identity.commonName,
          "bob",
          "the next good client",
        );
        const peers = refusals("revoked").map((l) => l.peer);
        assert.equal(peers.length, connections, "each refused connection is logged once");
        assert.equal(new Set(peers).size, connections);

        server.signal("SIGTERM");
        const end = await server.finished;
        assert.equal(end.signal, null, end.stderr);
        assert.equal(end.code, 0, end.stderr);
        assert.match(end.stderr, /\nStopping\.\.\.\n$/);
      } finally {
        await server.kill();
      }
    });
  },
);
