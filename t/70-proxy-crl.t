# MTLSCRL holds for a certificate a trusted proxy forwarded exactly as for
# one presented directly: listed means reason revoked, whether the answer
# is resolved or comes from the forwarded certificate's cache.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use LWP::UserAgent ();
use HTTP::Request ();
use MIME::Base64 qw(encode_base64);
use MTLSTest qw(:DEFAULT der_of);

die "MTLS_T_FWD_HAPROXY_PORT is not set: t/services/fwd-ports.sh did not run\n"
    unless $ENV{MTLS_T_FWD_HAPROXY_PORT};

# 127.0.0.2 is a trusted proxy of the mtls_fwd_haproxy vhost (RFC 9440).
my $ua = LWP::UserAgent->new(keep_alive => 2, timeout => 20,
                             local_address => '127.0.0.2');
sub forwarded {
    my ($name, $path) = @_;
    my $req = HTTP::Request->new(GET => "http://127.0.0.1:$ENV{MTLS_T_FWD_HAPROXY_PORT}$path");
    $req->header(Accept => 'application/json');
    $req->header('Client-Cert' => ':' . encode_base64(der_of($name), '') . ':');
    return $ua->request($req);
}

plan tests => 8;

for my $round (1, 2) {      # the second answer comes from the cache
    my $r = forwarded(crla => '/p/crl');
    is($r->code, 200, "round $round: crl-a (not listed) forwarded: allowed");
    $r = forwarded(crlb => '/p/crl');
    is($r->code, 403, "round $round: crl-b (listed by MTLSCRL) forwarded: refused");
    is(json_of($r)->{reason} // '', 'revoked', "round $round: ... reason revoked");
}
is(forwarded(crlb => '/p/verified')->code, 200,
   'crl-b forwarded where no MTLSCRL applies: allowed (mod_ssl-level checks pass)');
my $mark = log_mark();
forwarded(crlb => '/p/crl');
ok(scalar(log_wait($mark, qr/denied: reason=revoked subject="CN=crl-b,OU=ops,O=Lab"/)),
   'the refusal log line names the reason and the forwarded subject');
