#!/bin/sh
# A real memcached on loopback for the shared-cache tests (MTLSCache
# memcache:...).   memcached.sh start|stop STATEDIR
set -eu
CMD=${1:?usage: memcached.sh start|stop STATEDIR}
STATE=${2:?usage: memcached.sh start|stop STATEDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
case $CMD in
start)
    [ -x "$MEMCACHED" ] || { echo "memcached is not installed (apt-get install memcached)" >&2; exit 1; }
    port=$(free_port)
    "$MEMCACHED" -l 127.0.0.1 -p "$port" -U 0 -m 64 -d -P "$STATE/memcached.pid"
    wait_port "$port" 10 || { echo "memcached did not start" >&2; exit 1; }
    echo "MTLS_T_MEMCACHED_PORT=$port"
    ;;
stop)
    stop_pidfile "$STATE/memcached.pid" || true
    ;;
esac
