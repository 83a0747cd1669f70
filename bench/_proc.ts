/**
 * What the benchmarks read from Linux's /proc: CPU seconds (utime + stime,
 * every thread, clock ticks at 100 Hz) of processes, and their children.
 * Shared by bench/mcp.ts, gateway.ts, workers.ts and per_call.ts.
 *
 * @module
 */

/** The fields of /proc/PID/stat after the command name, or `undefined` when the process is gone. */
export function procStat(pid: number): string[] | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  } catch {
    return undefined;
  }
}

/** The direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const f = procStat(Number(e.name));
    if (f && Number(f[1]) === pid) pids.push(Number(e.name));
  }
  return pids;
}

/** CPU seconds used so far by `pids` together (a process that is gone counts 0). */
export function cpuSeconds(pids: number | number[]): number {
  let sum = 0;
  for (const pid of typeof pids === "number" ? [pids] : pids) {
    const f = procStat(pid);
    if (f) sum += (Number(f[11]) + Number(f[12])) / 100;
  }
  return sum;
}
