/**
 * Warnings about certificate folders and trust files that other local users
 * could write. `serve` hot-reloads `ca.crt`, `ca.crl` and `pins.json` from its
 * certificate folder, so a group- or world-writable folder (or file) lets any
 * local user plant a trusted CA or drop a revocation; a readable private key
 * lets them impersonate the server.
 *
 * @module
 */

import { stat } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";

/**
 * One finding of {@link checkCertsPermissions}.
 *
 * @example
 * ```ts
 * import type { PermissionFinding } from "./file_permissions.ts";
 * const f: PermissionFinding = {
 *   path: "certs",
 *   mode: 0o777,
 *   problem: "writable by group and others",
 *   fix: "chmod 700 certs",
 * };
 * ```
 */
export interface PermissionFinding {
  /** The folder or file. */
  path: string;
  /** Its permission bits (`mode & 0o777`). */
  mode: number;
  /** What is wrong, in words. */
  problem: string;
  /** A shell command that fixes it. */
  fix: string;
}

/** Files of the certificate folder that decide whom the server trusts. */
const TRUST_FILES = ["ca.crt", "ca.crl", "pins.json", "server.crt"];
/** Private keys: readable by others means someone else can be the server (or the CA). */
const KEY_FILES = ["server.key", "ca.key"];

function who(bits: number): string {
  const g = (bits & 0o070) !== 0;
  const o = (bits & 0o007) !== 0;
  return g && o ? "group and others" : g ? "group" : "others";
}

async function modeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch {
    return undefined; // absent files are not a permission problem
  }
}

/**
 * Checks the certificate folder `dir` and its trust files for modes that let
 * other local users change what the server trusts (group/world-writable) or
 * read its private keys (group/world-readable). POSIX modes only: on Windows,
 * where modes do not reflect ACLs, nothing is reported.
 *
 * @param dir the certificate folder `serve --certs` uses
 * @param extra further trust files (for example `tls.ca` paths from a config file)
 * @returns the findings, empty when everything is private enough
 *
 * @example Checking a fresh folder
 * ```ts
 * import { checkCertsPermissions } from "./file_permissions.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.chmod(dir, 0o700);
 * console.log(await checkCertsPermissions(dir)); // []
 * await Deno.remove(dir);
 * ```
 */
export async function checkCertsPermissions(
  dir: string,
  extra: readonly string[] = [],
): Promise<PermissionFinding[]> {
  if (process.platform === "win32") return [];
  const findings: PermissionFinding[] = [];
  const writable = (path: string, mode: number, chmod: string) => {
    if ((mode & 0o022) === 0) return;
    findings.push({
      path,
      mode,
      problem: `writable by ${who(mode & 0o022)}`,
      fix: `chmod ${chmod} ${path}`,
    });
  };
  const dirMode = await modeOf(dir);
  if (dirMode !== undefined) writable(dir, dirMode, "go-w");
  for (const path of new Set([...TRUST_FILES.map((f) => join(dir, f)), ...extra])) {
    const mode = await modeOf(path);
    if (mode !== undefined) writable(path, mode, "go-w");
  }
  for (const path of KEY_FILES.map((f) => join(dir, f))) {
    const mode = await modeOf(path);
    if (mode === undefined || (mode & 0o077) === 0) continue;
    findings.push({
      path,
      mode,
      problem: `readable or writable by ${who(mode & 0o077)}`,
      fix: `chmod 600 ${path}`,
    });
  }
  return findings;
}
