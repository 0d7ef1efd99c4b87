#!/bin/sh
# Two real OpenLDAP slapd servers for the directory tests, unprivileged on
# loopback, with entries made from the suite's own certificates:
#   primary  ldap:// (STARTTLS too) and ldaps://, cert from the test PKI
#   second   ldap:// only, same entries: the one tests stop, kill and
#            restart (restart2), and the second host of fail-over URLs
# Both log every operation (loglevel stats) so tests count searches.
# One pair for each MPM of the run (MPM:MTLS_T_LDAP_PORT=N ...), in
# STATEDIR/slapd/MPM: the MPMs run at the same time, and a test counts the
# searches in its server's log, edits entries, stops and kills the second.
#   slapd.sh start|stop STATEDIR
#   slapd.sh restart2 INSTANCEDIR   (MTLS_T_SLAPD_STATE, one MPM's pair)
set -eu
CMD=${1:?usage: slapd.sh start|stop STATEDIR | restart2 INSTANCEDIR}
STATE=${2:?usage: slapd.sh start|stop STATEDIR | restart2 INSTANCEDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PKI="$HERE/../pki/out"
SLAPD=${SLAPD:-/usr/sbin/slapd}
SLAPADD=${SLAPADD:-/usr/sbin/slapadd}
TOP="$STATE/slapd"     # what the pairs share: schema, data, bind password
SUFFIX="dc=lab,dc=example"

conf() {  # conf DIR NAME: slapd.conf of one instance
    D=$1 name=$2
    cat <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $TOP/msuser.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload back_monitor
moduleload memberof
pidfile $D/$name.pid
argsfile $D/$name.args
loglevel stats
sizelimit unlimited
timelimit unlimited
TLSCACertificateFile $PKI/root.crt
TLSCertificateFile $PKI/server.crt
TLSCertificateKeyFile $PKI/server.key

database mdb
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw adminpw
directory $D/$name-db
maxsize 268435456
index objectClass eq
index uid,mail,cn eq
index member,uniqueMember,memberUid eq
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf

database monitor
EOF
}

fact() { sed -n "s/^$1=//p" "$PKI/realpki.facts"; }

b64der() { openssl x509 -in "$PKI/$1.crt" -outform der | base64 -w0; }

# The serial as Active Directory's altSecurityIdentities writes it: the
# bytes of the number reversed (upper-case hex).
adserial() {
    s=$(openssl x509 -in "$PKI/$1.crt" -noout -serial | sed 's/^serial=//' | tr a-f A-F | sed 's/^0*//')
    [ $((${#s} % 2)) -eq 1 ] && s="0$s"
    echo "$s" | sed 's/../& /g' | tr ' ' '\n' | grep . | tac | tr -d '\n'
}

person() {  # person UID [extra LDIF lines...] (objectClass lines first)
    uid=$1; shift
    printf 'dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\n' "$uid" "$SUFFIX"
    for l in "$@"; do case $l in objectClass:*) printf '%s\n' "$l" ;; esac; done
    printf 'uid: %s\ncn: %s\nsn: %s\n' "$uid" "$uid" "$uid"
    for l in "$@"; do case $l in objectClass:*) ;; *) printf '%s\n' "$l" ;; esac; done
    echo
}

group() {  # group CN BASE-RDN MEMBER-DN...
    cn=$1; where=$2; shift 2
    printf 'dn: cn=%s,%s%s\nobjectClass: groupOfNames\ncn: %s\n' "$cn" "$where" "$SUFFIX" "$cn"
    for m in "$@"; do printf 'member: %s\n' "$m"; done
    echo
}

ldif() {
    P="ou=people,$SUFFIX"
    G="ou=groups,$SUFFIX"
    cat <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: lab
o: Lab

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: ou=many,ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: many

dn: cn=reader,$SUFFIX
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: readerpw

EOF
    person ldcert "mail: ldcert@lab.example" "userCertificate;binary:: $(b64der ldcert)"
    person mailuser "mail: mailuser@lab.example"
    person aduser "objectClass: extensibleObject" \
        "altSecurityIdentities: X509:<I>O=Lab,CN=MTLS Test Client CA<SR>$(adserial ldad)" \
        "memberOf: cn=ad-users,$G" "memberOf: cn=vpn,$G"
    person twin1 "mail: twin@lab.example"
    person twin2 "mail: twin@lab.example"
    person victim "mail: victim@lab.example"
    person many "mail: many@lab.example"
    person nested "mail: nested@lab.example" "objectClass: extensibleObject" \
        "memberOf: cn=n1,$G"
    person ldgone "mail: ldgone@lab.example"
    person posix "mail: posix@lab.example"
    person alice "mail: alice@lab.example"
    # issue 12 (t/65-realpki.t): Active Directory's strong forms for the
    # certificates of t/pki/extra/realpki.sh
    person adsidldap "objectClass: extensibleObject" "objectSid: $(fact sid)"
    person chosenldap "objectClass: extensibleObject" \
        "altSecurityIdentities: X509:<SKI>$(fact chosenski.ski)"
    person noekuldap "objectClass: extensibleObject" \
        "altSecurityIdentities: X509:<SKI>$(fact noeku.ski | tr a-f A-F)"
    person partnerldap "objectClass: extensibleObject" \
        "altSecurityIdentities: X509:<SHA1-PUKEY>$(fact dualeku.sha1key | tr a-f A-F)"
    person bob "mail: bob@lab.example"
    group ldap-admins "ou=groups," "uid=ldcert,$P" "uid=mailuser,$P" "uid=alice,$P"
    printf 'dn: cn=devs,%s\nobjectClass: groupOfUniqueNames\ncn: devs\nuniqueMember: uid=ldcert,%s\n\n' "$G" "$P"
    printf 'dn: cn=posixers,%s\nobjectClass: posixGroup\ncn: posixers\ngidNumber: 5000\nmemberUid: posix\n\n' "$G"
    group ad-users "ou=groups," "cn=reader,$SUFFIX"
    group vpn "ou=groups," "cn=reader,$SUFFIX"
    # nested: nested in n1, n1 in n2, n2 in n3, n3 in n1 (a cycle)
    group n1 "ou=groups," "uid=nested,$P" "cn=n3,$G"
    group n2 "ou=groups," "cn=n1,$G"
    group n3 "ou=groups," "cn=n2,$G"
    group temp "ou=groups," "uid=ldgone,$P" "cn=reader,$SUFFIX"
    group keep "ou=groups," "uid=ldgone,$P"
    # (what `group` prints, without a thousand subshells)
    awk -v s="$SUFFIX" -v m="uid=many,$P" 'BEGIN {
        for (i = 0; i < 1000; i++)
            printf "dn: cn=g%04d,ou=many,ou=groups,%s\nobjectClass: groupOfNames\ncn: g%04d\nmember: %s\n\n", i, s, i, m
    }'
}

start_one() {  # start_one DIR NAME URLS
    D=$1 name=$2 urls=$3
    "$SLAPD" -d stats -f "$D/$name.conf" -h "$urls" >>"$D/$name.log" 2>&1 &
    echo $! > "$D/$name.pid.run"
}

case $CMD in
start)
    [ -x "$SLAPD" ] || { echo "slapd is not installed (apt-get install slapd ldap-utils)" >&2; exit 1; }
    need_mpms
    mkdir -p "$TOP"
    ldif > "$TOP/data.ldif"
    # Debian's msuser schema gives altSecurityIdentities no equality rule;
    # Active Directory compares it ignoring case.  Nor objectSid, which
    # Active Directory matches against a SID string in a filter: here
    # the entries hold that string.
    sed -e '/NAME .altSecurityIdentities./a\	EQUALITY caseIgnoreMatch' \
        -e '/NAME .objectSid./a\	EQUALITY octetStringMatch' \
        /etc/ldap/schema/msuser.schema > "$TOP/msuser.schema"
    echo "readerpw" > "$TOP/reader.pw"
    chmod 600 "$TOP/reader.pw"
    printf '#!/bin/sh\necho readerpw\n' > "$TOP/reader-pw.sh"
    chmod 700 "$TOP/reader-pw.sh"
    # the entries, loaded once; every server gets a copy of the database
    conf "$TOP" template > "$TOP/template.conf"
    mkdir -p "$TOP/template-db"
    "$SLAPADD" -q -f "$TOP/template.conf" -l "$TOP/data.ldif" >"$TOP/slapadd.log" 2>&1 || {
        cat "$TOP/slapadd.log" >&2; exit 1; }
    waits=""
    for mpm in $(mpms); do
        D="$TOP/$mpm"
        set -- $(free_ports 4)
        P1=$1 P2=$2 P3=$3 DEAD=$4
        for n in primary second; do
            mkdir -p "$D/$n-db"
            conf "$D" $n > "$D/$n.conf"
            cp "$TOP/template-db/data.mdb" "$D/$n-db/data.mdb"
        done
        start_one "$D" primary "ldap://127.0.0.1:$P1/ ldaps://127.0.0.1:$P3/"
        echo "ldap://127.0.0.1:$P2/" > "$D/second.urls"
        start_one "$D" second "ldap://127.0.0.1:$P2/"
        waits="$waits $P1 $P3 $P2"
        echo "$mpm:MTLS_T_LDAP_PORT=$P1"
        echo "$mpm:MTLS_T_LDAPS_PORT=$P3"
        echo "$mpm:MTLS_T_LDAP2_PORT=$P2"
        echo "$mpm:MTLS_T_LDAP_DEAD_PORT=$DEAD"
        echo "$mpm:MTLS_T_LDAP_LOG=$D/primary.log"
        echo "$mpm:MTLS_T_LDAP2_LOG=$D/second.log"
        echo "$mpm:MTLS_T_LDAP2_PIDFILE=$D/second.pid.run"
        echo "$mpm:MTLS_T_SLAPD_STATE=$D"
    done
    for p in $waits; do
        wait_port "$p" 20 || {
            echo "slapd did not start (port $p)" >&2; tail -20 "$TOP"/*/*.log >&2; exit 1; }
    done
    echo "MTLS_T_LDAP_PWFILE=$TOP/reader.pw"
    echo "MTLS_T_LDAP_PWEXEC=$TOP/reader-pw.sh"
    echo "MTLS_T_SLAPD_SH=$HERE/slapd.sh"
    ;;
restart2)
    # one MPM's second server again, on its port, after a test killed it
    D=$STATE
    [ -f "$D/second.urls" ] || { echo "slapd.sh restart2: $D is no instance directory" >&2; exit 2; }
    stop_pidfile "$D/second.pid.run" || true
    start_one "$D" second "$(cat "$D/second.urls")"
    port=$(sed 's/.*:\([0-9]*\)\/$/\1/' "$D/second.urls")
    wait_port "$port" 20
    ;;
stop)
    for D in "$TOP"/*/; do
        stop_pidfile "${D}primary.pid.run" || true
        stop_pidfile "${D}second.pid.run" || true
    done
    ;;
*)
    echo "usage: slapd.sh start|stop STATEDIR | restart2 INSTANCEDIR" >&2; exit 2 ;;
esac
