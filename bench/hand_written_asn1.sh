#!/bin/bash
# Code lines (no blanks/comments) of src/ files that decode or encode DER by hand:
# they call our reader's primitives, define a TLV/length codec, or build asn1js nodes.
cd "${1:-.}"
files=$(grep -rlE '\b(readTlv|expectTlv|children|readOid|decodeOid|encodeLength|derLength|tlv)\(|new asn1js\.|asn1js\.fromBER' src | sort)
for f in $files; do awk 'BEGIN{c=0;inb=0} { l=$0; sub(/^[ \t]+/,"",l); if(inb){ if(l ~ /\*\//) inb=0; next } if(l ~ /^\/\*/){ if(l !~ /\*\//) inb=1; next } if(l ~ /^\/\// || l=="") next; c++ } END{print c, FILENAME}' $f; done | awk '{s+=$1; print} END{print s, "TOTAL"}'
