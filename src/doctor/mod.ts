/**
 * The doctor: connects to an mTLS MCP server step by step (TCP, TLS, the
 * server's chain, pins and revocation, the client certificate, an MCP
 * request) and says what is wrong, with the same reason codes as the
 * client. The engine of `mcp-mtls doctor`.
 *
 * @example Diagnose a server and print the report
 * ```ts ignore
 * // Needs a running server; see the README's doctor section.
 * import { diagnoseConnection, formatDiagnosis } from "@mtls/mcp/doctor";
 * const report = await diagnoseConnection("https://localhost:8443/mcp", { timeout: 2000 });
 * console.log(formatDiagnosis(report));
 * ```
 *
 * @module
 */
export { diagnoseConnection } from "./diagnose.ts";
export type { DiagnoseOptions } from "./diagnose.ts";
export { diagnosisJson, formatDiagnosis } from "./report.ts";
export type { Diagnosis, DiagnosisStep, StepStatus } from "./report.ts";
