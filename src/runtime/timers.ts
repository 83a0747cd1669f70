/**
 * Timers that must not keep the process alive.
 *
 * @module
 */

/**
 * Lets the process exit while `timer` is pending: Node.js and Bun timers have
 * `unref()`, Deno's global timers are numbers unref'd with `Deno.unrefTimer`.
 *
 * @example A background sweep that does not hold the process open
 * ```ts
 * import { unrefTimer } from "@mtls/mcp/runtime";
 * const t = setInterval(() => {}, 60_000);
 * unrefTimer(t);
 * clearInterval(t);
 * ```
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout> | number | undefined): void {
  if (timer === undefined) return;
  if (typeof timer === "object" && typeof (timer as { unref?: () => void }).unref === "function") {
    (timer as { unref: () => void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer?.(timer);
}
