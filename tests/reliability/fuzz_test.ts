// Parsers fed mutated valid samples (bit flips, truncations, insertions,
// deletions, duplications, corrupted DER lengths). Every failure must be an
// MtlsError with a code; anything else, and any case slower than the bound, is
// a finding. Seeded: the seed is printed, MCP_MTLS_SEED=N replays it.
import assert from "node:assert/strict";
import { MtlsError } from "../../src/errors.ts";
import {
  fromPkcs12,
  importPrivateKey,
  inspectCertificate,
  parseCertificates,
} from "../../src/pki/mod.ts";
import { createRevocationChecker, parseCrl, verifyCrl } from "../../src/revocation/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { readCertificate } from "../../src/cert/certificate.ts";
import { ocspCertId, verifyOcspResponse } from "../../src/revocation/ocsp.ts";
import { loadConfigFile, loadServeConfig } from "../../src/config/mod.ts";
import { main } from "../../src/cli/main.ts";
import { mutate, prng, type Rng, scale, seedFor, within } from "./_harness.ts";
import { makeSamples, type Samples } from "./_samples.ts";

const CASES = Number(Deno.env.get("MCP_MTLS_FUZZ_CASES") ?? scale(300, 10_000));
const CASE_MS = 5_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

let shared: Promise<Samples> | undefined;
const samples = () => shared ??= makeSamples("fuzz");

interface Outcome {
  cases: number;
  accepted: number;
  typed: Map<string, number>;
  findings: string[];
}

/** Runs `CASES` mutated inputs through `parse`; fails on untyped errors or hangs. */
async function fuzz(
  name: string,
  seeds: Uint8Array[],
  parse: (input: Uint8Array) => Promise<unknown> | unknown,
): Promise<Outcome> {
  const seed = seedFor(`fuzz ${name}`);
  const rng = prng(seed);
  const out: Outcome = { cases: 0, accepted: 0, typed: new Map(), findings: [] };
  for (let i = 0; i < CASES; i++) {
    let input = seeds[rng.int(seeds.length)];
    const hows: string[] = [];
    const rounds = 1 + rng.int(3);
    for (let k = 0; k < rounds; k++) {
      const m = mutate(input, rng);
      input = m.bytes;
      hows.push(m.how);
    }
    out.cases++;
    try {
      await within(CASE_MS, Promise.resolve().then(() => parse(input)), `${name} case ${i}`);
      out.accepted++;
    } catch (e) {
      if (e instanceof MtlsError && typeof e.code === "string" && e.code) {
        out.typed.set(e.code, (out.typed.get(e.code) ?? 0) + 1);
      } else {
        const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        out.findings.push(`case ${i} (${hows.join(", ")}): ${what.slice(0, 200)}`);
      }
    }
  }
  console.log(
    `FUZZ ${name}: ${out.cases} cases, ${out.accepted} accepted, typed errors ${
      JSON.stringify(Object.fromEntries(out.typed))
    }, findings ${out.findings.length} (seed ${seed})`,
  );
  return out;
}

function assertClean(o: Outcome) {
  const unique = [...new Set(o.findings.map((f) => f.replace(/^case \d+ \([^)]*\): /, "")))];
  assert.deepEqual(
    unique.slice(0, 5),
    [],
    `${o.findings.length} untyped errors or hangs, e.g. ${o.findings.slice(0, 3).join(" | ")}`,
  );
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...opts,
  name: `fuzz PEM: ${CASES} mutated certificate and key PEM texts give typed errors only`,
  async fn() {
    const s = await samples();
    const seeds = [
      s.ca.certificatePem,
      s.leaf.certificatePem + s.ca.certificatePem,
      s.leaf.privateKeyPem!,
    ]
      .map((t) => enc.encode(t));
    assertClean(
      await fuzz("PEM", seeds, async (b) => {
        const text = dec.decode(b);
        if (text.includes("PRIVATE KEY")) await importPrivateKey(text);
        else for (const c of parseCertificates(text)) await inspectCertificate(c);
      }),
    );
  },
});

Deno.test({
  ...opts,
  name: `fuzz DER certificate: ${CASES} mutated certificates give typed errors only`,
  async fn() {
    const s = await samples();
    assertClean(
      await fuzz("DER certificate", [s.caDer, s.leafDer], async (b) => {
        for (const c of parseCertificates(b)) await inspectCertificate(c);
      }),
    );
  },
});

Deno.test({
  ...opts,
  name: `fuzz PKCS#12: ${CASES} mutated files give typed errors only`,
  async fn() {
    const s = await samples();
    assertClean(await fuzz("PKCS#12", [s.p12], (b) => fromPkcs12(b, s.p12Password)));
  },
});

Deno.test({
  ...opts,
  name: `fuzz CRL: ${CASES} mutated CRLs give typed errors only (parse, then verify)`,
  async fn() {
    const s = await samples();
    assertClean(
      await fuzz("CRL", [s.crlDer], async (b) => {
        const crl = parseCrl(b, "fuzz.crl");
        await verifyCrl(crl, s.caDer);
      }),
    );
  },
});

Deno.test({
  ...opts,
  name:
    `fuzz OCSP response: ${CASES} mutated responses through the revocation checker give typed errors only`,
  async fn() {
    const s = await samples();
    // Through the public checker (a fresh one per case, so no answer is cached): what a
    // responder, or anyone on the path to a plain-HTTP responder, can feed the server.
    assertClean(
      await fuzz("OCSP", [s.ocspDer], async (b) => {
        const checker = createRevocationChecker({
          ocsp: { url: "http://127.0.0.1:9/ocsp", nonce: false },
          fetch: () => Promise.resolve(new Response(b as BodyInit)),
          logger: silentLogger,
        });
        try {
          await checker.verify(s.leafDer, s.caDer);
        } finally {
          checker.close();
        }
      }),
    );
  },
});

Deno.test("verifyOcspResponse() of a response with a zero-length INTEGER throws RevocationError ocsp_invalid (found by the fuzzer)", async () => {
  // Found by the OCSP fuzzer (stress). Harmless through createRevocationChecker, whose OCSP
  // client catches everything and answers "unknown" with a warning, but the function's
  // contract (@throws RevocationError ocsp_invalid) does not hold: the DER walk after the
  // pkijs parse (src/revocation/ocsp.ts) is outside the try that wraps errors.
  const s = await samples();
  const der = s.ocspDer.slice();
  assert.equal(der[32], 0x02, "unexpected OCSP response layout");
  der[33] = 0x00;
  const leaf = readCertificate(s.leafDer);
  const issuer = readCertificate(s.caDer);
  const certId = await ocspCertId(leaf, issuer);
  const options = { leaf, issuer, certId, now: new Date(), clockSkew: 300_000, source: "x" };
  await assert.rejects(verifyOcspResponse(der, options), (e: unknown) => {
    assert.ok(e instanceof MtlsError, `untyped: ${(e as Error).name}: ${(e as Error).message}`);
    assert.equal(e.code, "ocsp_invalid");
    return true;
  });
});

Deno.test({
  ...opts,
  name: `fuzz config files: ${CASES} mutated YAML and JSON files give typed errors only`,
  async fn() {
    const s = await samples();
    const seeds = [enc.encode(s.configYaml), enc.encode(s.configJson)];
    assertClean(
      await fuzz("config", seeds, async (b) => {
        const text = dec.decode(b);
        const file = text.trimStart().startsWith("{")
          ? "/nonexistent/fuzz.json"
          : "/nonexistent/fuzz.yaml";
        const readTextFile = () => Promise.resolve(text);
        await loadConfigFile(file, { readTextFile });
        await loadServeConfig({ file, readTextFile, env: {} });
      }),
    );
  },
});

/** Random argv for `main`: real commands, flags and values, mutated and shuffled. */
function randomArgv(rng: Rng, dir: string, files: string[]): string[] {
  const commands = [
    ["certs", "init"],
    ["certs", "issue"],
    ["certs", "inspect"],
    ["certs", "pin"],
    ["certs", "revoke"],
    ["certs"],
    [],
    ["nope"],
    ["--help"],
    ["--version"],
    // Commands that would serve or connect get an unknown flag first, so they stop at parsing.
    ["serve", "--no-such-flag"],
    ["connect", "--no-such-flag"],
    ["doctor", "--no-such-flag"],
  ];
  const flags = [
    "--dir",
    "--key",
    "--days",
    "--force",
    "--san",
    "--p12",
    "--password-env",
    "--json",
    "--reason",
    "--help",
    "-h",
    "--bogus",
    "--",
    "-",
    "--dir=",
    "--days=7",
  ];
  const values = [
    dir,
    `${dir}/sub`,
    "ec-p256",
    "ec-p384",
    "ed25519",
    "rsa-1",
    "rsa-2048x",
    "dsa",
    "0",
    "-1",
    "1",
    "36501",
    "99999999999999999999",
    "NaN",
    "server",
    "client",
    "bob",
    "../escape",
    "dns:localhost,ip:127.0.0.1",
    "ip:999.1.1.1",
    "uri:",
    "email:@",
    "dns:" + "a".repeat(300),
    "keyCompromise",
    "superseded",
    "no-such-reason",
    "01ab",
    "zz",
    "FUZZ_PASSWORD",
    "",
    "\u0000",
    "é😀",
    "x".repeat(5000),
    ...files,
  ];
  const argv = [...commands[rng.int(commands.length)]];
  const n = rng.int(7);
  for (let i = 0; i < n; i++) {
    const pool = rng.int(2) ? flags : values;
    let token = pool[rng.int(pool.length)];
    if (rng.int(6) === 0) token = dec.decode(mutate(enc.encode(token || "x"), rng).bytes);
    argv.push(token);
  }
  return confine(argv, dir);
}

/**
 * Keeps every file the CLI may write inside `dir`: a `certs` command always
 * gets `--dir dir` first (the default would be ./certs), and a later random
 * --dir value that is relative or climbs with ".." is re-rooted under `dir`.
 * Without this the fuzzer wrote folders such as "bob/" into the working tree.
 */
function confine(argv: string[], dir: string): string[] {
  const inside = (v: string) =>
    v.startsWith(dir) && !v.includes("..") ? v : `${dir}/in/${v.replaceAll("..", "dotdot")}`;
  const out = [...argv];
  if (out[0] === "certs" && out.length >= 2) out.splice(2, 0, "--dir", dir);
  for (let i = 0; i < out.length; i++) {
    if (out[i] === "--dir" && i + 1 < out.length) out[i + 1] = inside(out[i + 1]);
    else if (out[i].startsWith("--dir=")) out[i] = `--dir=${inside(out[i].slice(6))}`;
  }
  return out;
}

const INTERNAL =
  /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read propert|is not a function|undefined is not|Maximum call stack|Unexpected error/;

Deno.test({
  ...opts,
  name: `fuzz CLI flags: ${CASES} random argv give an exit code and at most one clear line`,
  async fn() {
    const s = await samples();
    const dir = await Deno.makeTempDir({ prefix: "rel-fuzz-cli-" });
    try {
      await main(["certs", "init", "--dir", dir], {
        stdout: () => {},
        stderr: () => {},
        env: () => undefined,
      });
      await Deno.writeFile(`${dir}/garbage.bin`, prng(7).bytes(700));
      await Deno.writeFile(`${dir}/leaf.der`, s.leafDer);
      await Deno.mkdir(`${dir}/a-folder`);
      const files = [
        `${dir}/server.crt`,
        `${dir}/client.key`,
        `${dir}/ca.crt`,
        `${dir}/garbage.bin`,
        `${dir}/leaf.der`,
        `${dir}/a-folder`,
        `${dir}/missing.crt`,
      ];
      const seed = seedFor("fuzz CLI");
      const rng = prng(seed);
      const findings: string[] = [];
      const codes = new Map<number, number>();
      for (let i = 0; i < CASES; i++) {
        const argv = randomArgv(rng, dir, files);
        let err = "";
        const io = {
          stdout: () => {},
          stderr: (t: string) => void (err += t),
          env: (k: string) => (k === "FUZZ_PASSWORD" ? "fuzz-password" : undefined),
        };
        let code: number;
        try {
          code = await within(20_000, main(argv, io), `CLI case ${i}`);
        } catch (e) {
          findings.push(`case ${i} ${JSON.stringify(argv).slice(0, 200)}: threw ${e}`);
          continue;
        }
        codes.set(code, (codes.get(code) ?? 0) + 1);
        // An argument with a line break, echoed inside quotes, is the caller's own line break:
        // count the lines the program wrote, not those it quoted.
        let own = err;
        for (const a of argv) if (a.includes("\n")) own = own.split(a).join("ARG");
        const lines = own.trimEnd().split("\n").filter(Boolean);
        const usage = lines[0]?.startsWith("Usage:") || lines[0]?.startsWith("mcp-mtls ");
        const problems = [
          ![0, 1, 2].includes(code) && `exit code ${code}`,
          code !== 0 && lines.length === 0 && "failed silently",
          code !== 0 && lines.length > 1 && !usage && `${lines.length} lines`,
          INTERNAL.test(err) && "internal error text",
        ].filter(Boolean);
        if (problems.length) {
          findings.push(
            `case ${i} ${JSON.stringify(argv).slice(0, 200)}: ${problems.join(", ")}: ${
              err.slice(0, 300)
            }`,
          );
        }
      }
      console.log(
        `FUZZ CLI: ${CASES} cases, exit codes ${
          JSON.stringify(Object.fromEntries(codes))
        }, findings ${findings.length} (seed ${seed})`,
      );
      assert.deepEqual(findings.slice(0, 5), [], `${findings.length} findings`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("inspectCertificate() of a certificate whose key usage extension is malformed throws invalid_der (the model refuses it when read)", async () => {
  const s = await samples();
  const der = s.leafDer.slice();
  // id-ce-keyUsage (2.5.29.15), then [critical BOOLEAN], OCTET STRING { BIT STRING { unused, bits } }
  const oid = [0x06, 0x03, 0x55, 0x1d, 0x0f];
  const at = der.findIndex((_, i) => oid.every((b, k) => der[i + k] === b));
  assert.ok(at > 0, "sample has no key usage extension");
  let p = at + oid.length;
  if (der[p] === 0x01) p += 3; // critical flag
  assert.equal(der[p], 0x04);
  assert.equal(der[p + 2], 0x03);
  der[p + 4] = 0x09; // unused bits must be 0..7
  // Every field is read up front: the bad extension fails the read, typed, never later.
  assert.throws(() => parseCertificates(der), (e: unknown) => {
    assert.ok(e instanceof MtlsError, `untyped: ${e}`);
    assert.equal(e.code, "invalid_der");
    assert.match(String((e.cause as Error)?.message), /keyUsage BIT STRING claims 9 unused bits/);
    return true;
  });
  await assert.rejects(inspectCertificate(der), (e: unknown) => {
    assert.ok(e instanceof MtlsError, `untyped: ${e}`);
    assert.equal(e.code, "invalid_der");
    return true;
  });
});

Deno.test("certs revoke with an option missing its value exits 2 with one line (found by the CLI fuzzer)", async () => {
  let err = "";
  const io = { stdout: () => {}, stderr: (t: string) => void (err += t), env: () => undefined };
  const code = await main(["certs", "revoke", "client.crt", "--days", "--json"], io);
  assert.equal(code, 2, err);
  assert.equal(err.trimEnd().split("\n").length, 1, err);
  assert.match(err, /--days/);
});

Deno.test("loadConfigFile() of YAML with an alias to a missing anchor throws ConfigError (found by the config fuzzer)", async () => {
  const readTextFile = () => Promise.resolve("port: 8443\nhostname: *nowhere\n");
  await assert.rejects(loadConfigFile("fuzz.yaml", { readTextFile }), (e: unknown) => {
    assert.ok(e instanceof MtlsError, `untyped: ${e}`);
    assert.equal(e.code, "invalid_config");
    assert.match(e.message, /fuzz\.yaml/);
    assert.equal(e.message.split("\n").length, 1);
    return true;
  });
});
