/**
 * File reading and all-or-nothing writing for the `certs` commands.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FileError } from "../errors.ts";
import { writeFileAtomic } from "../fs/mod.ts";

/** One file to write. */
export interface PlannedFile {
  path: string;
  data: string | Uint8Array;
  /** `0o600` for private keys and PKCS#12 files. */
  mode: number;
}

/**
 * Reads a file, turning failures into one clear {@link FileError}.
 *
 * @param hint appended to the not-found message, e.g. `(run "certs init" first)`
 */
export async function readInputFile(path: string, hint = ""): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === "ENOENT") {
      throw new FileError("file_not_found", `Cannot read "${path}": no such file${hint}`, {
        path,
        cause,
      });
    }
    const why = code === "EACCES"
      ? "permission denied"
      : code === "EISDIR"
      ? "is a directory"
      : (cause as Error).message;
    throw new FileError("file_io", `Cannot read "${path}": ${why}`, { path, cause });
  }
}

/** Whether `path` exists (a broken symlink counts as absent). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates `dir` when missing, private to its owner (mode 0700 whatever the
 * umask: `serve` trusts the CA file it finds there, so no other local user may
 * write into it).
 *
 * @returns whether it was created by this call (so a failed run can remove it)
 */
export async function ensureDir(dir: string): Promise<boolean> {
  if (await exists(dir)) return false;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is filtered by the umask; chmod is not (umask 077 would be fine, 000 is not).
    await chmod(dir, 0o700);
    return true;
  } catch (cause) {
    throw new FileError("file_io", `Cannot create folder "${dir}": ${(cause as Error).message}`, {
      path: dir,
      cause,
    });
  }
}

/**
 * Writes a set of files all or nothing, in two phases:
 *
 * 1. stage: every file is written (with its mode, flushed) under a temporary
 *    name beside its target; a failure here touches no existing file;
 * 2. commit: each existing target keeps a hard-link backup while its staged
 *    file is renamed over it; if any rename fails, every target already
 *    replaced is restored from its backup (or removed when it was new).
 *
 * So `certs init --force` that fails half-way leaves the previous CA exactly
 * as it was, and a failed first run leaves nothing (and removes `createdDir`
 * when this run created it and it is empty). Without `overwrite`, an existing
 * target refuses the whole set before anything is replaced.
 */
export async function writeAll(
  files: PlannedFile[],
  options: { overwrite: boolean; createdDir?: string },
): Promise<void> {
  const tag = randomBytes(6).toString("hex");
  const aside = (path: string, kind: string) =>
    join(dirname(path), `.${basename(path)}.${tag}.${kind}`);
  const staged: string[] = [];
  try {
    for (const file of files) {
      const to = aside(file.path, "staged");
      await writeFileAtomic(to, file.data, { mode: file.mode, overwrite: false });
      staged.push(to);
    }
  } catch (err) {
    await removeQuietly(staged, options.createdDir);
    throw err;
  }

  const done: { path: string; backup?: string }[] = [];
  let current = "";
  try {
    for (const [i, file] of files.entries()) {
      current = file.path;
      let backup: string | undefined;
      if (await exists(file.path)) {
        if (!options.overwrite) {
          throw new FileError("file_exists", `Refusing to overwrite "${file.path}"`, {
            path: file.path,
          });
        }
        backup = aside(file.path, "backup");
        await link(file.path, backup);
      }
      done.push({ path: file.path, backup });
      await rename(staged[i], file.path);
    }
  } catch (err) {
    // Put back what was there, newest first; remove what this run created.
    for (const { path, backup } of done.reverse()) {
      if (backup) await rename(backup, path).catch(() => {});
      else await rm(path, { force: true }).catch(() => {});
    }
    await removeQuietly(staged, options.createdDir);
    if (err instanceof FileError) throw err;
    throw new FileError("file_io", `Cannot write "${current}": ${(err as Error).message}`, {
      path: current,
      cause: err,
    });
  }
  await removeQuietly(done.flatMap((d) => (d.backup ? [d.backup] : [])));
}

/** Best-effort cleanup after a failed run. */
export async function removeQuietly(paths: string[], createdDir?: string): Promise<void> {
  for (const path of paths) await rm(path, { force: true }).catch(() => {});
  if (createdDir !== undefined) await rmdir(createdDir).catch(() => {});
}
