/**
 * The one way tests keep files beyond a single test: a temporary directory
 * removed when the test module unloads.
 *
 * Why not a last `Deno.test("cleanup", ...)`: it counts as a passing test that
 * checks nothing, and under `--filter` it does not run, leaving the directory
 * behind. The `unload` event fires once per test module after its last test,
 * whatever `--filter` selected, and also when a test failed.
 *
 * @example Certificates shared by every test of a file
 * ```ts
 * import { moduleTempDir } from "../_temp_dir.ts";
 *
 * const dir = await moduleTempDir("mcp-mtls-example-");
 * await Deno.writeTextFile(`${dir}/ca.crt`, "...");
 * ```
 */
export async function moduleTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch (e) {
      // A test that removed it itself (for example to test a missing file) is fine.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  });
  return dir;
}
