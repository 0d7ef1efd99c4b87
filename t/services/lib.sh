# Helpers for t/services/*.sh (sourced).

# free_ports N: N distinct TCP ports on 127.0.0.1, one a line, that
# nothing listens on now and that no service of this run has taken yet
# (STATEDIR/ports lists them: a port chosen now may only be bound later,
# e.g. by the httpd behind the proxies).
free_ports() {
    perl -MIO::Socket::INET -e '
        my ($n, $taken) = @ARGV;
        my (%t, @p);
        if (defined $taken && open my $f, "<", $taken) { chomp, $t{$_} = 1 for <$f> }
        for (1 .. 100 * $n) {
            last if @p == $n;
            my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                          LocalPort => 0, ReuseAddr => 1) or die;
            my $p = $s->sockport;
            next if $t{$p}++;
            push @p, $p;
        }
        die "no free port\n" unless @p == $n;
        if (defined $taken) { open my $f, ">>", $taken or die; print $f "$_\n" for @p }
        print "$_\n" for @p;' "$1" ${STATE:+"$STATE/ports"}
}

# free_port: one such port.
free_port() {
    free_ports 1
}

# mpms: the MPMs of this run, one a line (t/run-tests.sh sets MTLS_T_MPMS;
# the MPMs run at the same time, so whatever a test changes or counts
# exists once per MPM: print it as "MPM:KEY=VALUE").
mpms() {
    for _m in ${MTLS_T_MPMS:-}; do echo "$_m"; done
}

# need_mpms: stop unless the MPMs of the run are known.
need_mpms() {
    [ -n "${MTLS_T_MPMS:-}" ] || { echo "MTLS_T_MPMS is not set (t/run-tests.sh sets it)" >&2; exit 1; }
}

# mpm_var MPM VAR: the value an earlier service printed as "MPM:VAR=..."
# (t/run-tests.sh keeps those in STATEDIR/env-MPM).
mpm_var() {
    sed -n "s/^$2=//p" "$STATE/env-$1" 2>/dev/null | tail -1
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
        # (|| true: under set -e, a process already gone must not end
        # the caller before it stops the others)
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

# --- what the proxy scripts (haproxy.sh, nginx.sh) share -----------------

# need PROGRAM: stop with the reason when PROGRAM is not installed.
need() {
    command -v "$1" >/dev/null ||
        { echo "$1 is not installed (make -f Makefile.apxs deps)" >&2; exit 1; }
}

# need_vars VAR...: stop unless fwd-ports.sh set every VAR for every MPM
# (the ports of the httpd's vhosts behind the proxies).
need_vars() {
    need_mpms
    for _m in $(mpms); do
        for v in "$@"; do
            [ -n "$(mpm_var "$_m" "$v")" ] || { echo "$v is not set for $_m: fwd-ports.sh must run first" >&2; exit 1; }
        done
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
