# SetHandler mtls-status: after a known sequence of requests (each on a
# fresh connection, so under prefork they land in several children) every
# counter has exactly the expected value; one change of a watched file
# counts once for the whole server, however many processes re-read it;
# counts survive a graceful restart (SIGUSR1 to the parent); a graceful
# restart under keep-alive load fails no request.  The output is checked
# by a Prometheus text-format parser (below).
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use Time::HiRes qw(sleep time);
use POSIX ();
use HTTP::Request ();

my $mpm = Apache::Test::config()->httpd_mpm || '';
plan tests => 48;

my $t_dir = Apache::Test::vars('t_dir');
my $run = "$t_dir/runtime";
my $logs = Apache::Test::vars('t_logs');
sub slurp { open my $f, '<', $_[0] or return ''; local $/; my $s = <$f>; $s }

# ---- a parser of the Prometheus text format (0.0.4) ---------------------------
# Returns ({ 'name{a="x",b="y"}' => value }, { family => type }, [errors]).
sub parse_prom {
    my ($text) = @_;
    my (%v, %type, %help, @err);
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        next if $line eq '';
        if (my ($what, $fam, $text) = $line =~ /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/) {
            if ($what eq 'TYPE') {
                push @err, "$n: TYPE $fam twice" if $type{$fam};
                push @err, "$n: bad type $text" unless $text =~ /^(counter|gauge|histogram|summary|untyped)$/;
                $type{$fam} = $text;
            }
            else { $help{$fam} = $text }
            next;
        }
        if ($line =~ /^#/) { next }
        my ($name, $labels, $value) = $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
            or do { push @err, "$n: not a sample: $line"; next };
        my @l;
        my $rest = $labels // '';
        while ($rest ne '') {
            $rest =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)//
                or do { push @err, "$n: bad labels: $labels"; last };
            my ($k, $val) = ($1, $2);
            $val =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            push @l, [$k, $val];
        }
        push @err, "$n: bad value $value"
            unless $value =~ /^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+|Inf|NaN)$/;
        my $family = $name;
        $family =~ s/_(bucket|sum|count)$// unless $type{$name};
        push @err, "$n: $name has no TYPE before it" unless $type{$family} || $type{$name};
        push @err, "$n: $name has no HELP" unless $help{$family} || $help{$name};
        my $key = $name . (@l ? '{' . join(',', map { "$_->[0]=\"$_->[1]\"" } sort { $a->[0] cmp $b->[0] } @l) . '}' : '');
        push @err, "$n: $key twice" if exists $v{$key};
        $v{$key} = $value;
    }
    # histograms: cumulative buckets ending in +Inf == _count
    for my $h (grep { $type{$_} eq 'histogram' } keys %type) {
        my @b = sort { $a->[0] <=> $b->[0] }
                map { /le="([^"]+)"/; [$1 eq '+Inf' ? 9**9**9 : $1, $v{$_}] }
                grep { /^\Q$h\E_bucket\{/ } keys %v;
        for my $i (1 .. $#b) { push @err, "$h: buckets not cumulative" if $b[$i][1] < $b[$i - 1][1] }
        push @err, "$h: no +Inf bucket" unless @b && $b[-1][0] == 9**9**9;
        push @err, "$h: +Inf != _count" unless @b && defined $v{"${h}_count"} && $b[-1][1] == $v{"${h}_count"};
        push @err, "$h: no _sum" unless defined $v{"${h}_sum"};
    }
    return (\%v, \%type, \@err);
}

# the parser itself can fail
{
    my (undef, undef, $e) = parse_prom("# TYPE x counter\nx{a=\"b} 1\ny 2\n");
    ok((grep { /bad labels/ } @$e) && (grep { /y has no TYPE/ } @$e) && (grep { /x has no HELP/ } @$e),
       'parser: rejects a bad label, a sample without TYPE or HELP') or diag("@$e");
}

sub scrape {
    my $res = GET_as('', '/status', vhost => 'mtls_ops', ua => fresh_ua(''));
    return ($res, parse_prom($res->decoded_content(charset => 'none') // ''));
}
sub dec { my ($r, $q) = @_; "mtls_authz_decisions_total{reason=\"$q\",result=\"$r\"}" }
sub idn { my ($s, $st) = @_; "mtls_authz_identities_total{source=\"$s\",strength=\"$st\"}" }
sub days { "mtls_authz_client_cert_days_left_bucket{le=\"$_[0]\"}" }
sub reloads { my ($f, $r) = @_; "mtls_authz_reloads_total{file=\"$f\",result=\"$r\"}" }
sub delta { my ($a, $b, $k) = @_; ($b->{$k} // 'absent') - ($a->{$k} // 0) }

# ---- the format -------------------------------------------------------------------
my ($res, $m0, $types, $err) = scrape();
is($res->code, 200, 'mtls-status answers 200');
is($res->header('Content-Type') // '', 'text/plain; version=0.0.4; charset=utf-8', 'Prometheus content type');
is(scalar @$err, 0, 'the output parses as Prometheus text') or diag(join "\n", @$err);
my %want_types = (
    mtls_authz_decisions_total => 'counter', mtls_authz_identities_total => 'counter',
    mtls_authz_cache_total => 'counter', mtls_authz_ldap_operations_total => 'counter',
    mtls_authz_ldap_seconds => 'histogram', mtls_authz_client_cert_days_left => 'histogram',
    mtls_authz_reloads_total => 'counter');
is(join(',', map { "$_=" . ($types->{$_} // '-') } sort keys %want_types),
   join(',', map { "$_=$want_types{$_}" } sort keys %want_types), 'every metric of SPEC §10 with its type');
ok(exists $m0->{$_}, "present: $_") for
    dec('would-deny', 'revoked'), 'mtls_authz_cache_total{result="stale"}',
    'mtls_authz_ldap_operations_total{result="timeout"}', 'mtls_authz_ldap_seconds_bucket{le="+Inf"}';
my $crlfile = "$run/ops-metrics-crl.pem";
ok(exists $m0->{reloads($crlfile, 'ok')}, 'reloads are labelled by file path');
is(GET_as('', '/status', vhost => 'mtls_ops', ua => fresh_ua(''))->code, 200, 'scrape again');
is(fresh_ua('')->request(HTTP::Request->new(POST => url('/status', 'mtls_ops')))->code, 405,
   'POST is refused (405)');

# ---- a known sequence, each request on a new connection --------------------------
my $mark = log_mark();
my $amark = -s "$logs/mtls_ops_access.log" || 0;
my @seq = (
    ([alice => '/m/verified', 200]) x 3,          # granted, no user mapped here
    ([alice => '/m/group', 200]) x 2,             # granted, map strong (admins)
    [bob   => '/m/group', 403],                 # group-mismatch, map weak (subject key)
    [''    => '/m/verified', 403],              # no-certificate
    [bob   => '/m/deny', 403],                  # denylisted
    ([alice => '/m/report', 200]) x 2,            # would-deny user-mismatch, rule weak
    [alice => '/m/authn', 200],                 # granted (AuthType mtls), rule weak
    [''    => '/m/open', 200],                  # not an mtls decision
);
my @codes = map { GET_as($_->[0], uniq($_->[1]), vhost => 'mtls_ops', ua => fresh_ua($_->[0]))->code } @seq;
is("@codes", join(' ', map { $_->[2] } @seq), 'the sequence answered as expected');
sleep 0.3;   # log_transaction runs after the response is sent
my ($r1, $m1) = scrape();
my %expect = (
    dec('granted', 'none') => 6,
    dec('denied', 'group-mismatch') => 1,
    dec('denied', 'no-certificate') => 1,
    dec('denied', 'denylisted') => 1,
    dec('would-deny', 'user-mismatch') => 2,
    dec('denied', 'user-mismatch') => 0,
    dec('denied', 'revoked') => 0,
    idn('map', 'strong') => 2,
    idn('map', 'weak') => 1,
    idn('rule', 'weak') => 3,
    idn('rule', 'strong') => 0,
    days('365') => 0,
    days('730') => 10,
    days('+Inf') => 10,
    'mtls_authz_client_cert_days_left_count' => 10,
    'mtls_authz_ldap_seconds_count' => 0,
    'mtls_authz_cache_total{result="hit"}' => 0,
);
for my $k (sort keys %expect) {
    is(delta($m0, $m1, $k), $expect{$k}, "after the sequence: $k +$expect{$k}");
}
my $days = cert('alice')->{not_after} - time;
my $sum = delta($m0, $m1, 'mtls_authz_client_cert_days_left_sum');
ok($sum >= 10 * (int($days / 86400) - 1) && $sum <= 10 * int($days / 86400),
   "days-left sum: 10 certificates of about " . int($days / 86400) . " days ($sum)");

# which processes served the sequence (%P in the access log)
my %pids;
for (split /\n/, substr(slurp("$logs/mtls_ops_access.log"), $amark)) {
    $pids{$1}++ if m{^(\d+) \d+ "[^"]*" \d+ "/m/};
}
if ($mpm eq 'prefork') {
    ok(keys %pids > 1, 'prefork: the sequence was served by ' . scalar(keys %pids) . ' processes, summed');
}
else {
    ok(keys %pids >= 1, "$mpm: served by " . scalar(keys %pids) . ' process(es), summed');
}

# ---- reloads: one change counts once for the server -----------------------------
my $bump = 0;
sub install {
    my ($from) = @_;
    open my $fh, '>', "$crlfile.tmp" or die $!;
    print $fh slurp(pki($from)); close $fh;
    rename "$crlfile.tmp", $crlfile or die $!;
    my $t = time + 2 + $bump++;
    utime $t, $t, $crlfile;
}
sub wait_metric {
    my ($key, $want) = @_;
    my $end = time + 10;
    while (time < $end) {
        my (undef, $m) = scrape();
        return $m if ($m->{$key} // -1) == $want;
        sleep 0.2;
    }
    my (undef, $m) = scrape();
    return $m;
}
install('crl-evil.pem');
my $m2 = wait_metric(reloads($crlfile, 'error'), $m1->{reloads($crlfile, 'error')} + 1);
is(delta($m1, $m2, reloads($crlfile, 'error')), 1, 'a refused CRL counts one error');
sleep 2.5;   # every process has re-read it by now (MTLSReloadInterval 1)
my (undef, $m3) = scrape();
is(delta($m1, $m3, reloads($crlfile, 'error')), 1, '... once, whatever the number of processes');
is(delta($m1, $m3, reloads($crlfile, 'ok')), 0, '... and no success');
ok(scalar(log_wait($mark, qr/ops-metrics-crl\.pem:1: CRL refused/)), '... as the error log says');
install('crl-after.pem');
$m3 = wait_metric(reloads($crlfile, 'ok'), $m1->{reloads($crlfile, 'ok')} + 1);
sleep 2.5;
my (undef, $m4) = scrape();
is(delta($m1, $m4, reloads($crlfile, 'ok')), 1, 'a good CRL counts one success');
is(GET_as(crlb => uniq('/m/crl'), vhost => 'mtls_ops', ua => fresh_ua('crlb'))->code, 403, 'and is in force (crl-b revoked)');
sleep 0.3;
my (undef, $m5) = scrape();
is(delta($m4, $m5, dec('denied', 'revoked')), 1, 'the revocation is counted as denied/revoked');

# ---- a graceful restart keeps the counts ------------------------------------------
my $ppid = slurp("$logs/httpd.pid"); $ppid =~ s/\s+//g;
sub graceful {
    my $mk = log_mark();
    kill 'USR1', $ppid or die "cannot signal $ppid: $!";
    return scalar(log_wait($mk, qr/resuming normal operations/, 15));
}
my (undef, $before) = scrape();
ok(graceful(), 'graceful restart (SIGUSR1 to the parent)');
my $after;
for (1 .. 50) { my ($r, $m) = scrape(); if ($r->code == 200) { $after = $m; last } sleep 0.2 }
my @same = grep { /^mtls_authz_(decisions|identities|client_cert|reloads)/ && ($after->{$_} // -1) != $before->{$_} } keys %$before;
is(scalar @same, 0, 'after the graceful restart every count is unchanged') or diag("changed: @same");
ok(exists $after->{reloads($crlfile, 'ok')}, 'the file labels are still there');
# not a CGI: mod_cgid's daemon may still be restarting (503)
is(GET_as(alice => uniq('/ka'), vhost => 'mtls_ops', ua => fresh_ua('alice'))->code, 200, 'a request after the restart');
sleep 0.3;
my (undef, $after2) = scrape();
is(delta($after, $after2, dec('granted', 'none')), 1, '... is counted on top of the old counts');
is(ppid_now(), $ppid, 'the same parent (a graceful restart, not a new server)');
sub ppid_now { my $p = slurp("$logs/httpd.pid"); $p =~ s/\s+//g; $p }

# ---- a graceful restart under keep-alive load: no request fails -------------------
# Each loader keeps one connection alive and sends requests back to back.
# A client may resend an idempotent request when a reused connection is
# closed before any byte of the answer (RFC 9112 9.3.1; browsers and curl
# do): that is the only retry; anything else counts as a failure.
my $loaders = 3;
my @kids;
my $until = time + 7;
for my $i (1 .. $loaders) {
    pipe my $rd, my $wr or die $!;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        my ($ok, $fail, $retried, $conns) = (0, 0, 0, 0);
        my $ua = fresh_ua('alice');
        while (time < $until) {
            my $p = uniq('/ka');
            my $r = GET_as(alice => $p, vhost => 'mtls_ops', ua => $ua);
            if (!$r->is_success && ($r->header('Client-Warning') // '') eq 'Internal response'
                && $r->message =~ /Server closed connection without sending any data back|Connection reset/) {
                $retried++;
                $r = GET_as(alice => $p, vhost => 'mtls_ops', ua => $ua);
            }
            if ($r->code == 200) { $ok++ } else { $fail++; print STDERR "loader $i: ", $r->status_line, "\n" }
        }
        print $wr "$ok $fail $retried\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    push @kids, [$pid, $rd];
}
sleep 2;
ok(graceful(), 'graceful restart under keep-alive load');
my ($ok, $fail, $retried) = (0, 0, 0);
for (@kids) {
    my ($pid, $rd) = @$_;
    my $line = <$rd> // "0 1 0\n";
    waitpid $pid, 0;
    my @n = split ' ', $line;
    $ok += $n[0]; $fail += $n[1]; $retried += $n[2];
}
ok($ok > 30, "keep-alive load: $ok requests answered");
is($fail, 0, "keep-alive load across the graceful restart: no failed request ($retried resent after a closed idle connection)");
