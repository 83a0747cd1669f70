/**
 * mcp-mtls: mutual TLS for the Model Context Protocol.
 *
 * @module
 */
export {
  CertificateError,
  ConfigError,
  FileError,
  isMtlsError,
  MtlsError,
  PeerRejectedError,
  REASON_CODES,
  RevocationError,
  RuntimeError,
} from "./src/errors.ts";
export type {
  ErrorCode,
  MtlsErrorOptions,
  PeerRejectionDetails,
  ReasonCode,
} from "./src/errors.ts";
export { createLogger, silentLogger } from "./src/log/mod.ts";
export type { CreateLoggerOptions, LogFields, Logger, LogLevel } from "./src/log/mod.ts";
