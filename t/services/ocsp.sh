#!/bin/sh
# A real OCSP responder (openssl ocsp) answering for the test PKI's client
# CA from its own database (t/pki/out/db/inter/index.txt), for
# SSLOCSPEnable tests (t/71-ocsp.t).
#   ocsp.sh start STATEDIR   prints MTLS_T_OCSP_PORT (the responder) and
#                            MTLS_T_OCSP_DOWN_PORT (a port that refuses)
#   ocsp.sh stop STATEDIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PKI=$HERE/../pki/out
STATE=${2:?usage: ocsp.sh start|stop STATEDIR}

case $1 in
start)
    command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 1; }
    port=$(free_port)
    # The responder that is down: a port kept bound, never listened on, so
    # a connection to it is refused for the whole run (a port merely free
    # now may be taken by a server a later test starts, whose "400 Bad
    # Request" is not an unreachable responder).
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Proto => "tcp") or die "bind: $!\n";
        $| = 1; print $s->sockport, "\n"; close STDOUT; sleep 86400;' \
        >"$STATE/ocsp-down.port" 2>"$STATE/ocsp-down.err" </dev/null &
    echo $! > "$STATE/ocsp-down.pid"
    i=0
    until [ -s "$STATE/ocsp-down.port" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { cat "$STATE/ocsp-down.err" >&2; exit 1; }
        sleep 0.05
    done
    down=$(cat "$STATE/ocsp-down.port")
    openssl ocsp -index "$PKI/db/inter/index.txt" -CA "$PKI/inter.crt" \
        -rsigner "$PKI/inter.crt" -rkey "$PKI/inter.key" -nmin 60 \
        -host 127.0.0.1 -port "$port" -ignore_err \
        </dev/null >"$STATE/ocsp.log" 2>&1 &
    echo $! > "$STATE/ocsp.pid"
    # Not wait_port: openssl ocsp serves one connection at a time and
    # stops answering after a probe that sends nothing; its log says when
    # it listens.
    i=0
    until grep -q "waiting for OCSP client connections" "$STATE/ocsp.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 200 ] && { cat "$STATE/ocsp.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "MTLS_T_OCSP_PORT=$port"
    echo "MTLS_T_OCSP_DOWN_PORT=$down"
    ;;
stop)
    stop_pidfile "$STATE/ocsp.pid"
    stop_pidfile "$STATE/ocsp-down.pid"
    ;;
*)
    echo "usage: ocsp.sh start|stop STATEDIR" >&2; exit 2 ;;
esac
