#!/bin/sh
# Ports of the test httpd's vhosts that sit behind the proxies (haproxy.sh,
# nginx.sh): the proxies start before the httpd, so the ports are chosen
# here, once per run, and both sides read them (t/conf/mtls-proxy.conf.in
# listens on them).  Also the SHA-256 of the certificate HAProxy presents
# on its TLS hop to Apache (MTLSTrustedProxy cert:sha256:...).
#   fwd-ports.sh start STATEDIR   prints MTLS_T_FWD_*_PORT=N ...
#   fwd-ports.sh stop STATEDIR    (nothing runs)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
PKI=$(cd "$HERE/../pki/out" && pwd)

case $1 in
start)
    # distinct ports even if free_port answers the same twice in a row
    used=""
    for var in MTLS_T_FWD_HAPROXY_PORT MTLS_T_FWD_NGINX_PORT MTLS_T_FWD_TLS_PORT; do
        while :; do
            p=$(free_port)
            case " $used " in *" $p "*) continue ;; esac
            used="$used $p"; break
        done
        echo "$var=$p"
    done
    fp=$(openssl x509 -in "$PKI/proxyhop.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
    echo "MTLS_T_PROXYHOP_SHA256=$fp"
    ;;
stop) ;;
*) echo "usage: fwd-ports.sh start|stop STATEDIR" >&2; exit 2 ;;
esac
