/**
 * The pin file format (`certs/pins.json`), version 1:
 *
 * ```json
 * {
 *   "version": 1,
 *   "pins": {
 *     "api.example.com:8443": {
 *       "pins": ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
 *       "backup": ["sha256/YLh1dUR9y6Kja30RrAn7JKnbQG/uEtLMkBgFF2Fuihg="],
 *       "firstSeen": "2026-11-21T19:00:00.000Z",
 *       "tofu": true
 *     },
 *     "spiffe://example.org/agent-1": { "pins": ["cert-sha256/9f86d081884c7d65..."] }
 *   }
 * }
 * ```
 *
 * Keys of `pins` are names: `host:port` for servers a client pins, an identity
 * (common name or SPIFFE ID) for clients a server pins. Each entry needs at
 * least one pin in `pins` or `backup`; `backup` is optional; `firstSeen` (an
 * ISO 8601 time) and `tofu` (true when the pin was recorded on first use) are
 * informational. Unknown keys are refused, so a typo such as `"backups"`
 * cannot silently drop a pin.
 *
 * @module
 */
import { parsePin } from "./pin.ts";

/**
 * One name's pins, as stored.
 *
 * @example
 * ```ts
 * import type { PinEntry } from "@mtls/mcp/pins";
 * const e: PinEntry = { pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="], backup: [] };
 * ```
 */
export interface PinEntry {
  /** Current pins, canonical form. */
  pins: string[];
  /** Pins of the next key (rotation); admitted like `pins`. */
  backup: string[];
  /** When the entry was created, ISO 8601. */
  firstSeen?: string;
  /** True when the pin was recorded by trust on first use. */
  tofu?: boolean;
}

const ENTRY_KEYS = new Set(["pins", "backup", "firstSeen", "tofu"]);

/**
 * Parses and validates a pin file; throws a plain `Error` whose message says
 * what is wrong (the store adds the path and the error class).
 */
export function parsePinFile(text: string): Map<string, PinEntry> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw new Error("the top level must be a JSON object");
  for (const key of Object.keys(doc)) {
    if (key !== "version" && key !== "pins") throw new Error(`unknown key "${key}"`);
  }
  if (doc.version !== 1) throw new Error(`"version" must be 1, got ${JSON.stringify(doc.version)}`);
  if (!isObject(doc.pins)) throw new Error(`"pins" must be an object of name to entry`);
  const entries = new Map<string, PinEntry>();
  for (const [name, raw] of Object.entries(doc.pins)) {
    entries.set(name, parseEntry(name, raw));
  }
  return entries;
}

function parseEntry(name: string, raw: unknown): PinEntry {
  const where = `entry "${name}"`;
  if (!isObject(raw)) throw new Error(`${where} must be an object`);
  for (const key of Object.keys(raw)) {
    if (!ENTRY_KEYS.has(key)) throw new Error(`${where} has unknown key "${key}"`);
  }
  const list = (key: "pins" | "backup"): string[] => {
    const value = raw[key] ?? [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
      throw new Error(`${where}: "${key}" must be an array of pin strings`);
    }
    try {
      return value.map((v: string) => parsePin(v).text);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  };
  const entry: PinEntry = { pins: list("pins"), backup: list("backup") };
  if (entry.pins.length + entry.backup.length === 0) throw new Error(`${where} has no pins`);
  if (raw.firstSeen !== undefined) {
    if (typeof raw.firstSeen !== "string" || Number.isNaN(Date.parse(raw.firstSeen))) {
      throw new Error(`${where}: "firstSeen" must be an ISO 8601 time`);
    }
    entry.firstSeen = raw.firstSeen;
  }
  if (raw.tofu !== undefined) {
    if (typeof raw.tofu !== "boolean") throw new Error(`${where}: "tofu" must be true or false`);
    entry.tofu = raw.tofu;
  }
  return entry;
}

/** Serialises entries as a version 1 pin file (stable order, two-space indent). */
export function serializePinFile(entries: ReadonlyMap<string, PinEntry>): string {
  const pins: Record<string, PinEntry> = {};
  for (const name of [...entries.keys()].sort()) {
    const e = entries.get(name)!;
    pins[name] = { pins: e.pins, backup: e.backup };
    if (e.firstSeen !== undefined) pins[name].firstSeen = e.firstSeen;
    if (e.tofu !== undefined) pins[name].tofu = e.tofu;
  }
  return JSON.stringify({ version: 1, pins }, null, 2) + "\n";
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
