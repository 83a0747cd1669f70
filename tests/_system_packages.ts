/**
 * System programs the suite needs beyond Deno, Node.js, openssl and curl, and
 * the preflight that installs them: tests/run_all.ts (the README's test
 * command) calls {@link ensureSystemPackages} first, so a fresh machine (and
 * CI, which runs as root) gets them from Debian with apt-get. Where they cannot
 * be installed it says so in one line, and the tests that need them fail with
 * their own clear message (they never skip).
 *
 * @example
 * ```ts ignore
 * import { ensureSystemPackages, findProgram } from "./_system_packages.ts";
 * const ok = await ensureSystemPackages();
 * const haproxy = findProgram("haproxy");
 * ```
 */

/** Program name → Debian package, and the test that needs it. */
const PACKAGES: readonly { program: string; pkg: string; usedBy: string }[] = [
  { program: "haproxy", pkg: "haproxy", usedBy: "tests/scale/haproxy_test.ts" },
];

/** Where Debian puts programs; /usr/sbin is not on a non-root PATH. */
const DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The path of `program` (PATH first, then the usual system folders), or `undefined`. */
export function findProgram(program: string): string | undefined {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...path, ...DIRS]) {
    try {
      if (Deno.statSync(`${dir}/${program}`).isFile) return `${dir}/${program}`;
    } catch { /* not here */ }
  }
  return undefined;
}

/**
 * The path of `program`, or an error telling how to install it (for tests
 * that must fail, not skip, without it).
 */
export function requireProgram(program: string): string {
  const found = findProgram(program);
  if (found) return found;
  const p = PACKAGES.find((x) => x.program === program);
  throw new Error(
    `${program} is not installed: run "apt-get install -y ${p?.pkg ?? program}" ` +
      `(tests/run_all.ts does it when run as root)`,
  );
}

async function quiet(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const r = await new Deno.Command(cmd, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/**
 * Installs the missing programs with apt-get when running as root; prints one
 * line per program installed or missing. Resolves false when one is still
 * missing.
 */
export async function ensureSystemPackages(): Promise<boolean> {
  let ok = true;
  for (const { program, pkg, usedBy } of PACKAGES) {
    if (findProgram(program)) continue;
    const apt = findProgram("apt-get");
    const root = Deno.uid?.() === 0;
    if (!apt || !root) {
      console.log(
        `test: ${program} is missing and cannot be installed here (${
          apt ? "not root" : "no apt-get"
        }): run "apt-get install -y ${pkg}" as root; ${usedBy} fails without it`,
      );
      ok = false;
      continue;
    }
    // Installing from the package lists at hand first; they may be stale or absent on a fresh machine.
    let r = await quiet(apt, ["install", "-y", "-qq", pkg]);
    if (!r.ok) {
      await quiet(apt, ["update", "-qq"]);
      r = await quiet(apt, ["install", "-y", "-qq", pkg]);
    }
    if (r.ok && findProgram(program)) {
      console.log(`test: installed ${pkg} with apt-get (for ${usedBy})`);
    } else {
      const last = r.out.trim().split("\n").pop() ?? "";
      console.log(`test: "apt-get install -y ${pkg}" failed (${last}); ${usedBy} fails without it`);
      ok = false;
    }
  }
  return ok;
}
