#!/bin/sh
# Real memcached servers on loopback for the shared-cache tests (MTLSCache
# memcache:...), one per MPM of the run (MPM:MTLS_T_MEMCACHED_PORT=N): the
# tests flush the server and read its counters, which are the whole
# server's.   memcached.sh start|stop STATEDIR
set -eu
CMD=${1:?usage: memcached.sh start|stop STATEDIR}
STATE=${2:?usage: memcached.sh start|stop STATEDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
case $CMD in
start)
    [ -x "$MEMCACHED" ] || { echo "memcached is not installed (apt-get install memcached)" >&2; exit 1; }
    need_mpms
    for mpm in $(mpms); do
        port=$(free_port)
        "$MEMCACHED" -l 127.0.0.1 -p "$port" -U 0 -m 64 -d -P "$STATE/memcached-$mpm.pid"
        wait_port "$port" 10 || { echo "memcached did not start" >&2; exit 1; }
        echo "$mpm:MTLS_T_MEMCACHED_PORT=$port"
    done
    ;;
stop)
    for pidfile in "$STATE"/memcached-*.pid; do
        stop_pidfile "$pidfile" || true
    done
    ;;
esac
