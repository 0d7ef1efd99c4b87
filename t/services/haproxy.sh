#!/bin/sh
# A real HAProxy (Debian's 2.6) in front of the test httpd, terminating
# the client's TLS with the suite's PKI and forwarding the certificate.
# It verifies nothing itself (ca-ignore-err/crt-ignore-err all): the
# module must refuse what does not verify.  Backend connections are
# shared by every client (http-reuse always) and leave from 127.0.0.2,
# the trusted proxy address.
#   MTLS_T_HAPROXY_PORT        RFC 9440 Client-Cert, plain HTTP/1.1
#                              -> MTLS_T_FWD_HAPROXY_PORT
#   MTLS_T_HAPROXY_PIN_PORT    the same over TLS with the proxy's own
#                              client certificate (proxyhop)
#                              -> MTLS_T_FWD_TLS_PORT
#   MTLS_T_HAPROXY_DERB64_PORT base64 DER in X-Forwarded-Tls-Client-Cert
#                              (Traefik's header), HTTP/1.1
#                              -> MTLS_T_FWD_DERB64_PORT
#   MTLS_T_HAPROXY_H2_PORT     Client-Cert over cleartext HTTP/2 (h2c,
#                              proto h2: one connection multiplexes the
#                              clients' requests) -> MTLS_T_FWD_H2C_PORT
# One HAProxy for the run, with these four frontends for each MPM (its
# ports printed as MPM:MTLS_T_HAPROXY_*_PORT=N) in front of that MPM's httpd.
#   haproxy.sh start STATEDIR | stop STATEDIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# frontend NAME PORT BACKEND HEADER VALUE: clients' TLS, the forwarded
# certificate header set by HAProxy alone (a client's copy deleted).
frontend() {
    cat <<CFG

frontend $1
    bind 127.0.0.1:$2 ssl crt $STATE/haproxy-server.pem ca-file $PKI/ca-bundle.crt verify optional ca-ignore-err all crt-ignore-err all
    http-request del-header Client-Cert
    http-request del-header Client-Cert-Chain
    http-request del-header X-Forwarded-Tls-Client-Cert
    http-request set-header $4 $5 if { ssl_c_used }
    default_backend $3
CFG
}

do_start() {
    need haproxy
    need_vars MTLS_T_FWD_HAPROXY_PORT MTLS_T_FWD_TLS_PORT MTLS_T_FWD_DERB64_PORT MTLS_T_FWD_H2C_PORT
    cat "$PKI/server.crt" "$PKI/server.key" > "$STATE/haproxy-server.pem"
    cat "$PKI/proxyhop.crt" "$PKI/proxyhop.key" > "$STATE/haproxy-client.pem"
    ports=""
    : > "$STATE/haproxy.out"
    {
        cat <<CFG
global
    pidfile $STATE/haproxy.pid
    maxconn 768
    tune.ssl.default-dh-param 2048

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    http-reuse always
CFG
        for mpm in $(mpms); do
            set -- $(free_ports 4)
            port=$1 pin=$2 derb64=$3 h2=$4
            ports="$ports $*"
            cat <<CFG

backend apache_$mpm
    server httpd 127.0.0.1:$(mpm_var "$mpm" MTLS_T_FWD_HAPROXY_PORT) source 127.0.0.2

backend apache_tls_$mpm
    server httpd 127.0.0.1:$(mpm_var "$mpm" MTLS_T_FWD_TLS_PORT) source 127.0.0.2 ssl verify none crt $STATE/haproxy-client.pem

backend apache_derb64_$mpm
    server httpd 127.0.0.1:$(mpm_var "$mpm" MTLS_T_FWD_DERB64_PORT) source 127.0.0.2

backend apache_h2_$mpm
    server httpd 127.0.0.1:$(mpm_var "$mpm" MTLS_T_FWD_H2C_PORT) source 127.0.0.2 proto h2
CFG
            frontend "clients_$mpm" "$port" "apache_$mpm" Client-Cert ':%[ssl_c_der,base64]:'
            frontend "clients_pinned_$mpm" "$pin" "apache_tls_$mpm" Client-Cert ':%[ssl_c_der,base64]:'
            frontend "clients_derb64_$mpm" "$derb64" "apache_derb64_$mpm" X-Forwarded-Tls-Client-Cert '%[ssl_c_der,base64]'
            frontend "clients_h2_$mpm" "$h2" "apache_h2_$mpm" Client-Cert ':%[ssl_c_der,base64]:'
            {
                echo "$mpm:MTLS_T_HAPROXY_PORT=$port"
                echo "$mpm:MTLS_T_HAPROXY_PIN_PORT=$pin"
                echo "$mpm:MTLS_T_HAPROXY_DERB64_PORT=$derb64"
                echo "$mpm:MTLS_T_HAPROXY_H2_PORT=$h2"
            } >> "$STATE/haproxy.out"
        done
        echo "$ports" > "$STATE/haproxy.ports"
    } > "$STATE/haproxy.cfg"
    haproxy -c -q -f "$STATE/haproxy.cfg" >&2 || { echo "haproxy refused its configuration" >&2; exit 1; }
    haproxy -D -f "$STATE/haproxy.cfg" >"$STATE/haproxy.log" 2>&1 || { cat "$STATE/haproxy.log" >&2; exit 1; }
    # shellcheck disable=SC2046
    wait_ports_or_fail haproxy "$STATE/haproxy.log" $(cat "$STATE/haproxy.ports")
    cat "$STATE/haproxy.out"
}

do_stop() {
    stop_pidfile "$STATE/haproxy.pid"
}

service_main haproxy.sh "$@"
