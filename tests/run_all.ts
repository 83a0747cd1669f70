/**
 * The README's test command (`deno task test`): builds the npm package, runs
 * the whole Deno suite, then the portable tests (tests/portable) under Node.js
 * and Bun from the npm build, and prints one summary line per runtime and a
 * total. Every step runs even when an earlier one fails; the exit code is
 * non-zero when any did.
 *
 * Environment: MCP_MTLS_TEST_ONLY=deno|node|bun runs one runtime (after the
 * build); arguments after `--` go to `deno test` (for example a path).
 *
 * First, system programs some tests need (HAProxy) are installed with apt-get
 * when missing and running as root (tests/_system_packages.ts).
 */
import { ensureSystemPackages } from "./_system_packages.ts";

const root = new URL("../", import.meta.url).pathname;
const npm = `${root}npm`;
const only = Deno.env.get("MCP_MTLS_TEST_ONLY");
const given = Deno.args.filter((a) => a !== "--");
const denoArgs = given.length ? given : ["tests/"];

interface Step {
  name: string;
  cmd: string[];
  cwd: string;
  env?: Record<string, string>;
  /** Reads "passed, failed" from the step's output. */
  count(out: string): { passed: number; failed: number } | undefined;
}

// deno-lint-ignore no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const num = (re: RegExp, s: string) => {
  const all = [...s.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
};

const steps: Step[] = [
  {
    name: "deno",
    cmd: [Deno.execPath(), "test", "-A", "--parallel", ...denoArgs],
    cwd: root,
    count(out) {
      const m = /^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed/m.exec(
        plain(out).split("\n").reverse().join("\n"),
      );
      return m ? { passed: Number(m[1]), failed: Number(m[2]) } : undefined;
    },
  },
  {
    name: "node",
    cmd: ["node", "--test", "build/tests/portable/"],
    cwd: npm,
    env: { MCP_MTLS_TEST_RUNTIME: "node" },
    count(out) {
      const passed = num(/^# pass (\d+)$/gm, out);
      const failed = num(/^# fail (\d+)$/gm, out);
      return passed === undefined || failed === undefined ? undefined : { passed, failed };
    },
  },
  {
    name: "bun",
    cmd: [`${npm}/node_modules/.bin/bun`, "test", "--timeout", "120000", "build/tests/portable/"],
    cwd: npm,
    env: { MCP_MTLS_TEST_RUNTIME: "bun" },
    count(out) {
      const passed = num(/^\s*(\d+) pass$/gm, plain(out));
      const failed = num(/^\s*(\d+) fail$/gm, plain(out));
      return passed === undefined || failed === undefined ? undefined : { passed, failed };
    },
  },
];

async function run(cmd: string[], cwd: string, env?: Record<string, string>): Promise<{
  code: number;
  out: string;
}> {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const dec = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      out += dec.decode(chunk, { stream: true });
      await sink.write(chunk);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  return { code: (await child.status).code, out };
}

const systemOk = await ensureSystemPackages();

console.log("test: building the npm package (npm/build) for the node, bun and binary tests");
const npmInstall = await run(
  ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
  npm,
);
const build = npmInstall.code === 0 ? await run(["node", "build.mjs"], npm) : npmInstall;
if (build.code !== 0) {
  console.log("test: the npm build failed; node, bun and binary tests cannot run");
  Deno.exit(1);
}

const results: string[] = [];
let passed = 0;
let failed = 0;
let broken = false;
for (const step of steps) {
  if (only && step.name !== only) continue;
  console.log(`\ntest: ${step.name}: ${step.cmd.join(" ")}`);
  const { code, out } = await run(step.cmd, step.cwd, step.env);
  const c = step.count(out);
  if (!c) {
    broken = true;
    results.push(`${step.name}: no summary found (exit ${code})`);
    continue;
  }
  passed += c.passed;
  failed += c.failed;
  if (code !== 0 && c.failed === 0) broken = true;
  results.push(
    `${step.name}: ${c.passed} passed, ${c.failed} failed${code ? ` (exit ${code})` : ""}`,
  );
}
console.log(`\n${results.join("\n")}`);
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed > 0 || broken || !systemOk ? 1 : 0);
