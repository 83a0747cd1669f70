/**
 * Extensions of a CA certificate.
 *
 * @module
 */
import {
  BasicConstraintsExtension,
  type Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
} from "./x509.ts";

/**
 * basicConstraints (critical, cA, optional pathLen) and keyUsage (critical:
 * keyCertSign, cRLSign, and digitalSignature so the CA can sign OCSP responses itself).
 */
export function caExtensions(pathLength: number | undefined): Extension[] {
  return [
    new BasicConstraintsExtension(true, pathLength, true),
    new KeyUsagesExtension(
      KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
      true,
    ),
  ];
}
