/**
 * Reads a child process's standard output line by line, each read with a
 * deadline (a benchmark's server that never answers fails the run instead
 * of hanging it). Shared by bench/workers.ts and per_call.ts.
 *
 * @module
 */

/** Returns a function that resolves to the child's next line, or rejects after `timeoutMs`. */
export function lines(c: Deno.ChildProcess): (timeoutMs: number) => Promise<string> {
  const reader = c.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return async (timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    while (!buf.includes("\n")) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer")), deadline - Date.now());
      });
      try {
        const { value, done } = await Promise.race([reader.read(), late]);
        if (done) throw new Error("exited before answering");
        buf += value;
      } finally {
        clearTimeout(timer);
      }
    }
    const i = buf.indexOf("\n");
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    return line;
  };
}
