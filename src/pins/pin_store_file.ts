/**
 * How a `PinStore` reaches its JSON file: loading with the store's error
 * codes, and a queue that serialises atomic writes so `check()` can record a
 * first-use pin without waiting for the disk. Apart from the store so its
 * admission logic reads without the bookkeeping of pending writes.
 *
 * @module
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { FileError, RevocationError } from "../errors.ts";
import { writeFileAtomic } from "../fs/atomic_write.ts";
import type { Logger } from "../log/logger.ts";
import { parsePinFile, type PinEntry } from "./pin_file.ts";

/**
 * Reads a pin file. A missing file is an empty map.
 *
 * @param path the JSON pin file
 * @returns pins per name
 * @throws {FileError} `file_io` when the file cannot be read
 * @throws {RevocationError} `pin_store_corrupt` when it is not a valid pin file
 */
export async function loadPinFile(path: string): Promise<Map<string, PinEntry>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return new Map();
    throw new FileError("file_io", `Cannot read pin file "${path}": ${(err as Error).message}`, {
      path,
      cause: err,
    });
  }
  try {
    return parsePinFile(text);
  } catch (err) {
    throw new RevocationError(
      "pin_store_corrupt",
      `Cannot load pin file "${path}": ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Serialised atomic writes of one pin file. Each write renders the state when
 * it runs, so writes requested while one is queued share it; a failed write is
 * logged and kept for {@link PinFileWriter.flush}; while `blocked` is set (a
 * corrupt file on reload) every write fails with it, so the operator's file is
 * never overwritten.
 */
export class PinFileWriter {
  /** The reason writes are refused, or undefined. */
  blocked: RevocationError | undefined;
  #path: string;
  #render: () => string;
  #logger: Logger;
  #chain: Promise<void> = Promise.resolve();
  #pending: Promise<void> | null = null;
  #writeError: unknown = undefined;

  /**
   * @param path the pin file
   * @param render the file's text for the current state, called when a write runs
   * @param logger where failed writes are logged
   */
  constructor(path: string, render: () => string, logger: Logger) {
    this.#path = path;
    this.#render = render;
    this.#logger = logger;
  }

  /** Queues one atomic write of the current state; writes requested while one is queued share it. */
  write(): Promise<void> {
    const path = this.#path;
    if (this.#pending) return this.#pending;
    const write = this.#chain.then(async () => {
      this.#pending = null; // later changes need a later write
      if (this.blocked) throw this.blocked;
      await mkdir(dirname(path), { recursive: true }).catch(() => {});
      await writeFileAtomic(path, this.#render());
    }).then(
      () => void (this.#writeError = undefined),
      (err) => {
        this.#writeError = err;
        this.#logger.error("Cannot write pin file", { path, error: (err as Error).message });
        throw err;
      },
    );
    this.#pending = write;
    this.#chain = write.catch(() => {});
    return write;
  }

  /** Resolves when every queued write has finished, failed or not. */
  settled(): Promise<void> {
    return this.#chain;
  }

  /** Waits for queued writes; rejects with the last write error. */
  async flush(): Promise<void> {
    await this.#chain;
    if (this.#writeError !== undefined) throw this.#writeError;
  }
}
