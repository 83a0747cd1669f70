import type { LogFields, Logger } from "../../src/log/logger.ts";

export function memoryLogger(): Logger & {
  records: { level: string; msg: string; fields?: LogFields }[];
} {
  const records: { level: string; msg: string; fields?: LogFields }[] = [];
  return {
    records,
    debug: (msg, fields) => records.push({ level: "debug", msg, fields }),
    info: (msg, fields) => records.push({ level: "info", msg, fields }),
    warn: (msg, fields) => records.push({ level: "warn", msg, fields }),
    error: (msg, fields) => records.push({ level: "error", msg, fields }),
  };
}
