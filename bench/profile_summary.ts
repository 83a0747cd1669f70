/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`, e.g. the bench
 * server under `BENCH_PROFILE=DIR deno run -A bench/mcp.ts ours`): the
 * functions with the most self time, and the source files and packages with
 * the most self time, in percent of the samples that were not idle.
 *
 * Usage: deno run -A bench/profile_summary.ts FILE.cpuprofile [TOP=25]
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame comes from: an npm package, a file of ours, or the runtime. */
function origin(url: string): string {
  if (!url) return "(native/runtime)";
  const npm = url.match(/node_modules\/(?:\.deno\/)?(@[^/]+\/[^/@]+|[^/@]+)/) ??
    url.match(/npm\/registry\.npmjs\.org\/(@[^/]+\/[^/]+|[^/]+)/);
  if (npm) return `npm:${npm[1]}`;
  const ours = url.match(/\/(src|bench)\/(.+)$/);
  if (ours) return `${ours[1]}/${ours[2]}`;
  if (url.startsWith("ext:") || url.startsWith("node:")) {
    return url.split("/").slice(0, 2).join("/");
  }
  return url.replace(/^file:\/\//, "");
}

export function summarise(p: Profile, top: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  let total = 0, idle = 0;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") {
      idle += us;
      continue;
    }
    total += us;
    const where = origin(n.callFrame.url);
    const key = `${name}  ${where}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    files.set(where, (files.get(where) ?? 0) + us);
  }
  const pctOf = (us: number) => `${(100 * us / total).toFixed(1).padStart(5)}%`;
  const lines = [
    `busy ${(total / 1e6).toFixed(2)} s, idle/program ${(idle / 1e6).toFixed(2)} s`,
    `\ntop ${top} functions by self time (% of busy):`,
  ];
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pctOf(us)}  ${k}`);
  }
  lines.push(`\nby file / package (% of busy):`);
  for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pctOf(us)}  ${k}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const [file, top] = Deno.args;
  if (!file) {
    console.error("usage: deno run -A bench/profile_summary.ts FILE.cpuprofile [TOP]");
    Deno.exit(2);
  }
  console.log(summarise(JSON.parse(await Deno.readTextFile(file)), Number(top ?? 25)));
}
