#!/bin/sh
# Ports of the test httpd's vhosts that sit behind the proxies (haproxy.sh,
# nginx.sh): the proxies start before the httpd, so the ports are chosen
# here, once per run and MPM (each MPM's httpd has its own), and both sides
# read them (t/conf/mtls-proxy.conf.in and mtls-proxyfmt.conf.in listen on
# them).  Also the SHA-256 of the certificate HAProxy presents on its TLS
# hop to Apache (MTLSTrustedProxy cert:sha256:...).
#   fwd-ports.sh start STATEDIR   prints MPM:MTLS_T_FWD_*_PORT=N ...
#   fwd-ports.sh stop STATEDIR    (nothing runs)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

do_start() {
    need_mpms
    for mpm in $(mpms); do
        set -- $(free_ports 6)
        for var in MTLS_T_FWD_HAPROXY_PORT MTLS_T_FWD_NGINX_PORT MTLS_T_FWD_TLS_PORT \
                   MTLS_T_FWD_XFCC_PORT MTLS_T_FWD_DERB64_PORT MTLS_T_FWD_H2C_PORT; do
            echo "$mpm:$var=$1"
            shift
        done
    done
    fp=$(openssl x509 -in "$PKI/proxyhop.crt" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
    echo "MTLS_T_PROXYHOP_SHA256=$fp"
}
do_stop() { :; }

service_main fwd-ports.sh "$@"
