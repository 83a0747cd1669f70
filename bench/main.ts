/**
 * `deno task bench`: runs every benchmark in its own process, one after the
 * other (so they do not compete for the two cores), after a header naming the
 * machine, the versions and the load average (other work on the machine
 * skews every figure), so a pasted run can be compared with another.
 *
 * - pki: certificate generation per key type;
 * - cert_parse: reading a certificate with our model vs the ASN.1 libraries;
 * - crl_writer: signing a CRL with our writer vs @peculiar/x509's generator;
 * - pins: pin and limiter checks per connection;
 * - revocation: CRL/OCSP lookups, cold and warm;
 * - timings: limiter and refusal-log throughput, CRL signing (numbers tests no longer assert);
 * - admission: admission cost per new connection, this tree vs a baseline commit;
 * - handshake_revocation: handshakes/s with revocation off, CRL, OCSP;
 * - gateway: keep-alive tools/call through the gateway vs directly to the upstream;
 * - auth: bound-token check per request (warm JWKS), and tools/call with vs without auth;
 * - workers: `serve --workers 1` vs `2`: handshakes/s, tools/call/s and p99 (closed and paced),
 *   with server CPU per operation and the load generator's CPU;
 * - per_call: server CPU per keep-alive tools/call, stateful, stateless and the
 *   stdio bridge (BENCH_BASE=DIR compares another checkout in the same run);
 * - mcp: handshakes, keep-alive tools/call and idle memory of our server
 *   on Deno, Node.js and Bun (the last two from the npm build: run
 *   `deno task build:npm` first, else they are listed as skipped), against
 *   the same server without TLS, the SDK transport, Go and nginx.
 *
 * Usage: `deno task bench [name ...]` where name is a file in bench/ without
 * `.ts` (default: all of them).
 */
import { cpus, loadavg, totalmem } from "node:os";

const ALL = [
  "pki",
  "cert_parse",
  "crl_writer",
  "pins",
  "revocation",
  "timings",
  "admission",
  "handshake_revocation",
  "mcp",
  "gateway",
  "auth",
  "workers",
  "per_call",
];
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.split("\n")[0].trim(); // nginx -v answers on stderr
  } catch {
    return "not installed";
  }
}

async function main(names: string[]): Promise<number> {
  const chosen = names.length > 0 ? names : ALL;
  const here = new URL(".", import.meta.url).pathname;
  console.log(`# mcp-mtls benchmarks, ${new Date().toISOString()}`);
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${
      Math.round(totalmem() / 2 ** 30)
    } GiB; deno ${Deno.version.deno} (v8 ${Deno.version.v8}); ${await version("openssl", [
      "version",
    ])}; node ${await version("node", ["--version"])}; ${await version("go", [
      "version",
    ])}; ${await version(
      "nginx",
      ["-v"],
    )}`,
  );
  console.log(`load average (1/5/15 min): ${load()}`);
  let failed = 0;
  for (const name of chosen) {
    const file = `${here}${name}.ts`;
    try {
      await Deno.stat(file);
    } catch {
      console.log(`\n## ${name}: not present (bench/${name}.ts missing)`);
      continue;
    }
    console.log(`\n## ${name}`);
    const t0 = performance.now();
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", file],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    console.log(
      `(${name}: ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s, exit ${code}, load average ${load()})`,
    );
    if (code !== 0) failed++;
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
