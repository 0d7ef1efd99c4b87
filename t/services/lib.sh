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
