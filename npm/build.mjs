// Builds the npm package from the Deno sources, with TypeScript's own compiler:
//   npm/.stage/  a copy of mod.ts, src/ and tests/portable/ (inside npm/, so that
//                "type": "module" and npm/node_modules apply to it)
//   npm/build/   JavaScript + .d.ts, and the package.json of the npm package
// Run from anywhere: `node npm/build.mjs` (deno task build:npm does it).
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const stage = join(here, ".stage");
const build = join(here, "build");

rmSync(stage, { recursive: true, force: true });
rmSync(build, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
cpSync(join(root, "mod.ts"), join(stage, "mod.ts"));
cpSync(join(root, "src"), join(stage, "src"), { recursive: true });
cpSync(join(root, "tests", "portable"), join(stage, "tests", "portable"), {
  recursive: true,
});
cpSync(join(here, "globals.d.ts"), join(stage, "globals.d.ts"));

const tsc = join(here, "node_modules", ".bin", "tsc");
try {
  execFileSync(tsc, ["-p", join(here, "tsconfig.json")], { stdio: "inherit" });
} catch {
  console.error("npm build: TypeScript reported errors (above)");
  process.exit(1);
}
// tsc emits no hand-written declarations (src/**/*.d.ts), but the JS it emits keeps
// the `// @ts-types` comments that point at them, and Deno follows those when it
// reads the build (bench/_runtime_server.mjs imports it): copy them beside the JS.
for (const file of readdirSync(join(stage, "src"), { recursive: true })) {
  if (String(file).endsWith(".d.ts")) cpSync(join(stage, "src", file), join(build, "src", file));
}

// The package's entry points are deno.json's exports, with .ts -> .js.
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const template = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const exports = {};
for (const [key, path] of Object.entries(deno.exports)) {
  const js = path.replace(/\.ts$/, ".js");
  exports[key] = { types: js.replace(/\.js$/, ".d.ts"), default: js };
}
const pkg = {
  name: template.name,
  version: deno.version,
  description: template.description,
  license: deno.license,
  type: "module",
  engines: template.engines,
  exports,
  bin: { "mcp-mtls": "./src/cli/bin.js" },
  files: ["mod.js", "mod.d.ts", "src/", "README.md", "LICENSE"],
  dependencies: template.dependencies,
};
if (pkg.version !== template.version) {
  console.error(
    `npm build: deno.json version ${deno.version} != npm/package.json ${template.version}`,
  );
  process.exit(1);
}
writeFileSync(join(build, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
cpSync(join(root, "README.md"), join(build, "README.md"));
cpSync(join(root, "LICENSE"), join(build, "LICENSE"));
console.log(`npm build: ${pkg.name}@${pkg.version} in ${build}`);
