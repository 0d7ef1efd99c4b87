#!/usr/bin/env bash
# mod_mtls_authz demo: a throw-away CA, two client certificates and an httpd
# on https://localhost:${MTLS_DEMO_PORT:-8443} that lets the admin in and
# tells everyone else why not.
#
#   demo/demo.sh start    (make -f Makefile.apxs demo)
#   demo/demo.sh stop     (make -f Makefile.apxs demo-stop)
#
# Everything it creates lives in demo/run/ (delete it to start over).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN="$REPO/demo/run"
# shellcheck source=../scripts/httpd-lib.sh
. "$REPO/scripts/httpd-lib.sh"
PKI="$RUN/pki"
CONF="$RUN/httpd.conf"
PIDFILE="$RUN/httpd.pid"
ERRLOG="$RUN/error.log"
PORT="${MTLS_DEMO_PORT:-8443}"
HTTPD="${APACHE2:-/usr/sbin/apache2}"
MODDIR="${APACHE_MODULES:-/usr/lib/apache2/modules}"
MODULE="$REPO/.libs/mod_mtls_authz.so"
P12_PASS=demo
URL="https://localhost:$PORT"

if [ -t 1 ]; then
    B=$'\e[1m' OK=$'\e[32m' BAD=$'\e[31m' DIM=$'\e[2m' N=$'\e[0m'
else
    B='' OK='' BAD='' DIM='' N=''
fi

say()  { printf '%s\n' "$*"; }
head_() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
die()  { printf '%sdemo: %s%s\n' "$BAD" "$*" "$N" >&2; exit 1; }

# ---------------------------------------------------------------- pid file

running_pid() {
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    case "$pid" in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

# Pages put in /tmp by pick_htdocs (checkout out of www-data's reach).
remove_tmp_htdocs() {
    local d
    [ -s "$RUN/htdocs-tmp" ] || return 0
    d=$(cat "$RUN/htdocs-tmp")
    case "$d" in */mod_mtls_authz-demo.*) rm -rf -- "$d" ;; esac
    rm -f "$RUN/htdocs-tmp"
}

stop_server() {
    local pid
    if ! pid=$(running_pid); then
        say "demo: no demo server running (no live pid in ${PIDFILE#"$REPO"/})"
        rm -f "$PIDFILE"
        return 0
    fi
    # SIGWINCH is httpd's graceful-stop: finish the requests in flight,
    # then exit (bounded by GracefulShutdownTimeout in the config).
    say "demo: stopping httpd (pid $pid, graceful)"
    kill -WINCH "$pid"
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "demo: still running after 10s, sending TERM"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    kill -0 "$pid" 2>/dev/null && die "httpd (pid $pid) did not stop"
    rm -f "$PIDFILE"
    remove_tmp_htdocs
    say "demo: stopped"
}

# ---------------------------------------------------------------- PKI

make_pki() {
    if [ -f "$PKI/.complete" ]; then
        say "demo: reusing the demo CA and certificates in ${PKI#"$REPO"/}"
        say "      (delete demo/run/ to make new ones)"
        return 0
    fi
    rm -rf "$PKI"
    mkdir -p "$PKI"
    chmod 700 "$PKI"
    say "demo: creating a demo CA and certificates in ${PKI#"$REPO"/}"

    mtls_demo_pki "$PKI" "/O=Demo/CN=mod_mtls_authz Demo CA" 825 ||
        die "cannot create the demo certificates"

    # For browsers: certificate + key + CA in one password-protected file.
    local name
    for name in alice bob; do
        openssl pkcs12 -export -name "$name (mod_mtls_authz demo)" \
            -in "$PKI/$name.crt" -inkey "$PKI/$name.key" \
            -certfile "$PKI/ca.crt" -passout "pass:$P12_PASS" \
            -out "$PKI/$name.p12"
    done
    chmod 600 "$PKI"/*.key "$PKI"/*.p12
    touch "$PKI/.complete"

    local f
    for f in ca alice bob; do
        say "      $f.crt  $(openssl x509 -in "$PKI/$f.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')"
    done
    say "      alice.p12, bob.p12  (password: $P12_PASS)"
}

# ---------------------------------------------------------------- httpd

# Where the pages live. As root httpd serves them as www-data, which must be
# able to reach them: if the checkout sits somewhere it cannot enter (say
# under /root), the pages go to a directory of their own in /tmp.
pick_htdocs() {
    HTDOCS="$RUN/htdocs"
    if ! mtls_run_user "$RUN"; then
        HTDOCS=$(mktemp -d "${TMPDIR:-/tmp}/mod_mtls_authz-demo.XXXXXX")
        printf '%s\n' "$HTDOCS" >"$RUN/htdocs-tmp"
        say "demo: $RUN_USER cannot enter $RUN; serving pages from $HTDOCS"
    fi
}

write_pages() {
    rm -rf "$HTDOCS/index.html" "$HTDOCS/admin"
    mkdir -p "$HTDOCS/admin"
    cat >"$HTDOCS/index.html" <<EOF
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mod_mtls_authz demo</title></head>
<body>
<h1>mod_mtls_authz demo</h1>
<p>This page is open to everyone. <a href="/admin/">/admin/</a> needs a client
certificate whose subject has <code>OU=admins</code>
(<code>Require mtls-group admins</code>).</p>
<p>Import <code>alice.p12</code> (admin) or <code>bob.p12</code> (staff) from
<code>demo/run/pki/</code> into your browser, password <code>$P12_PASS</code>.</p>
</body></html>
EOF
    cat >"$HTDOCS/admin/index.html" <<'EOF'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>admin</title></head>
<body>
<h1>Admin area</h1>
<p>Welcome: your client certificate maps to a member of the group
<code>admins</code>.</p>
</body></html>
EOF
    chmod 755 "$HTDOCS" "$HTDOCS/admin"
    chmod 644 "$HTDOCS/index.html" "$HTDOCS/admin/index.html"
}

write_conf() {
    local lm
    lm=$(mtls_loadmodules "$HTTPD" "$MODDIR" mpm_event authz_core authz_host authn_core \
             ssl socache_shmcb mime log_config dir alias headers setenvif) ||
        die "a module httpd needs is missing"
    local user=''
    if [ -n "$RUN_USER" ]; then
        user="User $RUN_USER"$'\n'"Group $RUN_GROUP"
    fi
    local types=/etc/mime.types
    [ -r "$types" ] || types=/dev/null

    cat >"$CONF" <<EOF
# Written by demo/demo.sh; rewritten on every start.
ServerRoot "$RUN"
DefaultRuntimeDir "$RUN"
PidFile "$PIDFILE"
ErrorLog "$ERRLOG"
ServerName localhost
Listen 127.0.0.1:$PORT
$user

$lm
LoadModule mtls_authz_module $MODULE
# info for mod_mtls_authz: one line per refusal (reason, subject, serial, ...)
LogLevel warn mtls_authz:info

StartServers            1
ServerLimit             2
ThreadsPerChild         16
MaxRequestWorkers       32
MinSpareThreads         4
MaxSpareThreads         32
GracefulShutdownTimeout 5

TypesConfig "$types"
AddType text/html .html
DirectoryIndex index.html

LogFormat "%h %{MTLS_USER}e %t \"%r\" %>s %b reason=%{MTLS_DENY_REASON}e" mtls
CustomLog "$RUN/access.log" mtls

SSLEngine on
SSLCertificateFile    "$PKI/server.crt"
SSLCertificateKeyFile "$PKI/server.key"
SSLSessionCache       "shmcb:$RUN/ssl_scache(512000)"
# Ask every client for a certificate from this CA, but let those without
# one finish the handshake: mod_mtls_authz answers them with a 403 that
# says what is wrong instead of a TLS alert.
SSLCACertificateFile  "$PKI/ca.crt"
SSLVerifyClient optional
SSLVerifyDepth  2

DocumentRoot "$HTDOCS"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "$HTDOCS">
    Require all granted
</Directory>

$(mtls_demo_rules)

# What the server sees of you, with or without a certificate: the page to
# send someone who is refused.  And the counters, for this machine only.
<Location "/whoami">
    SetHandler mtls-whoami
</Location>
<Location "/mtls-status">
    SetHandler mtls-status
    Require ip 127.0.0.1 ::1
</Location>

# Show who the module says you are (absent when there is no identity).
Header always set X-MTLS-User "%{MTLS_USER}e" env=MTLS_USER
Header always set X-MTLS-Groups "%{MTLS_GROUPS}e" env=MTLS_GROUPS
EOF
}

# ---------------------------------------------------------------- checks

FAILED=0
BODY="$RUN/last-body"
HDRS="$RUN/last-headers"

# The arguments as one would type them, paths relative to the repository.
shell_words() {
    local a out=''
    for a in "$@"; do
        a=${a//"$REPO/"/}
        case "$a" in
            *[!A-Za-z0-9_./:=@%+,-]*) a="'${a//\'/\'\\\'\'}'" ;;
        esac
        out+=" $a"
    done
    printf '%s' "$out"
}

# try LABEL EXPECTED_STATUS EXPECTED_REASON curl-args...
# Prints the command, the status and the interesting part of the answer.
try() {
    local label=$1 want=$2 want_reason=$3
    shift 3
    printf '\n%s%s%s\n' "$B" "$label" "$N"
    printf '  $ curl%s\n' "$(shell_words "$@")"
    local status
    status=$(curl -sS -o "$BODY" -D "$HDRS" -w '%{http_code}' "$@" 2>"$RUN/last-curl-err") || {
        printf '  %scurl failed:%s %s\n' "$BAD" "$N" "$(cat "$RUN/last-curl-err")"
        FAILED=1
        return 0
    }
    local verdict="${OK}as expected${N}"
    if [ "$status" != "$want" ]; then
        verdict="${BAD}EXPECTED $want${N}"
        FAILED=1
    fi
    printf '  -> HTTP %s%s%s  (%s)\n' "$B" "$status" "$N" "$verdict"
    local h
    for h in X-MTLS-User X-MTLS-Groups; do
        grep -i "^$h:" "$HDRS" | tr -d '\r' | sed 's/^/     /' || true
    done
    if [ -n "$want_reason" ]; then
        # The JSON is one line: one member a line reads better.
        printf '  %sbody (JSON, MTLSErrorDetail on):%s\n' "$DIM" "$N"
        sed -E 's/,("[A-Za-z0-9_]+":)/,\n\1/g' "$BODY" | sed 's/^/     /'
        [ -z "$(tail -c1 "$BODY")" ] || printf '\n'
        if ! grep -q "\"reason\" *: *\"$want_reason\"" "$BODY"; then
            printf '  %sEXPECTED reason "%s" in the body%s\n' "$BAD" "$want_reason" "$N"
            FAILED=1
        fi
    else
        printf '  %sbody:%s %s\n' "$DIM" "$N" "$(sed -n 's:.*<h1>\(.*\)</h1>.*:\1:p' "$BODY" | head -1)"
    fi
}

wait_ready() {

    for _ in $(seq 1 50); do
        if running_pid >/dev/null &&
           curl -s -o /dev/null --cacert "$PKI/ca.crt" "$URL/" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------------------- start

start() {
    command -v openssl >/dev/null || die "openssl not found (make -f Makefile.apxs deps)"
    command -v curl >/dev/null || die "curl not found (make -f Makefile.apxs deps)"
    [ -x "$HTTPD" ] || die "$HTTPD not found (make -f Makefile.apxs deps)"
    [ -f "$MODULE" ] || die "$MODULE not found: build it first (make -f Makefile.apxs)"
    case "$PORT" in ''|*[!0-9]*) die "MTLS_DEMO_PORT must be a port number, not '$PORT'" ;; esac

    mkdir -p "$RUN"
    if running_pid >/dev/null; then
        say "demo: a demo server is already running; restarting it"
        stop_server
    fi

    head_ "certificates"
    make_pki

    head_ "httpd"
    remove_tmp_htdocs
    pick_htdocs
    write_pages
    write_conf
    : >"$ERRLOG"
    say "demo: config ${CONF#"$REPO"/}, log ${ERRLOG#"$REPO"/}"
    if ! "$HTTPD" -f "$CONF" -t >"$RUN/configtest.out" 2>&1; then
        cat "$RUN/configtest.out" >&2
        die "httpd refused the configuration (above)"
    fi
    if ! "$HTTPD" -f "$CONF" -k start; then
        tail -n 20 "$ERRLOG" >&2 || true
        die "httpd did not start (port $PORT taken? MTLS_DEMO_PORT=... picks another)"
    fi
    if ! wait_ready; then
        tail -n 20 "$ERRLOG" >&2 || true
        die "httpd is not answering on $URL (port $PORT taken? set MTLS_DEMO_PORT)"
    fi
    say "demo: httpd running on $URL (pid $(running_pid))"

    head_ "what the module decides"
    try "1. alice (OU=admins) asks for /admin/" 200 "" \
        --cacert "$PKI/ca.crt" --cert "$PKI/alice.crt" --key "$PKI/alice.key" \
        "$URL/admin/"
    try "2. bob (OU=staff) asks for /admin/" 403 group-mismatch \
        --cacert "$PKI/ca.crt" --cert "$PKI/bob.crt" --key "$PKI/bob.key" \
        -H "Accept: application/json" "$URL/admin/"
    try "3. no certificate asks for /admin/" 403 no-certificate \
        --cacert "$PKI/ca.crt" -H "Accept: application/json" "$URL/admin/"

    printf '\n%s4. what the server sees of bob (SetHandler mtls-whoami):%s\n' "$B" "$N"
    printf '  $ curl%s\n' "$(shell_words --cacert "$PKI/ca.crt" --cert "$PKI/bob.crt" --key "$PKI/bob.key" "$URL/whoami")"
    if curl -sS -o "$BODY" --cacert "$PKI/ca.crt" --cert "$PKI/bob.crt" --key "$PKI/bob.key" \
            -H "Accept: application/json" "$URL/whoami" 2>"$RUN/last-curl-err" &&
       grep -q '"bob"' "$BODY"; then
        # one member a line
        sed -E 's/,("[A-Za-z0-9_:-]+":)/,\n\1/g; s/:\{/:{\n/g' "$BODY" | sed 's/^/     /'
    else
        printf '  %sEXPECTED a JSON page naming bob:%s %s\n' "$BAD" "$N" "$(head -c 300 "$BODY" 2>/dev/null; cat "$RUN/last-curl-err")"
        FAILED=1
    fi

    printf '\n%sthe refusals in the error log (LogLevel mtls_authz:info):%s\n' "$DIM" "$N"
    grep -E 'denied: reason=' "$ERRLOG" | sed 's/^/  /' || say "  (none found)"

    if [ "$FAILED" != 0 ]; then
        printf '\n%sdemo: the module did not answer as expected (see above);%s\n' "$BAD" "$N" >&2
        printf '%s      the server is still running for a look: %s, stop with make -f Makefile.apxs demo-stop%s\n' \
            "$BAD" "${ERRLOG#"$REPO"/}" "$N" >&2
        exit 1
    fi

    cat <<EOF

${B}== try it yourself ==${N}
The server keeps running on $URL

In a browser: import a client certificate (password: $P12_PASS), then open
$URL/admin/ (accept the demo CA or the warning about it).
  Firefox:  Settings > Privacy & Security > Certificates > View Certificates >
            Your Certificates > Import... > $PKI/alice.p12
            (optional: Authorities > Import... > $PKI/ca.crt,
             trust it to identify websites)
  Chrome / Chromium on Linux:  Settings > Privacy and security > Security >
            Manage certificates > Your certificates > Import > alice.p12
  Chrome / Edge on Windows, Safari / Chrome on macOS: these use the system
            store: double-click the .p12 (Windows: Certificate Import Wizard;
            macOS: Keychain Access, login keychain).
  Restart the browser if it does not offer the new certificate; it asks once
  per site which certificate to send. bob.p12 shows the 403 page instead.

What the server sees of you (works without a certificate too):
  $URL/whoami   (JSON with curl, a page in a browser)
The counters (Prometheus text, from this machine only):
  curl --cacert $PKI/ca.crt $URL/mtls-status

With curl:
  curl --cacert $PKI/ca.crt \\
       --cert $PKI/alice.crt --key $PKI/alice.key $URL/admin/
  curl --cacert $PKI/ca.crt \\
       --cert $PKI/bob.crt --key $PKI/bob.key $URL/admin/
  curl --cacert $PKI/ca.crt $URL/admin/
  curl --cacert $PKI/ca.crt -H 'Accept: application/json' $URL/admin/
  curl --cacert $PKI/ca.crt --cert-type P12 --cert $PKI/alice.p12:$P12_PASS $URL/admin/

Config: $CONF
Logs:   $ERRLOG, $RUN/access.log
Stop:   make -f Makefile.apxs demo-stop
EOF
}

case "${1:-}" in
    start) start ;;
    stop)  stop_server ;;
    *)     say "usage: $0 start|stop   (port: MTLS_DEMO_PORT, default 8443)"; exit 2 ;;
esac
