#!/bin/sh
# Generates the test PKI of the Apache::Test suite with the openssl CLI.
#   t/pki/mkpki.sh OUTDIR
# Idempotent: does nothing when OUTDIR/.done exists.
#
# Real CAs:   root (CN=MTLS Test Root CA,O=Lab) -> inter (CN=MTLS Test Client CA,O=Lab)
# Untrusted:  evil-root -> evil-inter, whose subject DNs copy the real ones.
# Clients:    see the issue list at the bottom; each NAME.crt, NAME.key, NAME.pem.
set -eu

OUT=${1:?usage: mkpki.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# the output is remade whenever this script or one of its parts changes
VERSION=$(cat "$HERE/mkpki.sh" "$HERE"/extra/*.sh 2>/dev/null | cksum | cut -d' ' -f1)
[ "$(cat "$OUT/.done" 2>/dev/null)" = "$VERSION" ] && exit 0
[ -f "$OUT/.done" ] && rm -rf "$OUT"   # only our own older output
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$OUT"
umask 022

OPENSSL=${OPENSSL:-openssl}

newkey() { $OPENSSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# One `openssl ca` database per CA, so revocation and CRLs work.
mkca_db() {
    d="$OUT/db/$1"
    mkdir -p "$d/new"
    : > "$d/index.txt"
    echo "unique_subject = no" > "$d/index.txt.attr"
    echo 1000 > "$d/crlnumber"
    cat > "$d/ca.cnf" <<EOF
[ ca ]
default_ca = the_ca
[ the_ca ]
dir              = $d
database         = $d/index.txt
new_certs_dir    = $d/new
certificate      = $OUT/$1.crt
private_key      = $OUT/$1.key
crlnumber        = $d/crlnumber
default_md       = sha256
default_days     = 400
default_crl_days = 3650
policy           = policy_any
unique_subject   = no
email_in_dn      = yes
name_opt         = ca_default
cert_opt         = ca_default
preserve         = yes
rand_serial      = yes
[ policy_any ]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = optional
emailAddress           = optional
[ req ]
distinguished_name = dn
string_mask        = utf8only
utf8               = yes
[ dn ]
EOF
}

# sign CA NAME SUBJ EXTFILE [extra openssl ca args...]
sign() {
    ca=$1; name=$2; subj=$3; ext=$4; shift 4
    [ -f "$name.key" ] || newkey "$name.key"
    $OPENSSL req -new -utf8 -multivalue-rdn -config "$OUT/db/$ca/ca.cnf" -key "$name.key" \
        -subj "$subj" -out "$OUT/db/$name.csr"
    $OPENSSL ca -batch -utf8 -preserveDN -notext -config "$OUT/db/$ca/ca.cnf" \
        -extfile "$ext" -extensions ext -in "$OUT/db/$name.csr" -out "$name.crt" \
        "$@" 2>"$OUT/db/$name.log" || { cat "$OUT/db/$name.log" >&2; exit 1; }
}

ext() {  # ext FILE LINES... : an extension section [ext]
    f="$OUT/db/$1.ext"; shift
    { echo "[ ext ]"
      echo "subjectKeyIdentifier = hash"
      echo "authorityKeyIdentifier = keyid,issuer"
      for l in "$@"; do echo "$l"; done
      echo "[ alt ]"; } > "$f"
    echo "$f"
}

selfsigned() {  # selfsigned NAME SUBJ
    newkey "$1.key"
    mkca_db "$1"
    $OPENSSL req -new -x509 -utf8 -key "$1.key" -subj "$2" -days 3650 \
        -addext "basicConstraints=critical,CA:true" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" -out "$1.crt"
}

intermediate() {  # intermediate PARENT NAME SUBJ
    mkca_db "$2"
    f=$(ext "$2-ca" "basicConstraints = critical,CA:true,pathlen:0" \
        "keyUsage = critical,keyCertSign,cRLSign")
    sign "$1" "$2" "$3" "$f" -days 3650
}

client() {  # client CA NAME SUBJ [SAN] [extra ca args...]
    ca=$1; name=$2; subj=$3; san=${4:-}; shift 3; [ $# -gt 0 ] && shift
    if [ -n "$san" ]; then
        f=$(ext "$name" "basicConstraints = CA:false" \
            "keyUsage = critical,digitalSignature" \
            "extendedKeyUsage = clientAuth" "subjectAltName = $san")
    else
        f=$(ext "$name" "basicConstraints = CA:false" \
            "keyUsage = critical,digitalSignature" "extendedKeyUsage = clientAuth")
    fi
    sign "$ca" "$name" "$subj" "$f" "$@"
    cat "$name.crt" "$name.key" > "$name.pem"
}

# --- the real PKI ---------------------------------------------------------
selfsigned root "/O=Lab/CN=MTLS Test Root CA"
intermediate root inter "/O=Lab/CN=MTLS Test Client CA"
cat root.crt inter.crt > ca-bundle.crt

f=$(ext server "basicConstraints = CA:false" \
    "keyUsage = critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost,IP:127.0.0.1")
sign root server "/O=Lab/CN=localhost" "$f" -days 825

# --- the untrusted look-alike PKI -----------------------------------------
selfsigned evil-root "/O=Lab/CN=MTLS Test Root CA"
intermediate evil-root evil-inter "/O=Lab/CN=MTLS Test Client CA"

# --- client certificates ----------------------------------------------------
client inter alice   "/O=Lab/OU=admins/CN=alice" "email:alice@lab.example"
client inter bob     "/O=Lab/OU=staff/CN=bob"    "email:bob@lab.example"
client inter svc     "/CN=api"  "URI:spiffe://lab.example/ns/prod/sa/api"
client inter svcdev  "/CN=web"  "URI:spiffe://lab.example/ns/dev/sa/web"
client inter dns     "/CN=host1" "DNS:host1.lab.example,IP:10.1.2.3"
client inter upn     "/CN=carol" "otherName:msUPN;UTF8:carol@corp.example"
client inter comma   "/O=Lab, Inc./OU=dev/CN=Doe, John"
client inter utf8    "/O=Lab/CN=Jürgen Ä"
client inter multiou "/O=Lab/OU=admins/OU=dba/OU=ops/CN=dave"
client inter multirdn "/O=Lab/emailAddress=eve@lab.example/CN=eve+UID=e123"
client inter expired "/O=Lab/CN=old" "" -startdate 20200101000000Z -enddate 20210101000000Z
client inter revoked "/O=Lab/CN=gone"
client root  direct  "/O=Lab/CN=direct" "email:direct@lab.example"
client evil-inter evilalice "/O=Lab/OU=admins/CN=alice" "email:alice@lab.example"

f=$(ext serveronly "basicConstraints = CA:false" "keyUsage = critical,digitalSignature" \
    "extendedKeyUsage = serverAuth")
sign inter serveronly "/O=Lab/CN=serveronly" "$f"
cat serveronly.crt serveronly.key > serveronly.pem

# --- revocation ---------------------------------------------------------------
$OPENSSL ca -batch -config db/inter/ca.cnf -revoke revoked.crt 2>db/revoke.log
$OPENSSL ca -batch -config db/inter/ca.cnf -gencrl -out inter.crl 2>db/crl.log
$OPENSSL ca -batch -config db/root/ca.cnf -gencrl -out root.crl 2>>db/crl.log
cat root.crl inter.crl > crl-bundle.pem

# --- certificates of each concern's tests (t/pki/extra/NAME.sh, sourced in
# name order; they may use newkey, ext, sign, client, intermediate) -------
for part in "$HERE"/extra/*.sh; do
    [ -f "$part" ] || continue
    . "$part"
done

# --- browser bundle -----------------------------------------------------------
$OPENSSL pkcs12 -export -in alice.crt -inkey alice.key -certfile inter.crt \
    -name alice -passout pass:demo -out alice.p12

chmod 644 ./*.key ./*.pem ./*.crt ./*.p12 ./*.crl 2>/dev/null || true
echo "$VERSION" > .done
