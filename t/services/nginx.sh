#!/bin/sh
# A real nginx (Debian's nginx-light) in front of the test httpd,
# terminating the client's TLS with the suite's PKI, over kept-alive
# upstream connections that leave from 127.0.0.3 (a trusted proxy
# address).  A third server is a backend that answers with the
# forwarded-certificate headers it received (underscore spellings too),
# so tests can show none gets past Apache.
#   MTLS_T_NGINX_PORT       $ssl_client_escaped_cert in X-SSL-Client-Cert
#                           -> MTLS_T_FWD_NGINX_PORT
#   MTLS_T_NGINX_XFCC_PORT  Envoy's x-forwarded-client-cert, an earlier
#                           hop's element first (with a Cert that is no
#                           certificate: only the last element counts),
#                           then this hop's Cert="URL-encoded PEM"
#                           -> MTLS_T_FWD_XFCC_PORT
#   MTLS_T_ECHO_FWD_PORT    the echoing backend
# One nginx for the run, with the two TLS servers for each MPM (ports
# printed as MPM:MTLS_T_NGINX_*PORT=N) in front of that MPM's httpd; the
# echoing backend is shared.
#   nginx.sh start STATEDIR | stop STATEDIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# tls_server PORT UPSTREAM HEADER VALUE: clients' TLS, proxied with the
# forwarded certificate in HEADER.
tls_server() {
    cat <<CFG
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $PKI/server.crt;
        ssl_certificate_key $PKI/server.key;
        ssl_client_certificate $PKI/ca-bundle.crt;
        ssl_verify_client optional_no_ca;
        ssl_verify_depth 3;
        location / {
            proxy_pass http://$2;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header $3 $4;
            proxy_bind 127.0.0.3;
        }
    }
CFG
}

do_start() {
    need nginx
    need_vars MTLS_T_FWD_NGINX_PORT MTLS_T_FWD_XFCC_PORT
    dir="$STATE/nginx"
    mkdir -p "$dir/tmp"
    echo_port=$(free_port)
    ports="$echo_port"
    : > "$dir/nginx.out"
    {
        cat <<CFG
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 768; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
CFG
        for mpm in $(mpms); do
            set -- $(free_ports 2)
            port=$1 xfcc=$2
            ports="$ports $*"
            cat <<CFG
    upstream apache_$mpm {
        server 127.0.0.1:$(mpm_var "$mpm" MTLS_T_FWD_NGINX_PORT);
        keepalive 4;
    }
    upstream apache_xfcc_$mpm {
        server 127.0.0.1:$(mpm_var "$mpm" MTLS_T_FWD_XFCC_PORT);
        keepalive 4;
    }
CFG
            tls_server "$port" "apache_$mpm" X-SSL-Client-Cert '$ssl_client_escaped_cert'
            tls_server "$xfcc" "apache_xfcc_$mpm" X-Forwarded-Client-Cert \
                '"By=spiffe://lab.example/edge;Cert=\"not-a-certificate\",By=spiffe://lab.example/apache;Cert=\"$ssl_client_escaped_cert\""'
            {
                echo "$mpm:MTLS_T_NGINX_PORT=$port"
                echo "$mpm:MTLS_T_NGINX_XFCC_PORT=$xfcc"
            } >> "$dir/nginx.out"
        done
        echo "$ports" > "$dir/nginx.ports"
        cat <<CFG
    server {
        listen 127.0.0.1:$echo_port;
        underscores_in_headers on;
        location / {
            default_type text/plain;
            return 200 "client-cert=[\$http_client_cert] client-cert-chain=[\$http_client_cert_chain] x-ssl-client-cert=[\$http_x_ssl_client_cert] xfcc=[\$http_x_forwarded_client_cert] x-forwarded-tls-client-cert=[\$http_x_forwarded_tls_client_cert]\n";
        }
    }
}
CFG
    } > "$dir/nginx.conf"
    nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >&2 ||
        { echo "nginx refused its configuration" >&2; exit 1; }
    nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >&2 ||
        { cat "$dir/error.log" >&2; exit 1; }
    # shellcheck disable=SC2046
    wait_ports_or_fail nginx "$dir/error.log" $(cat "$dir/nginx.ports")
    cat "$dir/nginx.out"
    echo "MTLS_T_ECHO_FWD_PORT=$echo_port"
}

do_stop() {
    stop_pidfile "$STATE/nginx/nginx.pid"
}

service_main nginx.sh "$@"
