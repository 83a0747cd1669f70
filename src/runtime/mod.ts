/**
 * The only place that knows which JavaScript runtime (Deno, Node.js, Bun) the
 * code runs on: process arguments, environment, exit, signals, child
 * processes and timers. Everything else in mcp-mtls is the same code on all
 * three.
 *
 * @example Which runtime, and its arguments
 * ```ts
 * import { commandArgs, runtimeLabel } from "@mtls/mcp/runtime";
 * console.log(runtimeLabel(), commandArgs().length >= 0);
 * ```
 *
 * @module
 */

export { runtimeLabel, type RuntimeName, runtimeName } from "./detect.ts";
export {
  commandArgs,
  envObject,
  execPath,
  exit,
  getEnv,
  onSignal,
  type StopSignal,
  writeStderr,
  writeStdout,
} from "./process.ts";
export { unrefTimer } from "./timers.ts";
export { type DirectoryWatch, watchDirectory } from "./watch.ts";
export { createTlsHttpServer, type TlsHttpServer } from "./tls_http_server.ts";
export { type ChildStatus, type PipedChild, spawnPiped, type SpawnPipedOptions } from "./child.ts";
export {
  canSharePort,
  type ParentChannel,
  parentChannel,
  spawnWorkerThread,
  workerModuleUrl,
  type WorkerThread,
} from "./worker_threads.ts";
