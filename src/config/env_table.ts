/**
 * The README's config reference and environment tables, generated from the
 * config schema so they cannot drift from it. Run it to print both:
 * `deno run src/config/env_table.ts`.
 *
 * @module
 */
import { type EnvKey, listEnvKeys } from "./env.ts";
import { serveConfigSchema } from "./schema.ts";

// deno-lint-ignore no-explicit-any
type Node = any;

interface KeyDoc {
  key: EnvKey;
  type: string;
  default?: unknown;
  description: string;
}

/** The schema node at `path`, plus the wrappers seen on the way to the leaf. */
function nodeAt(path: string[]): Node[] {
  let s: Node = serveConfigSchema;
  const seen: Node[] = [];
  const unwrap = () => {
    for (;;) {
      seen.push(s);
      const def = s._zod.def;
      if (["optional", "default", "prefault", "nullable", "readonly"].includes(def.type)) {
        s = def.innerType;
      } else if (def.type === "pipe") {
        s = def.in._zod.def.type === "transform" ? def.out : def.in;
      } else return;
    }
  };
  for (const seg of path) {
    unwrap();
    seen.length = 0;
    s = s._zod.def.shape[seg];
  }
  unwrap();
  return seen;
}

function typeText(leaf: Node, kind: EnvKey["kind"]): string {
  const def = leaf._zod.def;
  if (def.type === "enum") return Object.values(def.entries).map((v) => `"${v}"`).join(" \\| ");
  if (def.type === "union") {
    return def.options.map((o: Node) => {
      const t = o._zod.def.type;
      return t === "literal" ? JSON.stringify(o._zod.def.values[0]) : t;
    }).join(" \\| ");
  }
  if (def.type === "array") return kind === "list" ? "list of strings" : "list of objects";
  return def.type === "number" && def.checks?.length ? "integer" : def.type;
}

function describe(): KeyDoc[] {
  return listEnvKeys(serveConfigSchema).map((key) => {
    const chain = nodeAt(key.path);
    const leaf = chain[chain.length - 1];
    const description = chain.map((n: Node) => n.description).find((d: unknown) => d) ?? "";
    const withDefault = chain.find((n: Node) => n._zod.def.type === "default");
    return {
      key,
      type: typeText(leaf, key.kind),
      default: withDefault?._zod.def.defaultValue,
      description: description.replace(/\|/g, "\\|"),
    };
  });
}

const code = (v: unknown) => v === undefined ? "" : `\`${JSON.stringify(v)}\``;

/**
 * The environment variable table: one row per config key, its `MCP_MTLS_*`
 * variable and how the text value is read.
 *
 * @returns a markdown table
 *
 * @example
 * ```ts
 * import { configEnvTable } from "@mtls/mcp/config";
 * console.log(configEnvTable().split("\n")[2]); // | `MCP_MTLS_HOSTNAME` | `hostname` | text |
 * ```
 */
export function configEnvTable(): string {
  const how: Record<EnvKey["kind"], string> = {
    string: "text",
    number: "number",
    boolean: "`true`/`false` (also 1/0, yes/no, on/off)",
    list: "comma-separated list",
    json: "JSON",
  };
  const rows = listEnvKeys(serveConfigSchema).map((k) =>
    `| \`${k.variable}\` | \`${k.path.join(".")}\` | ${how[k.kind]} |`
  );
  return ["| variable | key | value |", "| --- | --- | --- |", ...rows].join("\n");
}

/**
 * The config reference table: every key with its type, default and meaning.
 *
 * @returns a markdown table
 *
 * @example
 * ```ts
 * import { configReferenceTable } from "@mtls/mcp/config";
 * console.log(configReferenceTable().includes("`tls.minVersion`")); // true
 * ```
 */
export function configReferenceTable(): string {
  const rows = describe().map((d) =>
    `| \`${d.key.path.join(".")}\` | ${d.type} | ${code(d.default)} | ${d.description} |`
  );
  return ["| key | type | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

if (import.meta.main) {
  console.log(configReferenceTable());
  console.log();
  console.log(configEnvTable());
}
