/**
 * `*` globs compiled once to anchored regular expressions.
 *
 * @module
 */

/**
 * Compiles a glob where `*` matches any run of characters (including `/`)
 * and everything else is literal. Compile once, test many times.
 *
 * @example Matching SPIFFE IDs
 * ```ts
 * import { compileGlob } from "@mtls/mcp/policy";
 * const m = compileGlob("spiffe://example.org/*");
 * m("spiffe://example.org/agent"); // true
 * m("spiffe://other.org/agent"); // false
 * ```
 */
export function compileGlob(
  glob: string,
  options: { ignoreCase?: boolean } = {},
): (value: string) => boolean {
  if (glob === "*") return () => true;
  if (!glob.includes("*")) {
    if (options.ignoreCase) {
      const g = glob.toLowerCase();
      return (v) => v.toLowerCase() === g;
    }
    return (v) => v === glob;
  }
  const source = glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  const re = new RegExp(`^${source}$`, options.ignoreCase ? "i" : "");
  return (v) => re.test(v);
}
