#!/usr/bin/env bash
# mod_mtls_authz benchmark (make -f Makefile.apxs bench).
#
# One httpd (event MPM, mod_ssl with SSLVerifyClient require, the module
# loaded) serves the same tiny static file behind these authorisations:
#
#   /granted/   Require all granted                              (baseline)
#   /granted2/  Require all granted            (A/A control: shows the noise)
#   /mapped/    Require all granted, with MTLSUserFrom + MTLSGroupFile in
#               scope (the module maps and exports MTLS_* variables)
#   /expr/      Require expr "%{SSL_CLIENT_S_DN_CN} == 'alice'"  (the mod_ssl way)
#   /group/     Require mtls-group admins       (MTLSUserFrom + MTLSGroupFile)
#   /san/       Require mtls-san uri:spiffe://lab.example/ns/prod/sa/*
#               (same mapping in scope; not .../ns/prod/*: in a uri glob "*"
#               never crosses "/", SPEC 6)
#   /modheaders/ Require all granted + RequestHeader set X-TLS-Client-CN
#               "%{SSL_CLIENT_S_DN}s" and X-TLS-Verified (the mod_headers way)
#   /headers/   Require all granted + MTLSRequestHeaders standard (same
#               mapping, so all eight standard headers are set)
#   /signed/    the same + MTLSHeaderSignature
#   /crl/       Require mtls-verified with MTLSCRL: a CRL of the bench CA
#               listing 1,000 other certificates (one hash lookup)
#   /eku/       Require mtls-eku clientAuth  (same mapping in scope)
#
# The metrics counters (mtls-status) are always on: every mtls-* row counts
# its decision and identity in the shared segment.
#
# Every mtls path also checks, per request, that the certificate has not
# expired since the handshake (one time comparison).
#
# No MTLS* directive applies to /granted/, /granted2/ or /expr/, so the
# baseline carries none of the module's per-request work.
#
# bench/loadgen.c (wrk cannot send a client certificate) measures them side
# by side, interleaved in short slots in a random order, with keep-alive and
# with a new TLS connection per request: requests per second, the ratio to
# /granted/ and httpd's CPU time per request. Then, if valgrind is installed,
# callgrind counts httpd's instructions per keep-alive request of each path
# (reproducible within about 0.2%, unlike the timings) and names the
# module's costliest functions. See bench/README.md for how to read the
# output.
#
# Knobs (environment):
#   BENCH_KA_SECONDS (48)  BENCH_NEW_SECONDS (30)  measured time per mode
#   BENCH_ROUNDS (8)       rounds per mode (the +- interval comes from them)
#   BENCH_CONNS (2)        client threads = concurrent requests
#   BENCH_WARMUP (1)       seconds of warm-up per mode, not counted
#   BENCH_CALLGRIND (1)    0: skip the instruction counts
#   BENCH_CG_OPTS          more valgrind options (e.g. --cache-sim=yes)
#   BENCH_PORT             port (default: a free one)
#   BENCH_PROXY (1)        0: skip the rows through HAProxy (below)
#   BENCH_PROXY_SECONDS (24)  measured time per HAProxy run
#   BENCH_PROXY_CERTS (1000)  distinct forwarded certificates of the second run
#   BENCH_TIMINGS (1)      0: only the instruction counts (callgrind), no timed run
#
# Through HAProxy (when installed): HAProxy terminates TLS and forwards the
# client certificate as RFC 9440 Client-Cert over kept-alive connections
# (http-reuse always) to a plain-HTTP vhost of the same httpd:
#   /granted/  Require all granted                   (no MTLS* directive)
#   /granted2/ the same again                        (A/A control)
#   /group/    Require mtls-group admins, the certificate from Client-Cert
#              (MTLSTrustedProxy, MTLSProxyCertHeader, MTLSProxyCertCA)
# once with one client certificate (HAProxy sets the header from the TLS
# handshake) and once with BENCH_PROXY_CERTS distinct ones, which loadgen
# sends in Client-Cert itself (-H) through a second HAProxy frontend that
# passes the header on: many clients behind the proxy's connections.
#   BENCH_FILE (index.html; empty = request the directory, via mod_dir)
#   BENCH_H2_STREAMS (500)  BENCH_H2_ROUNDS (6)  HTTP/2: requests per nghttp
#                          connection (-m), rounds; BENCH_H2_ROUNDS=0 skips it
#
# HTTP/2 (nghttp from nghttp2-client, which presents the client
# certificate): per round and path, one connection carrying
# BENCH_H2_STREAMS requests (streams, up to 100 at a time), paths in a
# random order; the server's CPU time is the sum over every thread of
# every httpd process (/proc/PID/task/*/schedstat) before and after each
# connection, so it shows the module's cost even when nghttp is the
# bottleneck.
#
# Timing is never a failure: the exit status is non-zero only when something
# broke (server did not start, a sanity request failed, non-200 responses).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$REPO/bench"
RUN="$BENCH/run"
PKI="$RUN/pki"
# shellcheck source=../scripts/httpd-lib.sh
. "$REPO/scripts/httpd-lib.sh"
# shellcheck source=lib.sh
. "$BENCH/lib.sh"
CG_CERT=alice
CONF="$RUN/httpd.conf"
PIDFILE="$RUN/httpd.pid"
ERRLOG="$RUN/error.log"
LOADGEN="$RUN/loadgen"
HTTPD="${APACHE2:-/usr/sbin/apache2}"
MODDIR="${APACHE_MODULES:-/usr/lib/apache2/modules}"
MODULE="$REPO/.libs/mod_mtls_authz.so"

KA_SECONDS="${BENCH_KA_SECONDS:-48}"
NEW_SECONDS="${BENCH_NEW_SECONDS:-30}"
ROUNDS="${BENCH_ROUNDS:-8}"
CALLGRIND="${BENCH_CALLGRIND:-1}"
CONNS="${BENCH_CONNS:-2}"
WARMUP="${BENCH_WARMUP:-1}"
FILE="${BENCH_FILE-index.html}"
PORT="${BENCH_PORT:-}"
H2_STREAMS="${BENCH_H2_STREAMS:-500}"
H2_ROUNDS="${BENCH_H2_ROUNDS:-6}"
H2_PATHS=(/granted/ /granted2/ /expr/ /group/ /san/ /eku/)

PATHS=(/granted/ /granted2/ /mapped/ /expr/ /group/ /san/ /eku/ /modheaders/ /headers/ /signed/ /crl/)
PROXY="${BENCH_PROXY:-1}"
TIMINGS="${BENCH_TIMINGS:-1}"
PROXY_SECONDS="${BENCH_PROXY_SECONDS:-24}"
PROXY_CERTS="${BENCH_PROXY_CERTS:-1000}"
FWD_PORT='' HAP_ONE_PORT='' HAP_MANY_PORT=''
HAPROXY_PIDFILE="$RUN/haproxy.pid"
declare -A REQUIRE=(
    [/granted/]="all granted"
    [/granted2/]="all granted (A/A control)"
    [/mapped/]="all granted + MTLSUserFrom, MTLSGroupFile"
    [/expr/]="expr %{SSL_CLIENT_S_DN_CN} == 'alice'"
    [/group/]="mtls-group admins"
    [/san/]="mtls-san uri:spiffe://lab.example/ns/prod/sa/*"
    [/modheaders/]="all granted + RequestHeader set (mod_headers)"
    [/headers/]="all granted + MTLSRequestHeaders standard"
    [/signed/]="all granted + MTLSRequestHeaders + Signature"
    [/crl/]="mtls-verified + MTLSCRL (1,000 revoked)"
    [/eku/]="mtls-eku clientAuth"
)
MODES=(ka new)
declare -A MODE_NAME=([ka]="keep-alive" [new]="new TLS conn")
declare -A MODE_SECONDS=([ka]="$KA_SECONDS" [new]="$NEW_SECONDS")
# Slot length: long enough that requests straddling a slot boundary (whose
# server CPU lands in the neighbour's slot) are few.
declare -A MODE_SLOT_MS=([ka]=100 [new]=250)

say() { printf '%s\n' "$*"; }
die() {
    printf 'bench: FAILED: %s\n' "$*" >&2
    if [ -s "$ERRLOG" ]; then
        printf 'bench: last lines of %s:\n' "${ERRLOG#"$REPO"/}" >&2
        tail -n 15 "$ERRLOG" | sed 's/^/    /' >&2
    fi
    exit 1
}

for v in KA_SECONDS NEW_SECONDS WARMUP; do
    [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_$v must be a number of seconds"
done
for v in ROUNDS CONNS H2_STREAMS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
[[ $H2_ROUNDS =~ ^[0-9]+$ ]] || die "BENCH_H2_ROUNDS must be a number"
if [ "$H2_ROUNDS" -gt 0 ] && ! command -v nghttp >/dev/null; then
    printf 'bench: nghttp not found (make -f Makefile.apxs deps): no HTTP/2 row\n' >&2
    H2_ROUNDS=0
fi
[ "$ROUNDS" -ge 2 ] && [ "$ROUNDS" -le 64 ] || die "BENCH_ROUNDS must be 2 to 64"
[ "$CONNS" -le 32 ] || die "BENCH_CONNS must be at most 32"

# ---------------------------------------------------------------- checks

for tool in openssl curl cc; do
    command -v "$tool" >/dev/null || die "$tool not found (make -f Makefile.apxs deps)"
done
[ -x "$HTTPD" ] || die "$HTTPD not found (make -f Makefile.apxs deps)"
if [ ! -f "$MODULE" ]; then
    say "bench: $MODULE missing, building it"
    make -C "$REPO" -f Makefile.apxs >/dev/null || die "module build failed"
fi

# ---------------------------------------------------------------- server control

stop_haproxy() {
    local pid
    [ -s "$HAPROXY_PIDFILE" ] || return 0
    pid=$(cat "$HAPROXY_PIDFILE" 2>/dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null || true
    rm -f "$HAPROXY_PIDFILE"
}
trap 'stop_haproxy; stop_server' EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUN"
# A server left over from an interrupted run would hold the shm and the port.
stop_server
# Start clean: nothing from an earlier run can be mistaken for this one's.
rm -rf "${RUN:?}"
mkdir -p "$RUN"

# ---------------------------------------------------------------- PKI

make_pki() {
    rm -rf "$PKI"
    mkdir -p "$PKI"
    chmod 700 "$PKI"
    mtls_minipki "$PKI" "/O=Lab/CN=mtls bench CA" 30 \
        "server|/O=Lab/CN=localhost|" \
        "alice|/O=Lab/OU=admins/CN=alice|email:alice@lab.example, URI:spiffe://lab.example/ns/prod/sa/api" ||
        die "cannot create the benchmark certificates"
    chmod 600 "$PKI"/*.key   # httpd reads its key as root, before User
    make_crl
}

# A CRL of the bench CA revoking 1,000 serials, alice's not among them.
make_crl() {
    local d="$PKI/crldb" i
    mkdir -p "$d"
    for i in $(seq 1 1000); do
        printf 'R\t491231000000Z\t240101000000Z\t7E%08X\tunknown\t/CN=gone-%d\n' "$i" "$i"
    done >"$d/index.txt"
    echo 1000 >"$d/crlnumber"
    printf '%s\n' '[ ca ]' 'default_ca = bench' '[ bench ]' \
        "database = $d/index.txt" "crlnumber = $d/crlnumber" \
        "certificate = $PKI/ca.crt" "private_key = $PKI/ca.key" \
        'default_md = sha256' 'default_crl_days = 30' >"$d/ca.cnf"
    openssl ca -batch -config "$d/ca.cnf" -gencrl -out "$PKI/crl.pem" \
        2>"$d/err" || die "cannot make the benchmark CRL: $(cat "$d/err")"
}

# ---------------------------------------------------------------- pages

# As root, httpd serves files as www-data, which must be able to reach them.
pick_htdocs() {
    HTDOCS="$RUN/htdocs"
    mtls_run_user "$RUN" || HTDOCS="${TMPDIR:-/tmp}/mod_mtls_authz-bench-htdocs"
    rm -rf "$HTDOCS"
    mkdir -p "$HTDOCS"
    local p
    for p in "${PATHS[@]}" /nogroup/; do
        mkdir -p "$HTDOCS$p"
        printf 'ok\n' >"$HTDOCS${p}index.html"
    done
    chmod -R a+rX "$HTDOCS"
    # MTLSCRL's files, where the server processes' watcher can stat them
    CRLDIR="${HTDOCS}-crl"
    rm -rf "$CRLDIR"
    mkdir -p "$CRLDIR"
    cp "$PKI/crl.pem" "$PKI/ca.crt" "$CRLDIR/"
    chmod -R a+rX "$CRLDIR"
}

# ---------------------------------------------------------------- config

write_conf() {
    local lm
    lm=$(mtls_loadmodules "$HTTPD" "$MODDIR" mpm_event authz_core authn_core \
             ssl socache_shmcb mime dir http2 headers) || die "a module httpd needs is missing"
    local user=''
    [ -z "$RUN_USER" ] || user="User $RUN_USER"$'\n'"Group $RUN_GROUP"
    local types=/etc/mime.types
    [ -r "$types" ] || types=/dev/null

    printf 'admins: alice\n' >"$RUN/groups"
    (umask 077; printf 'bench-signing-key-0123456789abcdef\n' >"$RUN/header.key")

    cat >"$CONF" <<EOF
# Written by bench/run.sh; rewritten on every run.
ServerRoot "$RUN"
DefaultRuntimeDir "$RUN"
PidFile "$PIDFILE"
ErrorLog "$ERRLOG"
LogLevel warn
# No CustomLog (mod_log_config is built in): no access log on any path.
ServerName localhost
Listen 127.0.0.1:$PORT
$user

$lm
LoadModule mtls_authz_module $MODULE

# One child process (its threads share all state), enough threads.
StartServers            1
ServerLimit             1
ThreadsPerChild         16
MaxRequestWorkers       16
MinSpareThreads         1
MaxSpareThreads         16
MaxConnectionsPerChild  0
GracefulShutdownTimeout 3
KeepAlive               On
MaxKeepAliveRequests    0
KeepAliveTimeout        30
# HTTP/2 for nghttp; loadgen offers no ALPN and speaks HTTP/1.1.
Protocols               h2 http/1.1

TypesConfig "$types"
DirectoryIndex index.html

SSLEngine on
SSLCertificateFile    "$PKI/server.crt"
SSLCertificateKeyFile "$PKI/server.key"
SSLCACertificateFile  "$PKI/ca.crt"
SSLSessionCache       "shmcb:$RUN/ssl_scache(512000)"
SSLVerifyClient require
SSLVerifyDepth  2

DocumentRoot "$HTDOCS"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$HTDOCS">
    AllowOverride None
    Require all granted
</Directory>

# No MTLS* directive in scope: the baseline and mod_ssl's own way.
<Location "/granted/">
    Require all granted
</Location>
<Location "/granted2/">
    Require all granted
</Location>
<Location "/expr/">
    Require expr "%{SSL_CLIENT_S_DN_CN} == 'alice'"
</Location>

# The module in use: certificate -> user (alice) -> groups (admins).
<Location "/mapped/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    Require all granted
</Location>
<Location "/group/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    Require mtls-group admins
</Location>
<Location "/san/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    Require mtls-san uri:spiffe://lab.example/ns/prod/sa/*
</Location>
# Identity headers for a backend (the static file stands in for it: the
# cost measured is setting them). The usual mod_headers way, with no
# module directive in scope, against the module's standard set (same
# mapping as above, so X-Remote-User and X-Remote-Groups are set too),
# and the same signed.
<Location "/modheaders/">
    RequestHeader set X-TLS-Client-CN "%{SSL_CLIENT_S_DN}s"
    RequestHeader set X-TLS-Verified "%{SSL_CLIENT_VERIFY}s"
    Require all granted
</Location>
<Location "/headers/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    MTLSRequestHeaders standard
    Require all granted
</Location>
<Location "/signed/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    MTLSRequestHeaders standard
    MTLSHeaderSignature X-MTLS-Signature "$RUN/header.key"
    Require all granted
</Location>
<Location "/eku/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    Require mtls-eku clientAuth
</Location>
<Location "/crl/">
    MTLSCRL "$CRLDIR/crl.pem" "$CRLDIR/ca.crt"
    Require mtls-verified
</Location>
${FWD_PORT:+$(fwd_vhost)}
# Not measured: proves the module decides (a group alice is not in -> 403).
<Location "/nogroup/">
    MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
    MTLSGroupFile "$RUN/groups"
    Require mtls-group nobody
</Location>
EOF
}

# The plain-HTTP vhost HAProxy forwards to (see the header).
fwd_vhost() {
    local loc
    cat <<EOT
Listen 127.0.0.1:$FWD_PORT
<VirtualHost 127.0.0.1:$FWD_PORT>
    SSLEngine off
    <Location "/granted/">
        Require all granted
    </Location>
    <Location "/granted2/">
        Require all granted
    </Location>
EOT
    for loc in "/group/|admins" "/nogroup/|nobody"; do
        cat <<EOT
    <Location "${loc%|*}">
        MTLSTrustedProxy 127.0.0.1
        MTLSProxyCertHeader Client-Cert rfc9440
        MTLSProxyCertCA "$PKI/ca.crt"
        MTLSUserFrom san:email ^(.+)@lab\.example\$ \$1
        MTLSGroupFile "$RUN/groups"
        Require mtls-group ${loc#*|}
    </Location>
EOT
    done
    echo "</VirtualHost>"
}

# ---------------------------------------------------------------- start

CURL=()
set_curl() {
    CURL=(curl -sS --max-time 10 --resolve "localhost:$PORT:127.0.0.1"
          --cacert "$PKI/ca.crt")
}

wait_ready() {
    local i
    for i in $(seq 1 50); do
        if server_pid >/dev/null &&
           "${CURL[@]}" -o /dev/null --cert "$PKI/alice.crt" --key "$PKI/alice.key" \
               "https://localhost:$PORT/granted/" 2>/dev/null; then
            return 0
        fi
        server_pid >/dev/null || [ "$i" -lt 5 ] || return 1
        sleep 0.2
    done
    return 1
}

start_server() {
    local attempt
    for attempt in 1 2 3 4 5; do
        if [ -z "${BENCH_PORT:-}" ]; then
            PORT=$(pick_port) || die "no free port found"
        fi
        if [ "$PROXY" = 1 ]; then
            FWD_PORT=$(pick_port) || die "no free port found"
            [ "$FWD_PORT" != "$PORT" ] || FWD_PORT=$((PORT + 1))
        fi
        [[ $PORT =~ ^[0-9]+$ ]] || die "BENCH_PORT must be a port number, not '$PORT'"
        set_curl
        write_conf
        : >"$ERRLOG"
        if ! "$HTTPD" -f "$CONF" -t >"$RUN/configtest.out" 2>&1; then
            cat "$RUN/configtest.out" >&2
            die "httpd refused the configuration (above)"
        fi
        if "$HTTPD" -f "$CONF" -k start && wait_ready; then
            return 0
        fi
        stop_server
        if [ -z "${BENCH_PORT:-}" ] && grep -q 'Address already in use' "$ERRLOG" 2>/dev/null; then
            say "bench: port $PORT was taken meanwhile, trying another"
            continue
        fi
        die "httpd did not start on 127.0.0.1:$PORT"
    done
    die "httpd did not start (ports kept being taken)"
}

# ---------------------------------------------------------------- sanity

url_path() { printf '%s%s' "$1" "$FILE"; }

sanity() {
    local p code
    for p in "${PATHS[@]}"; do
        code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
                --cert "$PKI/alice.crt" --key "$PKI/alice.key" \
                "https://localhost:$PORT$(url_path "$p")" 2>&1) || true
        [ "$code" = 200 ] ||
            die "sanity: GET $(url_path "$p") with alice's certificate gave '$code', expected 200"
    done
    # The module really decides: a group alice is not in is refused.
    code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
            --cert "$PKI/alice.crt" --key "$PKI/alice.key" \
            "https://localhost:$PORT/nogroup/index.html" 2>&1) || true
    [ "$code" = 403 ] ||
        die "sanity: GET /nogroup/ (Require mtls-group nobody) gave '$code', expected 403"
    # mod_ssl really requires a certificate: no certificate, no response.
    if code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' \
                "https://localhost:$PORT/granted/" 2>/dev/null) && [ "$code" != 000 ]; then
        die "sanity: GET /granted/ without a client certificate gave $code (SSLVerifyClient require?)"
    fi
    say "bench: sanity ok: 200 on ${PATHS[*]} with the client certificate," \
        "403 on /nogroup/, handshake refused without one"
}

# ---------------------------------------------------------------- measure

# measure MODE: one loadgen run over all paths, raw figures in $RUN/MODE.txt
measure() {
    local mode=$1 out="$RUN/$1.txt" rc=0 list='' p kids0 kids1 xs=()
    for p in "${PATHS[@]}"; do list+="${list:+,}$(url_path "$p")"; done
    kids0=$(server_children) || die "httpd is not running"
    for p in $kids0; do xs+=(-x "$p"); done
    say "bench: ${MODE_NAME[$mode]}: ${MODE_SECONDS[$mode]}s in $ROUNDS rounds" \
        "of ${MODE_SLOT_MS[$mode]} ms slots (+${WARMUP}s warm-up), $CONNS connections"
    "$LOADGEN" -p "$PORT" -s localhost -P "$list" \
        -c "$PKI/alice.crt" -k "$PKI/alice.key" -C "$PKI/ca.crt" \
        -m "$mode" -t "$CONNS" -d "${MODE_SECONDS[$mode]}" -w "$WARMUP" \
        -r "$ROUNDS" -T "${MODE_SLOT_MS[$mode]}" -z 42 "${xs[@]}" \
        >"$out" 2>"$RUN/$mode.err" || rc=$?
    if [ $rc -ne 0 ]; then
        cat "$RUN/$mode.err" >&2
        die "loadgen failed (${MODE_NAME[$mode]})"
    fi
    server_pid >/dev/null || die "httpd died during the ${MODE_NAME[$mode]} run"
    kids1=$(server_children) || true
    if [ "$kids0" != "$kids1" ]; then
        say "bench: note: httpd's child processes changed during the run;" \
            "the server CPU column for ${MODE_NAME[$mode]} is incomplete" >&2
    fi
    grep -q '^total ' "$out" || die "loadgen printed no totals (see $out)"

    local ok non200 errors first_status
    read -r ok non200 errors < <(awk '/^round=/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            ok += v["ok"]; n += v["non200"]; e += v["errors"] }
        END { print ok + 0, n + 0, e + 0 }' "$out")
    first_status=$(sed -n 's/^total .*first_status=\([0-9]*\).*/\1/p' "$out")
    [ "$non200" = 0 ] ||
        die "$non200 non-200 responses (first: $first_status) in the ${MODE_NAME[$mode]} run"
    [ "$ok" -gt 0 ] || die "no successful request in the ${MODE_NAME[$mode]} run"
    if [ "$errors" != 0 ]; then
        # A reset now and then is survivable; many mean something is wrong.
        say "bench: note: $errors failed connections/requests in the ${MODE_NAME[$mode]} run:" \
            "$(cat "$RUN/$mode.err")" >&2
        [ $((errors * 100)) -le "$ok" ] ||
            die "too many failures ($errors for $ok responses) in the ${MODE_NAME[$mode]} run"
    fi
    awk -v m="${MODE_NAME[$mode]}" '/^round=/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            ok += v["ok"] }
        /^total / { for (i = 2; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] } }
        END { printf "bench: %s: %d responses, all 200, in %.1fs\n", m, ok, t["seconds"] }' "$out"
}

# ---------------------------------------------------------------- HTTP/2

# Nanoseconds of CPU every thread of every httpd process has used so far.
server_cpu_ns() {
    local pid kids t sum=0 v
    pid=$(server_pid) || return 1
    kids=$(server_children || true)
    for t in /proc/"$pid"/task/*/schedstat; do
        read -r v _ <"$t" 2>/dev/null && sum=$((sum + v))
    done
    for pid in $kids; do
        for t in /proc/"$pid"/task/*/schedstat; do
            read -r v _ <"$t" 2>/dev/null && sum=$((sum + v))
        done
    done
    printf '%s\n' "$sum"
}

# measure_h2: H2_ROUNDS rounds; per round every path of H2_PATHS in a
# random order, one nghttp connection of H2_STREAMS requests each.
# Lines "round=R path=P ok=N ns=WALL srv_ns=CPU" in $RUN/h2.txt.
measure_h2() {
    local out="$RUN/h2.txt" r p c0 c1 t0 t1 ok codes
    : >"$out"
    [ "$H2_ROUNDS" -gt 0 ] || return 0
    say "bench: HTTP/2: $H2_ROUNDS rounds, one connection of $H2_STREAMS streams per path" \
        "(${H2_PATHS[*]})"
    # warm-up: one short connection per path
    for p in "${H2_PATHS[@]}"; do
        nghttp -n -m 50 --cert="$PKI/alice.crt" --key="$PKI/alice.key" \
            "https://localhost:$PORT$(url_path "$p")" >/dev/null 2>&1 ||
            die "HTTP/2: nghttp failed on $p (mod_http2, ALPN?)"
    done
    for ((r = 1; r <= H2_ROUNDS; r++)); do
        for p in $(printf '%s\n' "${H2_PATHS[@]}" | shuf --random-source=<(yes "$r")); do
            c0=$(server_cpu_ns) || die "httpd is not running"
            t0=$(date +%s%N)
            codes=$(nghttp -n -s -m "$H2_STREAMS" --cert="$PKI/alice.crt" --key="$PKI/alice.key" \
                        "https://localhost:$PORT$(url_path "$p")" 2>&1) ||
                die "HTTP/2: nghttp failed on $p: $(tail -n 2 <<<"$codes")"
            t1=$(date +%s%N)
            c1=$(server_cpu_ns) || die "httpd died during the HTTP/2 run"
            # -s prints one line per stream: "ID +END +START TIME STATUS SIZE PATH"
            ok=$(awk '$2 ~ /^\+/ && $5 == 200' <<<"$codes" | wc -l)
            [ "$ok" = "$H2_STREAMS" ] ||
                die "HTTP/2: $ok of $H2_STREAMS responses on $p were 200"
            printf 'round=%d path=%s ok=%d ns=%d srv_ns=%d\n' "$r" "$p" "$ok" \
                $((t1 - t0)) $((c1 - c0)) >>"$out"
        done
    done
    say "bench: HTTP/2: $(awk '{ split($3, kv, "="); n += kv[2] } END { print n }' "$out")" \
        "responses, all 200"
}

# ---------------------------------------------------------------- through HAProxy

# The distinct certificates of the second run: alice's key and names,
# signed again with BENCH_PROXY_CERTS serial numbers, as Client-Cert lines.
make_proxy_certs() {
    local i out="$RUN/proxy-certs.txt" cnf="$PKI/openssl.cnf"
    openssl req -config "$cnf" -new -key "$PKI/alice.key" -subj "/O=Lab/OU=admins/CN=alice" \
        -out "$RUN/alice.csr" 2>"$RUN/openssl.err" || die "openssl: $(cat "$RUN/openssl.err")"
    for ((i = 1; i <= PROXY_CERTS; i++)); do
        printf 'Client-Cert: :%s:\n' "$(openssl x509 -req -in "$RUN/alice.csr" -sha256 -days 30 \
            -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "$((100000 + i))" \
            -extfile "$cnf" -extensions alice -outform DER 2>"$RUN/openssl.err" | base64 -w0)"
    done >"$out"
    [ "$(grep -c '^Client-Cert: :MI' "$out")" = "$PROXY_CERTS" ] ||
        die "could not make $PROXY_CERTS certificates: $(cat "$RUN/openssl.err")"
}

start_haproxy() {
    HAP_ONE_PORT=$(pick_port) || die "no free port found"
    HAP_MANY_PORT=$(pick_port) || die "no free port found"
    cat "$PKI/server.crt" "$PKI/server.key" >"$RUN/haproxy.pem"
    chmod 600 "$RUN/haproxy.pem"
    cat >"$RUN/haproxy.cfg" <<EOT
global
    pidfile $HAPROXY_PIDFILE
    nbthread 1
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    http-reuse always
frontend one
    bind 127.0.0.1:$HAP_ONE_PORT ssl crt $RUN/haproxy.pem ca-file $PKI/ca.crt verify required
    http-request set-header Client-Cert :%[ssl_c_der,base64]:
    default_backend apache
# bench only: the client plays many clients and writes Client-Cert itself
frontend many
    bind 127.0.0.1:$HAP_MANY_PORT ssl crt $RUN/haproxy.pem ca-file $PKI/ca.crt verify required
    default_backend apache
backend apache
    server httpd 127.0.0.1:$FWD_PORT
EOT
    haproxy -c -q -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1 ||
        die "haproxy refused its configuration: $(cat "$RUN/haproxy.log")"
    haproxy -D -f "$RUN/haproxy.cfg" >>"$RUN/haproxy.log" 2>&1 ||
        die "haproxy did not start: $(cat "$RUN/haproxy.log")"
    local i
    for i in $(seq 1 50); do
        port_in_use "$HAP_ONE_PORT" && port_in_use "$HAP_MANY_PORT" && return 0
        sleep 0.1
    done
    die "haproxy did not start listening"
}

# curl through HAProxy: hap_code PORT PATH [curl args...]
hap_code() {
    local port=$1 path=$2
    shift 2
    curl -sS --max-time 10 --cacert "$PKI/ca.crt" --resolve "localhost:$port:127.0.0.1" \
        --cert "$PKI/alice.crt" --key "$PKI/alice.key" -o /dev/null -w '%{http_code}' \
        "$@" "https://localhost:$port$path" 2>&1 || true
}

proxy_sanity() {
    local code p
    for p in /granted/ /group/; do
        code=$(hap_code "$HAP_ONE_PORT" "$(url_path "$p")")
        [ "$code" = 200 ] || die "sanity: GET $p through HAProxy gave '$code', expected 200"
    done
    code=$(hap_code "$HAP_ONE_PORT" /nogroup/index.html)
    [ "$code" = 403 ] || die "sanity: GET /nogroup/ through HAProxy gave '$code', expected 403"
    code=$(hap_code "$HAP_MANY_PORT" "$(url_path /group/)" -H "$(head -n 1 "$RUN/proxy-certs.txt")")
    [ "$code" = 200 ] || die "sanity: GET /group/ with a forwarded certificate of the list gave '$code', expected 200"
    code=$(hap_code "$HAP_MANY_PORT" /group/none/)
    [ "$code" = 403 ] || die "sanity: GET /group/none/ with no forwarded certificate gave '$code', expected 403"
    say "bench: proxy sanity ok: 200 on /granted/ and /group/ through HAProxy, 403 on /nogroup/ and without Client-Cert"
}

# measure_proxy NAME PORT [HEADER-FILE]: /granted/ vs /group/, keep-alive
measure_proxy() {
    local name=$1 port=$2 hfile=${3:-} out="$RUN/proxy-$1.txt" kids p xs=() rc=0
    kids=$(server_children) || die "httpd is not running"
    for p in $kids; do xs+=(-x "$p"); done
    say "bench: through HAProxy, $name: ${PROXY_SECONDS}s in $ROUNDS rounds of 100 ms slots, $CONNS connections"
    "$LOADGEN" -p "$port" -s localhost \
        -P "$(url_path /granted/),$(url_path /granted2/),$(url_path /group/)" \
        -c "$PKI/alice.crt" -k "$PKI/alice.key" -C "$PKI/ca.crt" \
        -m ka -t "$CONNS" -d "$PROXY_SECONDS" -w "$WARMUP" -r "$ROUNDS" -T 100 -z 43 \
        ${hfile:+-H "$hfile"} "${xs[@]}" >"$out" 2>"$RUN/proxy-$name.err" || rc=$?
    [ $rc = 0 ] || { cat "$RUN/proxy-$name.err" >&2; die "loadgen failed (through HAProxy, $name)"; }
    awk '/^round=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                     n += v["non200"] } END { exit n > 0 }' "$out" ||
        die "non-200 responses through HAProxy ($name): see $out"
}

proxy_bench() {
    [ "$PROXY" = 1 ] || { say "bench: through HAProxy: skipped (BENCH_PROXY=0)"; return 0; }
    command -v haproxy >/dev/null || { say "bench: through HAProxy: skipped (haproxy not installed)"; return 0; }
    say "bench: making $PROXY_CERTS client certificates for the forwarded-certificate run"
    make_proxy_certs
    start_haproxy
    proxy_sanity
    measure_proxy one "$HAP_ONE_PORT"
    # The goal is the cost once each certificate has been seen: show every
    # one of them to the server first (not measured).
    say "bench: through HAProxy: each of the $PROXY_CERTS certificates once, not measured"
    "$LOADGEN" -p "$HAP_MANY_PORT" -s localhost -P "$(url_path /group/)" \
        -c "$PKI/alice.crt" -k "$PKI/alice.key" -C "$PKI/ca.crt" -m ka -t 1 \
        -d "$(( PROXY_CERTS / 100 + 2 ))" -w 0 -r 2 -T 100 -z 44 -H "$RUN/proxy-certs.txt" \
        >"$RUN/proxy-warm.txt" 2>"$RUN/proxy-warm.err" ||
        { cat "$RUN/proxy-warm.err" >&2; die "loadgen failed (warming the forwarded certificates)"; }
    measure_proxy many "$HAP_MANY_PORT" "$RUN/proxy-certs.txt"
    stop_haproxy
}

# The rows through HAProxy: req/s, httpd CPU per request and its ratio to
# /granted/'s (with the 95% interval from the per-round ratios).
proxy_report() {
    [ -s "$RUN/proxy-one.txt" ] || return 0
    say ""
    say "through HAProxy (TLS ends at HAProxy; RFC 9440 Client-Cert over keep-alive, http-reuse always):"
    say "  srv us: httpd CPU per request; cpu ratio: /granted/'s srv us / this path's (< 1 = costlier),"
    say "  +-95% from the spread of the $ROUNDS per-round cpu ratios"
    printf '%-34s %-10s %7s %6s %7s %9s %6s\n' "forwarded certificates" path req/s ratio "srv us" "cpu ratio" "+-95%"
    local name label
    for name in one many; do
        label="1 (HAProxy sets the header)"
        [ "$name" = one ] || label="$PROXY_CERTS distinct, in turn"
        [ -s "$RUN/proxy-$name.txt" ] || continue
        awk -v label="$label" -v file="$FILE" '
            /^round=/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                p = v["path"]; sub(file "$", "", p); r = v["round"] + 0; if (r > R) R = r
                ok[p] += v["ok"]; busy[p] += v["busy_ns"]; srv[p] += v["srv_ns"]
                rok[r, p] = v["ok"]; rsrv[r, p] = v["srv_ns"] }
            /^total / { for (i = 2; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] } }
            END {
                split("/granted/ /granted2/ /group/", P, " ")
                for (k = 1; k <= 3; k++) {
                    p = P[k]; x = busy[p] > 0 ? t["threads"] * 1e9 * ok[p] / busy[p] : 0
                    us = ok[p] ? srv[p] / ok[p] / 1000 : 0
                    if (k == 1) { bx = x; bus = us }
                    s = 0; ss = 0; n = 0
                    for (r = 1; r <= R; r++) {
                        if (!rok[r, p] || !rok[r, P[1]] || !rsrv[r, p]) continue
                        y = (rsrv[r, P[1]] / rok[r, P[1]]) / (rsrv[r, p] / rok[r, p])
                        s += y; ss += y * y; n++ }
                    ci = n > 1 ? 1.96 * sqrt((ss - s * s / n) / (n - 1) / n) : 0
                    printf "%-34s %-10s %7.0f %6.3f %7.1f %9.3f %6s\n", (k == 1 ? label : ""), p, x,
                        (bx > 0 ? x / bx : 0), us, (us > 0 ? bus / us : 0), (k == 1 ? "" : sprintf("%.3f", ci))
                }
            }' "$RUN/proxy-$name.txt"
    done
    say "goal: /group/ within 2% of /granted/ in httpd CPU per request (cpu ratio >= 0.98);"
    say "  /granted2/ is Require all granted again: how far apart two equal paths measure"
    local cgi="$RUN/callgrind/instr.txt"
    if [ -s "$cgi" ] && grep -q '^fwd1:' "$cgi"; then
        say "instructions per request (callgrind, httpd -X; curl plays the proxy: plain HTTP, Client-Cert"
        say "  on every request, keep-alive; i-ratio: /granted/'s instr/req / /group/'s):"
        awk -v k="$CG_FWD_CERTS" '{ v[$1] = $2 }
            END { for (m = 1; m <= 2; m++) {
                      t = m == 1 ? "fwd1" : "fwdN"; g = v[t ":/granted/"]; x = v[t ":/group/"]
                      if (!g || !x) continue
                      printf "  %-32s /granted/ %7d  /group/ %7d  i-ratio %.3f\n",
                          (m == 1 ? "1 certificate" : k " distinct, in turn"), g, x, g / x } }' "$cgi"
    fi
}

# ---------------------------------------------------------------- callgrind

# ---------------------------------------------------------------- report

# report: the table, from $RUN/ka.txt, $RUN/new.txt and $RUN/callgrind/
report() {
    local mode p
    local order=''
    for p in "${PATHS[@]}"; do order+="${order:+ }$p"; done
    : >"$RUN/ratios.txt"
    say ""
    say "mod_mtls_authz benchmark: GET /PATH/$FILE (3 bytes), $CONNS connections, httpd event MPM," \
        "mod_ssl SSLVerifyClient require, TLS 1.3, ECDSA P-256"
    say "  req/s: over all rounds; ratio: req/s / granted's req/s (same mode); +-95%: interval"
    say "  from the spread of the $ROUNDS per-round ratios; srv us: httpd CPU time per request;"
    say "  instr/req: httpd user-space instructions per keep-alive request (callgrind, reproducible"
    say "  to 0.2%); i-ratio: granted's instr/req / this path's. All ratios: < 1 = slower or"
    say "  costlier than granted."
    say ""
    printf '%-12s %-46s %-12s %7s %6s %6s %7s %9s %7s\n' path Require mode req/s ratio "+-95%" \
        "srv us" "instr/req" "i-ratio"
    printf '%-12s %-46s %-12s %7s %6s %6s %7s %9s %7s\n' ------------ \
        ---------------------------------------------- ------------ ------- ------ ------ \
        ------- --------- -------
    for mode in "${MODES[@]}"; do
        REQS=$(for p in "${PATHS[@]}"; do printf '%s\t%s\n' "$p" "${REQUIRE[$p]}"; done) \
        awk -v mode="${MODE_NAME[$mode]}" -v key="$mode" -v order="$order" -v file="$FILE" \
            -v instr="$( [ "$mode" = ka ] && cat "$RUN/callgrind/instr.txt" 2>/dev/null | tr '\n' ';')" '
            BEGIN { np = split(order, P, " ")
                    nr = split(ENVIRON["REQS"], R, "\n")
                    for (i = 1; i <= nr; i++) { split(R[i], kv, "\t"); req[kv[1]] = kv[2] }
                    ni = split(instr, I, ";")
                    for (i = 1; i <= ni; i++) if (split(I[i], kv, " ") == 2) ins[kv[1]] = kv[2] }
            /^round=/ {
                for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                p = v["path"]; sub(file "$", "", p)
                r = v["round"] + 0; if (r > rounds) rounds = r
                rok[r, p] = v["ok"]; rbusy[r, p] = v["busy_ns"]
                ok[p] += v["ok"]; busy[p] += v["busy_ns"]; srv[p] += v["srv_ns"] }
            /^total / { for (i = 2; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] } }
            function rate(o, b) { return b > 0 ? t["threads"] * 1e9 * o / b : 0 }
            END {
                base = P[1]
                brate = rate(ok[base], busy[base])
                gus = ok[base] ? srv[base] / ok[base] / 1000 : 0
                for (k = 1; k <= np; k++) {
                    p = P[k]
                    x = rate(ok[p], busy[p])
                    ratio = brate > 0 ? x / brate : 0
                    # spread of the per-round ratios -> 95% interval of their mean
                    s = 0; ss = 0; n = 0
                    for (r = 1; r <= rounds; r++) {
                        b = rate(rok[r, base], rbusy[r, base])
                        if (b <= 0) continue
                        y = rate(rok[r, p], rbusy[r, p]) / b
                        s += y; ss += y * y; n++ }
                    ci = n > 1 ? 1.96 * sqrt((ss - s * s / n) / (n - 1) / n) : 0
                    us = ok[p] ? srv[p] / ok[p] / 1000 : 0
                    if (p in ins && (base in ins) && ins[p] > 0) {
                        istr = sprintf("%9d %7.3f", ins[p], ins[base] / ins[p]); ir = ins[base] / ins[p] }
                    else { istr = sprintf("%9s %7s", "-", "-"); ir = "" }
                    printf "%-12s %-46s %-12s %7.0f %6.3f %6s %7.1f %s\n", p, req[p], mode, x, ratio,
                        (p == base ? "" : sprintf("%.3f", ci)), us, istr
                    printf "%s %s %.6f %.6f %s\n", key, p, ratio, ci, ir > "/dev/stderr"
                }
                # share of the machine neither httpd nor loadgen used
                o = t["machine_busy_ns"] - t["srv_cpu_ns"] - t["self_cpu_ns"]
                if (o < 0) o = 0
                printf "%s %s %.0f\n", key, "OTHER", (t["machine_ns"] > 0 ? 100 * o / t["machine_ns"] : 0) > "/dev/stderr"
            }' "$RUN/$mode.txt" 2>>"$RUN/ratios.txt"
    done
    say ""
    local line="goal: every mtls-* path >= 0.98 of granted with keep-alive:" all=met ratio ci ir
    for p in "${PATHS[@]}"; do
        case "${REQUIRE[$p]}" in mtls-*) ;; *) continue ;; esac
        read -r ratio ci ir < <(awk -v p="$p" '$1 == "ka" && $2 == p { printf "%.3f %.3f %s\n", $3, $4, $5 }' \
            "$RUN/ratios.txt")
        if awk -v x="$ratio" 'BEGIN {exit !(x >= 0.98)}'; then
            line+=" $p $ratio+-$ci (met"
        else
            line+=" $p $ratio+-$ci (NOT met"
            all='not met'
        fi
        if [ -n "$ir" ]; then
            line+="; instructions $(printf '%.3f' "$ir")"
        fi
        line+=");"
    done
    say "${line%;} => $all"
    if [ -s "$RUN/h2.txt" ]; then
        say ""
        say "HTTP/2, $H2_STREAMS streams per connection (nghttp -m), $H2_ROUNDS rounds:"
        say "  req/s, ratio as above; srv us: httpd CPU per request (every thread, schedstat);"
        say "  cpu ratio: granted's srv us / this path's (< 1 = the path costs the server more)"
        printf '%-10s %-46s %7s %6s %7s %9s\n' path Require req/s ratio "srv us" "cpu ratio"
        printf '%-10s %-46s %7s %6s %7s %9s\n' ---------- \
            ---------------------------------------------- ------- ------ ------- ---------
        REQS=$(for p in "${H2_PATHS[@]}"; do printf '%s\t%s\n' "$p" "${REQUIRE[$p]}"; done) \
        awk -v order="${H2_PATHS[*]}" -v file="$FILE" '
            BEGIN { np = split(order, P, " ")
                    nr = split(ENVIRON["REQS"], R, "\n")
                    for (i = 1; i <= nr; i++) { split(R[i], kv, "\t"); req[kv[1]] = kv[2] } }
            { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
              p = v["path"]; sub(file "$", "", p)
              ok[p] += v["ok"]; ns[p] += v["ns"]; srv[p] += v["srv_ns"] }
            END { b = P[1]; brate = ok[b] * 1e9 / ns[b]; bus = srv[b] / ok[b] / 1000
                  for (k = 1; k <= np; k++) { p = P[k]
                      x = ok[p] * 1e9 / ns[p]; us = srv[p] / ok[p] / 1000
                      cr = (us > 0) ? bus / us : 0
                      printf "%-10s %-46s %7.0f %6.3f %7.1f %9.3f\n", p, req[p], x, x / brate, us, cr
                      printf "h2 %s %.6f %.6f\n", p, x / brate, cr > "/dev/stderr" } }' \
            "$RUN/h2.txt" 2>>"$RUN/ratios.txt"
        line="goal: every mtls-* path within 2% of granted in server CPU per request over HTTP/2:"
        all=met
        for p in "${H2_PATHS[@]}"; do
            case "${REQUIRE[$p]}" in mtls-*) ;; *) continue ;; esac
            ratio=$(awk -v p="$p" '$1 == "h2" && $2 == p { printf "%.3f", $4 }' "$RUN/ratios.txt")
            if awk -v x="$ratio" 'BEGIN {exit !(x >= 0.98)}'; then line+=" $p $ratio (met);"
            else line+=" $p $ratio (NOT met);"; all='not met'; fi
        done
        say "${line%;} => $all"
        say "reference, HTTP/2 server CPU: mod_ssl's Require expr" \
            "$(awk '$1 == "h2" && $2 == "/expr/" { printf "%.3f", $4 }' "$RUN/ratios.txt"), A/A control" \
            "$(awk '$1 == "h2" && $2 == "/granted2/" { printf "%.3f", $4 }' "$RUN/ratios.txt") of granted"
    fi
    local expr control mapped other_ka other_new
    expr=$(awk '$1 == "ka" && $2 == "/expr/" { printf "%.3f+-%.3f", $3, $4 }' "$RUN/ratios.txt")
    control=$(awk '$1 == "ka" && $2 == "/granted2/" { printf "%.3f+-%.3f", $3, $4 }' "$RUN/ratios.txt")
    say "reference, keep-alive: mod_ssl's Require expr $expr of granted;" \
        "A/A control (granted vs granted) $control"
    other_ka=$(awk '$1 == "ka" && $2 == "OTHER" { print $3 }' "$RUN/ratios.txt")
    other_new=$(awk '$1 == "new" && $2 == "OTHER" { print $3 }' "$RUN/ratios.txt")
    say "CPU used by other processes meanwhile: about ${other_ka:-?}% (keep-alive)," \
        "${other_new:-?}% (new TLS conn) of the machine"
    if [ -s "$RUN/callgrind/functions.txt" ]; then
        say ""
        say "the module's costliest functions per keep-alive request (callgrind, inclusive instructions;"
        say "ap_ssl_var_lookup: mod_ssl answering the module):"
        sed 's/^/  /' "$RUN/callgrind/functions.txt"
    elif [ -s "$RUN/callgrind/skipped" ]; then
        say "no instruction counts: $(cat "$RUN/callgrind/skipped")"
    fi
    [ ! -s "$RUN/callgrind/notes" ] || sed 's/^/  /' "$RUN/callgrind/notes"
}

# ---------------------------------------------------------------- main

T_START=$SECONDS
say "bench: building loadgen"
build_loadgen "$LOADGEN" ||
    die "cannot compile bench/loadgen.c (libssl-dev?)"
say "bench: creating the PKI in ${PKI#"$REPO"/}"
make_pki
pick_htdocs
start_server
say "bench: httpd $("$HTTPD" -v | sed -n 's/^Server version: //p') on https://127.0.0.1:$PORT" \
    "(pid $(server_pid)), config ${CONF#"$REPO"/}; $(nproc 2>/dev/null || echo '?') CPUs" \
    "shared by client and server"
sanity

if [ "$TIMINGS" = 0 ]; then
    say "bench: no timed runs (BENCH_TIMINGS=0): instruction counts only"
    [ "$PROXY" != 1 ] || make_proxy_certs
else
    for mode in "${MODES[@]}"; do
        measure "$mode"
    done
    measure_h2
    proxy_bench
fi

# Anything the server complained about (besides the /nogroup/ check) is
# worth seeing.
if grep -E '\[[a-z_]*:(emerg|alert|crit|error)\]' "$ERRLOG" | grep -Eqv '/nogroup/|/group/none/'; then
    say "bench: note: errors in ${ERRLOG#"$REPO"/}:" >&2
    grep -E '\[[a-z_]*:(emerg|alert|crit|error)\]' "$ERRLOG" | grep -Ev '/nogroup/|/group/none/' |
        tail -n 5 | sed 's/^/    /' >&2
fi
stop_server

callgrind_count

if [ "$TIMINGS" = 0 ]; then
    {
        say ""
        say "instructions per keep-alive request (callgrind, httpd -X):"
        if [ -s "$RUN/callgrind/instr.txt" ]; then
            awk '{ if (!b) b = $2; printf "  %-16s %9d  i-ratio %.3f\n", $1, $2, b / $2 }' "$RUN/callgrind/instr.txt"
            say "the module's costliest functions per keep-alive request:"
            sed 's/^/  /' "$RUN/callgrind/functions.txt"
        else
            say "  none: $(cat "$RUN/callgrind/skipped" 2>/dev/null)"
        fi
    } | tee "$RUN/results.txt"
else
    { report; proxy_report; } | tee "$RUN/results.txt"
fi

# The directory rows (slapd, memcached, redis; BENCH_DIRECTORY=0 skips).
if [ "${BENCH_DIRECTORY:-1}" != 0 ]; then
    "$BENCH/directory.sh" | tee "$RUN/directory.txt" ||
        say "bench: the directory rows failed (see above)"
fi
say "bench: done in $((SECONDS - T_START))s; table in ${RUN#"$REPO"/}/results.txt," \
    "raw figures in ${RUN#"$REPO"/}/ka.txt, new.txt, callgrind/"
