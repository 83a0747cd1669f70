// The server under test, in its own process so the test can read its RSS and
// file descriptors from /proc. argv[0]: JSON {cert, key, ca (paths), limits,
// sessions}. Log records go to stdout as JSON lines; stdin takes "gc ID" and "stop".
import { demoServerFactory, serveMcp } from "../../src/mcp/mod.ts";
import type { Logger, LogLevel } from "../../src/log/mod.ts";

const config = JSON.parse(Deno.args[0]);
const enc = new TextEncoder();
const emit = (level: LogLevel | "test", msg: string, fields?: Record<string, unknown>) => {
  const line = JSON.stringify({ level, msg, fields }) + "\n";
  let bytes = enc.encode(line);
  while (bytes.length) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
};
const logger: Logger = {
  debug: (m, f) => emit("debug", m, f),
  info: (m, f) => emit("info", m, f),
  warn: (m, f) => emit("warn", m, f),
  error: (m, f) => emit("error", m, f),
};
globalThis.addEventListener("unhandledrejection", (e) => {
  emit("error", "UNHANDLED REJECTION", { error: String(e.reason) });
  e.preventDefault();
});
const server = await serveMcp(demoServerFactory, {
  port: 0,
  tls: {
    cert: await Deno.readTextFile(config.cert),
    key: await Deno.readTextFile(config.key),
    ca: await Deno.readTextFile(config.ca),
  },
  sessions: config.sessions ?? "stateful",
  limits: config.limits ?? {},
  logger,
});

let buf = "";
const dec = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buf += dec.decode(chunk, { stream: true });
  let nl;
  let stop = false;
  while ((nl = buf.indexOf("\n")) >= 0) {
    const [cmd, arg] = buf.slice(0, nl).split(" ");
    buf = buf.slice(nl + 1);
    if (cmd === "gc") {
      (globalThis as { gc?: () => void }).gc?.();
      const { heapUsed, external } = Deno.memoryUsage();
      emit("test", "gc done", { id: Number(arg), heapUsed, external });
    } else if (cmd === "stop") stop = true;
  }
  if (stop) break;
}
await server.close();
Deno.exit(0);
