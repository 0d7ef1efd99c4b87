# A certificate that arrives in the middle of a keep-alive connection
# (per-location SSLVerifyClient, TLS 1.2 renegotiation): the identity must
# follow the certificate, not what the connection had before.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

plan tests => 6;

my ($plain, $reneg) = (uniq('/plain'), uniq('/reneg'));
my @url = map { MTLSTest::url($_, 'mtls_reneg') } $plain, $reneg;
my $cmd = join ' ', 'curl -sv --http1.1 --tls-max 1.2 -k',
    "--cert '@{[pki('alice.crt')]}' --key '@{[pki('alice.key')]}'",
    map({ "'$_'" } @url), '2>&1';
my $out = `$cmd`;

like($out, qr/Re-using existing connection|Reusing existing connection/i,
     'both requests went over one connection');
my (undef, $first, $second) = split /^< HTTP\/1\.1 /m, $out;
$first //= '';
$second //= '';
like($first, qr/REQUEST_URI=\Q$plain\E/, 'first: the location without SSLVerifyClient');
like($second, qr/^200 /, 'second: the location that renegotiates answers 200');
unlike($first, qr/^MTLS_USER=/m, 'before renegotiation: no user');
like($second, qr/^MTLS_USER=alice$/m, 'after renegotiation: alice, on the same connection');
like($second, qr/REQUEST_URI=\Q$reneg\E/, 'second: the renegotiated location');
