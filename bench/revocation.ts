// CRL load time, memory and lookup time at 1k, 100k and 1M entries.
//
//   deno run -A bench/revocation.ts            # all sizes, one child process each
//   deno run -A bench/revocation.ts 100000     # one size in this process
//
// The big CRLs are written as DER directly and signed with WebCrypto (P-256),
// since generation time is not what is measured. Each entry has a 16-byte
// serial, a UTCTime and a reasonCode extension (~50 bytes per entry).
import { parseCrl, verifyCrl } from "../src/revocation/mod.ts";
import { createRevocationChecker } from "../src/revocation/mod.ts";
import { silentLogger } from "../src/log/logger.ts";

const SIZES = [1_000, 100_000, 1_000_000];

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  while (n > 0) {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | out.length, ...out];
}
const tlv = (tag: number, body: Uint8Array): Uint8Array => {
  const h = [tag, ...len(body.length)];
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
};
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
};
const oid = (bytes: number[]) => tlv(0x06, new Uint8Array(bytes));
const utc = (d: Date) =>
  tlv(0x17, new TextEncoder().encode(d.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"));
const ECDSA_SHA256 = tlv(0x30, oid([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));

/** A self-signed P-256 CA certificate (DER) and key, written by hand. */
async function makeCa() {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const name = tlv(
    0x30,
    tlv(
      0x31,
      tlv(0x30, cat(oid([0x55, 0x04, 0x03]), tlv(0x0c, new TextEncoder().encode("Bench CA")))),
    ),
  );
  const now = Date.now();
  const tbs = tlv(
    0x30,
    cat(
      tlv(0xa0, tlv(0x02, new Uint8Array([2]))),
      tlv(0x02, new Uint8Array([1])),
      ECDSA_SHA256,
      name,
      tlv(0x30, cat(utc(new Date(now - 3600_000)), utc(new Date(now + 86400_000)))),
      name,
      spki,
    ),
  );
  const cert = tlv(
    0x30,
    cat(tbs, ECDSA_SHA256, tlv(0x03, cat(new Uint8Array([0]), await sign(keys.privateKey, tbs)))),
  );
  return { cert, key: keys.privateKey, name };
}

async function sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      data as Uint8Array<ArrayBuffer>,
    ),
  );
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    b = b.subarray(i);
    return tlv(0x02, b[0] & 0x80 ? cat(new Uint8Array([0]), b) : b);
  };
  return tlv(0x30, cat(int(raw.subarray(0, 32)), int(raw.subarray(32))));
}

/** A signed CRL with `n` entries; returns it and a few listed serials. */
async function makeCrl(ca: Awaited<ReturnType<typeof makeCa>>, n: number) {
  const date = utc(new Date());
  const reasonExt = tlv(
    0x30,
    tlv(0x30, cat(oid([0x55, 0x1d, 0x15]), tlv(0x04, tlv(0x0a, new Uint8Array([1]))))),
  );
  const entryLen = 2 + 18 + date.length + reasonExt.length;
  const entries = new Uint8Array(n * entryLen);
  const serials = new Uint8Array(n * 16);
  crypto.getRandomValues(serials.subarray(0, Math.min(serials.length, 65536)));
  for (let o = 65536; o < serials.length; o += 65536) {
    crypto.getRandomValues(serials.subarray(o, Math.min(serials.length, o + 65536)));
  }
  for (let i = 0, p = 0; i < n; i++) {
    entries[p++] = 0x30;
    entries[p++] = entryLen - 2;
    entries[p++] = 0x02;
    entries[p++] = 16;
    serials[i * 16] = (serials[i * 16] & 0x7f) | 0x10; // positive, no leading zero
    entries.set(serials.subarray(i * 16, i * 16 + 16), p);
    p += 16;
    entries.set(date, p);
    p += date.length;
    entries.set(reasonExt, p);
    p += reasonExt.length;
  }
  const tbs = tlv(
    0x30,
    cat(
      tlv(0x02, new Uint8Array([1])),
      ECDSA_SHA256,
      ca.name,
      date,
      utc(new Date(Date.now() + 86400_000)),
      tlv(0x30, entries),
    ),
  );
  const crl = tlv(
    0x30,
    cat(tbs, ECDSA_SHA256, tlv(0x03, cat(new Uint8Array([0]), await sign(ca.key, tbs)))),
  );
  const hex = (i: number) =>
    [...serials.subarray(i * 16, i * 16 + 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { crl, sample: Array.from({ length: 1000 }, (_, k) => hex(Math.floor((k * n) / 1000))) };
}

/** A leaf certificate (DER) with the given serial, issued by `ca`. */
async function makeLeaf(ca: Awaited<ReturnType<typeof makeCa>>, serialHex: string) {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const serial = Uint8Array.from(serialHex.match(/../g)!, (h) => parseInt(h, 16));
  const now = Date.now();
  const tbs = tlv(
    0x30,
    cat(
      tlv(0xa0, tlv(0x02, new Uint8Array([2]))),
      tlv(0x02, serial),
      ECDSA_SHA256,
      ca.name,
      tlv(0x30, cat(utc(new Date(now - 3600_000)), utc(new Date(now + 86400_000)))),
      ca.name,
      spki,
    ),
  );
  return tlv(
    0x30,
    cat(tbs, ECDSA_SHA256, tlv(0x03, cat(new Uint8Array([0]), await sign(ca.key, tbs)))),
  );
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mb = (n: number) => (n / 1048576).toFixed(1);

async function one(n: number) {
  const ca = await makeCa();
  const { crl, sample } = await makeCrl(ca, n);
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.crl`;
  await Deno.writeFile(path, crl);
  const bytes = await Deno.readFile(path);
  gc();
  gc();
  const m0 = Deno.memoryUsage();
  let t = performance.now();
  const parsed = parseCrl(bytes, path);
  const parseMs = performance.now() - t;
  t = performance.now();
  await verifyCrl(parsed, ca.cert);
  const verifyMs = performance.now() - t;
  gc();
  gc();
  const m1 = Deno.memoryUsage();
  if (parsed.size !== n) throw new Error(`expected ${n} entries, got ${parsed.size}`);

  // Lookups: misses (the normal case for a peer), then hits (entry decoded).
  const misses = Array.from(
    { length: 1000 },
    (_, i) => (0xa0000000 + i).toString(16) + "00ff00ff00ff00ff00ff00ff",
  );
  const rounds = 200;
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const s of misses) if (parsed.find(s)) throw new Error("false hit");
  }
  const missNs = ((performance.now() - t) * 1e6) / (rounds * misses.length);
  t = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (const s of sample) if (!parsed.find(s)) throw new Error("missed " + s);
  }
  const hitNs = ((performance.now() - t) * 1e6) / (rounds * sample.length);

  // The handshake path: checkCached() with a fresh copy of the peer's DER per call.
  const checker = createRevocationChecker({
    crls: [path],
    issuers: [ca.cert],
    refreshInterval: 0,
    logger: silentLogger,
  });
  await checker.ready;
  const good = await makeLeaf(ca, "7fffffff00000000000000000000abcd");
  if ((await checker.check(good, ca.cert)).status !== "good") throw new Error("expected good");
  const calls = 20_000;
  t = performance.now();
  for (let i = 0; i < calls; i++) {
    if (checker.checkCached(good.slice(), ca.cert)?.status !== "good") {
      throw new Error("no cached answer");
    }
  }
  const checkUs = ((performance.now() - t) * 1e3) / calls;
  checker.close();
  await Deno.remove(dir, { recursive: true });
  return {
    entries: n,
    crlMB: +mb(crl.length),
    parseMs: Math.round(parseMs),
    verifyMs: Math.round(verifyMs),
    heapMB: +mb(m1.heapUsed - m0.heapUsed),
    rssMB: +mb(m1.rss - m0.rss),
    missNs: Math.round(missNs),
    hitNs: Math.round(hitNs),
    checkCachedUs: +checkUs.toFixed(1),
  };
}

if (Deno.args[0]) {
  console.log(JSON.stringify(await one(Number(Deno.args[0]))));
} else {
  const rows = [];
  for (const n of SIZES) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, String(n)],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`bench for ${n} entries failed`);
    rows.push(JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!));
  }
  console.log(`deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`);
  console.log(
    "| entries | CRL size | parse | verify signature | heap delta | RSS delta | lookup miss | lookup hit | checkCached (handshake path) |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${
        r.entries.toLocaleString("en")
      } | ${r.crlMB} MB | ${r.parseMs} ms | ${r.verifyMs} ms | ${r.heapMB} MB | ${r.rssMB} MB | ${r.missNs} ns | ${r.hitNs} ns | ${r.checkCachedUs} µs |`,
    );
  }
}
