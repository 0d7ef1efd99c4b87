# Helpers for t/services/*.sh (sourced).

# free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0, ReuseAddr => 1) or die;
        print $s->sockport, "\n";'
}

# wait_port PORT [SECONDS]: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
    perl -MIO::Socket::INET -e '
        my ($port, $secs) = @ARGV; my $end = time + $secs;
        while (time < $end) {
            exit 0 if IO::Socket::INET->new(PeerAddr => "127.0.0.1",
                                            PeerPort => $port, Timeout => 1);
            select undef, undef, undef, 0.1;
        }
        exit 1;' "$1" "${2:-20}"
}

# stop_pidfile FILE: end the process whose pid FILE holds (SIGCONT first,
# in case a test left it stopped).
stop_pidfile() {
    [ -f "$1" ] || return 0
    pid=$(cat "$1" 2>/dev/null)
    if [ -n "$pid" ]; then
        kill -CONT "$pid" 2>/dev/null
        kill "$pid" 2>/dev/null
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$1"
}

# --- what the proxy scripts (haproxy.sh, nginx.sh) share -----------------

# need PROGRAM: stop with the reason when PROGRAM is not installed.
need() {
    command -v "$1" >/dev/null ||
        { echo "$1 is not installed (make -f Makefile.apxs deps)" >&2; exit 1; }
}

# need_vars VAR...: stop unless fwd-ports.sh set every VAR (the ports of
# the httpd's vhosts behind the proxies).
need_vars() {
    for v in "$@"; do
        eval "[ -n \"\${$v:-}\" ]" || { echo "$v is not set: fwd-ports.sh must run first" >&2; exit 1; }
    done
}

# free_ports N: N distinct free ports, one a line.
free_ports() {
    _used=" "
    _n=0
    while [ "$_n" -lt "$1" ]; do
        _p=$(free_port)
        case "$_used" in *" $_p "*) continue ;; esac
        _used="$_used$_p "
        _n=$((_n + 1))
        echo "$_p"
    done
}

# wait_ports_or_fail WHAT LOG PORT...: wait for every PORT; on failure
# say WHAT did not start, show LOG and stop.
wait_ports_or_fail() {
    _what=$1 _log=$2
    shift 2
    for _p in "$@"; do
        wait_port "$_p" 10 && continue
        echo "$_what did not start (port $_p)" >&2
        [ ! -f "$_log" ] || cat "$_log" >&2
        exit 1
    done
}

# service_main SCRIPT start|stop STATEDIR: call the script's do_start or
# do_stop (with STATE and PKI set), the usage line otherwise.
service_main() {
    _script=$1
    shift
    STATE=${2:-}
    [ -n "$STATE" ] || { echo "usage: $_script start|stop STATEDIR" >&2; exit 2; }
    PKI=$(cd "$HERE/../pki/out" && pwd)
    case ${1:-} in
    start) do_start ;;
    stop) do_stop ;;
    *) echo "usage: $_script start|stop STATEDIR" >&2; exit 2 ;;
    esac
}
