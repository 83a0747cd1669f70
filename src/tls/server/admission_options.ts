/**
 * Options of the server's pin and revocation steps, and their validation:
 * contradictions are refused once, at start, with a {@link ConfigError}
 * naming the key.
 *
 * @module
 */

import { ConfigError } from "../../errors.ts";
import { compilePinSet } from "../../pins/pin_set.ts";
import { PinStore } from "../../pins/pin_store.ts";
import type {
  RevocationChecker,
  RevocationCheckerOptions,
} from "../../revocation/checker_options.ts";
/**
 * Client pinning on the server.
 *
 * @example
 * ```ts
 * import type { ServerPinOptions } from "./admission_options.ts";
 * const pins: ServerPinOptions = { store: "certs/pins.json", tofu: true };
 * ```
 */
export interface ServerPinOptions {
  /** Allowlist: every admitted client certificate must match one of these pins (`sha256/…` SPKI or `cert-sha256/…`). @default {no allowlist} */
  allow?: string[];
  /**
   * Pins per identity: a {@link PinStore}, or the path of a JSON pin file to
   * open. The name looked up is the identity label: the SPIFFE ID, else
   * `cn:NAME`, else `sha256:FINGERPRINT`. @default {no per-identity pins}
   */
  store?: PinStore | string;
  /** With a `store` path: pin an identity's key on first use, refuse other keys later. @default {false} */
  tofu?: boolean;
  /** With a `store` path: an identity without pins is refused (`deny`) or admitted unpinned (`allow`); ignored with `tofu`. @default {"deny"} */
  unknown?: "deny" | "allow";
}

/**
 * Revocation checking of client certificates on the server: the options of
 * `createRevocationChecker` (the server's logger and its trusted CAs as CRL
 * issuers are filled in when absent), plus which certificates to check.
 *
 * @example
 * ```ts
 * import type { ServerRevocationOptions } from "./admission_options.ts";
 * const r: ServerRevocationOptions = { crls: ["certs/ca.crl"], refreshInterval: 60_000 };
 * ```
 */
export interface ServerRevocationOptions extends RevocationCheckerOptions {
  /** Also check every intermediate CA of the verified chain (each against its issuer), not only the leaf. @default {false} */
  checkIntermediates?: boolean;
}

const CHECKER_KEYS: (keyof RevocationChecker)[] = ["verify", "checkCached", "enforce"];

/**
 * Whether `value` is an already built {@link RevocationChecker} rather than options.
 *
 * @example
 * ```ts
 * import { isRevocationChecker } from "./admission_options.ts";
 * isRevocationChecker({ crls: [] }); // false
 * ```
 */
export function isRevocationChecker(value: unknown): value is RevocationChecker {
  return typeof value === "object" && value !== null &&
    CHECKER_KEYS.every((k) => typeof (value as Record<string, unknown>)[k] === "function");
}

/**
 * Refuses contradictory pin and revocation options with a {@link ConfigError}
 * naming the key. Called once, before anything starts.
 *
 * @example
 * ```ts
 * import { validateAdmissionOptions } from "./admission_options.ts";
 * try {
 *   validateAdmissionOptions({ pins: { allow: [] }, clientAuth: "require" });
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function validateAdmissionOptions(o: {
  pins?: ServerPinOptions;
  revocation?: ServerRevocationOptions | RevocationChecker;
  clientAuth: string;
}): void {
  const { pins, revocation, clientAuth } = o;
  if (pins !== undefined) {
    if (typeof pins !== "object" || pins === null) {
      throw new ConfigError(`Option "pins" must be an object`, { key: "pins" });
    }
    if (clientAuth === "none") {
      throw new ConfigError(
        'Option "pins" is set but "tls.clientAuth" is "none": no client certificate is requested to pin',
        { key: "pins" },
      );
    }
    if (pins.allow !== undefined) {
      if (!Array.isArray(pins.allow) || pins.allow.length === 0) {
        throw new ConfigError('Option "pins.allow" must be a non-empty list of pins', {
          key: "pins.allow",
        });
      }
      try {
        compilePinSet(pins.allow);
      } catch (cause) {
        throw new ConfigError(`Option "pins.allow": ${(cause as Error).message}`, {
          key: "pins.allow",
          cause,
        });
      }
    }
    const storeIsPath = typeof pins.store === "string";
    if (pins.store !== undefined && !storeIsPath && !(pins.store instanceof PinStore)) {
      throw new ConfigError('Option "pins.store" must be a PinStore or a pin file path', {
        key: "pins.store",
      });
    }
    for (const k of ["tofu", "unknown"] as const) {
      if (pins[k] !== undefined && !storeIsPath) {
        throw new ConfigError(
          `Option "pins.${k}" needs "pins.store" to be a file path (a PinStore carries its own "${k}")`,
          { key: `pins.${k}` },
        );
      }
    }
    if (pins.unknown !== undefined && pins.unknown !== "deny" && pins.unknown !== "allow") {
      throw new ConfigError(
        `Option "pins.unknown" must be "deny" or "allow", got "${pins.unknown}"`,
        {
          key: "pins.unknown",
        },
      );
    }
    if (pins.allow === undefined && pins.store === undefined) {
      throw new ConfigError('Option "pins" needs "pins.allow" or "pins.store"', { key: "pins" });
    }
  }
  if (revocation !== undefined) {
    if (typeof revocation !== "object" || revocation === null) {
      throw new ConfigError(`Option "revocation" must be checker options or a checker`, {
        key: "revocation",
      });
    }
    if (clientAuth === "none") {
      throw new ConfigError(
        'Option "revocation" is set but "tls.clientAuth" is "none": no client certificate is requested to check',
        { key: "revocation" },
      );
    }
    const r = revocation as ServerRevocationOptions;
    if (
      !isRevocationChecker(revocation) && !r.crls?.length && !r.ocsp &&
      r.crlDistributionPoints === false
    ) {
      throw new ConfigError(
        'Option "revocation" has no source: give "revocation.crls", enable "revocation.ocsp" or keep "revocation.crlDistributionPoints"',
        { key: "revocation" },
      );
    }
  }
}
