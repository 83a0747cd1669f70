/** Test helper: a CliIo that records output. */
import type { CliIo } from "../../src/cli/main.ts";

/** A recording {@link CliIo}, with the given environment. */
export function captureIo(env: Record<string, string> = {}): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout: (text: string) => {
      io.out += text;
    },
    stderr: (text: string) => {
      io.err += text;
    },
    env: (name: string) => env[name],
  };
  return io;
}

/** Mode bits of a file. */
export async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}
