/**
 * File reading and all-or-nothing writing for the `certs` commands.
 *
 * @module
 */
import { mkdir, readFile, rm, rmdir, stat } from "node:fs/promises";
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
 * Creates `dir` when missing.
 *
 * @returns whether it was created by this call (so a failed run can remove it)
 */
export async function ensureDir(dir: string): Promise<boolean> {
  if (await exists(dir)) return false;
  try {
    await mkdir(dir, { recursive: true });
    return true;
  } catch (cause) {
    throw new FileError("file_io", `Cannot create folder "${dir}": ${(cause as Error).message}`, {
      path: dir,
      cause,
    });
  }
}

/**
 * Writes every file atomically; if one fails, removes those this call already
 * wrote (and `createdDir`, when this run created it and it is empty), so a
 * failed run leaves no partial set behind.
 */
export async function writeAll(
  files: PlannedFile[],
  options: { overwrite: boolean; createdDir?: string },
): Promise<void> {
  const written: string[] = [];
  try {
    for (const file of files) {
      await writeFileAtomic(file.path, file.data, {
        mode: file.mode,
        overwrite: options.overwrite,
      });
      written.push(file.path);
    }
  } catch (err) {
    await removeQuietly(written, options.createdDir);
    throw err;
  }
}

/** Best-effort cleanup after a failed run. */
export async function removeQuietly(paths: string[], createdDir?: string): Promise<void> {
  for (const path of paths) await rm(path, { force: true }).catch(() => {});
  if (createdDir !== undefined) await rmdir(createdDir).catch(() => {});
}
