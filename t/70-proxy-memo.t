# The identity worked out for a forwarded certificate is remembered with
# the certificate (in the per-process cache) for as long as it is valid,
# as the direct path remembers it with the connection: once expired (here
# the directory's answer, MTLSCacheTTL 1) the next request resolves it
# again and the one after gets the new answer from the memo; an answer
# the directory could not give is never remembered; and the variables
# remembered with it still move with the clock (MTLS_DAYS_LEFT).
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use LWP::UserAgent ();
use HTTP::Request ();
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time sleep);
use MTLSTest;

my $RES = 'resolved (forwarded certificate)';
my $MEM = 'remembered with the forwarded certificate';

# 127.0.0.2 is the trusted proxy of vhost mtls_fwd_memo; one kept-alive
# connection, so the requests are answered by one process (and its cache
# of forwarded certificates) -- unless the MPM retires that child between
# two of them (worker and event do when threads are spare), so every
# check below is made per process, from the pid in the log line.
my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 20,
                             local_address => '127.0.0.2');
my $cert = do {
    my $d = `openssl x509 -in '${\pki('ldcert.crt')}' -outform DER`;
    die "openssl" if $?;
    ':' . encode_base64($d, '') . ':';
};
my $port = MTLSTest::port('mtls_fwd_memo');
sub forwarded {
    my ($path, $value) = @_;
    my $req = HTTP::Request->new(GET => "http://127.0.0.1:$port$path");
    $req->header(Accept => 'application/json');
    $req->header('Client-Cert' => $value // $cert);
    return $ua->request($req);
}
# How the identity of the request for PATH was found (MTLS1010/1011),
# and the pid of the process that found it.
sub how {
    my ($mark, $path) = @_;
    my ($l) = log_wait($mark, qr/MTLS101[01]: .*identity for \Q$path\E: /);
    return ['-', '(no log line)'] unless $l;
    my ($pid) = $l =~ /\[pid (\d+)/;
    $l =~ /; ([^;]+)$/;
    return [$pid // '-', $1 // $l];
}
# What a run of requests should have logged: in each process, the first
# one resolves and every later one is remembered.
sub per_process {
    my %seen;
    return [map { $seen{$_->[0]}++ ? $MEM : $RES } @_];
}
# Three requests: even if the child is retired once among them, two of
# them meet in one process, so the expectation always holds a $MEM (and
# a memo that remembers nothing cannot pass).
sub remembered_somewhere {
    return scalar grep { $_ eq $MEM } @{per_process(@_)};
}

plan tests => 17;

# ---- an identity that expires is replaced, then remembered again -------
my $base = uniq('/memo/ttl');
my @how;
my $mark = log_mark();
for my $i (1, 2, 3) {
    my $r = forwarded("$base/$i");
    is($r->code, 200, "request $i: ldcert forwarded, in ldap-admins: 200");
    push @how, how($mark, "$base/$i");
}
is_deeply([map { $_->[1] } @how], per_process(@how),
          'resolved, then remembered with the certificate');
ok(remembered_somewhere(@how), '... at least one of them from the memo');
sleep 3;                                    # past MTLSCacheTTL 1
@how = ();
$mark = log_mark();
for my $i (4, 5, 6) {
    my $r = forwarded("$base/$i");
    is($r->code, 200, "request $i after the identity expired: 200");
    push @how, how($mark, "$base/$i");
}
is($how[0][1], $RES, 'the first request after it expired resolves again');
is_deeply([map { $_->[1] } @how[1, 2]], [@{per_process(@how)}[1, 2]],
          '... and the new identity is remembered for the next ones');
ok(remembered_somewhere(@how), '... at least one of them from the memo');

# ---- "could not answer" is never remembered ----------------------------
$base = uniq('/memo/down');
@how = ();
$mark = log_mark();
my @codes;
for my $i (1, 2) {
    my $r = forwarded("$base/$i");
    push @codes, $r->code . ' ' . (json_of($r)->{reason} // '-');
    push @how, how($mark, "$base/$i");
}
is_deeply(\@codes, ['403 directory-unavailable', '403 directory-unavailable'],
          'directory down, MTLSLDAPOnError deny: 403 directory-unavailable');
is_deeply([map { $_->[1] } @how], [$RES, $RES],
          '... resolved again on every request, never remembered');

# ---- MTLS_DAYS_LEFT of remembered variables moves with the clock -------
# A certificate valid for one day and a few seconds: days-left is 1, and
# 0 once those seconds have passed.  The variables worked out before
# that moment are remembered with the certificate; a request after it
# that takes them from the memo must still say 0.
sub days_run {
    my $try = shift;
    my $name = "dayedge$$-$try";
    chomp(my $end = `sh '@{[pki('mkshort.sh')]}' $name 86405`);
    die "mkshort.sh failed" unless $end =~ /^\d+$/;
    my $der = `openssl x509 -in '${\pki("$name.crt")}' -outform DER`;
    die "openssl" if $?;
    my $value = ':' . encode_base64($der, '') . ':';
    my $edge = $end - 86400;           # days-left is 0 from just after it
    my $base = uniq('/memo/days');
    my (@days, @how);
    my $mark = log_mark();
    for my $i (1 .. 6) {
        sleep 0.1 while $i == 4 && time < $edge + 1;
        return if $i <= 3 && time >= $edge - 1;     # too slow to see 1
        my $r = forwarded("$base/$i", $value);
        push @days, $r->code . ' ' . (env_of($r)->{MTLS_DAYS_LEFT} // '-');
        push @how, how($mark, "$base/$i");
    }
    my %before = map { $_->[0] => 1 } @how[0 .. 2];
    my $memo = grep { $_->[1] eq $MEM && $before{$_->[0]} } @how[3 .. 5];
    return { days => \@days, memo => $memo };
}
my $run;
for my $try (1 .. 3) {
    $run = days_run($try) or next;
    last if $run->{memo};          # (else the child was retired: again)
}
ok($run, 'a certificate valid for a day and 5 s, requested before its '
   . 'days-left drops');
$run ||= { days => [], memo => 0 };
is_deeply([@{$run->{days}}[0 .. 2]], ['200 1', '200 1', '200 1'],
          'before the edge: MTLS_DAYS_LEFT 1');
is_deeply([@{$run->{days}}[3 .. 5]], ['200 0', '200 0', '200 0'],
          'after it: MTLS_DAYS_LEFT 0');
ok($run->{memo}, '... with the identity remembered from before the edge');
