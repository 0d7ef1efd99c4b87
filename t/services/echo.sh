#!/bin/sh
# A backend that answers every request with the request head exactly as it
# arrived (request line and header lines, names in their spelling, in
# order, duplicates kept) as text/plain: what a proxied application would
# see.  Used by t/70-headers.t through real mod_proxy_http.
#   echo.sh start STATEDIR   prints MTLS_T_ECHO_PORT=N
#   echo.sh stop STATEDIR
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
STATE=${2:?usage: echo.sh start|stop STATEDIR}
PIDFILE="$STATE/echo.pid"

case $1 in
start)
    port=$(free_port)
    perl -MIO::Socket::INET -MPOSIX -e '
        my ($port, $pidfile) = @ARGV;
        my $l = IO::Socket::INET->new(Listen => 64, LocalAddr => "127.0.0.1",
            LocalPort => $port, ReuseAddr => 1) or die "listen: $!";
        defined(my $pid = fork) or die "fork: $!";
        if ($pid) { open my $f, ">", $pidfile or die; print $f $pid; exit 0 }
        POSIX::setsid();
        open STDIN, "<", "/dev/null"; open STDOUT, ">", "/dev/null";
        $SIG{CHLD} = "IGNORE";
        while (1) {
            my $c = $l->accept or next;
            my $k = fork;
            if (!defined $k || $k) { close $c; next }
            close $l;
            $c->autoflush(1);
            # keep-alive: mod_proxy reuses its backend connections
            while (1) {
                my ($head, $line) = ("");
                local $SIG{ALRM} = sub { exit 0 };
                alarm 30;
                while (defined($line = <$c>)) {
                    $head .= $line;
                    last if $line eq "\r\n" || $line eq "\n";
                }
                alarm 0;
                exit 0 unless length $head && defined $line;
                my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
                read($c, my $body, $len) if $len;
                print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n",
                    "Content-Length: ", length($head), "\r\n\r\n", $head;
            }
        }' "$port" "$PIDFILE"
    wait_port "$port" 10 || { echo "echo backend did not start" >&2; exit 1; }
    echo "MTLS_T_ECHO_PORT=$port"
    ;;
stop)
    # the server leads its own process group (setsid): its per-connection
    # children go with it
    if [ -f "$PIDFILE" ]; then
        kill -TERM -- "-$(cat "$PIDFILE")" 2>/dev/null || true
    fi
    stop_pidfile "$PIDFILE"
    ;;
esac
