#!/usr/bin/env bash
# The Debian package on this machine, end to end (make -f Makefile.apxs
# deb-test; .ci/run calls it after the suite):
#
#   build the .deb, lintian (no errors), check what it holds,
#   apt-get install ./the.deb (the module must not be enabled by that),
#   a2enmod mtls_authz (must pull in ssl), apache2ctl -t -D DUMP_MODULES,
#   the SYSTEM apache2 with its own configuration plus one file in
#   conf-enabled (a vhost on 127.0.0.1:$MTLS_DEB_TEST_PORT, default 8844)
#   answers Require mtls-group with the demo's kind of certificates,
#   then apt-get purge, and nothing of the package is left.  While it runs
#   (a few seconds) apache2 also holds the ports of ports.conf (80, 443).
#
# It leaves the machine's Apache as it found it: modules and configurations
# enabled, /etc/apache2, /var/lib/apache2, the module directory and
# /var/log/apache2 byte for byte, and apache2
# running only if it was (then it is restarted gracefully, twice, and its
# logs may grow).  Both are checked at the end, failure or not.  Needs
# root.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
. scripts/httpd-lib.sh

PKG=libapache2-mod-mtls-authz
PORT=${MTLS_DEB_TEST_PORT:-8844}
CONFNAME=zz-mtls-authz-deb-test.conf
CONF=/etc/apache2/conf-enabled/$CONFNAME
PIDFILE=/var/run/apache2/apache2.pid
# What "the machine's Apache" is, for the before/after comparison.
STATE_DIRS=(/etc/apache2 /var/lib/apache2 /usr/lib/apache2/modules /var/log/apache2)
RUNTIME_DIRS=(/var/run/apache2 /var/lock/apache2)

if [ -t 1 ]; then OK=$'\e[32m' BAD=$'\e[31m' N=$'\e[0m'; else OK='' BAD='' N=''; fi
say()  { printf 'deb-test: %s\n' "$*"; }
pass() { printf 'deb-test: %sok%s   %s\n' "$OK" "$N" "$*"; }
FAILED=0
fail() { printf 'deb-test: %sFAIL%s %s\n' "$BAD" "$N" "$*" >&2; FAILED=1; }
# A step the rest depends on: stop here (cleanup still runs).
fatal() { fail "$*"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "deb-test: FAILED: needs root (apt-get install, a2enmod, apache2ctl)" >&2; exit 1; }
case "$PORT" in ''|*[!0-9]*) echo "deb-test: FAILED: MTLS_DEB_TEST_PORT must be a port number" >&2; exit 1 ;; esac
for c in apt-get dpkg-deb lintian a2enmod a2dismod apache2ctl curl openssl ss; do
    command -v "$c" >/dev/null || { echo "deb-test: FAILED: $c not found (make -f Makefile.apxs deps)" >&2; exit 1; }
done

apache_pid() {
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null)
    case "$pid" in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

# Every file, link and directory of the machine's Apache with its type,
# mode, owner, link target and content hash (not directory sizes: some
# file systems never shrink them).
snapshot() {
    local d
    for d in "${STATE_DIRS[@]}"; do
        [ -e "$d" ] || { echo "absent $d"; continue; }
        find "$d" -printf '%p %y %m %u:%g -> %l\n' | LC_ALL=C sort
        find "$d" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
    done
    for d in "${RUNTIME_DIRS[@]}"; do
        [ -e "$d" ] && echo "present $d" || echo "absent $d"
    done
}

if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'installed'; then
    echo "deb-test: FAILED: $PKG is installed on this machine already; this test" \
         "installs and purges it, so it will not run over an administrator's install" >&2
    exit 1
fi
if ss -Hltn "sport = :$PORT" | grep -q .; then
    echo "deb-test: FAILED: port $PORT is in use (set MTLS_DEB_TEST_PORT)" >&2
    exit 1
fi

TMP=$(mktemp -d /tmp/mtls-deb-test.XXXXXX)
chmod 755 "$TMP"
WAS_RUNNING=0
if apache_pid >/dev/null; then
    # A running apache2 logs its two graceful restarts in its own logs:
    # those may grow, the rest must not change.
    WAS_RUNNING=1
    STATE_DIRS=(/etc/apache2 /var/lib/apache2 /usr/lib/apache2/modules)
    say "apache2 is running (pid $(apache_pid)): it gets a graceful restart into the test and one back"
fi
snapshot >"$TMP/before"
ls /etc/apache2/mods-enabled >"$TMP/mods-before"
find /var/lib/apache2 -mindepth 1 | LC_ALL=C sort >"$TMP/markers-before"
STARTED=0
INSTALLED=0

cleanup() {
    local rc=$?
    set +e
    rm -f "$CONF"
    if [ "$STARTED" = 1 ] && [ "$WAS_RUNNING" = 0 ]; then
        apache2ctl stop >/dev/null 2>&1
        for _ in $(seq 1 100); do apache_pid >/dev/null || break; sleep 0.1; done
        apache_pid >/dev/null && fail "the system apache2 did not stop"
    fi
    if [ "$INSTALLED" = 1 ] && dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q installed; then
        apt-get purge -y -qq "$PKG" >>"$TMP/apt.log" 2>&1
    fi
    # The modules a2enmod pulled in (ssl and what it depends on).
    local m
    for m in $(ls /etc/apache2/mods-enabled | sed -n 's/\.load$//p'); do
        grep -qx "$m.load" "$TMP/mods-before" || a2dismod -q -f "$m" >/dev/null 2>&1
    done
    # a2enmod/a2dismod keep state markers (empty files) in /var/lib/apache2:
    # put back exactly the ones that were there.
    local f
    find /var/lib/apache2 -mindepth 1 -depth | LC_ALL=C sort -r | while read -r f; do
        grep -qxF "$f" "$TMP/markers-before" && continue
        if [ -d "$f" ]; then rmdir "$f"; else rm -f "$f"; fi
    done
    while read -r f; do
        [ -e "$f" ] && continue
        case "$f" in */enabled_by_*|*/disabled_by_*) mkdir -p "$f" ;;
                     *) mkdir -p "$(dirname "$f")"; : >"$f" ;; esac
    done <"$TMP/markers-before"
    for f in "${RUNTIME_DIRS[@]}"; do
        grep -qx "absent $f" "$TMP/before" && [ -d "$f" ] && rm -rf "$f"
    done
    if [ "$WAS_RUNNING" = 1 ] && [ "$STARTED" = 1 ]; then
        apache2ctl graceful >/dev/null 2>&1 || fail "apache2ctl graceful (back to the old configuration) failed"
    fi

    snapshot >"$TMP/after"
    if diff -u "$TMP/before" "$TMP/after" >"$TMP/state.diff"; then
        pass "the machine's Apache is as it was (${STATE_DIRS[*]}, run dirs)"
    else
        fail "the machine's Apache differs from before the test:"
        sed 's/^/    /' "$TMP/state.diff" | head -n 40 >&2
    fi
    local running=0
    apache_pid >/dev/null && running=1
    if [ "$running" = "$WAS_RUNNING" ]; then
        pass "apache2 is $([ "$running" = 1 ] && echo running || echo not running), as before"
    else
        fail "apache2 was $([ "$WAS_RUNNING" = 1 ] && echo running || echo stopped) before, is $([ "$running" = 1 ] && echo running || echo stopped) now"
    fi
    if [ "$FAILED" = 0 ] && [ "$rc" = 0 ]; then
        rm -rf "$TMP"
        echo "deb-test: passed"
        exit 0
    fi
    echo "deb-test: FAILED (logs kept in $TMP)" >&2
    exit 1
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------ build, lint

make -f Makefile.apxs deb >"$TMP/build.out" 2>&1 || { cat "$TMP/build.out" >&2; fatal "make deb failed"; }
VERSION=$(scripts/package.sh version)
DEB=$(sed -n 's/^package: \(dist\/deb\/.*\.deb\)$/\1/p' "$TMP/build.out" | tail -n 1)
[ -f "$DEB" ] || fatal "make deb named no .deb (output in $TMP/build.out)"
pass "built $DEB"

lintian --fail-on error "$DEB" >"$TMP/lintian.out" 2>&1
lrc=$?
sed 's/^/    /' "$TMP/lintian.out"
if [ "$lrc" = 0 ] && ! grep -q '^E: ' "$TMP/lintian.out"; then
    pass "lintian: no errors ($(grep -c '^W: ' "$TMP/lintian.out") warnings)"
else
    fail "lintian reports errors (exit $lrc)"
fi

dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$TMP/contents"
for f in /usr/lib/apache2/modules/mod_mtls_authz.so \
         /etc/apache2/mods-available/mtls_authz.load \
         /etc/apache2/mods-available/mtls_authz.conf \
         /usr/share/doc/$PKG/copyright \
         /usr/share/doc/$PKG/examples/admin-panel.conf; do
    grep -qxF "$f" "$TMP/contents" || fail "the .deb lacks $f"
done
grep -qE "^/usr/share/doc/$PKG/README\.md(\.gz)?$" "$TMP/contents" || fail "the .deb lacks the README"
depends=$(dpkg-deb -f "$DEB" Depends)
[[ "$depends" =~ apache2-api-[0-9]+ ]] && pass "Depends: ${BASH_REMATCH[0]} (from dh_apache2)" ||
    fail "no apache2-api-* dependency: Depends: $depends"
debver=$(dpkg-deb -f "$DEB" Version)
[ "${debver%-*}" = "$VERSION" ] || fail "package version $debver is not VERSION $VERSION"

# ------------------------------------------------------------ install

DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$DEB" >"$TMP/apt.log" 2>&1 || {
    tail -n 20 "$TMP/apt.log" >&2; fatal "apt-get install ./$DEB failed"; }
INSTALLED=1
dpkg-query -W -f='${Status} ${Version}' "$PKG" | grep -q "install ok installed $debver" ||
    fatal "dpkg does not list $PKG $debver as installed"
pass "apt-get install ./$DEB"
ls /etc/apache2/mods-enabled/mtls_authz.* >/dev/null 2>&1 &&
    fail "installing enabled the module (it must not)" || pass "installing did not enable the module"

a2enmod mtls_authz >"$TMP/a2enmod.out" 2>&1 || { cat "$TMP/a2enmod.out" >&2; fatal "a2enmod mtls_authz failed"; }
enabled=1
for m in mtls_authz ssl; do
    [ -L "/etc/apache2/mods-enabled/$m.load" ] || { fail "after a2enmod mtls_authz, $m is not enabled"; enabled=0; }
done
[ "$enabled" = 0 ] || pass "a2enmod mtls_authz enabled mtls_authz and ssl"

apache2ctl -t -D DUMP_MODULES >"$TMP/modules" 2>&1 || { cat "$TMP/modules" >&2; fatal "apache2ctl -t -D DUMP_MODULES failed"; }
grep -qE '^ *mtls_authz_module \(shared\)' "$TMP/modules" &&
    pass "apache2ctl -t -D DUMP_MODULES lists mtls_authz_module" ||
    fail "apache2ctl -t -D DUMP_MODULES does not list mtls_authz_module"

# ------------------------------------------------------------ serve

mkdir -p "$TMP/pki" "$TMP/htdocs/admin" "$TMP/logs"
chmod 700 "$TMP/pki"
mtls_demo_pki "$TMP/pki" "/O=Demo/CN=mod_mtls_authz deb-test CA" 2 ||
    fatal "cannot make the test certificates"
echo 'admin area' >"$TMP/htdocs/admin/index.html"
chmod -R a+rX "$TMP/htdocs"
cat >"$CONF" <<EOF
# Written by mod_mtls_authz's scripts/deb-test.sh, removed when it ends.
# The main server's log goes to the test's directory, so the machine's
# logs stay as they were.
ErrorLog "$TMP/logs/error.log"
LogLevel warn mtls_authz:info
Listen 127.0.0.1:$PORT
<VirtualHost 127.0.0.1:$PORT>
    ServerName localhost
    ErrorLog "$TMP/logs/error.log"
    CustomLog "$TMP/logs/access.log" "%h %{MTLS_USER}e \"%r\" %>s reason=%{MTLS_DENY_REASON}e"
    SSLEngine on
    SSLCertificateFile    "$TMP/pki/server.crt"
    SSLCertificateKeyFile "$TMP/pki/server.key"
    SSLCACertificateFile  "$TMP/pki/ca.crt"
    SSLVerifyClient optional
    SSLVerifyDepth  2
    DocumentRoot "$TMP/htdocs"
    <Directory "$TMP/htdocs">
        Require all granted
    </Directory>
$(mtls_demo_rules '    ')
</VirtualHost>
EOF
apache2ctl configtest >"$TMP/configtest" 2>&1 || { cat "$TMP/configtest" >&2; fatal "apache2ctl configtest failed"; }
if [ "$WAS_RUNNING" = 1 ]; then
    apache2ctl graceful >"$TMP/start.out" 2>&1
else
    apache2ctl start >"$TMP/start.out" 2>&1
fi || { cat "$TMP/start.out" "$TMP/logs/error.log" >&2; fatal "apache2ctl could not start the system apache2"; }
STARTED=1
URL="https://localhost:$PORT/admin/"
ready=0
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$TMP/pki/ca.crt" "$URL" 2>/dev/null && { ready=1; break; }
    sleep 0.1
done
[ "$ready" = 1 ] || { cat "$TMP/start.out" "$TMP/logs/error.log" >&2; fatal "the system apache2 does not answer on $URL"; }
pass "the system apache2 answers on 127.0.0.1:$PORT (pid $(apache_pid))"

# ask NAME WANT_STATUS WANT_IN_BODY curl-args...
ask() {
    local name=$1 want=$2 body=$3 status
    shift 3
    status=$(curl -sS -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/pki/ca.crt" "$@" "$URL" 2>"$TMP/curl.err") ||
        { fail "$name: curl failed: $(cat "$TMP/curl.err")"; return; }
    if [ "$status" = "$want" ] && grep -q "$body" "$TMP/body"; then
        pass "$name: $status"
    else
        fail "$name: HTTP $status (wanted $want with '$body'): $(head -c 300 "$TMP/body")"
    fi
}
ask "alice (OU=admins), Require mtls-group admins" 200 'admin area' \
    --cert "$TMP/pki/alice.crt" --key "$TMP/pki/alice.key"
ask "bob (OU=staff)" 403 '"reason" *: *"group-mismatch"' \
    --cert "$TMP/pki/bob.crt" --key "$TMP/pki/bob.key" -H 'Accept: application/json'
ask "no certificate" 403 '"reason" *: *"no-certificate"' -H 'Accept: application/json'

n=$(grep -c "MTLS4200: mod_mtls_authz/$VERSION configured" "$TMP/logs/error.log")
[ "$n" = 1 ] && pass "the error log names mod_mtls_authz/$VERSION once" ||
    fail "the error log has $n lines 'MTLS4200: mod_mtls_authz/$VERSION configured' (wanted 1)"

if [ "$WAS_RUNNING" = 0 ]; then
    apache2ctl stop >/dev/null 2>&1
    for _ in $(seq 1 100); do apache_pid >/dev/null || break; sleep 0.1; done
    apache_pid >/dev/null && fail "apache2ctl stop: apache2 still runs"
    STARTED=0
fi
rm -f "$CONF"

# ------------------------------------------------------------ purge

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "$PKG" >>"$TMP/apt.log" 2>&1 || {
    tail -n 20 "$TMP/apt.log" >&2; fatal "apt-get purge $PKG failed"; }
INSTALLED=0
status=$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null)
case "$status" in ''|'unknown ok not-installed'|'deinstall ok not-installed'|'purge ok not-installed') ;;
    *) fail "after purge dpkg says '$status'" ;; esac
left=0
while read -r f; do
    [ -n "$f" ] && [ "$f" != / ] || continue
    [ -d "$f" ] && ! [ -L "$f" ] && continue   # directories are shared with others
    [ -e "$f" ] || [ -L "$f" ] || continue
    fail "left after purge: $f"; left=1
done <"$TMP/contents"
for d in /usr/share/doc/$PKG; do [ -e "$d" ] && { fail "left after purge: $d"; left=1; }; done
hits=$(grep -rl mtls_authz /etc/apache2 2>/dev/null; find /etc/apache2 /var/lib/apache2 -name '*mtls_authz*')
[ -z "$hits" ] || { fail "left after purge: $(echo $hits)"; left=1; }
[ "$left" = 0 ] && pass "apt-get purge: nothing of $PKG is left (files, links, a2enmod state)"
exit "$FAILED"
