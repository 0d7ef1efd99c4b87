#!/bin/sh
# A real OCSP responder (openssl ocsp) answering for the test PKI's client
# CA from its own database (t/pki/out/db/inter/index.txt), for
# SSLOCSPEnable tests (t/71-ocsp.t).
#   ocsp.sh start STATEDIR   prints MTLS_T_OCSP_PORT (the responder) and
#                            MTLS_T_OCSP_DOWN_PORT (a port nobody answers)
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
    down=$(free_port)
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
    ;;
*)
    echo "usage: ocsp.sh start|stop STATEDIR" >&2; exit 2 ;;
esac
