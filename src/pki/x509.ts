/**
 * The one place that loads `@peculiar/x509`: it needs `reflect-metadata`
 * imported before it, so every PKI file imports x509 from here. Only the
 * generator and the extension builders leave it: certificates are read
 * through the model (`../cert/certificate.ts`), never as x509 objects.
 *
 * @module
 */
import "reflect-metadata";

export {
  AuthorityInfoAccessExtension,
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsageExtension,
  type Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
} from "@peculiar/x509";
