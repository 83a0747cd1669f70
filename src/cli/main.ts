/**
 * The `mcp-mtls` command line.
 *
 * @module
 */

/** Runs the CLI with `args`; resolves to the exit code. */
export function main(_args: string[]): Promise<number> {
  return Promise.resolve(0);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
