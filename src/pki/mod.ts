/**
 * In-process PKI on WebCrypto: keys, CAs, server and client certificates,
 * PEM/DER/PKCS#12, fingerprints and SPKI pins.
 *
 * @module
 */
export {};
