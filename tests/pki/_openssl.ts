/** Test helpers: run the real openssl, and temporary folders. */
import assert from "node:assert/strict";
import type { CertificateBundle } from "../../src/pki/mod.ts";

/** Output of one openssl run. */
export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `openssl ...args`, feeding `stdin` when given. */
export async function openssl(args: string[], stdin?: Uint8Array | string): Promise<OpensslResult> {
  const child = new Deno.Command("openssl", {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs openssl and returns stdout, throwing with stderr when it fails. */
export async function opensslOk(args: string[], stdin?: Uint8Array | string): Promise<string> {
  const r = await openssl(args, stdin);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** The SPKI pin as the documented openssl pipeline computes it. */
export async function opensslPin(certPath: string): Promise<string> {
  const pubkey = await opensslOk(["x509", "-in", certPath, "-pubkey", "-noout"]);
  const der = await new Deno.Command("openssl", {
    args: ["pkey", "-pubin", "-outform", "der"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = der.stdin.getWriter();
  await w.write(new TextEncoder().encode(pubkey));
  await w.close();
  const derOut = (await der.output()).stdout;
  const digest = await new Deno.Command("openssl", {
    args: ["dgst", "-sha256", "-binary"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w2 = digest.stdin.getWriter();
  await w2.write(derOut);
  await w2.close();
  const bin = (await digest.output()).stdout;
  return (await opensslOk(["base64"], bin)).trim();
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sorted names in `dir`. */
export function listDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** Runs openssl and returns its raw stdout bytes (for DER output). */
export async function opensslBytes(
  args: string[],
  stdin: string | Uint8Array,
): Promise<Uint8Array> {
  const child = new Deno.Command("openssl", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
  await w.close();
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return out.stdout;
}

/** Writes the chain and asserts `openssl verify` accepts server and client, with the right purpose. */
export async function assertOpensslAccepts(
  dir: string,
  root: CertificateBundle,
  leaves: { server: CertificateBundle; client: CertificateBundle },
  intermediate?: CertificateBundle,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/ca.crt`, root.certificatePem);
  const untrusted: string[] = [];
  if (intermediate) {
    await Deno.writeTextFile(`${dir}/int.crt`, intermediate.certificatePem);
    untrusted.push("-untrusted", `${dir}/int.crt`);
  }
  for (const [role, leaf] of Object.entries(leaves)) {
    await Deno.writeTextFile(`${dir}/${role}.crt`, leaf.certificatePem);
    const purpose = role === "server" ? "sslserver" : "sslclient";
    const r = await openssl([
      "verify",
      "-CAfile",
      `${dir}/ca.crt`,
      ...untrusted,
      "-purpose",
      purpose,
      `${dir}/${role}.crt`,
    ]);
    assert.equal(r.code, 0, `${role}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout.trim(), `${dir}/${role}.crt: OK`);
  }
}
