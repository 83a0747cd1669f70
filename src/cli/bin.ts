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
// First, before any module that loads @peculiar/x509: `bun build --compile`
// evaluates the bundle's modules in its own order, and src/pki/x509.ts importing
// reflect-metadata first was measured not to be enough there.
import "reflect-metadata";
import { main } from "./dispatch.ts";
import { commandArgs, exit } from "../runtime/process.ts";

exit(await main(commandArgs()));
