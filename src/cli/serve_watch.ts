/**
 * Hot reload for `serve`: watches the certificate directory and listens for
 * SIGHUP. Changes are debounced, so a certificate and key replaced one after
 * the other are reloaded once, as a pair. A reload that fails is logged and
 * the last good material keeps serving. CRL files are watched one by one
 * ({@link watchFileChanges}, handed to the revocation checker).
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { onSignal } from "../runtime/process.ts";
import { type DirectoryWatch, watchDirectory } from "../runtime/watch.ts";
import type { Logger } from "../log/logger.ts";
import type { TlsMaterial } from "../mcp/server_reload.ts";
import type { PinStore } from "../pins/pin_store.ts";

/** The files whose change reloads the TLS material. */
const TLS_FILES = new Set(["server.crt", "server.key", "ca.crt"]);
const PIN_FILE = "pins.json";

/**
 * Settings of {@link watchCertificates}.
 *
 * @example Using WatchCertificatesOptions
 * ```ts ignore
 * const stop = watchCertificates({ dir: "certs", reloadTls: server.reloadTls, pins, logger });
 * ```
 */
export interface WatchCertificatesOptions {
  /** The certificate directory (`server.crt`, `server.key`, `ca.crt`, `pins.json`). */
  dir: string;
  /** Installs new TLS material (validates first, logs its own outcome). */
  reloadTls(material: TlsMaterial): Promise<void>;
  /** The pin store opened from `dir/pins.json`, when there is one. */
  pins?: PinStore;
  /** Where failures are logged. */
  logger: Logger;
  /** Quiet time in ms before a burst of changes is acted on. @default {200} */
  debounceMs?: number;
  /**
   * Calls its listener on each reload order; returns a function that stops
   * it. In a worker of `serve --workers N`, the primary's SIGHUP, passed on
   * (a worker thread does not see signals). @default {SIGHUP}
   */
  onHangup?: (listener: () => void) => () => void;
}

/**
 * Starts watching `dir` and listening for SIGHUP (reloads everything).
 * Returns a function that stops both.
 *
 * @example Using watchCertificates
 * ```ts ignore
 * const stop = watchCertificates({ dir, reloadTls: server.reloadTls, logger });
 * stop();
 * ```
 */
export function watchCertificates(o: WatchCertificatesOptions): () => void {
  const { dir, logger, debounceMs = 200 } = o;
  const changed = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  const reloadTls = async () => {
    let material: TlsMaterial;
    try {
      const read = (f: string) => readFile(join(dir, f), "utf8");
      const [cert, key, ca] = await Promise.all(
        ["server.crt", "server.key", "ca.crt"].map(read),
      );
      material = { cert, key, ca };
    } catch (e) {
      logger.error("TLS reload refused; the previous certificate keeps serving", {
        dir,
        error: (e as Error).message,
      });
      return;
    }
    await o.reloadTls(material).catch(() => {/* logged by reloadTls */});
  };
  const reloadPins = async () => {
    if (!o.pins) {
      logger.warn("pins.json changed but was not enforced at start; restart to enforce it", {
        dir,
      });
      return;
    }
    try {
      await o.pins.reload();
      logger.info("client pins reloaded", { pins: join(dir, PIN_FILE) });
    } catch (e) {
      logger.error("pin file reload refused; the previous pins stay in force", {
        pins: join(dir, PIN_FILE),
        error: (e as Error).message,
      });
    }
  };
  const act = (names: Set<string>) => {
    const tls = [...names].some((n) => TLS_FILES.has(n));
    const pins = names.has(PIN_FILE);
    running = running.then(async () => {
      if (tls) await reloadTls();
      if (pins) await reloadPins();
    });
  };
  const flush = () => {
    timer = undefined;
    const names = new Set(changed);
    changed.clear();
    act(names);
  };

  let watcher: DirectoryWatch | undefined;
  try {
    watcher = watchDirectory(dir, (name) => {
      if (!TLS_FILES.has(name) && name !== PIN_FILE) return;
      changed.add(name);
      clearTimeout(timer);
      timer = setTimeout(flush, debounceMs);
    });
  } catch (e) {
    logger.warn("cannot watch the certificate directory; reload with SIGHUP", {
      dir,
      error: (e as Error).message,
    });
  }

  const hangup = o.onHangup ?? ((l: () => void) => onSignal("SIGHUP", l));
  const offHangup = hangup(() => {
    logger.info("SIGHUP: reloading TLS material and pins", { dir });
    act(new Set([...TLS_FILES, ...(o.pins ? [PIN_FILE] : [])]));
  });
  return () => {
    clearTimeout(timer);
    offHangup();
    watcher?.close();
  };
}

/**
 * Settings of {@link watchFileChanges}.
 *
 * @example Using WatchFileOptions
 * ```ts ignore
 * const o: WatchFileOptions = { logger, debounceMs: 200 };
 * ```
 */
export interface WatchFileOptions {
  /** Where a directory that cannot be watched is reported. */
  logger: Logger;
  /** Quiet time in ms before a burst of changes is reported once. @default {200} */
  debounceMs?: number;
}

/**
 * Calls `onChange` after `path` is written, created, renamed over or removed.
 * It watches the file's directory, not the file: a file that does not exist
 * yet cannot be watched, and an atomic write (temp file + rename, as
 * `certs revoke` does) replaces the inode a file watch would follow. A burst
 * of events (a truncate and a write) is reported once, `debounceMs` after the
 * last. When the directory cannot be watched, logs a warning and returns a
 * no-op: the caller's periodic re-read still applies.
 *
 * @param path the file to watch
 * @param onChange called once per burst of changes
 * @param options logger and debounce time
 * @returns a function that stops watching
 *
 * @example Reloading a CRL when `certs revoke` rewrites it
 * ```ts ignore
 * const stop = watchFileChanges("certs/ca.crl", () => void checker.refresh(), { logger });
 * stop();
 * ```
 */
export function watchFileChanges(
  path: string,
  onChange: () => void,
  options: WatchFileOptions,
): () => void {
  const { logger, debounceMs = 200 } = options;
  const dir = dirname(path);
  const name = basename(path);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watcher: DirectoryWatch;
  try {
    watcher = watchDirectory(dir, (changed) => {
      if (changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, debounceMs);
    });
  } catch (e) {
    logger.warn("cannot watch the file's directory; it is re-read on the refresh interval only", {
      file: path,
      error: (e as Error).message,
    });
    return () => {};
  }
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
