/**
 * Validation shared by the limiters: options are checked once, when a limiter
 * is made, never per call.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";

/** Returns `value` when it is an integer of at least `min`, else throws a {@link ConfigError} naming `key`. */
export function positiveInteger(key: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`Option "${key}" must be an integer of at least ${min}, got "${value}"`, {
      key,
    });
  }
  return value;
}

/** Returns `now` when it is a function, else throws a {@link ConfigError}. */
export function clock(now: unknown): () => number {
  if (typeof now !== "function") {
    throw new ConfigError(
      `Option "now" must be a function returning milliseconds, got "${typeof now}"`,
      {
        key: "now",
      },
    );
  }
  return now as () => number;
}
