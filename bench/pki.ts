/**
 * `deno run -A bench/pki.ts`: time to make a root CA plus one server and one
 * client certificate (new keys for all three, same key type), per key type.
 * Median of 5 runs after one warm-up (3 runs, no warm-up, for RSA-4096, whose
 * key generation dominates and varies most). Milliseconds.
 */
import { createRootCa, issueCertificate, KEY_TYPES, type KeyType } from "../src/pki/mod.ts";

async function once(keyType: KeyType): Promise<number> {
  const t0 = performance.now();
  const ca = await createRootCa({ keyType });
  await issueCertificate(ca, "server", { keyType, subjectAltNames: "dns:localhost,ip:127.0.0.1" });
  await issueCertificate(ca, "client", { keyType });
  return performance.now() - t0;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const rows: string[][] = [];
for (const keyType of KEY_TYPES) {
  const slow = keyType === "rsa-4096";
  if (!slow) await once(keyType);
  const times: number[] = [];
  for (let i = 0; i < (slow ? 3 : 5); i++) times.push(await once(keyType));
  rows.push([
    keyType,
    String(times.length),
    median(times).toFixed(1),
    Math.min(...times).toFixed(1),
    Math.max(...times).toFixed(1),
  ]);
}

const header = ["key type", "runs", "median ms", "min ms", "max ms"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
console.log("CA + server + client certificate (3 key pairs, 3 signatures):\n");
console.log(line(header));
console.log(
  `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`,
);
for (const row of rows) console.log(line(row));
