/**
 * The counters of `serve --workers N` as one server's: every worker's
 * snapshot added up, so `/metrics` reads the same with 1 worker or 8.
 *
 * @module
 */

import type { MetricsSnapshot } from "../log/metrics.ts";

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Adds snapshots: counters and gauges are summed; the tracked certificates
 * are the first snapshot's (every worker serves the same material).
 *
 * @example
 * ```ts
 * import { createMetrics } from "../log/metrics.ts";
 * import { sumSnapshots } from "./metrics_sum.ts";
 * const a = createMetrics({ sessions: () => 1 });
 * const b = createMetrics({ sessions: () => 2 });
 * a.request(200);
 * b.request(200);
 * const sum = sumSnapshots([a.snapshot(), b.snapshot()]);
 * console.log(sum.requests.served, sum.sessions); // 2 3
 * ```
 */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const out: MetricsSnapshot = {
    handshakes: { admitted: 0, refused: {} },
    requests: { served: 0, refused: {}, failed: 0 },
    connections: 0,
    sessions: 0,
    certificates: snapshots[0]?.certificates ?? [],
    reloads: { ok: 0, failed: 0 },
  };
  for (const s of snapshots) {
    out.handshakes.admitted += s.handshakes.admitted;
    addCounts(out.handshakes.refused, s.handshakes.refused);
    out.requests.served += s.requests.served;
    out.requests.failed += s.requests.failed;
    addCounts(out.requests.refused, s.requests.refused);
    out.connections += s.connections;
    out.sessions += s.sessions;
    out.reloads.ok += s.reloads.ok;
    out.reloads.failed += s.reloads.failed;
  }
  return out;
}
