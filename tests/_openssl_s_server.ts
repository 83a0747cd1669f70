/**
 * `openssl s_server -www` as a real OpenSSL TLS peer, listening on an
 * ephemeral port of 127.0.0.1 that it binds itself (`-accept 127.0.0.1:0`)
 * and reports on its `ACCEPT` line: no "free port" is picked and reused.
 *
 * @example A peer that requires a client certificate
 * ```ts
 * import { startOpensslServer } from "../_openssl_s_server.ts";
 *
 * const s = await startOpensslServer(["-cert", "server.crt", "-key", "server.key", "-Verify", "1"]);
 * try {
 *   await fetch(`https://127.0.0.1:${s.port}/`);
 * } finally {
 *   await s.stop();
 * }
 * ```
 */
export interface OpensslServer {
  /** The port s_server bound and accepts on. */
  port: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Stops it and waits until it has exited. */
  stop(): Promise<void>;
}

/** Starts `openssl s_server -www -accept 127.0.0.1:0 ...args` and waits until it accepts. */
export async function startOpensslServer(args: string[]): Promise<OpensslServer> {
  const child = new Deno.Command("openssl", {
    // Not -quiet: that would also hide the ACCEPT line the port is read from.
    args: ["s_server", "-www", "-accept", "127.0.0.1:0", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let listening!: (port: number) => void;
  const bound = new Promise<number>((r) => listening = r);
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      out += dec.decode(chunk, { stream: true });
      const port = /^ACCEPT 127\.0\.0\.1:(\d+)$/m.exec(out)?.[1];
      if (port) listening(Number(port));
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
    await drained;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    bound,
    child.status.then(() => "exited" as const),
    new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 10_000)),
  ]);
  clearTimeout(timer);
  if (typeof outcome === "number") return { port: outcome, output: () => out, stop };
  await stop();
  throw new Error(`openssl s_server did not start (${outcome}):\n${out}`);
}
