/**
 * The result of a connection diagnosis (`mcp-mtls doctor`) as plain data, and
 * its two renderings: a step list for people and JSON for machines. Pure: no
 * sockets, no clock.
 *
 * @module
 */
import type { ErrorCode } from "../errors.ts";

/**
 * How one check ended. `warn` is reported but does not fail the diagnosis;
 * `skip` means the check could not run (its `summary` says why).
 *
 * @example
 * ```ts
 * import type { StepStatus } from "./report.ts";
 * const s: StepStatus = "fail";
 * ```
 */
export type StepStatus = "pass" | "fail" | "warn" | "skip";

/**
 * One check of the diagnosis.
 *
 * @example A failed chain check
 * ```ts
 * import type { DiagnosisStep } from "./report.ts";
 * const step: DiagnosisStep = {
 *   name: "Chain",
 *   status: "fail",
 *   code: "unknown_ca",
 *   summary: 'server certificate "CN=localhost" is not signed by a CA in --ca',
 *   fix: "pass the CA that issued the server certificate with --ca",
 * };
 * ```
 */
export interface DiagnosisStep {
  /** Short label: `DNS`, `TCP`, `TLS`, `Chain`, `Expiry`, `Hostname`, `Pin`, ... */
  name: string;
  /** How it ended. */
  status: StepStatus;
  /** One line: what was found. */
  summary: string;
  /** For a failure or warning: the reason code (DESIGN.md) or error code. */
  code?: ErrorCode;
  /** For a failure or warning: what to do about it, in plain language. */
  fix?: string;
  /** Extra lines, e.g. one per certificate of the chain. */
  details?: string[];
}

/**
 * A whole diagnosis: the URL and every step, in order.
 *
 * @example
 * ```ts
 * import type { Diagnosis } from "./report.ts";
 * const d: Diagnosis = { url: "https://127.0.0.1:8443/mcp", ok: true, steps: [] };
 * ```
 */
export interface Diagnosis {
  /** The URL diagnosed. */
  url: string;
  /** `true` when no step failed. */
  ok: boolean;
  /** The checks, in the order they ran. */
  steps: DiagnosisStep[];
}

/**
 * Builds a {@link Diagnosis} from its steps (`ok` when none failed).
 *
 * @example
 * ```ts
 * import { diagnosis } from "./report.ts";
 * const d = diagnosis("https://127.0.0.1:8443/mcp", [
 *   { name: "TCP", status: "pass", summary: "connected" },
 * ]);
 * console.log(d.ok); // true
 * ```
 */
export function diagnosis(url: string, steps: DiagnosisStep[]): Diagnosis {
  return { url, ok: steps.every((s) => s.status !== "fail"), steps };
}

/**
 * A step that did not run because an earlier one failed or was not asked for.
 *
 * @example
 * ```ts
 * import { skipped } from "./report.ts";
 * console.log(skipped("Chain", "TLS failed").summary); // "skipped: TLS failed"
 * ```
 */
export function skipped(name: string, why: string): DiagnosisStep {
  return { name, status: "skip", summary: `skipped: ${why}` };
}

const MARK: Record<StepStatus, string> = { pass: "✔", fail: "✖", warn: "!", skip: "-" };
const LABEL_WIDTH = 11;

/**
 * Renders a diagnosis as a step list, one check per line, with the reason code
 * before a failure's summary, then its details and its fix indented below.
 *
 * @example Rendering two steps
 * ```ts
 * import { formatDiagnosis } from "./report.ts";
 * const text = formatDiagnosis({
 *   url: "https://127.0.0.1:8443/mcp",
 *   ok: false,
 *   steps: [
 *     { name: "TCP", status: "pass", summary: "connected to 127.0.0.1:8443 in 1.2 ms" },
 *     { name: "Pin", status: "fail", code: "pin_mismatch", summary: "no pin matches", fix: "update --pin" },
 *   ],
 * });
 * console.log(text);
 * // ✔ TCP        connected to 127.0.0.1:8443 in 1.2 ms
 * // ✖ Pin        pin_mismatch: no pin matches
 * //              fix: update --pin
 * ```
 */
export function formatDiagnosis(d: Diagnosis): string {
  const indent = " ".repeat(LABEL_WIDTH + 2);
  const lines: string[] = [];
  for (const step of d.steps) {
    const coded = step.code && step.status !== "pass" ? `${step.code}: ` : "";
    lines.push(`${MARK[step.status]} ${step.name.padEnd(LABEL_WIDTH)}${coded}${step.summary}`);
    for (const detail of step.details ?? []) lines.push(`${indent}${detail}`);
    if (step.fix && step.status !== "pass") lines.push(`${indent}fix: ${step.fix}`);
  }
  const failed = d.steps.filter((s) => s.status === "fail").length;
  lines.push(
    d.ok
      ? `\nAll checks passed for ${d.url}`
      : `\n${failed} check${failed === 1 ? "" : "s"} failed for ${d.url}`,
  );
  return lines.join("\n") + "\n";
}

/**
 * Renders a diagnosis as indented JSON (the `--json` output).
 *
 * @example
 * ```ts
 * import { diagnosisJson } from "./report.ts";
 * const parsed = JSON.parse(diagnosisJson({ url: "https://h/mcp", ok: true, steps: [] }));
 * console.log(parsed.ok); // true
 * ```
 */
export function diagnosisJson(d: Diagnosis): string {
  return JSON.stringify(d, null, 2) + "\n";
}
