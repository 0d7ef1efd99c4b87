#!/bin/sh
# A real HAProxy (Debian's 2.6) in front of the test httpd, terminating
# the client's TLS with the suite's PKI and forwarding the certificate as
# RFC 9440 Client-Cert (:base64 DER:).  It verifies nothing itself
# (ca-ignore-err/crt-ignore-err all): the module must refuse what does not
# verify.  Backend connections are shared by every client
# (http-reuse always) and leave from 127.0.0.2, the trusted proxy address.
#   frontend MTLS_T_HAPROXY_PORT      -> plain HTTP to MTLS_T_FWD_HAPROXY_PORT
#   frontend MTLS_T_HAPROXY_PIN_PORT  -> TLS with the proxy's own client
#                                        certificate (proxyhop) to MTLS_T_FWD_TLS_PORT
#   haproxy.sh start STATEDIR | stop STATEDIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
STATE=${2:?usage: haproxy.sh start|stop STATEDIR}
PKI=$(cd "$HERE/../pki/out" && pwd)
PIDFILE="$STATE/haproxy.pid"

case $1 in
start)
    command -v haproxy >/dev/null || { echo "haproxy is not installed (make -f Makefile.apxs deps)" >&2; exit 1; }
    : "${MTLS_T_FWD_HAPROXY_PORT:?fwd-ports.sh must run first}" "${MTLS_T_FWD_TLS_PORT:?}"
    port=$(free_port)
    pin=$(free_port)
    [ "$pin" != "$port" ] || pin=$(free_port)
    cat "$PKI/server.crt" "$PKI/server.key" > "$STATE/haproxy-server.pem"
    cat "$PKI/proxyhop.crt" "$PKI/proxyhop.key" > "$STATE/haproxy-client.pem"
    cat > "$STATE/haproxy.cfg" <<CFG
global
    pidfile $PIDFILE
    maxconn 256
    tune.ssl.default-dh-param 2048

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    http-reuse always

frontend clients
    bind 127.0.0.1:$port ssl crt $STATE/haproxy-server.pem ca-file $PKI/ca-bundle.crt verify optional ca-ignore-err all crt-ignore-err all
    http-request del-header Client-Cert
    http-request del-header Client-Cert-Chain
    http-request set-header Client-Cert :%[ssl_c_der,base64]: if { ssl_c_used }
    default_backend apache

backend apache
    server httpd 127.0.0.1:$MTLS_T_FWD_HAPROXY_PORT source 127.0.0.2

frontend clients_pinned
    bind 127.0.0.1:$pin ssl crt $STATE/haproxy-server.pem ca-file $PKI/ca-bundle.crt verify optional ca-ignore-err all crt-ignore-err all
    http-request del-header Client-Cert
    http-request del-header Client-Cert-Chain
    http-request set-header Client-Cert :%[ssl_c_der,base64]: if { ssl_c_used }
    default_backend apache_tls

backend apache_tls
    server httpd 127.0.0.1:$MTLS_T_FWD_TLS_PORT source 127.0.0.2 ssl verify none crt $STATE/haproxy-client.pem
CFG
    haproxy -c -q -f "$STATE/haproxy.cfg" >&2 || { echo "haproxy refused its configuration" >&2; exit 1; }
    haproxy -D -f "$STATE/haproxy.cfg" >"$STATE/haproxy.log" 2>&1 || { cat "$STATE/haproxy.log" >&2; exit 1; }
    wait_port "$port" 10 && wait_port "$pin" 10 || { echo "haproxy did not start" >&2; cat "$STATE/haproxy.log" >&2; exit 1; }
    echo "MTLS_T_HAPROXY_PORT=$port"
    echo "MTLS_T_HAPROXY_PIN_PORT=$pin"
    ;;
stop)
    stop_pidfile "$PIDFILE"
    ;;
*) echo "usage: haproxy.sh start|stop STATEDIR" >&2; exit 2 ;;
esac
