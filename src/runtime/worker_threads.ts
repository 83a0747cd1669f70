/**
 * Event loops in threads, for `serve --workers N`: starting a worker thread,
 * talking to it, and whether this runtime lets several listeners share one
 * port (`reusePort`). `node:worker_threads` is the same API on Deno, Node.js
 * and Bun, so only the port question differs per runtime.
 *
 * Threads rather than processes: each worker thread is its own V8 isolate
 * with its own heap and GC, as a process would be, while threads share one
 * process to supervise and signal, and `postMessage` is the coordinator's
 * channel without a socket of its own.
 *
 * @module
 */

import process from "node:process";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { runtimeName } from "./detect.ts";

/**
 * A started worker thread, as its parent holds it.
 *
 * @example
 * ```ts ignore
 * const w = spawnWorkerThread(new URL("./worker.ts", import.meta.url), { index: 0 });
 * w.onMessage((m) => console.log(m));
 * w.onExit((code) => console.log("exited", code));
 * await w.terminate();
 * ```
 */
export interface WorkerThread {
  /** Sends a structured-cloneable message to the worker. */
  post(message: unknown): void;
  /** Calls `listener` with each message from the worker. */
  onMessage(listener: (message: unknown) => void): void;
  /** Calls `listener` once when the thread ends (a crash included), with its exit code. */
  onExit(listener: (code: number) => void): void;
  /** Ends the thread at once. */
  terminate(): Promise<void>;
}

/**
 * Starts `url` (an ES module) in a new thread with `data` as its
 * {@link parentChannel}'s `data`.
 *
 * @example
 * ```ts ignore
 * import { spawnWorkerThread } from "@mtls/mcp/runtime";
 * const w = spawnWorkerThread(new URL("./worker.ts", import.meta.url), { index: 0 });
 * ```
 */
export function spawnWorkerThread(url: URL, data: unknown): WorkerThread {
  const worker = new Worker(url, { workerData: data });
  let exited = false;
  const exitListeners: ((code: number) => void)[] = [];
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    for (const l of exitListeners) l(code);
  };
  worker.on("exit", (code: number) => exit(code));
  // An uncaught exception ends the thread; "exit" follows on Node.js, not always on Deno.
  worker.on("error", () => exit(1));
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => void worker.on("message", listener),
    onExit: (listener) => void exitListeners.push(listener),
    async terminate() {
      await worker.terminate();
      exit(0);
    },
  };
}

/**
 * The URL of a worker thread's module `file` (a path from the source root,
 * `workers/worker_main`), given `root`, the URL of that root as seen from
 * the caller (`new URL("../", import.meta.url)`). In Deno the modules are
 * `.ts`; in the npm build `.js`; in a Bun single binary (`bun build
 * --compile bin.js workers/worker_main.js`) every entry point sits under
 * the binary's own virtual folder by its path from the entry points' common
 * folder, so `file` is found beside the binary's URL.
 *
 * @example
 * ```ts
 * import { workerModuleUrl } from "@mtls/mcp/runtime";
 * const url = workerModuleUrl(new URL("file:///app/src/"), "workers/worker_main");
 * console.log(url.href); // file:///app/src/workers/worker_main.ts
 * ```
 */
export function workerModuleUrl(root: URL, file: string): URL {
  const here = import.meta.url;
  if (here.startsWith("file:///$bunfs/")) return new URL(`./${file}.js`, here);
  return new URL(`./${file}.${here.endsWith(".js") ? "js" : "ts"}`, root);
}

/**
 * A worker thread's side of the channel to its parent.
 *
 * @example
 * ```ts ignore
 * import { parentChannel } from "@mtls/mcp/runtime";
 * const parent = parentChannel();
 * parent?.post({ type: "ready" });
 * ```
 */
export interface ParentChannel {
  /** What the parent passed to {@link spawnWorkerThread}. */
  readonly data: unknown;
  /** Sends a message to the parent. */
  post(message: unknown): void;
  /** Calls `listener` with each message from the parent. */
  onMessage(listener: (message: unknown) => void): void;
  /** Stops listening to the parent, so the thread can end when its work is done. */
  close(): void;
}

/**
 * The channel to the parent when this code runs in a worker thread, else `undefined`.
 *
 * @example
 * ```ts
 * import { parentChannel } from "@mtls/mcp/runtime";
 * console.log(parentChannel()); // undefined on the main thread
 * ```
 */
export function parentChannel(): ParentChannel | undefined {
  if (isMainThread || !parentPort) return undefined;
  const port = parentPort;
  const listeners: ((message: unknown) => void)[] = [];
  return {
    data: workerData,
    post: (message) => port.postMessage(message),
    onMessage(listener) {
      listeners.push(listener);
      port.on("message", listener);
    },
    close() {
      // Deno's parentPort has neither close() nor removeAllListeners(): off() each listener.
      for (const l of listeners.splice(0)) port.off("message", l);
    },
  };
}

/**
 * Whether this runtime's `node:net` honours `listen({ reusePort: true })`,
 * so several event loops can accept on one port (Linux `SO_REUSEPORT`): Deno
 * (checked on 2.9.6), Bun, and Node.js from 22.12 / 23.1. Node.js 20 ignores
 * the option, and a second listener would fail with `EADDRINUSE`.
 *
 * @example
 * ```ts
 * import { canSharePort } from "@mtls/mcp/runtime";
 * console.log(typeof canSharePort()); // "boolean"
 * ```
 */
export function canSharePort(): boolean {
  if (process.platform !== "linux" && process.platform !== "freebsd") return false;
  const name = runtimeName();
  if (name !== "node") return true;
  const [major, minor] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
