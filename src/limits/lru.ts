/**
 * The one bounded cache of the code base: a map that remembers use order,
 * evicts the least recently used key when full and, optionally, forgets an
 * entry once its `until` time has passed.
 *
 * Not `Map` delete-then-set: V8 leaves a tombstone per delete in the key's
 * hash chain, so re-inserting one hot key (one address flooding) costs
 * ~50 µs per call in a 10k-key map. A linked list gives O(1) touches.
 *
 * @module
 */

interface Node<K, V> {
  key: K;
  value: V;
  /** Expiry, in the clock's unit; `undefined` never expires. */
  until: number | undefined;
  older: Node<K, V> | undefined;
  newer: Node<K, V> | undefined;
}

/**
 * Options of {@link LruMap}.
 *
 * @example
 * ```ts
 * import type { LruMapOptions } from "./lru.ts";
 * const o: LruMapOptions = { max: 1_000, now: () => Date.now() };
 * ```
 */
export interface LruMapOptions {
  /** Most keys kept; {@link LruMap.set} evicts the least recently used beyond it. @default {Infinity} */
  max?: number;
  /** Clock that entries' `until` is compared with (ms by convention). @default {Date.now} */
  now?: () => number;
}

/**
 * Keys in least-recently-used order; every operation is O(1). An entry set
 * with an `until` is dropped when read at or after that time (it still takes
 * its place until then, so the bound holds without any sweep).
 *
 * @example A bounded cache with expiring entries
 * ```ts
 * import { LruMap } from "./lru.ts";
 * let t = 0;
 * const cache = new LruMap<string>({ max: 2, now: () => t });
 * cache.set("a", "A", 100); // valid before t = 100
 * cache.set("b", "B");
 * cache.get("a"); // "A", and "a" is now the most recently used
 * cache.set("c", "C"); // evicts "b"
 * console.log(cache.get("b")); // undefined
 * t = 100;
 * console.log(cache.get("a")); // undefined: expired, and dropped
 * console.log(cache.size); // 1
 * ```
 */
export class LruMap<V, K = string> {
  #nodes = new Map<K, Node<K, V>>();
  #oldest: Node<K, V> | undefined;
  #newest: Node<K, V> | undefined;
  #now: () => number;
  /** Most keys kept. */
  readonly max: number;

  /**
   * Creates an empty map.
   *
   * @param options bound and clock; without them the map is unbounded and nothing expires
   * @throws {RangeError} when `max` is not a positive integer (or `Infinity`)
   */
  constructor(options: LruMapOptions = {}) {
    const { max = Infinity, now = Date.now } = options;
    if (!(max >= 1) || (max !== Infinity && !Number.isInteger(max))) {
      throw new RangeError(`LruMap "max" must be a positive integer, got "${max}"`);
    }
    this.max = max;
    this.#now = now;
  }

  /** Number of keys, expired ones not yet read included. */
  get size(): number {
    return this.#nodes.size;
  }

  /** The value of `key`, marking it most recently used; an expired entry is dropped. */
  get(key: K): V | undefined {
    const node = this.#live(key);
    if (node === undefined) return undefined;
    if (node !== this.#newest) {
      this.#unlink(node);
      this.#append(node);
    }
    return node.value;
  }

  /** The value of `key` without changing its recency; an expired entry is dropped. */
  peek(key: K): V | undefined {
    return this.#live(key)?.value;
  }

  /** Whether `key` is present and not expired (recency unchanged). */
  has(key: K): boolean {
    return this.#live(key) !== undefined;
  }

  /**
   * Sets `key` as the most recently used, valid until `until` (the clock's
   * time; `undefined`: no expiry), evicting the least recently used key when
   * the map would exceed `max`.
   */
  set(key: K, value: V, until?: number): this {
    const node = this.#nodes.get(key);
    if (node !== undefined) {
      node.value = value;
      node.until = until;
      if (node !== this.#newest) {
        this.#unlink(node);
        this.#append(node);
      }
      return this;
    }
    if (this.#nodes.size >= this.max) this.delete(this.#oldest!.key);
    const added: Node<K, V> = { key, value, until, older: undefined, newer: undefined };
    this.#nodes.set(key, added);
    this.#append(added);
    return this;
  }

  /** The least recently used key and value (expired or not). */
  oldest(): { key: K; value: V } | undefined {
    return this.#oldest && { key: this.#oldest.key, value: this.#oldest.value };
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: K): boolean {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    this.#nodes.delete(key);
    this.#unlink(node);
    return true;
  }

  /** Removes every key. */
  clear(): void {
    this.#nodes.clear();
    this.#oldest = this.#newest = undefined;
  }

  /** Every entry (expired ones included), least recently used first. */
  *entries(): IterableIterator<[K, V]> {
    for (let n = this.#oldest; n !== undefined; n = n.newer) yield [n.key, n.value];
  }

  #live(key: K): Node<K, V> | undefined {
    const node = this.#nodes.get(key);
    if (node === undefined) return undefined;
    if (node.until !== undefined && node.until <= this.#now()) {
      this.delete(key);
      return undefined;
    }
    return node;
  }

  #unlink(node: Node<K, V>): void {
    if (node.older) node.older.newer = node.newer;
    else this.#oldest = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.#newest = node.older;
    node.older = node.newer = undefined;
  }

  #append(node: Node<K, V>): void {
    node.older = this.#newest;
    if (this.#newest) this.#newest.newer = node;
    else this.#oldest = node;
    this.#newest = node;
  }
}
