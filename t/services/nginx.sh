#!/bin/sh
# A real nginx (Debian's nginx-light) in front of the test httpd,
# terminating the client's TLS with the suite's PKI and forwarding the
# certificate URL-encoded ($ssl_client_escaped_cert) in X-SSL-Client-Cert,
# over kept-alive upstream connections that leave from 127.0.0.3 (a
# trusted proxy address).  A second server is a backend that answers with
# the forwarded-certificate headers it received (underscore spellings
# too), so tests can show none gets past Apache.
#   MTLS_T_NGINX_PORT      TLS for clients -> MTLS_T_FWD_NGINX_PORT
#   MTLS_T_ECHO_FWD_PORT   the echoing backend
#   nginx.sh start STATEDIR | stop STATEDIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
STATE=${2:?usage: nginx.sh start|stop STATEDIR}
PKI=$(cd "$HERE/../pki/out" && pwd)
PIDFILE="$STATE/nginx/nginx.pid"

case $1 in
start)
    command -v nginx >/dev/null || { echo "nginx is not installed (make -f Makefile.apxs deps)" >&2; exit 1; }
    : "${MTLS_T_FWD_NGINX_PORT:?fwd-ports.sh must run first}"
    port=$(free_port)
    echo_port=$(free_port)
    [ "$echo_port" != "$port" ] || echo_port=$(free_port)
    mkdir -p "$STATE/nginx/tmp"
    cat > "$STATE/nginx/nginx.conf" <<CFG
worker_processes 1;
daemon on;
pid $PIDFILE;
error_log $STATE/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $STATE/nginx/tmp/body;
    proxy_temp_path $STATE/nginx/tmp/proxy;
    fastcgi_temp_path $STATE/nginx/tmp/fastcgi;
    uwsgi_temp_path $STATE/nginx/tmp/uwsgi;
    scgi_temp_path $STATE/nginx/tmp/scgi;
    upstream apache {
        server 127.0.0.1:$MTLS_T_FWD_NGINX_PORT;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $PKI/server.crt;
        ssl_certificate_key $PKI/server.key;
        ssl_client_certificate $PKI/ca-bundle.crt;
        ssl_verify_client optional_no_ca;
        ssl_verify_depth 3;
        location / {
            proxy_pass http://apache;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-SSL-Client-Cert \$ssl_client_escaped_cert;
            proxy_bind 127.0.0.3;
        }
    }
    server {
        listen 127.0.0.1:$echo_port;
        underscores_in_headers on;
        location / {
            default_type text/plain;
            return 200 "client-cert=[\$http_client_cert] client-cert-chain=[\$http_client_cert_chain] x-ssl-client-cert=[\$http_x_ssl_client_cert]\n";
        }
    }
}
CFG
    nginx -t -q -p "$STATE/nginx" -e "$STATE/nginx/error.log" -c "$STATE/nginx/nginx.conf" >&2 ||
        { echo "nginx refused its configuration" >&2; exit 1; }
    nginx -p "$STATE/nginx" -e "$STATE/nginx/error.log" -c "$STATE/nginx/nginx.conf" >&2 ||
        { cat "$STATE/nginx/error.log" >&2; exit 1; }
    wait_port "$port" 10 && wait_port "$echo_port" 10 ||
        { echo "nginx did not start" >&2; cat "$STATE/nginx/error.log" >&2; exit 1; }
    echo "MTLS_T_NGINX_PORT=$port"
    echo "MTLS_T_ECHO_FWD_PORT=$echo_port"
    ;;
stop)
    stop_pidfile "$PIDFILE"
    ;;
*) echo "usage: nginx.sh start|stop STATEDIR" >&2; exit 2 ;;
esac
