/**
 * The client's server pinning, compiled once from the options: static pins
 * (with backups) as a constant-time matcher, and a pin store per `host:port`
 * (a file, an instance, or trust on first use in memory). The check is
 * synchronous and does no I/O, so it runs inside `checkServerIdentity`.
 *
 * @module
 */
import { ConfigError, MtlsError, type PeerRejectedError } from "../../errors.ts";
import type { Logger } from "../../log/logger.ts";
import { computePins } from "../../pins/compute_pins.ts";
import { compilePinSet, pinMismatchError } from "../../pins/pin_set.ts";
import { parsePin } from "../../pins/pin.ts";
import { PinStore } from "../../pins/pin_store.ts";

/** The pin options of the client, as the user gives them. */
export interface ClientPinOptions {
  pins?: string[];
  backupPins?: string[];
  pinStore?: PinStore | string;
  tofu?: boolean;
}

/** Server pinning, ready for the handshake path. */
export interface ServerPinCheck {
  /** Resolves when the pin store is loaded; rejects (every time) when it cannot be. */
  ready: Promise<void>;
  /** `undefined` when `der` may be the server at `name` (`host:port`), else the `pin_mismatch` refusal. */
  check(name: string, der: Uint8Array, peer: string): PeerRejectedError | MtlsError | undefined;
  /** Whether the pin store has an entry for `name` (false without a store). */
  knows(name: string): boolean;
  /**
   * Takes back the first-use pin of `der` for `name` when the connection that
   * recorded it was refused later (revocation), so a revoked key is never
   * what trust on first use remembers. Call it only for a connection that
   * found `name` unknown.
   */
  forgetFirstUse(name: string, der: Uint8Array): Promise<void>;
  /** Waits for pending pin-file writes (first-use pins); logs a failure instead of throwing. */
  flush(): Promise<void>;
}

/** Validates the pin options once; `undefined` when the client pins nothing. */
export function resolvePinOptions(
  options: ClientPinOptions,
  logger: Logger,
): ServerPinCheck | undefined {
  const { pins = [], backupPins = [], pinStore, tofu = false } = options;
  const primary = pinList("pins", pins);
  const backup = pinList("backupPins", backupPins);
  if (backup.length > 0 && primary.length === 0) {
    throw new ConfigError(
      'Option "backupPins" needs "pins": backup pins are for rotating from them',
      {
        key: "backupPins",
      },
    );
  }
  if (typeof tofu !== "boolean") {
    throw new ConfigError(`Option "tofu" must be true or false, got "${tofu}"`, { key: "tofu" });
  }
  const matcher = primary.length > 0 ? compilePinSet(primary, backup) : undefined;
  const expected = [...primary, ...backup.map((p) => `${p} (backup)`)];
  const store = resolveStore(pinStore, tofu, logger);
  if (!matcher && !store) return undefined;

  let current: PinStore | undefined = store instanceof PinStore ? store : undefined;
  let failure: unknown;
  const ready = store instanceof Promise
    ? store.then((s) => void (current = s), (e) => {
      failure = e;
      throw e;
    })
    : Promise.resolve();
  ready.catch(() => {}); // reported by every connection attempt, not as an unhandled rejection
  return {
    ready,
    check(name, der, peer) {
      if (matcher && !matcher(der)) return pinMismatchError(name, der, expected, peer);
      if (store === undefined) return undefined;
      // The connector awaits `ready` before connecting, so this is only a guard.
      if (!current) return asError(failure);
      return current.check(name, der, { peer });
    },
    knows: (name) => current?.get(name) !== undefined,
    async forgetFirstUse(name, der) {
      const entry = current?.get(name);
      if (!current || !entry?.tofu || entry.pins.length !== 1 || entry.backup.length) return;
      let spki: string;
      try {
        spki = computePins(der).spki;
      } catch {
        return;
      }
      if (entry.pins[0] !== spki) return;
      await current.remove(name).catch((e) =>
        logger.error("Cannot write pin file", { path: current?.path, error: (e as Error).message })
      );
      logger.info("First-use pin taken back: the server was refused", { name, pin: spki });
    },
    async flush() {
      if (!current) return;
      await current.flush().catch((e) =>
        logger.error("Cannot write pin file", { path: current?.path, error: (e as Error).message })
      );
    },
  };
}

function asError(failure: unknown): MtlsError {
  return failure instanceof MtlsError
    ? failure
    : new MtlsError("invalid_config", "The pin store is not loaded", { cause: failure });
}

function pinList(key: string, value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(
      `Option "${key}" must be an array of pins ("sha256/<base64>" or "cert-sha256/<hex>")`,
      { key },
    );
  }
  return value.map((pin) => {
    try {
      return parsePin(pin).text;
    } catch (cause) {
      throw new ConfigError(`Option "${key}" holds an invalid pin: ${(cause as Error).message}`, {
        key,
        cause,
      });
    }
  });
}

/** The store: an instance as given, a file opening in the background, or TOFU in memory. */
function resolveStore(
  pinStore: PinStore | string | undefined,
  tofu: boolean,
  logger: Logger,
): PinStore | Promise<PinStore> | undefined {
  if (pinStore instanceof PinStore) {
    if (tofu) {
      throw new ConfigError(
        'Option "tofu" cannot be combined with a PinStore instance: open it with PinStore.open(path, { tofu: true })',
        { key: "tofu" },
      );
    }
    return pinStore;
  }
  if (pinStore === undefined) return tofu ? PinStore.memory({}, { tofu, logger }) : undefined;
  if (typeof pinStore !== "string" || pinStore === "") {
    throw new ConfigError(
      `Option "pinStore" must be a pin file path or a PinStore, got "${String(pinStore)}"`,
      { key: "pinStore" },
    );
  }
  return PinStore.open(pinStore, { tofu, logger });
}
