#!/usr/bin/env node
/**
 * The `mcp-mtls` executable of the npm package and of the single binary:
 * runs the CLI with the process's arguments on any runtime (Node.js does not
 * set `import.meta.main`, so `main.ts` alone would do nothing there).
 *
 * @example
 * ```sh
 * npx mcp-mtls certs init --dir certs
 * ```
 *
 * @module
 */
import { main } from "./dispatch.ts";
import { commandArgs, exit } from "../runtime/process.ts";

exit(await main(commandArgs()));
