/**
 * Watching a directory for changed files, on every runtime (`node:fs`
 * `watch`, which Deno and Bun implement on inotify/kqueue like Node.js).
 *
 * @module
 */

import { watch } from "node:fs";

/**
 * A running directory watch.
 *
 * @example
 * ```ts ignore
 * const w = watchDirectory("certs", (name) => console.log(name));
 * w.close();
 * ```
 */
export interface DirectoryWatch {
  /** Stops watching. Idempotent. */
  close(): void;
}

/**
 * Calls `onName` with the base name of each file created, changed, renamed
 * or removed in `dir` (not recursive). An atomic write (temp file + rename)
 * reports both names. Throws when `dir` cannot be watched (for example it
 * does not exist), so the caller can say so and fall back.
 *
 * @example Watching a temporary folder
 * ```ts
 * import { watchDirectory } from "@mtls/mcp/runtime";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const dir = mkdtempSync(join(tmpdir(), "watch-"));
 * const w = watchDirectory(dir, (name) => console.log("changed:", name));
 * w.close();
 * rmSync(dir, { recursive: true });
 * ```
 */
export function watchDirectory(dir: string, onName: (name: string) => void): DirectoryWatch {
  const watcher = watch(dir, { persistent: false }, (_event, filename) => {
    if (filename) onName(String(filename));
  });
  // A removed directory reports an error event; the caller's refresh timers still run.
  watcher.on("error", () => {});
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      watcher.close();
    },
  };
}
