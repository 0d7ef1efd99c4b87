# The identity worked out for a forwarded certificate is remembered with
# the certificate (in the per-process cache) for as long as it is valid,
# as the direct path remembers it with the connection: once expired (here
# the directory's answer, MTLSCacheTTL 1) the next request resolves it
# again and the one after gets the new answer from the memo; an answer
# the directory could not give is never remembered.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use LWP::UserAgent ();
use HTTP::Request ();
use MIME::Base64 qw(encode_base64);
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
    my $path = shift;
    my $req = HTTP::Request->new(GET => "http://127.0.0.1:$port$path");
    $req->header(Accept => 'application/json');
    $req->header('Client-Cert' => $cert);
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

plan tests => 13;

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
