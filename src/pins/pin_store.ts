/**
 * A pin store: pins per name, in memory or backed by a JSON file, with
 * optional trust on first use.
 *
 * @module
 */
import { CertificateError, type PeerRejectedError, RevocationError } from "../errors.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { computePins } from "./compute_pins.ts";
import { parsePin } from "./pin.ts";
import { type PinEntry, serializePinFile } from "./pin_file.ts";
import { compilePinSet, type PinMatcher, pinMismatchError } from "./pin_set.ts";
import { loadPinFile, PinFileWriter } from "./pin_store_file.ts";

/** The default pin file. */
export const DEFAULT_PIN_FILE = "certs/pins.json";

/**
 * Options for {@link PinStore.open} and {@link PinStore.memory}.
 *
 * @example
 * ```ts
 * import type { PinStoreOptions } from "@mtls/mcp/pins";
 * const o: PinStoreOptions = { tofu: true, unknown: "deny" };
 * ```
 */
export interface PinStoreOptions {
  /**
   * Trust on first use: the first key seen for a name without pins is stored
   * (and written to the file) and later different keys are refused.
   * @default {false}
   */
  tofu?: boolean;
  /**
   * What {@link PinStore.check} does for a name that has no pins when `tofu`
   * is off: `deny` refuses with `pin_mismatch`, `allow` admits (the name is
   * simply not pinned).
   * @default {"deny"}
   */
  unknown?: "deny" | "allow";
  /** Where first-use pins and failed writes are logged. @default {silentLogger} */
  logger?: Logger;
  /** Clock for `firstSeen`. @default {() => new Date()} */
  now?: () => Date;
}

/**
 * Options for {@link PinStore.check}.
 *
 * @example
 * ```ts
 * import type { PinCheckOptions } from "@mtls/mcp/pins";
 * const o: PinCheckOptions = { peer: "127.0.0.1:53211" };
 * ```
 */
export interface PinCheckOptions {
  /** The peer address, attached to a refusal. */
  peer?: string;
}

/**
 * Pins per name. `check()` is synchronous and does no I/O, so it can run
 * inside `checkServerIdentity`; file writes (additions, first-use pins) are
 * atomic and serialised in the background, and {@link PinStore.flush} waits
 * for them. A corrupt file is reported and never rewritten.
 *
 * @example Trust on first use, in memory
 * ```ts
 * import { PinStore } from "@mtls/mcp/pins";
 * const store = PinStore.memory({}, { tofu: true });
 * console.log(store.names()); // []
 * ```
 *
 * @example A file-backed store for a client that pins servers by host:port
 * ```ts ignore
 * import { PinStore } from "@mtls/mcp/pins";
 * const store = await PinStore.open("certs/pins.json", { tofu: true });
 * const refusal = store.check("api.example.com:8443", peerCertificate.raw);
 * if (refusal) throw refusal; // PeerRejectedError, code "pin_mismatch"
 * ```
 */
export class PinStore {
  /** The backing file, or undefined for an in-memory store. */
  readonly path: string | undefined;
  #entries = new Map<string, PinEntry>();
  #matchers = new Map<string, PinMatcher>();
  #tofu: boolean;
  #unknown: "deny" | "allow";
  #logger: Logger;
  #now: () => Date;
  #writer: PinFileWriter | undefined;

  private constructor(
    path: string | undefined,
    entries: Map<string, PinEntry>,
    options: PinStoreOptions,
  ) {
    const { tofu = false, unknown = "deny", logger = silentLogger, now = () => new Date() } =
      options;
    if (unknown !== "deny" && unknown !== "allow") {
      throw new CertificateError(
        "invalid_argument",
        `Option "unknown" must be "deny" or "allow", got "${unknown}"`,
      );
    }
    this.path = path;
    this.#tofu = tofu;
    this.#unknown = unknown;
    this.#logger = logger;
    this.#now = now;
    this.#writer = path === undefined
      ? undefined
      : new PinFileWriter(path, () => serializePinFile(this.#entries), logger);
    this.#replace(entries);
  }

  /**
   * Opens a file-backed store. A missing file is an empty store (the file is
   * created on the first write).
   *
   * @param path the JSON pin file
   * @param options trust on first use, unknown names, logger, clock
   * @returns the store
   * @throws {RevocationError} `pin_store_corrupt` when the file is not a valid pin file (it is left untouched)
   * @throws {FileError} `file_io` when the file cannot be read
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * const dir = await Deno.makeTempDir();
   * const store = await PinStore.open(`${dir}/pins.json`, { tofu: true });
   * console.log(store.path);
   * ```
   */
  static async open(
    path: string = DEFAULT_PIN_FILE,
    options: PinStoreOptions = {},
  ): Promise<PinStore> {
    return new PinStore(path, await loadPinFile(path), options);
  }

  /**
   * Makes an in-memory store, optionally with initial pins per name.
   *
   * @param initial name to pins (an array, or `{ pins, backup }`)
   * @param options trust on first use, unknown names, logger, clock
   * @returns the store
   * @throws {CertificateError} `invalid_argument` for an invalid pin
   *
   * @example Pinning client identities on a server
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * const store = PinStore.memory({
   *   "agent-1": ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
   *   "agent-2": { pins: ["cert-sha256/" + "ab".repeat(32)], backup: [] },
   * });
   * console.log(store.names()); // ["agent-1", "agent-2"]
   * ```
   */
  static memory(
    initial: Record<string, string[] | { pins: string[]; backup?: string[] }> = {},
    options: PinStoreOptions = {},
  ): PinStore {
    const entries = new Map<string, PinEntry>();
    for (const [name, value] of Object.entries(initial)) {
      const { pins, backup = [] } = Array.isArray(value) ? { pins: value } : value;
      entries.set(name, {
        pins: pins.map((p) => parsePin(p).text),
        backup: backup.map((p) => parsePin(p).text),
      });
    }
    return new PinStore(undefined, entries, options);
  }

  /**
   * Checks a presented certificate against the pins of `name`. Synchronous,
   * no I/O: safe inside `checkServerIdentity`, whose contract (return an
   * error to fail the handshake) this follows.
   *
   * With trust on first use and no pins for `name`, the certificate's SPKI
   * pin is recorded (in memory at once, in the file in the background) and
   * the certificate admitted.
   *
   * @param name `host:port` on a client, an identity on a server
   * @param der the presented certificate (`getPeerCertificate().raw`)
   * @param options peer address for the refusal
   * @returns undefined when admitted, else a `pin_mismatch` {@link PeerRejectedError} showing the presented and expected pins
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * const store = PinStore.memory({ "example.com:443": ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] });
   * const refusal = store.check("example.com:443", new Uint8Array([0x30, 0x00]));
   * console.log(refusal?.code); // "pin_mismatch"
   * ```
   */
  check(
    name: string,
    der: Uint8Array,
    options: PinCheckOptions = {},
  ): PeerRejectedError | undefined {
    const matcher = this.#matchers.get(name);
    if (matcher) {
      if (matcher(der)) return undefined;
      const e = this.#entries.get(name)!;
      return pinMismatchError(
        name,
        der,
        [...e.pins, ...e.backup.map((p) => `${p} (backup)`)],
        options.peer,
      );
    }
    if (!this.#tofu) {
      if (this.#unknown === "allow") return undefined;
      return pinMismatchError(name, der, [], options.peer);
    }
    let spki: string;
    try {
      spki = computePins(der).spki;
    } catch {
      return pinMismatchError(name, der, [], options.peer);
    }
    this.#set(name, { pins: [spki], backup: [], firstSeen: this.#now().toISOString(), tofu: true });
    this.#logger.info("Pinned on first use", { name, pin: spki, peer: options.peer });
    this.#persist().catch(() => {}); // logged in #persist; flush() reports it
    return undefined;
  }

  /**
   * The pins of `name`, or undefined.
   *
   * @param name the pinned name
   * @returns a copy of the entry
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * PinStore.memory().get("example.com:443"); // undefined
   * ```
   */
  get(name: string): PinEntry | undefined {
    const e = this.#entries.get(name);
    return e && { ...e, pins: [...e.pins], backup: [...e.backup] };
  }

  /**
   * Every pinned name, sorted.
   *
   * @returns the names
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * PinStore.memory({ b: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] }).names(); // ["b"]
   * ```
   */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /**
   * Adds a pin (or a backup pin) to `name` and writes the file.
   *
   * @param name the pinned name
   * @param pin a pin in any accepted form
   * @param options `backup: true` to add it as a backup pin
   * @throws {CertificateError} `invalid_argument` for an invalid pin
   * @throws {FileError} when the file cannot be written (memory keeps the pin)
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * const store = PinStore.memory();
   * await store.add("agent-1", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
   * console.log(store.get("agent-1")?.pins); // ["sha256/47DEQ..."]
   * ```
   */
  async add(name: string, pin: string, options: { backup?: boolean } = {}): Promise<void> {
    const text = parsePin(pin).text;
    const e = this.get(name) ?? { pins: [], backup: [], firstSeen: this.#now().toISOString() };
    const list = options.backup ? e.backup : e.pins;
    if (!list.includes(text)) list.push(text);
    this.#set(name, e);
    await this.#persist();
  }

  /**
   * Removes one pin from `name`, or the whole name when `pin` is omitted, and
   * writes the file. A name left with no pins is removed.
   *
   * @param name the pinned name
   * @param pin the pin to remove
   * @returns whether anything was removed
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * const store = PinStore.memory({ a: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="] });
   * console.log(await store.remove("a")); // true
   * ```
   */
  async remove(name: string, pin?: string): Promise<boolean> {
    const e = this.get(name);
    if (!e) return false;
    if (pin === undefined) {
      this.#set(name, undefined);
    } else {
      const text = parsePin(pin).text;
      const [pins, backup] = [e.pins.filter((p) => p !== text), e.backup.filter((p) => p !== text)];
      if (pins.length + backup.length === e.pins.length + e.backup.length) return false;
      this.#set(name, pins.length + backup.length ? { ...e, pins, backup } : undefined);
    }
    await this.#persist();
    return true;
  }

  /**
   * Waits for pending writes (first-use pins); rejects with the last write error.
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * await PinStore.memory().flush();
   * ```
   */
  async flush(): Promise<void> {
    await this.#writer?.flush();
  }

  /**
   * Re-reads the file (hot reload). When the file is corrupt, the current pins
   * stay in force, the error is thrown, and the store stops writing until a
   * reload succeeds, so the operator's file is never overwritten.
   *
   * @throws {RevocationError} `pin_store_corrupt`
   *
   * @example
   * ```ts
   * import { PinStore } from "@mtls/mcp/pins";
   * const store = await PinStore.open(`${await Deno.makeTempDir()}/pins.json`);
   * await store.reload();
   * ```
   */
  async reload(): Promise<void> {
    const writer = this.#writer;
    if (this.path === undefined || writer === undefined) return;
    await writer.settled();
    try {
      this.#replace(await loadPinFile(this.path));
      writer.blocked = undefined;
    } catch (err) {
      if (err instanceof RevocationError) writer.blocked = err;
      throw err;
    }
  }

  #replace(entries: Map<string, PinEntry>): void {
    this.#entries = new Map();
    this.#matchers = new Map();
    for (const [name, e] of entries) this.#set(name, e);
  }

  #set(name: string, entry: PinEntry | undefined): void {
    if (entry === undefined) {
      this.#entries.delete(name);
      this.#matchers.delete(name);
      return;
    }
    this.#matchers.set(name, compilePinSet(entry.pins, entry.backup));
    this.#entries.set(name, entry);
  }

  /** Writes the current state to the file, if there is one (see {@link PinFileWriter.write}). */
  #persist(): Promise<void> {
    return this.#writer?.write() ?? Promise.resolve();
  }
}
