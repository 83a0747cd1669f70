/**
 * Atomic file writes: a temporary file in the same folder, flushed, then renamed
 * over the target, so a reader sees the old file or the new one, never a part.
 *
 * @module
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FileError } from "../errors.ts";

/**
 * Options for {@link writeFileAtomic}.
 *
 * @example
 * ```ts
 * import type { WriteFileAtomicOptions } from "@mtls/mcp/fs";
 * const o: WriteFileAtomicOptions = { mode: 0o600, overwrite: false };
 * ```
 */
export interface WriteFileAtomicOptions {
  /** File mode of the new file (private keys: `0o600`). @default {0o644} */
  mode?: number;
  /** Replace an existing file. When false, an existing target raises `file_exists`. @default {true} */
  overwrite?: boolean;
}

/**
 * Writes `data` to `path` atomically: the target is either untouched or
 * complete. The temporary file is created with `mode` from the start, so a
 * private key is never readable by others, not even for a moment.
 *
 * @param path target file
 * @param data bytes or UTF-8 text
 * @param options mode and overwrite policy
 * @throws {FileError} `file_exists` when `overwrite` is false and the target exists; `file_io` otherwise
 *
 * @example Writing a private key
 * ```ts
 * import { writeFileAtomic } from "@mtls/mcp/fs";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/client.key`, "-----BEGIN PRIVATE KEY-----\n...", { mode: 0o600 });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const { mode = 0o644, overwrite = true } = options;
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (overwrite) {
      await rename(tmp, path);
    } else {
      // link() refuses an existing target atomically, unlike an exists-check then rename.
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    const code = (err as { code?: string }).code;
    if (code === "EEXIST" && !overwrite) {
      throw new FileError("file_exists", `Refusing to overwrite "${path}"`, { path, cause: err });
    }
    throw new FileError(
      code === "ENOENT" ? "file_not_found" : "file_io",
      `Cannot write "${path}": ${(err as Error).message}`,
      { path, cause: err },
    );
  }
}
