/**
 * The logger interface every module takes, and a small default implementation.
 *
 * Library code never writes to the console directly: it calls a {@link Logger}
 * handed in through options, so users can route records anywhere.
 *
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Structured fields attached to a record. Never put key material or passwords here.
 *
 * @example
 * ```ts
 * import type { LogFields } from "@mtls/mcp/log";
 * const f: LogFields = { peer: "127.0.0.1:5000", reason: "unknown_ca" };
 * ```
 */
export type LogFields = Record<string, unknown>;

/**
 * Where log records go.
 *
 * @example A logger that collects records (handy in tests)
 * ```ts
 * import type { Logger, LogFields, LogLevel } from "@mtls/mcp/log";
 * const records: { level: LogLevel; msg: string; fields?: LogFields }[] = [];
 * const logger: Logger = {
 *   debug: (msg, fields) => records.push({ level: "debug", msg, fields }),
 *   info: (msg, fields) => records.push({ level: "info", msg, fields }),
 *   warn: (msg, fields) => records.push({ level: "warn", msg, fields }),
 *   error: (msg, fields) => records.push({ level: "error", msg, fields }),
 * };
 * logger.warn("demo policy in effect");
 * ```
 */
export interface Logger {
  /** Detail for troubleshooting. */
  debug(msg: string, fields?: LogFields): void;
  /** Normal operation. */
  info(msg: string, fields?: LogFields): void;
  /** Something weaker than the secure default is in effect, or a recoverable problem. */
  warn(msg: string, fields?: LogFields): void;
  /** A failure. */
  error(msg: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Options for {@link createLogger}.
 *
 * @example
 * ```ts
 * import type { CreateLoggerOptions } from "@mtls/mcp/log";
 * const o: CreateLoggerOptions = { level: "debug", format: "json" };
 * ```
 */
export interface CreateLoggerOptions {
  /** Lowest level written. @default {"info"} */
  level?: LogLevel;
  /** `pretty` for a terminal, `json` for one JSON object per line. @default {"pretty"} */
  format?: "pretty" | "json";
  /** Where lines go. @default {writes to standard error} */
  write?: (line: string) => void;
  /** Clock, injectable for tests. @default {() => new Date()} */
  now?: () => Date;
}

/**
 * Makes a {@link Logger} that writes pretty lines or JSON lines.
 *
 * @example
 * ```ts
 * import { createLogger } from "@mtls/mcp/log";
 * const lines: string[] = [];
 * const log = createLogger({ format: "json", write: (l) => lines.push(l) });
 * log.info("listening", { port: 8443 });
 * ```
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const {
    level = "info",
    format = "pretty",
    write = (line: string) => console.error(line),
    now = () => new Date(),
  } = options;
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < min) return;
    const time = now().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level: lvl, msg, ...fields }));
      return;
    }
    const extra = fields
      ? Object.entries(fields).map(([k, v]) =>
        `${k}=${typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v)}`
      ).join(" ")
      : "";
    write(`${time} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra ? " " + extra : ""}`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/**
 * A logger that drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from "@mtls/mcp/log";
 * silentLogger.error("never printed");
 * ```
 */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
