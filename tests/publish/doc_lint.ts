/**
 * `deno doc --lint` on every entry point (mod.ts and each `exports` entry of
 * deno.json), as `deno task ok` runs it, less one false positive of Deno 2.9.6.
 *
 * Our API hands out the MCP SDK's own classes on purpose (a factory returns
 * its `McpServer`, `connectMcpClient` its `Client`). Once their types resolve
 * (tests/publish/types_test.ts), `deno doc --lint` calls them "private type"
 * references, as it does for any type of another package
 * (denoland/deno#27364). The fix that landed, denoland/deno#34339, only skips
 * types from non-`file:` modules, and npm packages are `file:` URLs in Deno's
 * cache. So a `private-type-ref` is tolerated here when, and only when, it
 * names a class in {@link SDK_CLASSES} declared in a `.d.ts` (`export declare
 * class`); every other diagnostic fails, and so does a "Failed resolving
 * types" warning, which would turn those classes into `any`.
 *
 * Usage: `deno run --allow-read --allow-run tests/publish/doc_lint.ts`
 *
 * @module
 */

/** The SDK classes our public API exposes on purpose. */
export const SDK_CLASSES: ReadonlySet<string> = new Set(["McpServer", "Client"]);

/** The diagnostics of one `deno doc --lint` run, sorted. */
export interface DocLintReport {
  /** Diagnostics that fail the lint (each a block of the tool's output). */
  errors: string[];
  /** `private-type-ref` diagnostics on SDK classes: the Deno false positive. */
  tolerated: string[];
}

const root = new URL("../../", import.meta.url).pathname;

/** mod.ts and every `exports` entry of deno.json, once each, relative to the root. */
export async function entryPoints(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`)) as {
    exports: Record<string, string>;
  };
  const paths = ["./mod.ts", ...Object.values(config.exports)];
  return [...new Set(paths.map((p) => p.replace(/^\.\//, "")))];
}

/** Sorts the (uncoloured) output of `deno doc --lint` into errors and tolerated diagnostics. */
export function classifyDocLint(output: string): DocLintReport {
  const report: DocLintReport = { errors: [], tolerated: [] };
  // A diagnostic starts at "error[code]:" and runs to the next one; a warning is one line.
  const lines = output.split("\n").filter((line) => !line.startsWith("Checked "));
  const blocks = lines.join("\n").split(/\n(?=error\[|Warning |error: )/);
  for (const block of blocks) {
    const head = block.split("\n", 1)[0];
    if (/^error: Found \d+ documentation lint errors?\.$/.test(head)) continue;
    if (head.startsWith("Warning ") && !head.includes("Failed resolving types")) continue;
    if (!head.startsWith("error") && !head.startsWith("Warning ")) continue;
    const ref = /^error\[private-type-ref\]: .* references private type '([^']+)'$/.exec(head);
    // The referenced declaration is the first source line after the hint.
    const declaration = /= hint: [^\n]*\n[^\n]*\n\s*\d+ \| ([^\n]*)/.exec(block)?.[1] ?? "";
    const sdkClass = ref !== null && SDK_CLASSES.has(ref[1]) &&
      declaration.startsWith(`export declare class ${ref[1]}`);
    (sdkClass ? report.tolerated : report.errors).push(block.trimEnd());
  }
  return report;
}

/** Runs `deno doc --lint` on `files` (relative to the repository root) and sorts what it said. */
export async function docLint(files: string[], args: string[] = []): Promise<DocLintReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...args, ...files],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const report = classifyDocLint(new TextDecoder().decode(out.stderr));
  if (!out.success && report.errors.length === 0 && report.tolerated.length === 0) {
    report.errors.push(`deno doc --lint exited with ${out.code} and no diagnostic`);
  }
  return report;
}

if (import.meta.main) {
  const report = await docLint(await entryPoints());
  for (const error of report.errors) console.error(`${error}\n`);
  console.error(
    `doc lint: ${report.errors.length} error(s), ${report.tolerated.length} tolerated ` +
      `(the SDK's own classes, denoland/deno#27364)`,
  );
  if (report.errors.length > 0) Deno.exit(1);
}
