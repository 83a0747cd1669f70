/**
 * The README's config reference and environment tables are generated from
 * the schema (`deno run src/config/env_table.ts`); this keeps the README from
 * drifting when a key is added (the `upstream.*` rows once went missing).
 */
import assert from "node:assert/strict";
import { configEnvTable, configReferenceTable } from "../../src/config/env_table.ts";

const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
/** A table row with the padding deno fmt adds taken out. */
const norm = (row: string) => row.split("|").map((c) => c.trim()).join("|");
const rows = new Set(readme.split("\n").filter((l) => l.startsWith("| `")).map(norm));

for (
  const [name, table] of [["environment", configEnvTable], [
    "config",
    configReferenceTable,
  ]] as const
) {
  Deno.test(`README's ${name} table has every row the schema generates`, () => {
    const generated = table().split("\n").filter((l) => l.startsWith("| `"));
    assert.ok(generated.length > 50, "the generator produced the table");
    const missing = generated.filter((r) => !rows.has(norm(r)));
    assert.deepEqual(missing, [], "run `deno run src/config/env_table.ts` and paste its tables");
  });
}
