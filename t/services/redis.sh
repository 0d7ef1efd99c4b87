#!/bin/sh
# Real redis-servers on loopback for the shared-cache tests (MTLSCache
# redis:...), one per MPM of the run (MPM:MTLS_T_REDIS_PORT=N): the tests
# flush the server and read its counters, which are the whole server's.
#   redis.sh start|stop STATEDIR
set -eu
CMD=${1:?usage: redis.sh start|stop STATEDIR}
STATE=${2:?usage: redis.sh start|stop STATEDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
REDIS=${REDIS:-/usr/bin/redis-server}
case $CMD in
start)
    [ -x "$REDIS" ] || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
    need_mpms
    for mpm in $(mpms); do
        port=$(free_port)
        d="$STATE/redis/$mpm"
        mkdir -p "$d"
        "$REDIS" --bind 127.0.0.1 --port "$port" --daemonize yes \
            --pidfile "$d/redis.pid" --dir "$d" --save '' \
            --appendonly no --logfile "$d/redis.log" >/dev/null
        wait_port "$port" 10 || { echo "redis did not start" >&2; exit 1; }
        echo "$mpm:MTLS_T_REDIS_PORT=$port"
    done
    ;;
stop)
    for pidfile in "$STATE"/redis/*/redis.pid; do
        stop_pidfile "$pidfile" || true
    done
    ;;
esac
