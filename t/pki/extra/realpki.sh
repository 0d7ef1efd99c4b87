# Certificates of real PKIs (issue 12, t/30-realpki... see t/65-realpki.t):
# several URI and DNS SANs, EKU variants, certificate policies, the AD SID
# forms, a chosen subject key identifier; the map, grid-mapfile,
# FakeBasicAuth htpasswd and deny-list files that name them; and
# mkshort.sh, which issues a certificate valid for a few seconds when a
# test runs (its expiry must be crossed while the test watches).

# a plain ext file without the subjectKeyIdentifier line of ext()
rawext() {  # rawext NAME LINES...
    f="$OUT/db/$1.ext"; shift
    { echo "[ ext ]"; for l in "$@"; do echo "$l"; done; } > "$f"
    echo "$f"
}
leaf() {  # leaf NAME SUBJ EXTFILE
    sign inter "$1" "$2" "$3"
    cat "$1.crt" "$1.key" > "$1.pem"
}

POL_GOV=2.16.840.1.101.3.2.1.3.13
POL_LAB=1.3.6.1.4.1.99999.1.2
POL_CARD=1.3.6.1.4.1.99999.1.1
AD_SID=S-1-5-21-3623811015-3361044348-30300820-1013
# szOID_NTDS_CA_SECURITY_EXT: SEQUENCE { [0] { OID ...25.2.1, [0] { OCTET STRING SID } } }
AD_SID_DER=303ea03c060a2b060104018237190201a02e042c$(printf %s "$AD_SID" | od -An -tx1 | tr -d ' \n')

client inter multiuri "/O=Lab/CN=multiuri" \
    "URI:https://lab.example/svc/api,URI:urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66,URI:spiffe://lab.example/ns/prod/sa/api"
client inter twodns "/O=Lab/CN=twodns" "DNS:www.lab.example,DNS:api.prod.lab.example"

f=$(ext noeku "basicConstraints = CA:false" "keyUsage = critical,digitalSignature")
leaf noeku "/O=Lab/CN=noeku" "$f"
f=$(ext dualeku "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = serverAuth,clientAuth" "subjectAltName = DNS:partner.example")
leaf dualeku "/O=Partner/CN=partner.example" "$f"
f=$(ext smartcard "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = clientAuth,msSmartcardLogin" "certificatePolicies = $POL_CARD" \
    "subjectAltName = otherName:msUPN;UTF8:sc@corp.example")
leaf smartcard "/O=Lab/CN=smartcard" "$f"
f=$(ext policies "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = clientAuth" "certificatePolicies = $POL_GOV,$POL_LAB")
leaf policies "/O=Lab/CN=policies" "$f"
f=$(ext adsid "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = clientAuth" "1.3.6.1.4.1.311.25.2 = DER:$AD_SID_DER" \
    "subjectAltName = @alt")
echo "URI.1 = tag:microsoft.com,2022-09-14:sid:$AD_SID" >> "$f"
echo "otherName.1 = msUPN;UTF8:adsid@corp.example" >> "$f"
leaf adsid "/O=Lab/CN=adsid" "$f"
# the same SID from a CA not trusted for SIDs (the look-alike root is not
# trusted at all; the root CA is trusted, but not for SIDs)
f=$(ext adsidroot "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = clientAuth" "1.3.6.1.4.1.311.25.2 = DER:$AD_SID_DER")
sign root adsidroot "/O=Lab/CN=adsid" "$f"
cat adsidroot.crt adsidroot.key > adsidroot.pem
f=$(rawext chosenski "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = clientAuth" \
    "subjectKeyIdentifier = 00112233445566778899aabbccddeeff00112233" \
    "authorityKeyIdentifier = keyid,issuer")
leaf chosenski "/O=Lab/CN=chosenski" "$f"

ski_of() { $OPENSSL x509 -in "$1.crt" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :' | tr A-F a-f; }
# SHA-1 of the subjectPublicKey bits: the last 65 bytes of a P-256 SPKI
sha1key_of() { $OPENSSL x509 -in "$1.crt" -noout -pubkey | $OPENSSL pkey -pubin -outform DER | tail -c 65 | $OPENSSL dgst -sha1 -r | cut -d' ' -f1; }

# values the tests compare with, computed with the openssl CLI
{ echo "sid=$AD_SID"
  for n in adsid chosenski noeku dualeku; do
      echo "$n.ski=$(ski_of $n)"; echo "$n.sha1key=$(sha1key_of $n)"
  done
  echo "pol.gov=$POL_GOV"; echo "pol.lab=$POL_LAB"; echo "pol.card=$POL_CARD"
} > realpki.facts

# one-line DNs as X509_NAME_oneline writes them (bytes outside ASCII as \xHH)
DOE='/O=Lab, Inc./OU=dev/CN=Doe, John'
JUERGEN='/O=Lab/CN=J\xC3\xBCrgen \xC3\x84'
cat > realpki.map <<MAP
# issue 12: the AD strong forms and one-line subjects
sid:$AD_SID adsid-user ad-users
ski:$(ski_of chosenski) chosen-user
ski:$(ski_of noeku) noeku-user
sha1-pubkey:$(sha1key_of dualeku) partner-user
"subject:$DOE" doe-legacy
"subject:$JUERGEN" juergen-legacy
MAP
cat > realpki.gridmap <<MAP
# a Globus grid-mapfile
"$DOE" jdoe,doe2
"$JUERGEN" juergen
"/O=Lab/OU=admins/CN=alice" alice
MAP
PW=$($OPENSSL passwd -apr1 -salt mtls password)
printf '%s:%s\n' "/O=Lab/OU=admins/CN=alice" "$PW" "$DOE" "$PW" "$JUERGEN" "$PW" > realpki.htpasswd
cat > realpki.deny <<MAP
"subject:/O=Lab/CN=twodns"
MAP

# mkshort.sh NAME SECONDS: NAME.crt/.key/.pem valid from a minute ago until
# SECONDS from now, issued by the client CA; prints notAfter (epoch).
cat > mkshort.sh <<SH
#!/bin/sh
set -eu
cd "$OUT"
name=\$1; secs=\$2
# one at a time: the MPMs' suites run at once and share the CA's database
exec 9>db/mkshort.lock
flock 9
now=\$(date -u +%s); end=\$((now + secs))
[ -f "\$name.key" ] || $OPENSSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "\$name.key" 2>/dev/null
$OPENSSL req -new -config db/inter/ca.cnf -key "\$name.key" -subj "/O=Lab/CN=\$name" -out "db/\$name.csr"
$OPENSSL ca -batch -notext -config db/inter/ca.cnf -extfile db/alice.ext -extensions ext \\
    -startdate "\$(date -u -d @\$((now - 60)) +%Y%m%d%H%M%SZ)" \\
    -enddate "\$(date -u -d @\$end +%Y%m%d%H%M%SZ)" \\
    -in "db/\$name.csr" -out "\$name.crt" 2>"db/\$name.log"
cat "\$name.crt" "\$name.key" > "\$name.pem"
echo "\$end"
SH
chmod 755 mkshort.sh
