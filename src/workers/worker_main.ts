/**
 * The entry of a worker thread of `serve --workers N`: runs `serve` with the
 * primary's arguments as one worker ({@link createServeWorker}). A start
 * failure's one-line message goes to the primary, which reports it once.
 *
 * @module
 */

import { serveAsWorker } from "../cli/serve.ts";
import { parentChannel } from "../runtime/worker_threads.ts";
import { getEnv, writeStderr } from "../runtime/process.ts";
import type { WorkerStart } from "./messages.ts";
import { createServeWorker, DEADLINE_MS } from "./serve_worker.ts";
import { createWorkerLink } from "./worker_link.ts";

/** A log line with the worker's number: a JSON line gets a `worker` field, a pretty one `worker=N`. */
function labelled(text: string, index: number): string {
  if (text.startsWith("{")) return `{"worker":${index},${text.slice(1)}`;
  if (/^\d{4}-\d\d-\d\dT/.test(text)) return text.replace(/\n?$/, ` worker=${index}\n`);
  return text;
}

const channel = parentChannel();
if (channel) {
  const start = channel.data as WorkerStart;
  const link = createWorkerLink(channel, DEADLINE_MS);
  let failure: string | undefined;
  const code = await serveAsWorker(start.args, {
    stdout: () => {}, // the primary announces the URL
    stderr(text) {
      // The command's own error line ("mcp-mtls: ..."): the primary prints it once.
      if (text.startsWith("mcp-mtls: ")) failure = text.slice(10).trim();
      else writeStderr(labelled(text, start.index));
    },
    env: getEnv,
  }, createServeWorker(link, start));
  if (code !== 0) link.send({ t: "failed", error: failure ?? `exit code ${code}` });
  link.close();
}
