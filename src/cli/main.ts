/**
 * The `mcp-mtls` command line: development certificates (`certs init`,
 * `certs issue`, `certs inspect`, `certs pin`) and the MCP server (`serve`). Each command is also exported as a function taking
 * its arguments and an optional {@link CliIo}, for use from code and tests.
 *
 * @example Running the CLI from code
 * ```ts
 * import { main } from "@mtls/mcp/cli";
 * const dir = await Deno.makeTempDir();
 * const code = await main(["certs", "init", "--dir", dir]);
 * console.log(code); // 0
 * ```
 *
 * @module
 */
import { main } from "./dispatch.ts";
import { commandArgs, exit } from "../runtime/process.ts";

export { certsInit } from "./certs_init.ts";
export { certsIssue } from "./certs_issue.ts";
export { certsInspect } from "./certs_inspect.ts";
export { certsPin } from "./certs_pin.ts";
export { certsRevoke } from "./certs_revoke.ts";
export type { CertsRevokeIo } from "./certs_revoke.ts";
export { connect } from "./connect.ts";
export type { ConnectCommandOptions } from "./connect.ts";
export { doctor } from "./doctor.ts";
export { splitStdioCommand } from "./serve_stdio.ts";
export { serve } from "./serve.ts";
export type { ServeCommandOptions } from "./serve.ts";
export { denoIo } from "./io.ts";
export type { CliIo } from "./io.ts";

export { VERSION } from "../version.ts";

export { main } from "./dispatch.ts";

if (import.meta.main) exit(await main(commandArgs()));
