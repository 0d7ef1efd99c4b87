#!/bin/sh
# Runs the Apache::Test suite of mod_mtls_authz under the prefork, worker
# and event MPMs against the module built at $REPO/.libs/mod_mtls_authz.so.
# Called by `make -f Makefile.apxs test`; works from any checkout path.
# As root it re-runs itself as the unprivileged user `mtlstest` in a copy of
# the checkout (Apache::Test refuses to run as root).
# Ends with one line "N passed, M failed" (assertions over all runs); exits
# non-zero unless every MPM ran tests and all of them passed.
#   MTLS_TEST_MPMS="event"   run only these MPMs
#   MTLS_TEST_KEEP=1         keep the temporary copy (root mode)
#   MTLS_TEST_FILES="t/x.t"  run only these test files
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
HTTPD=${HTTPD:-/usr/sbin/apache2}
APXS=${APXS:-/usr/bin/apxs}
MODDIR=${MODDIR:-$($APXS -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)}
MPMS=${MTLS_TEST_MPMS:-prefork worker event}
TESTUSER=${MTLS_TEST_USER:-mtlstest}

if [ ! -f "$REPO/.libs/mod_mtls_authz.so" ]; then
    echo "run-tests.sh: $REPO/.libs/mod_mtls_authz.so is missing; build it first (make -f Makefile.apxs)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    if ! id "$TESTUSER" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$TESTUSER" || exit 1
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/mtls-authz-test.XXXXXX") || exit 1
    # the checkout may be unreadable for the test user (e.g. under /root)
    tar -C "$REPO" --exclude=./.git --exclude=./t/logs --exclude=./t/pki/out \
        --exclude=./t/build --exclude=./t/runtime -cf - . | tar -C "$WORK" -xf - || exit 1
    chown -R "$TESTUSER:" "$WORK"
    chmod 755 "$WORK"
    runuser -u "$TESTUSER" -- env MTLS_TEST_MPMS="$MPMS" \
        MTLS_TEST_FILES="${MTLS_TEST_FILES:-}" HOME="$WORK" \
        "$WORK/t/run-tests.sh"
    rc=$?
    # keep the logs of the last run next to the checkout, for diagnosis
    # (not slapd's databases: sparse 256 MB files, no logs in them)
    rm -rf "$HERE/build/last-run" 2>/dev/null
    mkdir -p "$HERE/build/last-run" && \
        tar -C "$WORK/t/build" --exclude='*.mdb' -cf - . 2>/dev/null |
        tar -C "$HERE/build/last-run" -xf - 2>/dev/null
    if [ -n "${MTLS_TEST_KEEP:-}" ]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $rc
fi

cd "$HERE" || exit 1
mkdir -p build
"$HERE/pki/mkpki.sh" "$HERE/pki/out" || { echo "PKI generation failed"; echo "0 passed, 1 failed"; exit 1; }

# The MPMs run at the same time, each in its own copy of the checkout
# (t/build/MPM-tree: its own generated httpd.conf, logs, runtime files and
# ports), against the services below.
# Services the tests share (slapd, memcached, ...): started once for the
# whole run, before the MPMs, stopped when the run ends however it ends.
# They learn the MPMs from MTLS_T_MPMS; a line "MPM:KEY=VALUE" they print
# is for that MPM's run only (its own port or instance), kept in
# STATEDIR/env-MPM, which the services started later can read too.
SVC_STATE="$HERE/build/services"
rm -rf "$SVC_STATE"; mkdir -p "$SVC_STATE"
export MTLS_T_MPMS="$MPMS"
for mpm in $MPMS; do : > "$SVC_STATE/env-$mpm"; done
services() {
    for svc in "$HERE"/services/*.sh; do
        [ -f "$svc" ] || continue
        case $svc in */lib.sh) continue ;; esac
        echo "$svc"
    done
}
stop_services() {
    for svc in $(services); do sh "$svc" stop "$SVC_STATE" >/dev/null 2>&1; done
}
# the MPMs' runs still going when the run is interrupted: MPM=PID ...
RUNNING=""
kill_tree() {  # kill_tree PID: the process and everything it started
    for _c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$_c"; done
    kill "$1" 2>/dev/null
}
stop_runs() {
    for job in $RUNNING; do kill_tree "${job#*=}"; done
    for job in $RUNNING; do
        (cd "$HERE/build/${job%%=*}-tree/t" 2>/dev/null && ./TEST -stop-httpd >/dev/null 2>&1)
    done
}
trap 'stop_runs; stop_services' EXIT
trap 'exit 130' INT TERM
for svc in $(services); do
    name=$(basename "$svc" .sh)
    out=$(sh "$svc" start "$SVC_STATE" 2>"$SVC_STATE/$name.err") || {
        echo "starting $name: failed"; cat "$SVC_STATE/$name.err"
        echo "0 passed, 1 failed"; exit 1; }
    for kv in $out; do
        case $kv in
            [A-Z_]*=*) export "$kv" ;;
            [a-z]*:[A-Z_]*=*)
                case " $MPMS " in
                    *" ${kv%%:*} "*) echo "${kv#*:}" >> "$SVC_STATE/env-${kv%%:*}" ;;
                    *) echo "$name: ignoring '$kv' (no such MPM in this run)" ;;
                esac ;;
            *) echo "$name: ignoring '$kv'" ;;
        esac
    done
done

# base_port AVOID...: a random base port below the ephemeral range (where
# the services' ports come from), with the 40 after it free and none of
# the AVOID bases (the other MPMs' runs): Apache::Test's own "-port
# select" starts every concurrent checkout at 8529 and so collides with
# them.
base_port() {
    perl -MIO::Socket::INET -e '
        my %avoid = map { $_ => 1 } @ARGV;
        for (1 .. 50) {
            my $base = 10000 + 40 * int(rand(500));
            next if $avoid{$base};
            my $free = 1;
            for my $p ($base .. $base + 39) {
                my $s = IO::Socket::INET->new(Listen => 1,
                    LocalAddr => "127.0.0.1", LocalPort => $p);
                $free = 0, last unless $s;
                close $s;
            }
            print("$base\n"), exit if $free;
        }
        print "select\n";' "$@"
}

# run_mpm MPM BASE AVOID...: the whole suite under MPM in its own copy of
# the checkout, from port BASE (another base_port, avoiding the other
# runs', if that is taken); its output in build/MPM.log, its exit code in
# build/MPM.rc.
run_mpm() {
    mpm=$1 port=$2
    shift 2
    tree="$HERE/build/$mpm-tree"
    log="$HERE/build/$mpm.log"
    conf="$HERE/build/inherit-$mpm.conf"
    rm -rf "$tree" "$HERE/build/$mpm-shared-cache"
    mkdir -p "$tree"
    tar -C "$REPO" --exclude=./.git --exclude=./dist --exclude=./t/build \
        --exclude=./t/logs --exclude=./t/runtime --exclude=./t/pki/out \
        -cf - . | tar -C "$tree" -xf - || { echo "copying the checkout failed" > "$log"; echo 1 > "$HERE/build/$mpm.rc"; return; }
    # one PKI for every run: its CA databases hold absolute paths, and the
    # services' entries and certificates were made from it
    ln -s "$HERE/pki/out" "$tree/t/pki/out"
    while IFS= read -r kv; do export "$kv"; done < "$SVC_STATE/env-$mpm"
    export MTLS_T_MPM="$mpm"
    if [ "$mpm" = prefork ]; then cgi=cgi; else cgi=cgid; fi
    {
        echo "# generated by t/run-tests.sh: what Apache::Test inherits for the $mpm run"
        echo "ServerRoot /etc/apache2"
        echo "TypesConfig /etc/mime.types"
        echo "LoadModule mpm_${mpm}_module $MODDIR/mod_mpm_$mpm.so"
        for m in authz_core authn_core authn_file auth_basic authz_user authz_host access_compat \
                 socache_shmcb socache_memcache socache_redis ssl http2 \
                 headers env setenvif mime dir alias rewrite proxy proxy_http \
                 ldap authnz_ldap status log_config include macro $cgi; do
            # (some are compiled in, e.g. log_config on Debian)
            [ -f "$MODDIR/mod_$m.so" ] && echo "LoadModule ${m}_module $MODDIR/mod_$m.so"
        done
    } > "$conf"
    cd "$tree/t" || return
    # each test file's wall and CPU time in the log
    export HARNESS_TIMER=1
    # Other suites on the same machine may take the port Apache::Test
    # picked between its check and httpd's bind: start again (a few
    # times) when that is all that went wrong.
    # -start-httpd -run-tests: with test files named, Apache::Test would
    # otherwise run them against whatever server already answers on the
    # port it picked (another checkout's); it then leaves the server
    # running, so it is stopped after each attempt.
    for attempt in 1 2 3; do
        [ "$attempt" = 1 ] || port=$(base_port "$@")
        ./TEST -clean >/dev/null 2>&1
        rm -f logs/*.log logs/error_log 2>/dev/null
        # shellcheck disable=SC2086
        ./TEST -httpd "$HTTPD" -apxs "$APXS" -httpd_conf "$conf" -port "$port" \
            -minclients 8 -maxclients 48 -start-httpd -run-tests \
            -verbose ${MTLS_TEST_FILES:-} > "$log" 2>&1
        rc=$?
        ./TEST -stop-httpd >/dev/null 2>&1
        grep -q '^ok ' "$log" && break
        grep -qE "port [0-9]+ is in use|Address already in use|error_log wasn't created" \
            "$log" logs/error_log 2>/dev/null || break
        echo "($mpm: a port was taken by someone else; starting again)"
        sleep 2
    done
    cp logs/error_log "$HERE/build/$mpm-error_log" 2>/dev/null
    cp logs/mtls_access.log "$HERE/build/$mpm-access.log" 2>/dev/null
    [ -d build/shared-cache ] && cp -R build/shared-cache "$HERE/build/$mpm-shared-cache"
    cd "$HERE" && rm -rf "$tree"
    echo $rc > "$HERE/build/$mpm.rc"
}

bases=""
for mpm in $MPMS; do
    rm -f "$HERE/build/$mpm.rc"
    # shellcheck disable=SC2086
    base=$(base_port $bases)
    bases="$bases $base"
    echo "=== $mpm MPM: started ==="
    # shellcheck disable=SC2086
    (trap - EXIT INT TERM; run_mpm "$mpm" "$base" $bases) &
    RUNNING="$RUNNING $mpm=$!"
done
for job in $RUNNING; do wait "${job#*=}"; done
RUNNING=""

total_pass=0
total_fail=0
status=0
summary=""

for mpm in $MPMS; do
    log="$HERE/build/$mpm.log"
    rc=$(cat "$HERE/build/$mpm.rc" 2>/dev/null || echo 1)
    echo "=== $mpm MPM ==="
    # assertions per test file: "ok N" lines pass; "not ok", planned but
    # never run, and a plan that does not match what ran count as failures
    set -- $(perl -ne '
        if (/^(?:\[[\d:]+\] )?(t\/\S+\.t) \.+\s*$/) { $f = $1; push @f, $f; next }
        next unless defined $f;
        if (/^1\.\.(\d+)/) { $plan{$f} = $1 }
        elsif (/^\s*ok \d+/) { $ok{$f}++ }
        elsif (/^\s*not ok \d+/) { $nok{$f}++; print STDERR "  $f: $_" }
        elsif (/^Files=/) { undef $f }
        END {
            for (@f) {
                my ($o, $n, $p) = ($ok{$_} || 0, $nok{$_} || 0, $plan{$_});
                print STDERR "  $_: no plan (died?)\n" unless defined $p;
                print STDERR "  $_: planned $p, ran ", $o + $n, "\n"
                    if defined $p && $p != $o + $n;
                $n += 1 unless defined $p;
                $n += $p - $o - $n if defined $p && $p > $o + $n;
                $n += 1 if defined $p && $o + ($nok{$_} || 0) > $p;
                $P += $o; $F += $n;
            }
            print $P + 0, " ", $F + 0, "\n";
        }' "$log" 2>"$log.failures")
    pass=$1 fail=$2
    if ! grep -q '^Result: PASS' "$log"; then
        [ "$fail" -eq 0 ] && fail=1
    fi
    if [ "$rc" -ne 0 ] || [ "$pass" -eq 0 ] || [ "$fail" -ne 0 ]; then
        status=1
        cat "$log.failures"
        echo "($mpm: full output in t/build/$mpm.log; after a run as root: t/build/last-run/$mpm.log)"
    fi
    echo "$mpm: $pass passed, $fail failed (exit $rc)"
    summary="$summary $mpm:$pass/$fail"
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
done

echo "per MPM (passed/failed):$summary"
echo "$total_pass passed, $total_fail failed"
exit $status
