# SSLVerifyClient require, the browser bundle (alice.p12), ErrorDocument
# precedence over MTLSErrorDetail, and how the error body is negotiated.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use HTTP::Request ();

plan tests => 18;

# ---- SSLVerifyClient require ------------------------------------------------------
my $res = GET_as(alice => uniq('/verified'), vhost => 'mtls_require');
is($res->code, 200, 'verify require: alice 200');
is(env_of($res)->{MTLS_USER} // '', 'alice', 'verify require: identity');
$res = GET_as(bob => uniq('/verified'), vhost => 'mtls_require', json => 1);
is($res->code, 403, 'verify require: bob 403 (not in admins)');
is(json_of($res)->{reason} // '', '', 'verify require: no MTLSErrorDetail in this vhost, no JSON reason');
$res = GET_as('' => uniq('/verified'), vhost => 'mtls_require', ua => fresh_ua(''));
is($res->header('Client-Warning') // '', 'Internal response', 'verify require: no certificate, no TLS session');

# ---- the .p12 bundle (what a browser imports) --------------------------------------
{
    my $url = MTLSTest::url(uniq('/fields'));
    $url =~ s/127\.0\.0\.1/localhost/;
    my $out = `curl -s --cacert '@{[pki('ca-bundle.crt')]}' --cert-type P12 --cert '@{[pki('alice.p12')]}:demo' '$url'`;
    like($out, qr/^MTLS_USER=alice$/m, 'alice.p12 (password demo) maps to alice');
    like($out, qr/^MTLS_SHA256=\Q@{[cert('alice')->{sha256}]}\E$/m,
         'alice.p12: the server got exactly alice.crt');
    # the bundle's certificate is judged by the module like any other: a
    # location that refuses alice refuses the .p12, with her in the log
    my $mark = log_mark();
    (my $deny = MTLSTest::url(my $dp = uniq('/p/subjectcomma'))) =~ s/127\.0\.0\.1/localhost/;
    $out = `curl -s -H 'Accept: application/json' --cacert '@{[pki('ca-bundle.crt')]}' --cert-type P12 --cert '@{[pki('alice.p12')]}:demo' -w '\n%{http_code}' '$deny'`;
    like($out, qr/"reason"\s*:\s*"subject-mismatch".*\n403$/s, 'alice.p12 where alice is refused: 403 subject-mismatch');
    my @l = log_wait($mark, qr/denied: reason=subject-mismatch .*uri=\Q$dp\E(\s|$)/);
    like($l[0] // '', qr/subject="CN=alice,OU=admins,O=Lab"/, 'alice.p12: the denial names alice');
}

# ---- ErrorDocument wins --------------------------------------------------------------
$res = GET_as('' => uniq('/errdoc'));
is($res->code, 403, 'ErrorDocument: 403');
like($res->content, qr/custom denial page/, 'ErrorDocument: the administrator\'s page');
unlike($res->content, qr/--cert/, 'ErrorDocument: not the module\'s detail');

# ---- content negotiation of the error body ---------------------------------------
sub with_accept {
    my ($accept) = @_;
    my $req = HTTP::Request->new(GET => MTLSTest::url(uniq('/p/verified')));
    $req->header(Accept => $accept) if defined $accept;
    return ua('')->request($req);
}
like(with_accept('text/html;q=0.5, application/json')->header('Content-Type') // '',
     qr{^application/json}, 'Accept: JSON preferred over HTML gives JSON');
like(with_accept('text/html, application/json;q=0.5')->header('Content-Type') // '',
     qr{^text/html}, 'Accept: HTML preferred over JSON gives HTML');
like(with_accept(undef)->header('Content-Type') // '', qr{^text/html}, 'no Accept header gives HTML');
like(with_accept('*/*')->header('Content-Type') // '', qr{^text/html}, 'Accept */* gives HTML');
like(with_accept('application/json;q=0.5, */*')->header('Content-Type') // '',
     qr{^text/html}, 'Accept: any type preferred over JSON gives HTML');
$res = with_accept('application/json');
like($res->content, qr/"reason"\s*:\s*"no-certificate"/, 'JSON body is raw JSON');
