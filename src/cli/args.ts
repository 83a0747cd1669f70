/**
 * Argument parsing for every command: `node:util` parseArgs in strict mode,
 * `--help` added everywhere, and its errors turned into one readable line.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { MtlsError } from "../errors.ts";

/** Option definitions as `parseArgs` takes them. */
export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

/** The parsed flags and positionals of one command. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `args` for `command` (e.g. `"certs init"`).
 *
 * @throws {MtlsError} `invalid_argument` for an unknown flag, a missing value or
 * an unexpected argument; the CLI exits with status 2 on it
 */
export function parseCommandArgs(
  command: string,
  args: string[],
  options: OptionsConfig,
  maxPositionals = 0,
): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (cause) {
    throw new MtlsError("invalid_argument", describe(command, cause), { cause });
  }
  const { help = false, ...values } = parsed.values as Record<string, string | boolean>;
  if (!help && parsed.positionals.length > maxPositionals) {
    throw new MtlsError(
      "invalid_argument",
      `Unexpected argument "${parsed.positionals[maxPositionals]}" for "${command}" (see --help)`,
    );
  }
  return { values, positionals: parsed.positionals, help: help === true };
}

function describe(command: string, err: unknown): string {
  const { code, message = "" } = err as { code?: string; message?: string };
  const name = /'(-[^' ]+)/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `Unknown option "${name}" for "${command}" (see --help)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return message.includes("does not take")
        ? `Option "${name}" does not take a value`
        : `Option "${name}" needs a value`;
    default:
      return `Invalid arguments for "${command}": ${message.split("\n")[0]}`;
  }
}

/**
 * Parses a `--days` value: a whole number of days from 1 to 36500.
 *
 * @throws {MtlsError} `invalid_argument` otherwise
 */
export function parseDays(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const days = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(days >= 1 && days <= 36_500)) {
    throw new MtlsError(
      "invalid_argument",
      `Invalid --days "${text}": expected a whole number from 1 to 36500`,
    );
  }
  return days;
}
