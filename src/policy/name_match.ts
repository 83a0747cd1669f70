/**
 * Whether a presented name is within a name-constraint subtree (RFC 5280
 * §4.2.1.10), both already parsed by `general_names.ts`.
 *
 * Runtime-neutral (plain bytes and strings).
 *
 * @module
 */

import { GN, type Labels, type PresentedName, type Scope, type Subtree } from "./general_names.ts";

/** Whether the host `name` is in `scope` of the host or domain `base`. */
function inScope(name: Labels, base: Labels, scope: Scope): boolean {
  const extra = name.length - base.length;
  if (scope === "exact" ? extra !== 0 : scope === "below" ? extra < 1 : extra < 0) return false;
  return base.every((l, i) => name[i] === l);
}

/**
 * Whether `name` is within `subtree` (same form, both parseable).
 *
 * - DNS: the constraint's labels end the name; a leading dot needs one more
 *   label (OpenSSL and Go; RFC 5280 defines only the no-dot form).
 * - email: `local@host` is that mailbox (local part case-sensitive), `host`
 *   any mailbox at that host, `.domain` any mailbox below it.
 * - URI: `host` that host, `.domain` any host below it.
 * - IP: the masked addresses are equal (IPv4 never matches IPv6).
 * - directoryName: the constraint's RDNs start the name (RFC 5280 §7.1).
 *
 * @example
 * ```ts ignore
 * within(presentedName(san), subtreeBase(base)); // true or false
 * ```
 */
export function within(name: PresentedName, subtree: Subtree): boolean {
  switch (subtree.tag) {
    case GN.dNSName:
    case GN.uniformResourceIdentifier:
      return inScope(name.labels!, subtree.labels!, subtree.scope!);
    case GN.rfc822Name:
      if (subtree.local !== undefined && name.local !== subtree.local) return false;
      return inScope(name.labels!, subtree.labels!, subtree.scope!);
    case GN.iPAddress: {
      const ip = name.ip!;
      if (ip.length !== subtree.ip!.length) return false;
      return ip.every((b, i) => (b & subtree.mask![i]) === (subtree.ip![i] & subtree.mask![i]));
    }
    case GN.directoryName: {
      const base = subtree.rdns!;
      const rdns = name.rdns!;
      return rdns.length >= base.length && base.every((r, i) => rdns[i] === r);
    }
  }
  return false;
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if it is one.
 *
 * @example
 * ```ts ignore
 * mappedIpv4(parseIpAddress("::ffff:10.0.0.1")!); // Uint8Array [10, 0, 0, 1]
 * ```
 */
export function mappedIpv4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length !== 16) return undefined;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return undefined;
  return ip[10] === 0xff && ip[11] === 0xff ? ip.slice(12) : undefined;
}
