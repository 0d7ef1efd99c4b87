#!/usr/bin/env bash
# The directory rows of the benchmark (called by bench/run.sh, or alone):
# a real slapd with 1,001 users, a real memcached and redis-server, one
# httpd (event MPM, one child) and bench/loadgen measuring side by side:
#
#   /granted/   Require all granted                               (baseline)
#   /ldgroup/   Require mtls-group admins, user and groups from the directory
#               (MTLSLDAPUserFilter (mail={san:email}), cache warm)
#   /authnz/    mod_authnz_ldap the usual way: SSLUserName SSL_CLIENT_S_DN_CN
#               gives r->user, Require ldap-group cn=admins,... (util_ldap's
#               caches warm); no MTLS* directive in scope
#
# with keep-alive and with a new TLS connection per request, the ratio
# mtls / authnz_ldap of the two printed (goal >= 1.05), and callgrind's
# instructions per keep-alive request of each (as bench/run.sh); then the
# population: 1,000 distinct client certificates, a new connection each,
# cache warm, /granted/ vs /ldgroup/ with MTLSCache shmcb, then memcache,
# then redis.  Also: directory operations per distinct certificate per TTL
# (slapd's own log), and the cold path (first request of a certificate the
# cache has never seen) against the warm one, median and p99.
#
# Knobs: BENCH_DIR_SECONDS (12) measured seconds per run, BENCH_ROUNDS (4),
# BENCH_CONNS (2), BENCH_POPULATION (1000), BENCH_COLD (200),
# BENCH_CALLGRIND (1; 0 skips the instruction counts), BENCH_FILE
# (index.html, the file each request names; empty: the directory itself),
# BENCH_TIMINGS (1; 0: only the instruction counts, no timed run, no cold
# path, no population).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$REPO/bench"
RUN="$BENCH/run/directory"
PKI="$RUN/pki"
. "$REPO/scripts/httpd-lib.sh"
. "$REPO/t/services/lib.sh"
# shellcheck source=lib.sh
. "$BENCH/lib.sh"
PIDFILE="$RUN/httpd.pid"
CONF="$RUN/httpd.conf"
ERRLOG="$RUN/error.log"
CALLGRIND="${BENCH_CALLGRIND:-1}"
TIMINGS="${BENCH_TIMINGS:-1}"
PATHS=(/granted/ /ldgroup/ /authnz/)
CG_NEW=("${PATHS[@]}")   # also per request on a new TLS connection each
declare -A REQUIRE=(
    [/granted/]="all granted"
    [/ldgroup/]="mtls-group admins (directory)"
    [/authnz/]="ldap-group (SSLUserName + mod_authnz_ldap)"
)
CG_CERT=alice
FWD_PORT=''   # no forwarded-certificate vhost to count through
# Every request names the file, as bench/run.sh's do (BENCH_FILE= asks for
# the directory instead: mod_dir's internal redirect then copies the
# request's environment, the module's variables included, once more).
FILE="${BENCH_FILE-index.html}"
url_path() { printf '%s%s' "$1" "$FILE"; }
HTTPD="${APACHE2:-/usr/sbin/apache2}"
MODDIR="${APACHE_MODULES:-/usr/lib/apache2/modules}"
MODULE="$REPO/.libs/mod_mtls_authz.so"
SECONDS_PER="${BENCH_DIR_SECONDS:-12}"
ROUNDS="${BENCH_ROUNDS:-4}"
CONNS="${BENCH_CONNS:-2}"
POP="${BENCH_POPULATION:-1000}"
COLD="${BENCH_COLD:-200}"
LOADGEN="$RUN/loadgen"
SUFFIX="dc=lab,dc=example"

say() { printf '%s\n' "$*"; }
die() { printf 'bench/directory: FAILED: %s\n' "$*" >&2; exit 1; }

for tool in slapd slapadd memcached redis-server openssl curl cc; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
        die "$tool not found (make -f Makefile.apxs deps)"
done
[ -f "$MODULE" ] || die "$MODULE missing (make -f Makefile.apxs)"

# slapd, memcached and redis-server run in the foreground, children of
# this script: their pids are known whoever they run as (a daemon that
# drops privileges cannot write its pid file here).
pids=()
cleanup() {
    stop_server
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ ! -d "$RUN" ] || stop_server
rm -rf "$RUN"; mkdir -p "$RUN"
# As root, httpd's children run as www-data: let them read what they need.
chmod 755 "$RUN"

# ---------------------------------------------------------------- PKI
say "bench/directory: certificates (alice and a population of $POP)"
mkdir -p "$PKI"
base=("server|/O=Lab/CN=localhost|" "alice|/O=Lab/OU=admins/CN=alice|email:alice@lab.example")
if python3 -c 'import cryptography' 2>/dev/null; then
    mtls_minipki "$PKI" "/O=Lab/CN=mtls bench CA" 30 "${base[@]}" || die "PKI"
    # The population: one key (what differs is the certificate), signed in
    # one process (openssl once per certificate takes minutes when busy).
    python3 - "$PKI" "$((POP + COLD))" <<'PY' || die "population certificates"
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
pki, n = sys.argv[1], int(sys.argv[2])
ca = x509.load_pem_x509_certificate(open(pki + "/ca.crt", "rb").read())
ca_key = serialization.load_pem_private_key(open(pki + "/ca.key", "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
now = datetime.datetime.now(datetime.timezone.utc)
for i in range(n):
    name = "p%04d" % i
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(name + "@lab.example")]), False)
            .sign(ca_key, hashes.SHA256()))
    open("%s/%s.crt" % (pki, name), "wb").write(cert.public_bytes(serialization.Encoding.PEM))
    open("%s/%s.key" % (pki, name), "wb").write(pem_key)
PY
else
    for i in $(seq 0 $((POP + COLD - 1))); do
        n=$(printf 'p%04d' "$i")
        base+=("$n|/O=Lab/CN=$n|email:$n@lab.example")
    done
    mtls_minipki "$PKI" "/O=Lab/CN=mtls bench CA" 30 "${base[@]}" || die "PKI"
fi
chmod 644 "$PKI"/*.key

# ---------------------------------------------------------------- slapd
SLAPD_PORT=$(free_port)
mkdir -p "$RUN/slapd-db"
cat >"$RUN/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $RUN/slapd-db/slapd.pid
loglevel stats
sizelimit unlimited
database mdb
suffix "$SUFFIX"
rootdn "cn=admin,$SUFFIX"
rootpw adminpw
directory $RUN/slapd-db
maxsize 268435456
index objectClass,uid,mail,member eq
EOF
{
    printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: lab\no: Lab\n\n' "$SUFFIX"
    printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$SUFFIX"
    printf 'dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n\n' "$SUFFIX"
    for u in alice $(seq -f 'p%04g' 0 $((POP + COLD - 1))); do
        printf 'dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nmail: %s@lab.example\n\n' \
            "$u" "$SUFFIX" "$u" "$u" "$u" "$u"
    done
    printf 'dn: cn=admins,ou=groups,%s\nobjectClass: groupOfNames\ncn: admins\n' "$SUFFIX"
    for u in alice $(seq -f 'p%04g' 0 $((POP + COLD - 1))); do
        printf 'member: uid=%s,ou=people,%s\n' "$u" "$SUFFIX"
    done
    echo
} >"$RUN/data.ldif"
slapadd -q -f "$RUN/slapd.conf" -l "$RUN/data.ldif" >"$RUN/slapadd.log" 2>&1 ||
    die "slapadd: $(tail -3 "$RUN/slapadd.log")"
[ "$(id -u)" != 0 ] || chown -R nobody: "$RUN/slapd-db"
if [ "$(id -u)" = 0 ]; then
    runuser -u nobody -- /usr/sbin/slapd -d stats -f "$RUN/slapd.conf" \
        -h "ldap://127.0.0.1:$SLAPD_PORT/" >"$RUN/slapd.log" 2>&1 &
else
    /usr/sbin/slapd -d stats -f "$RUN/slapd.conf" -h "ldap://127.0.0.1:$SLAPD_PORT/" \
        >"$RUN/slapd.log" 2>&1 &
fi
pids+=($!)
wait_port "$SLAPD_PORT" 20 || die "slapd did not start: $(tail -3 "$RUN/slapd.log")"

MC_PORT=$(free_port)
memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 \
    $( [ "$(id -u)" = 0 ] && echo -u nobody ) >"$RUN/memcached.log" 2>&1 &
pids+=($!)
mkdir -p "$RUN/redis"; chmod 777 "$RUN/redis"
RD_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$RD_PORT" --daemonize no --save '' \
    --dir "$RUN/redis" --appendonly no --logfile "$RUN/redis/redis.log" >/dev/null 2>&1 &
pids+=($!)
wait_port "$MC_PORT" 10 && wait_port "$RD_PORT" 10 || die "memcached/redis did not start"

# ---------------------------------------------------------------- httpd
PORT=$(free_port)
mkdir -p "$RUN/htdocs"
for p in granted ldgroup authnz; do mkdir -p "$RUN/htdocs/$p"; echo ok >"$RUN/htdocs/$p/index.html"; done
chmod -R a+rX "$RUN/htdocs"

write_conf() {  # write_conf MTLSCACHE
    local lm user=''
    lm=$(mtls_loadmodules "$HTTPD" "$MODDIR" mpm_event authz_core authn_core \
             ssl socache_shmcb socache_memcache socache_redis mime dir ldap \
             authnz_ldap) || die "a module httpd needs is missing"
    [ "$(id -u)" = 0 ] && user=$'User www-data\nGroup www-data'
    cat >"$CONF" <<EOF
ServerRoot "$RUN"
DefaultRuntimeDir "$RUN"
PidFile "$RUN/httpd.pid"
ErrorLog "$RUN/error.log"
LogLevel warn
ServerName localhost
Listen 127.0.0.1:$PORT
$user
$lm
LoadModule mtls_authz_module $MODULE
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
TypesConfig /etc/mime.types
DirectoryIndex index.html
SSLEngine on
SSLCertificateFile    "$PKI/server.crt"
SSLCertificateKeyFile "$PKI/server.key"
SSLCACertificateFile  "$PKI/ca.crt"
SSLSessionCache       "shmcb:$RUN/ssl_scache(512000)"
SSLVerifyClient require
SSLVerifyDepth 2
MTLSCache "$1"
LDAPSharedCacheSize 4000000
LDAPCacheEntries 4096
LDAPCacheTTL 600
LDAPOpCacheEntries 4096
LDAPOpCacheTTL 600
DocumentRoot "$RUN/htdocs"
<Directory "$RUN/htdocs">
    Require all granted
</Directory>
<Location "/granted/">
    Require all granted
</Location>
<Location "/ldgroup/">
    MTLSLDAPURL "ldap://127.0.0.1:$SLAPD_PORT/ou=people,$SUFFIX?uid"
    MTLSLDAPUserFilter "(mail={san:email})"
    MTLSLDAPGroupBase "ou=groups,$SUFFIX"
    MTLSLDAPGroupFilter "(member={dn})"
    MTLSCacheTTL 600
    Require mtls-group admins
</Location>
<Location "/authnz/">
    SSLUserName SSL_CLIENT_S_DN_CN
    AuthLDAPURL "ldap://127.0.0.1:$SLAPD_PORT/ou=people,$SUFFIX?uid"
    Require ldap-group cn=admins,ou=groups,$SUFFIX
</Location>
EOF
}

start_httpd() {
    write_conf "$1"
    "$HTTPD" -f "$CONF" -k start || die "httpd did not start"
    local i
    for i in $(seq 1 50); do
        curl -s -o /dev/null --cacert "$PKI/ca.crt" --resolve "localhost:$PORT:127.0.0.1" \
            --cert "$PKI/alice.crt" --key "$PKI/alice.key" "https://localhost:$PORT/granted/" && return 0
        sleep 0.2
    done
    die "httpd is not answering: $(tail -3 "$RUN/error.log")"
}
stop_httpd() { stop_server; }

get() {  # get CERT PATH -> http code
    curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/ca.crt" \
        --resolve "localhost:$PORT:127.0.0.1" --cert "$PKI/$1.crt" --key "$PKI/$1.key" \
        "https://localhost:$PORT$2"
}

build_loadgen "$LOADGEN" || die "loadgen"

# loadgen run: NAME MODE PATHS [extra args] -> $RUN/NAME.txt
run_loadgen() {
    local name=$1 mode=$2 paths=$3; shift 3
    local xs=() p list=''
    for p in $(server_children); do xs+=(-x "$p"); done
    for p in ${paths//,/ }; do list+="${list:+,}$(url_path "$p")"; done
    "$LOADGEN" -p "$PORT" -s localhost -P "$list" -C "$PKI/ca.crt" -m "$mode" \
        -t "$CONNS" -d "$SECONDS_PER" -w 1 -r "$ROUNDS" -T $([ "$mode" = ka ] && echo 100 || echo 250) \
        -z 42 "${xs[@]}" "$@" >"$RUN/$name.txt" 2>"$RUN/$name.err" ||
        die "loadgen $name: $(cat "$RUN/$name.err")"
}

# report NAME BASELINE: per path req/s, ratio to BASELINE, server CPU/request
report() {
    local name=$1 base=$2
    awk -v file="$FILE" -v base="$base" -v label="$3" '
        /^round=/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            p = v["path"]; sub(file "$", "", p); ok[p] += v["ok"]; bad[p] += v["non200"] + v["errors"]
            ns[p] += v["slot_ns"]; srv[p] += v["srv_ns"]
            if (!(p in seen)) { seen[p] = 1; order[n++] = p }
        }
        END {
            b = ok[base] / (ns[base] / 1e9)
            for (i = 0; i < n; i++) {
                p = order[i]; rps = ok[p] / (ns[p] / 1e9)
                printf "  %-12s %-34s %9.0f req/s  %.3f of %s  %6.1f us server CPU/req%s\n",
                    label, p, rps, rps / b, base, ok[p] ? srv[p] / ok[p] / 1000 : 0,
                    bad[p] ? sprintf("  (%d not 200!)", bad[p]) : ""
            }
        }' "$RUN/$name.txt"
}

# versus NAME MODE: Require mtls-group from the directory against
# mod_authnz_ldap on the same work, side by side in the same run
versus() {
    awk -v file="$FILE" -v mode="$2" '
        /^round=/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            p = v["path"]; sub(file "$", "", p); ok[p] += v["ok"]; ns[p] += v["slot_ns"]; srv[p] += v["srv_ns"] }
        END {
            m = ok["/ldgroup/"] / (ns["/ldgroup/"] / 1e9); a = ok["/authnz/"] / (ns["/authnz/"] / 1e9)
            mu = srv["/ldgroup/"] / ok["/ldgroup/"]; au = srv["/authnz/"] / ok["/authnz/"]
            printf "  %-12s mtls / authnz_ldap: %.3f in req/s, %.3f in server CPU per request (authnz us / mtls us); goal >= 1.05\n",
                mode, m / a, au / mu
        }' "$RUN/$1.txt"
}

# cache_reads memcache|redis: reads the cache server has answered so far
cache_reads() {
    local line n=0
    case $1 in
        memcache)
            exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT" || { echo 0; return; }
            printf 'stats\r\n' >&3
            while read -r -t 5 line <&3; do
                case $line in END*) break ;; "STAT cmd_get "*) n=${line#STAT cmd_get }; n=${n%$'\r'} ;; esac
            done ;;
        redis)
            exec 3<>"/dev/tcp/127.0.0.1/$RD_PORT" || { echo 0; return; }
            printf 'INFO stats\r\n' >&3
            while read -r -t 5 line <&3; do
                line=${line%$'\r'}
                case $line in
                    keyspace_hits:*) n=$((n + ${line#*:})) ;;
                    keyspace_misses:*) n=$((n + ${line#*:})); break ;;
                esac
            done ;;
    esac
    exec 3<&- 3>&-
    echo "$n"
}

searches() {  # searches FROM-LINE: user searches for population addresses
    tail -n +"$1" "$RUN/slapd.log" | grep -c 'SRCH base="ou=people.*filter="(mail=p[0-9]' || true
}
group_searches() {
    tail -n +"$1" "$RUN/slapd.log" | grep -c 'SRCH base="ou=groups.*filter="(member=uid=p[0-9]' || true
}
lines() { wc -l <"$RUN/slapd.log"; }

say "bench/directory: slapd :$SLAPD_PORT, memcached :$MC_PORT, redis :$RD_PORT, httpd :$PORT"
say "bench/directory: figures are side by side within each run; the machine is shared, so"
say "  absolute rates move with its load, the ratios much less"

# ---- alice: keep-alive and new connections, shmcb -------------------------
start_httpd "shmcb:$RUN/mtls_cache(8388608)"
for p in /granted/ /ldgroup/ /authnz/; do
    c=$(get alice "$p"); [ "$c" = 200 ] || die "sanity: $p gave $c for alice"
done
say "bench/directory: one user (alice), cache and util_ldap warm"
for mode in ka new; do
    [ "$TIMINGS" != 0 ] || break
    run_loadgen "alice-$mode" "$mode" /granted/,/ldgroup/,/authnz/ \
        -c "$PKI/alice.crt" -k "$PKI/alice.key"
    report "alice-$mode" /granted/ "$mode"
    versus "alice-$mode" "$mode"
done
# Instructions per keep-alive request (httpd -X under callgrind, the same
# configuration, caches warm): reproducible where timings under load are not.
stop_httpd
CURL=(curl -sS --max-time 30 --resolve "localhost:$PORT:127.0.0.1" --cacert "$PKI/ca.crt")
callgrind_count
if [ -s "$RUN/callgrind/instr.txt" ]; then
    awk 'NR == FNR { ins[$1] = $2; next } END {
            g = ins["/granted/"]; m = ins["/ldgroup/"]; a = ins["/authnz/"]
            printf "  ka instr/req: /granted/ %d, /ldgroup/ %d (i-ratio %.3f of granted), /authnz/ %d (%.3f)\n", g, m, g / m, a, g / a
            printf "  ka mtls / authnz_ldap in instructions: %.3f (authnz instr / mtls instr; goal >= 1.05)\n", a / m
            g = ins["new:/granted/"]; m = ins["new:/ldgroup/"]; a = ins["new:/authnz/"]
            if (g && m && a) {
                printf "  new instr/req (handshake included): /granted/ %d, /ldgroup/ %d (i-ratio %.3f of granted), /authnz/ %d (%.3f)\n", g, m, g / m, a, g / a
                printf "  new mtls / authnz_ldap in instructions: %.3f (goal >= 1.05)\n", a / m
            }
        }' "$RUN/callgrind/instr.txt" /dev/null
    [ ! -s "$RUN/callgrind/functions.txt" ] || sed 's/^/  /' "$RUN/callgrind/functions.txt"
else
    say "  no instruction counts: $(cat "$RUN/callgrind/skipped" 2>/dev/null)"
fi
if [ "$TIMINGS" = 0 ]; then
    say "bench/directory: no timed runs (BENCH_TIMINGS=0): instruction counts only"
    exit 0
fi
start_httpd "shmcb:$RUN/mtls_cache(8388608)"

# ---- cold path: first request of a certificate never seen ------------------
say "bench/directory: cold path: $COLD certificates never seen, one request each, then again"
timing() {  # timing CERT PATH: seconds from TLS established to first byte
    curl -s -o /dev/null -w '%{time_appconnect} %{time_starttransfer}\n' \
        --cacert "$PKI/ca.crt" --resolve "localhost:$PORT:127.0.0.1" \
        --cert "$PKI/$1.crt" --key "$PKI/$1.key" "https://localhost:$PORT$2"
}
: >"$RUN/cold.txt"; : >"$RUN/warm.txt"; : >"$RUN/base.txt"
l0=$(lines)
for i in $(seq "$POP" $((POP + COLD - 1))); do
    n=$(printf 'p%04d' "$i")
    timing "$n" "$(url_path /ldgroup/)" >>"$RUN/cold.txt"
done
cold_ops=$(( $(searches "$l0") + $(group_searches "$l0") ))
for i in $(seq "$POP" $((POP + COLD - 1))); do
    n=$(printf 'p%04d' "$i")
    timing "$n" "$(url_path /ldgroup/)" >>"$RUN/warm.txt"
    timing "$n" /granted/ >>"$RUN/base.txt"
done
stats() {
    awk '{ print ($2 - $1) * 1e6 }' "$1" | sort -n | awk '
        { v[NR] = $1 } END { printf "median %.0f us, p99 %.0f us", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)] }'
}
say "  cold /ldgroup/ (user + group search): $(stats "$RUN/cold.txt")"
say "  warm /ldgroup/ (cached):               $(stats "$RUN/warm.txt")"
say "  /granted/ (no module work):            $(stats "$RUN/base.txt")"
say "  directory operations for $COLD new certificates: $cold_ops ($(awk -v a="$cold_ops" -v b="$COLD" 'BEGIN{printf "%.2f", a/b}') per certificate)"

# ---- the population, with each cache ---------------------------------------
for kind in shmcb memcache redis; do
    case $kind in
        shmcb) cache="shmcb:$RUN/mtls_cache(8388608)" ;;
        memcache) cache="memcache:127.0.0.1:$MC_PORT" ;;
        redis) cache="redis:127.0.0.1:$RD_PORT" ;;
    esac
    stop_httpd
    start_httpd "$cache"
    l0=$(lines)
    # warm: each certificate once (the cache fills), then measure
    for i in $(seq 0 $((POP - 1))); do
        printf '%s\n' "$(printf 'p%04d' "$i")"
    done | xargs -P 4 -I{} curl -s -o /dev/null --cacert "$PKI/ca.crt" \
        --resolve "localhost:$PORT:127.0.0.1" --cert "$PKI/{}.crt" --key "$PKI/{}.key" \
        "https://localhost:$PORT$(url_path /ldgroup/)"
    r0=$(cache_reads "$kind")
    run_loadgen "pop-$kind" new /granted/,/ldgroup/ -L "$POP" \
        -c "$PKI/p%04d.crt" -k "$PKI/p%04d.key"
    r1=$(cache_reads "$kind")
    u=$(searches "$l0"); g=$(group_searches "$l0")
    report "pop-$kind" /granted/ "pop $kind"
    [ "$kind" = shmcb ] ||
        say "    reads the $kind server answered during the run: $((r1 - r0)) for" \
            "$(awk '/^round=/ && /path=\/ldgroup\// { for (i = 1; i <= NF; i++) if ($i ~ /^ok=/) n += substr($i, 4) }
                    END { print n + 0 }' "$RUN/pop-$kind.txt") /ldgroup/ requests (a process keeps fresh answers for up to 30 s)"
    say "    directory operations during warm-up and run: $u user + $g group searches" \
        "for $POP certificates = $(awk -v a="$((u + g))" -v b="$POP" 'BEGIN{printf "%.2f", a/b}') per certificate per TTL"
done
stop_httpd
