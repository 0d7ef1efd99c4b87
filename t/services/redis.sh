#!/bin/sh
# A real redis-server on loopback for the shared-cache tests (MTLSCache
# redis:...).   redis.sh start|stop STATEDIR
set -eu
CMD=${1:?usage: redis.sh start|stop STATEDIR}
STATE=${2:?usage: redis.sh start|stop STATEDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
REDIS=${REDIS:-/usr/bin/redis-server}
case $CMD in
start)
    [ -x "$REDIS" ] || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
    port=$(free_port)
    mkdir -p "$STATE/redis"
    "$REDIS" --bind 127.0.0.1 --port "$port" --daemonize yes \
        --pidfile "$STATE/redis/redis.pid" --dir "$STATE/redis" --save '' \
        --appendonly no --logfile "$STATE/redis/redis.log" >/dev/null
    wait_port "$port" 10 || { echo "redis did not start" >&2; exit 1; }
    echo "MTLS_T_REDIS_PORT=$port"
    ;;
stop)
    stop_pidfile "$STATE/redis/redis.pid" || true
    ;;
esac
