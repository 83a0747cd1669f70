/**
 * Admission cost per new connection: what the server does between a finished
 * TLS handshake and "admitted" (read the client certificate, verify the chain
 * under the strict policy, identity, further admission steps), without the
 * TLS noise around it. Each call gets a fresh socket-like object whose
 * `getPeerX509Certificate()` builds a new `node:crypto` certificate, as a
 * real connection does.
 *
 * Three cases, 1,000 calls each:
 * - new client: a certificate never seen before (the verdict cache misses);
 * - new client via intermediate: the same, issued by an intermediate the
 *   client sends;
 * - returning client: the same certificate on a new connection.
 *
 * Compared in one run against a baseline commit (default: 35af91b, the tree
 * before issue #12's certificate model), checked out in a temporary git
 * worktree; both trees are measured by their own copy of the internals this
 * file imports (`src/tls/server/admit.ts`, `src/policy/policy.ts`), in
 * alternating child processes, 3 rounds each, best round kept.
 *
 * Usage: deno run -A bench/admission.ts [--baseline REF]
 *        deno run -A bench/admission.ts --tree DIR   (one tree, JSON out)
 */
import { X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const N = 1_000;
const here = new URL("..", import.meta.url).pathname;

type Case = "new client" | "new client via intermediate" | "returning client";

async function measureTree(tree: string): Promise<Record<Case, number>> {
  const pki = await import(join(here, "src/pki/mod.ts"));
  const { compilePolicy } = await import(join(tree, "src/policy/policy.ts"));
  const { compileAdmit } = await import(join(tree, "src/tls/server/admit.ts"));
  const { silentLogger } = await import(join(tree, "src/log/mod.ts"));
  const ca = await pki.createRootCa({ commonName: "Bench Root", keyType: "ec-p256" });
  const inter = await pki.createIntermediateCa(ca, { commonName: "Bench Intermediate" });
  // Bundles of src/pki (this tree's): PEM text, and DER copies so that no tree
  // starts with certificates the model has already seen by buffer.
  const der = (b: { certificatePem: string }) =>
    new Uint8Array(new X509Certificate(b.certificatePem).raw);
  const leaves: Uint8Array[] = [];
  const viaInter: Uint8Array[] = [];
  for (let i = 0; i < N; i++) {
    leaves.push(der(await pki.issueCertificate(ca, "client", { commonName: `a${i}` })));
    viaInter.push(der(await pki.issueCertificate(inter, "client", { commonName: `b${i}` })));
  }
  const interDer = der(inter);
  const policy = compilePolicy("strict", { ca: [ca.certificatePem] });
  const tls = { clientAuth: "require" }; // all compileAdmit reads of the TLS settings
  let refused = 0;
  const admit = compileAdmit({
    tls,
    policy,
    logger: silentLogger,
    refuse: () => refused++,
  });
  type Raw = { raw: Uint8Array; issuerCertificate?: Raw };
  const socket = (leaf: Uint8Array, chain: Uint8Array[]) => {
    let x: X509Certificate | undefined;
    return {
      getPeerX509Certificate: () => (x ??= new X509Certificate(leaf)),
      getPeerCertificate: () => {
        const raws: Raw[] = [leaf, ...chain].map((raw) => ({ raw }));
        raws.forEach((r, i) => (r.issuerCertificate = raws[i + 1]));
        return raws[0];
      },
    };
  };
  const run = (sockets: unknown[]) => {
    const t0 = performance.now();
    for (const s of sockets) {
      const v = admit(s, "127.0.0.1:1");
      if (!v || v instanceof Promise) throw new Error(`not admitted synchronously (${refused})`);
    }
    return ((performance.now() - t0) * 1000) / sockets.length;
  };
  // Warm the code paths (JIT) on certificates outside the measured sets.
  const warm = await pki.issueCertificate(ca, "client", { commonName: "warm" });
  for (let i = 0; i < 200; i++) run([socket(der(warm), [])]);
  const out = {} as Record<Case, number>;
  out["new client"] = run(leaves.map((l) => socket(l, [])));
  out["new client via intermediate"] = run(viaInter.map((l) => socket(l, [interDer])));
  out["returning client"] = run(leaves.map(() => socket(leaves[0], [])));
  return out;
}

async function main() {
  const treeAt = Deno.args.indexOf("--tree");
  if (treeAt >= 0) {
    console.log(JSON.stringify(await measureTree(Deno.args[treeAt + 1])));
    return;
  }
  const refAt = Deno.args.indexOf("--baseline");
  const ref = refAt >= 0 ? Deno.args[refAt + 1] : "35af91b";
  const dir = mkdtempSync(join(tmpdir(), "mcp-mtls-baseline-"));
  execFileSync("git", ["-C", here, "worktree", "add", "--detach", dir, ref], { stdio: "ignore" });
  try {
    const trees: [string, string][] = [[`baseline ${ref}`, dir], ["this tree", here]];
    const best = new Map<string, Record<Case, number>>();
    for (let round = 0; round < 3; round++) {
      for (const [name, tree] of trees) {
        const text = execFileSync(
          Deno.execPath(),
          ["run", "-A", "--config", join(here, "deno.json"), import.meta.filename!, "--tree", tree],
          { encoding: "utf8", maxBuffer: 1 << 20 },
        );
        const r = JSON.parse(text.trim().split("\n").pop()!) as Record<Case, number>;
        const b = best.get(name);
        for (const k of Object.keys(r) as Case[]) if (!b || r[k] < b[k]) (b ?? r)[k] = r[k];
        if (!b) best.set(name, r);
      }
    }
    const base = best.get(trees[0][0])!;
    const now = best.get(trees[1][0])!;
    console.log(
      `Admission step per connection, µs (strict policy, P-256, ${N} calls per case, best of 3 rounds)\n`,
    );
    console.log(`| case | ${trees[0][0]} | this tree | this / baseline |`);
    console.log("| --- | ---: | ---: | ---: |");
    for (const k of Object.keys(base) as Case[]) {
      console.log(
        `| ${k} | ${base[k].toFixed(1)} | ${now[k].toFixed(1)} | ${
          (now[k] / base[k]).toFixed(2)
        } |`,
      );
    }
  } finally {
    execFileSync("git", ["-C", here, "worktree", "remove", "--force", dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
