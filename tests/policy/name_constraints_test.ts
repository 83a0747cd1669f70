/**
 * Name constraints (RFC 5280 §4.2.1.10) on client chains, every rule and
 * name form next to `openssl verify -purpose sslclient -x509_strict` on the
 * same chain, made by openssl. Where we are deliberately stricter than
 * OpenSSL the case says so (and the README lists it).
 */
import assert from "node:assert/strict";
import { readCertificate } from "../../src/cert/mod.ts";
import { compilePolicy } from "../../src/policy/policy.ts";
import { checkNameConstraints } from "../../src/policy/name_constraints.ts";
import { withTempDir } from "../pki/_openssl.ts";
import { asciiHex, type Issued, NcPki, type OpensslVerdict, tlv } from "./_nc_pki.ts";

/** What we expect: accepted, or refused with `unknown_ca` and this message. */
type Expect = "accept" | RegExp | string;

interface Judged {
  ours: ReturnType<ReturnType<typeof compilePolicy>["checkCertificate"]>;
  openssl: OpensslVerdict;
}

async function judge(pki: NcPki, root: Issued, ints: Issued[], leaf: Issued): Promise<Judged> {
  const policy = compilePolicy("strict", { ca: [root.cert] });
  const ours = policy.checkCertificate(
    readCertificate(leaf.cert),
    ints.map((i) => readCertificate(i.cert)),
  );
  return { ours, openssl: await pki.verify(root, ints, leaf) };
}

function assertOurs(j: Judged, expect: Expect, label: string): void {
  const v = j.ours;
  if (expect === "accept") {
    assert.ok(!("reason" in v), `${label}: refused: ${"reason" in v ? v.message : ""}`);
    assert.equal(v.trusted, true);
    return;
  }
  assert.ok("reason" in v, `${label}: accepted, expected a refusal`);
  assert.equal(v.reason, "unknown_ca", `${label}: ${v.message}`);
  if (typeof expect === "string") assert.equal(v.message, expect, label);
  else assert.match(v.message, expect, label);
}

/** Our verdict and OpenSSL's, each as expected; `stricter` marks where they differ on purpose. */
async function check(
  pki: NcPki,
  chain: { root: Issued; ints?: Issued[]; leaf: Issued },
  ours: Expect,
  openssl: "accept" | RegExp,
  label: string,
): Promise<void> {
  const j = await judge(pki, chain.root, chain.ints ?? [], chain.leaf);
  assertOurs(j, ours, label);
  if (openssl === "accept") assert.ok(j.openssl.ok, `${label}: openssl: ${j.openssl.error}`);
  else {
    assert.ok(!j.openssl.ok, `${label}: openssl accepted`);
    assert.match(j.openssl.error, openssl, label);
  }
}

const PERMITTED = /permitted subtree violation/;
const EXCLUDED = /excluded subtree violation/;

/** A root, and under it an intermediate "NC Int" with `constraints`. */
async function constrained(pki: NcPki, constraints: string, sections?: string) {
  const root = await pki.ca("/CN=NC Root", []);
  const int = await pki.ca("/CN=NC Int", [`nameConstraints=${constraints}`], root, sections);
  return { root, int };
}

Deno.test("name constraints: DNS permitted and excluded, leading dot, no dot and case", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(
      pki,
      "critical,permitted;DNS:.example.com,permitted;DNS:example.org,excluded;DNS:bad.example.com",
    );
    const leaf = (san: string) => pki.leaf(int, "/CN=agent", [`subjectAltName=${san}`]);
    const cases: [string, Expect, "accept" | RegExp][] = [
      ["DNS:a.example.com", "accept", "accept"],
      ["DNS:A.EXAMPLE.COM", "accept", "accept"],
      // Leading dot: at least one label on the left.
      [
        "DNS:example.com",
        'Certificate "CN=agent" has DNS name "example.com", which intermediate CA "CN=NC Int" ' +
        "does not permit (permitted: DNS:.example.com, DNS:example.org)",
        PERMITTED,
      ],
      // No dot: the name itself and any name below it, on a label boundary.
      ["DNS:example.org", "accept", "accept"],
      ["DNS:x.y.Example.ORG", "accept", "accept"],
      ["DNS:badexample.org", /DNS name "badexample.org", which intermediate CA/, PERMITTED],
      [
        "DNS:x.bad.example.com",
        'Certificate "CN=agent" has DNS name "x.bad.example.com", which intermediate CA ' +
        '"CN=NC Int" excludes (DNS:bad.example.com)',
        EXCLUDED,
      ],
      ["DNS:BAD.example.com", /excludes \(DNS:bad\.example\.com\)/, EXCLUDED],
      // Every SAN counts, not only the first.
      [
        "DNS:a.example.com,DNS:evil.net",
        /DNS name "evil\.net", which .* does not permit/,
        PERMITTED,
      ],
      // Stricter than OpenSSL: an absolute name (trailing dot) is not compared by
      // bytes (OpenSSL would let "x.bad.example.com." past the excluded subtree).
      [
        "DNS:a.example.com.",
        /DNS name "a\.example\.com\.", which cannot be checked against the DNS name constraints of intermediate CA "CN=NC Int": it has an empty label/,
        PERMITTED,
      ],
    ];
    for (const [san, ours, openssl] of cases) {
      await check(pki, { root, ints: [int], leaf: await leaf(san) }, ours, openssl, san);
    }
    // A non-critical nameConstraints binds just the same.
    const soft = await pki.ca("/CN=Soft", ["nameConstraints=permitted;DNS:.example.com"], root);
    const out = await pki.leaf(soft, "/CN=agent", ["subjectAltName=DNS:evil.net"]);
    await check(
      pki,
      { root, ints: [soft], leaf: out },
      /does not permit/,
      PERMITTED,
      "noncritical",
    );
  });
});

Deno.test("name constraints: a trailing-dot name cannot slip past an excluded subtree (stricter than OpenSSL)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(pki, "critical,excluded;DNS:bad.example.com");
    const leaf = await pki.leaf(int, "/CN=agent", ["subjectAltName=DNS:x.bad.example.com."]);
    await check(pki, { root, ints: [int], leaf }, /cannot be checked/, "accept", "absolute");
  });
});

Deno.test("name constraints: the subject CN counts as a DNS name only when it looks like a host and there is no DNS SAN", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(pki, "critical,permitted;DNS:.example.com");
    const cases: [string, string[], Expect, "accept" | RegExp][] = [
      [
        "/CN=host.other.com",
        [],
        'Certificate "CN=host.other.com" has subject CN "host.other.com" (a host name, checked ' +
        'as a DNS name), which intermediate CA "CN=NC Int" does not permit (permitted: DNS:.example.com)',
        PERMITTED,
      ],
      ["/CN=host.example.com", [], "accept", "accept"],
      // Not a host name (one label): not a DNS name.
      ["/CN=alice", [], "accept", "accept"],
      // A DNS SAN is there: the CN is not a DNS name then.
      ["/CN=host.other.com", ["subjectAltName=DNS:a.example.com"], "accept", "accept"],
      // A URI SAN only: the CN still counts.
      [
        "/CN=host.other.com",
        ["subjectAltName=URI:spiffe://example.com/a"],
        /subject CN/,
        PERMITTED,
      ],
    ];
    for (const [subject, ext, ours, openssl] of cases) {
      const leaf = await pki.leaf(int, subject, ext);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, `${subject} ${ext}`);
    }
  });
});

Deno.test("name constraints: email as mailbox, host and .domain, and the subject emailAddress", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(
      pki,
      "critical,permitted;email:alice@example.com,permitted;email:example.net," +
        "permitted;email:.example.org,excluded;email:bad.example.org",
    );
    const cases: [string, string[], Expect, "accept" | RegExp][] = [
      ["/CN=a", ["subjectAltName=email:alice@example.com"], "accept", "accept"],
      // The host is case-insensitive, the local part is not.
      ["/CN=a", ["subjectAltName=email:alice@EXAMPLE.com"], "accept", "accept"],
      [
        "/CN=a",
        ["subjectAltName=email:Alice@example.com"],
        'Certificate "CN=a" has email address "Alice@example.com", which intermediate CA ' +
        '"CN=NC Int" does not permit (permitted: email:alice@example.com, email:example.net, ' +
        "email:.example.org)",
        PERMITTED,
      ],
      ["/CN=a", ["subjectAltName=email:bob@example.com"], /"bob@example\.com", which/, PERMITTED],
      // A host: that host only.
      ["/CN=a", ["subjectAltName=email:bob@example.net"], "accept", "accept"],
      ["/CN=a", ["subjectAltName=email:bob@mail.example.net"], /does not permit/, PERMITTED],
      // A .domain: any host below it, not the domain itself.
      ["/CN=a", ["subjectAltName=email:bob@mail.example.org"], "accept", "accept"],
      ["/CN=a", ["subjectAltName=email:bob@example.org"], /does not permit/, PERMITTED],
      [
        "/CN=a",
        ["subjectAltName=email:bob@bad.example.org"],
        /"bob@bad\.example\.org", which intermediate CA "CN=NC Int" excludes \(email:bad\.example\.org\)/,
        EXCLUDED,
      ],
      // No SAN: the subject's emailAddress is checked (§4.2.1.10).
      [
        "/CN=a/emailAddress=eve@evil.com",
        [],
        /^Certificate "CN=a, emailAddress=eve@evil\.com" has subject emailAddress "eve@evil\.com", which intermediate CA "CN=NC Int" does not permit/,
        PERMITTED,
      ],
      ["/CN=a/emailAddress=bob@example.net", [], "accept", "accept"],
    ];
    for (const [subject, ext, ours, openssl] of cases) {
      const leaf = await pki.leaf(int, subject, ext);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, `${subject} ${ext}`);
    }
  });
});

Deno.test("name constraints: URI by host and .domain (SPIFFE trust domains)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(
      pki,
      "critical,permitted;URI:example.org,permitted;URI:.example.net",
    );
    const cases: [string, Expect, "accept" | RegExp][] = [
      ["URI:spiffe://example.org/agent", "accept", "accept"],
      ["URI:spiffe://EXAMPLE.org/agent", "accept", "accept"],
      [
        "URI:spiffe://other.org/agent",
        'Certificate "CN=agent" has URI "spiffe://other.org/agent", which intermediate CA ' +
        '"CN=NC Int" does not permit (permitted: URI:example.org, URI:.example.net)',
        PERMITTED,
      ],
      // A host constraint is that host only; a .domain one is the hosts below it.
      ["URI:spiffe://a.example.org/agent", /does not permit/, PERMITTED],
      ["URI:https://api.example.net:8443/mcp", "accept", "accept"],
      ["URI:https://example.net/", /does not permit/, PERMITTED],
      // No authority: RFC 5280 says reject.
      [
        "URI:urn:uuid:8a4b0e0c-0000-4000-8000-000000000000",
        /URI "urn:uuid:[^"]+", which cannot be checked against the URI name constraints of intermediate CA "CN=NC Int": it has no authority/,
        /unsupported or invalid name syntax/,
      ],
    ];
    for (const [san, ours, openssl] of cases) {
      const leaf = await pki.leaf(int, "/CN=agent", [`subjectAltName=${san}`]);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, san);
    }
  });
});

Deno.test("name constraints: a URI host hidden behind userinfo or an IP host is refused (stricter than OpenSSL)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(pki, "critical,excluded;URI:evil.com");
    // OpenSSL reads "user@evil.com" as the host and lets it past the excluded subtree.
    const userinfo = await pki.leaf(int, "/CN=a", ["subjectAltName=URI:https://user@evil.com/"]);
    await check(
      pki,
      { root, ints: [int], leaf: userinfo },
      /URI "https:\/\/user@evil\.com\/", which intermediate CA "CN=NC Int" excludes \(URI:evil\.com\)/,
      "accept",
      "userinfo",
    );
    // RFC 5280 §4.2.1.10: a URI whose host is an IP address MUST be rejected.
    const ipHost = await pki.leaf(int, "/CN=a", ["subjectAltName=URI:https://10.0.0.1/"]);
    await check(
      pki,
      { root, ints: [int], leaf: ipHost },
      /its host is an IP address/,
      "accept",
      "ip",
    );
    const fine = await pki.leaf(int, "/CN=a", ["subjectAltName=URI:https://good.com/"]);
    await check(pki, { root, ints: [int], leaf: fine }, "accept", "accept", "good");
  });
});

Deno.test("name constraints: IPv4 and IPv6 with masks", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(
      pki,
      "critical,permitted;DNS:.example.com,permitted;IP:192.168.0.0/255.255.0.0," +
        "permitted;IP:2001:db8::/ffff:ffff:0:0:0:0:0:0,excluded;IP:10.0.0.0/255.0.0.0," +
        "excluded;IP:2001:db8:bad::/ffff:ffff:ffff:0:0:0:0:0",
    );
    const cases: [string, Expect, "accept" | RegExp][] = [
      ["IP:192.168.7.9", "accept", "accept"],
      [
        "IP:192.169.0.1",
        'Certificate "CN=agent" has IP address "192.169.0.1", which intermediate CA "CN=NC Int" ' +
        "does not permit (permitted: IP:192.168.0.0/16, IP:2001:db8::/32)",
        PERMITTED,
      ],
      // A permitted DNS name beside an excluded address. OpenSSL tries the
      // permitted subtrees first and names that; we name the exclusion.
      [
        "DNS:a.example.com,IP:10.1.2.3",
        'Certificate "CN=agent" has IP address "10.1.2.3", which intermediate CA "CN=NC Int" ' +
        "excludes (IP:10.0.0.0/8)",
        PERMITTED,
      ],
      ["IP:2001:db8::1", "accept", "accept"],
      ["IP:2001:db9::1", /IP address "2001:db9::1", which .* does not permit/, PERMITTED],
      [
        "IP:2001:db8:bad::7",
        /IP address "2001:db8:bad::7", which .* excludes \(IP:2001:db8:bad::\/48\)/,
        EXCLUDED,
      ],
    ];
    for (const [san, ours, openssl] of cases) {
      const leaf = await pki.leaf(int, "/CN=agent", [`subjectAltName=${san}`]);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, san);
    }
    // The issue's example, exactly: no IP subtree is permitted, 10/8 is excluded.
    const brief = await pki.ca("/CN=Brief", [
      "nameConstraints=permitted;DNS:.example.com,excluded;IP:10.0.0.0/255.0.0.0",
    ], root);
    for (
      const [san, ours, openssl] of [
        ["DNS:a.example.com,IP:192.168.1.1", "accept", "accept"],
        [
          "DNS:a.example.com,IP:10.1.2.3",
          'Certificate "CN=agent" has IP address "10.1.2.3", which intermediate CA "CN=Brief" ' +
          "excludes (IP:10.0.0.0/8)",
          EXCLUDED,
        ],
      ] as [string, Expect, "accept" | RegExp][]
    ) {
      const leaf = await pki.leaf(brief, "/CN=agent", [`subjectAltName=${san}`]);
      await check(pki, { root, ints: [brief], leaf }, ours, openssl, `brief ${san}`);
    }
    // IPv4 never matches an IPv6 constraint: only-IPv6 permitted refuses an IPv4 SAN.
    const v6 = await pki.ca(
      "/CN=V6 only",
      ["nameConstraints=permitted;IP:::/0:0:0:0:0:0:0:0"],
      root,
    );
    const v4Leaf = await pki.leaf(v6, "/CN=v4", ["subjectAltName=IP:127.0.0.1"]);
    await check(
      pki,
      { root, ints: [v6], leaf: v4Leaf },
      /does not permit \(permitted: IP:::\/0\)/,
      PERMITTED,
      "v4 under v6",
    );
  });
});

Deno.test("name constraints: an IPv4-mapped IPv6 address is held to excluded IPv4 ranges (stricter than OpenSSL)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(pki, "critical,excluded;IP:10.0.0.0/255.0.0.0");
    const leaf = await pki.leaf(int, "/CN=agent", ["subjectAltName=IP:::ffff:10.0.0.1"]);
    await check(
      pki,
      { root, ints: [int], leaf },
      'Certificate "CN=agent" has IP address "::ffff:10.0.0.1", an IPv4-mapped address ' +
        'intermediate CA "CN=NC Int" excludes (IP:10.0.0.0/8)',
      "accept",
      "mapped",
    );
  });
});

Deno.test("name constraints: directoryName on the subject, case and spaces folded (RFC 5280 §7.1)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const { root, int } = await constrained(
      pki,
      "critical,permitted;dirName:dir_ok,excluded;dirName:dir_bad",
      "[dir_ok]\nC=US\nO=Example\n[dir_bad]\nC=US\nO=Example\nOU=Banned\n",
    );
    const cases: [string, Expect, "accept" | RegExp][] = [
      ["/C=US/O=Example/CN=agent", "accept", "accept"],
      ["/C=US/O=  example /CN=agent", "accept", "accept"],
      [
        "/C=US/O=Other/CN=agent",
        'Certificate "C=US, O=Other, CN=agent" has subject "/C=US/O=Other/CN=agent", which ' +
        'intermediate CA "CN=NC Int" does not permit (permitted: DirName:/C=US/O=Example)',
        PERMITTED,
      ],
      // Order matters: the constraint's RDNs must start the name.
      ["/O=Example/C=US/CN=agent", /does not permit/, PERMITTED],
      [
        "/C=US/O=Example/OU=Banned/CN=agent",
        /subject "\/C=US\/O=Example\/OU=Banned\/CN=agent", which intermediate CA "CN=NC Int" excludes \(DirName:\/C=US\/O=Example\/OU=Banned\)/,
        EXCLUDED,
      ],
    ];
    for (const [subject, ours, openssl] of cases) {
      const leaf = await pki.leaf(int, subject);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, subject);
    }
    // A directoryName SAN is checked the same way.
    const san = await pki.issue("/C=US/O=Example/CN=agent", [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
      "subjectAltName=dirName:dir_san",
    ], { issuer: int, sections: "[dir_san]\nC=US\nO=Elsewhere\n" });
    await check(
      pki,
      { root, ints: [int], leaf: san },
      /directory name "\/C=US\/O=Elsewhere", which/,
      PERMITTED,
      "dirName SAN",
    );
  });
});

Deno.test("name constraints: the root's and the intermediate's constraints both bind (intersection), and bind the intermediate itself", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const root = await pki.ca(
      "/O=Example/CN=Root",
      [
        "nameConstraints=critical,permitted;DNS:.example.com,permitted;dirName:dir_root",
      ],
      undefined,
      "[dir_root]\nO=Example\n",
    );
    const int = await pki.ca("/O=Example/CN=Team A", [
      "nameConstraints=critical,permitted;DNS:.a.example.com",
    ], root);
    const leaf = (cn: string, san: string) =>
      pki.leaf(int, `/O=Example/CN=${cn}`, [`subjectAltName=${san}`]);
    await check(
      pki,
      { root, ints: [int], leaf: await leaf("ok", "DNS:x.a.example.com") },
      "accept",
      "accept",
      "both",
    );
    // Inside the root's subtree, outside the intermediate's.
    await check(
      pki,
      { root, ints: [int], leaf: await leaf("b", "DNS:x.b.example.com") },
      /which intermediate CA "O=Example, CN=Team A" does not permit \(permitted: DNS:\.a\.example\.com\)/,
      PERMITTED,
      "int",
    );
    // An intermediate that widens its own subtree cannot escape the root's.
    const wide = await pki.ca(
      "/O=Example/CN=Wide",
      ["nameConstraints=permitted;DNS:.other.com"],
      root,
    );
    const escaped = await pki.leaf(wide, "/O=Example/CN=w", ["subjectAltName=DNS:x.other.com"]);
    await check(
      pki,
      { root, ints: [wide], leaf: escaped },
      /DNS name "x\.other\.com", which trusted CA "O=Example, CN=Root" does not permit/,
      PERMITTED,
      "root",
    );
    // The root's directoryName constraint binds the intermediate's own subject.
    const outside = await pki.ca("/O=Elsewhere/CN=Rogue", [], root);
    const under = await pki.leaf(outside, "/O=Example/CN=r", ["subjectAltName=DNS:r.example.com"]);
    await check(
      pki,
      { root, ints: [outside], leaf: under },
      'Intermediate CA "O=Elsewhere, CN=Rogue" has subject "/O=Elsewhere/CN=Rogue", which ' +
        'trusted CA "O=Example, CN=Root" does not permit (permitted: DirName:/O=Example)',
      /permitted subtree violation/,
      "int subject",
    );
  });
});

Deno.test("name constraints: unsupported forms under a constraint of that form are refused, not ignored", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const root = await pki.ca("/CN=NC Root", []);
    const other = await pki.ca("/CN=Other", [
      "nameConstraints=permitted;otherName:1.2.3.4;UTF8:foo",
    ], root);
    const rid = await pki.ca("/CN=RID", ["nameConstraints=critical,excluded;RID:1.2.3.4"], root);
    const cases: [Issued, string, Expect, "accept" | RegExp][] = [
      [
        other,
        "otherName:1.2.3.4;UTF8:foo",
        'Certificate "CN=agent" has otherName of type 1.2.3.4, and intermediate CA "CN=Other" ' +
        "has otherName name constraints, which are not supported (refused rather than ignored)",
        /unsupported name constraint type/,
      ],
      // An otherName of another type, or another form, is not under that constraint.
      [other, "otherName:1.2.3.5;UTF8:foo", "accept", "accept"],
      [other, "DNS:a.example.com", "accept", "accept"],
      [
        rid,
        "RID:1.2.3.4",
        /has registeredID, and intermediate CA "CN=RID" has registeredID name constraints/,
        /unsupported name constraint type/,
      ],
      [rid, "DNS:a.example.com", "accept", "accept"],
    ];
    for (const [int, san, ours, openssl] of cases) {
      const leaf = await pki.leaf(int, "/CN=agent", [`subjectAltName=${san}`]);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, san);
    }
  });
});

Deno.test("name constraints: malformed extensions are refused (stricter than OpenSSL where it lets them pass)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const root = await pki.ca("/CN=NC Root", []);
    const dns = (s: string) => tlv(0x30, tlv(0x82, asciiHex(s)));
    const cases: [string, string, string, Expect, "accept" | RegExp][] = [
      [
        "empty",
        "2.5.29.30=DER:3000",
        "DNS:a.example.com",
        'Intermediate CA "CN=Bad empty" has a malformed nameConstraints extension: it has ' +
        "neither permittedSubtrees nor excludedSubtrees",
        "accept",
      ],
      [
        "empty list",
        "2.5.29.30=DER:3002a000",
        "DNS:a.example.com",
        /malformed nameConstraints extension: permittedSubtrees is empty/,
        "accept",
      ],
      [
        "non-contiguous mask",
        "nameConstraints=critical,excluded;IP:10.0.0.0/255.0.255.0",
        "IP:10.0.9.9",
        'Intermediate CA "CN=Bad non-contiguous mask" has a malformed nameConstraints ' +
        'extension: IP constraint mask "255.0.255.0" of "10.0.0.0" is not contiguous',
        "accept",
      ],
      [
        "mask length",
        `2.5.29.30=DER:${tlv(0x30, tlv(0xa1, tlv(0x30, tlv(0x87, "0a000000ff"))))}`,
        "IP:10.0.0.1",
        /malformed nameConstraints extension: IP constraint of 5 bytes \(expected 8 or 32\)/,
        /unsupported or invalid name syntax/,
      ],
      [
        "minimum",
        `2.5.29.30=DER:${
          tlv(0x30, tlv(0xa0, tlv(0x30, tlv(0x82, asciiHex("example.com")) + tlv(0x80, "01"))))
        }`,
        "DNS:a.example.com",
        /malformed nameConstraints extension: permittedSubtrees sets a minimum or maximum/,
        /minimum and maximum/i,
      ],
      [
        "empty label",
        `2.5.29.30=DER:${tlv(0x30, tlv(0xa0, dns("a..example.com")))}`,
        "DNS:x.a..example.com",
        /DNS constraint "a\.\.example\.com" is malformed: it has an empty label/,
        "accept",
      ],
      [
        "empty email",
        `2.5.29.30=DER:${tlv(0x30, tlv(0xa1, tlv(0x30, tlv(0x81, ""))))}`,
        "email:a@example.com",
        /email constraint is empty/,
        "accept",
      ],
    ];
    for (const [label, extension, san, ours, openssl] of cases) {
      const int = await pki.ca(`/CN=Bad ${label}`, [extension], root);
      const leaf = await pki.leaf(int, "/CN=agent", [`subjectAltName=${san}`]);
      await check(pki, { root, ints: [int], leaf }, ours, openssl, label);
    }
  });
});

Deno.test("name constraints: the trust anchor's own constraints bind its leaves", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const root = await pki.ca("/CN=NC Anchor", [
      "nameConstraints=critical,permitted;DNS:.example.com",
    ]);
    const ok = await pki.leaf(root, "/CN=a", ["subjectAltName=DNS:a.example.com"]);
    await check(pki, { root, leaf: ok }, "accept", "accept", "ok");
    const bad = await pki.leaf(root, "/CN=b", ["subjectAltName=DNS:b.other.com"]);
    await check(
      pki,
      { root, leaf: bad },
      'Certificate "CN=b" has DNS name "b.other.com", which trusted CA "CN=NC Anchor" does not ' +
        "permit (permitted: DNS:.example.com)",
      PERMITTED,
      "bad",
    );
  });
});

Deno.test("name constraints: a chain needing more than 250,000 name comparisons is refused (stricter than OpenSSL)", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const root = await pki.ca("/CN=NC Root", []);
    // 600 constraints x 420 names = 252,000 comparisons: over our budget, under
    // OpenSSL's (1,048,576 name x constraint pairs), and a legitimate chain.
    const constraints = Array.from({ length: 600 }, (_, i) => `permitted;DNS:.c${i}.example.com`);
    const int = await pki.ca("/CN=Many", [`nameConstraints=${constraints.join(",")}`], root);
    const sans = Array.from({ length: 420 }, (_, i) => `DNS:h.c${i}.example.com`);
    const leaf = await pki.leaf(int, "/CN=agent", [`subjectAltName=${sans.join(",")}`]);
    await check(
      pki,
      { root, ints: [int], leaf },
      'Too many name constraint checks for "CN=agent": more than 250000 comparisons',
      "accept",
      "budget",
    );
    // The same chain within a larger budget passes: the refusal was the budget.
    const chain = [leaf, int, root].map((c) => readCertificate(c.cert));
    assert.equal(checkNameConstraints(chain, { maxComparisons: 300_000 }), undefined);
  });
});

Deno.test("name constraints: a self-issued intermediate is not checked, a leaf's own nameConstraints bind nothing", async () => {
  await withTempDir(async (dir) => {
    const pki = new NcPki(dir);
    const root = await pki.ca("/CN=NC Root", ["nameConstraints=permitted;DNS:.example.com"]);
    // Self-issued (same name as the root, another key): §6.1.3 (b) skips it; its
    // CN "NC Root" is not a host name anyway, and it has a SAN outside the subtree.
    const rollover = await pki.ca("/CN=NC Root", ["subjectAltName=DNS:ca.other.com"], root);
    const leaf = await pki.leaf(rollover, "/CN=a", ["subjectAltName=DNS:a.example.com"]);
    await check(pki, { root, ints: [rollover], leaf }, "accept", "accept", "self-issued");
    const own = await pki.leaf(root, "/CN=b", [
      "subjectAltName=DNS:b.example.com",
      "nameConstraints=critical,permitted;DNS:.nowhere.test",
    ]);
    await check(pki, { root, leaf: own }, "accept", "accept", "leaf nc");
  });
});
