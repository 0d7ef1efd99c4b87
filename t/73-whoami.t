# SetHandler mtls-whoami: for each test certificate (and none), what the
# server sees and the identity the location maps it to, as JSON, and as a
# page when a browser asks (Accept: text/html).  Expected facts come from
# the openssl CLI (MTLSTest::PKI) and the configuration in
# t/conf/mtls-ops.conf.in, not from the module.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use HTTP::Request ();

# name => [user, source, strength, groups, reason]
my %want = (
    alice    => ['alice', 'map', 'strong', 'admins,mapped,auditors', 'none'],
    bob      => [undef, undef, undef, undef, 'denylisted'],
    svc      => ['svc-by-spki', 'map', 'strong', '', 'none'],
    direct   => ['direct-by-is', 'map', 'strong', '', 'none'],
    svcdev   => ['web', 'rule:1', 'weak', '', 'none'],
    dns      => ['host1', 'rule:1', 'weak', '', 'none'],
    upn      => ['carol', 'rule:1', 'weak', 'ops', 'none'],
    comma    => ['Doe, John', 'rule:1', 'weak', 'dev', 'none'],
    utf8     => ["J\x{fc}rgen \x{c4}", 'rule:1', 'weak', '', 'none'],
    multiou  => ['dave', 'rule:1', 'weak', 'auditors,admins,dba,ops', 'none'],
    multirdn => ['eve', 'rule:1', 'weak', '', 'none'],
    crla     => ['crl-a', 'rule:1', 'weak', 'ops', 'none'],
    crlb     => [undef, undef, undef, undef, 'revoked'],
    ocspgood => ['ocsp-good', 'rule:1', 'weak', '', 'none'],
);
my @names = sort keys %want;
plan tests => 9 * @names + 24;

sub whoami {
    my ($who, $path, %o) = @_;
    my $ua = fresh_ua($who);
    my $req = HTTP::Request->new(GET => url($path, 'mtls_ops'));
    $req->header(Accept => $o{accept} // 'application/json');
    return $ua->request($req);
}

for my $n (@names) {
    my ($user, $source, $strength, $groups, $reason) = @{ $want{$n} };
    my $c = cert($n);
    my $res = whoami($n, '/whoami');
    is($res->header('Content-Type') // '', 'application/json', "$n: JSON");
    my $j = json_of($res);
    is($j->{verify} // '', 'SUCCESS', "$n: mod_ssl's verify result");
    is($j->{certificate}{sha256} // '', $c->{sha256}, "$n: sha256");
    is($j->{certificate}{serial} // '', $c->{serial}, "$n: serial");
    is($j->{reason} // '', $reason, "$n: reason $reason");
    is(($j->{granted} ? 'true' : 'false'), ($reason eq 'none' ? 'true' : 'false'), "$n: granted");
    if (defined $user) {
        is($j->{identity}{user} // '', $user, "$n: user $user");
        is(($j->{identity}{source} // '') . '/' . ($j->{identity}{strength} // ''), "$source/$strength",
           "$n: source $source, $strength");
        is(join(',', @{ $j->{identity}{groups} || [] }), $groups, "$n: groups [$groups]");
    }
    else {
        ok(!defined $j->{identity}, "$n: no identity");
        ok(length($j->{hint} // '') > 10, "$n: a hint");
        like($j->{message} // '', qr/\S/, "$n: a message");
    }
}

# ---- details -----------------------------------------------------------------------
my $j = json_of(whoami(alice => '/whoami'));
is($j->{certificate}{subject} // '', 'CN=alice,OU=admins,O=Lab', 'alice: subject (RFC 4514)');
is($j->{certificate}{issuer} // '', 'CN=MTLS Test Client CA,O=Lab', 'alice: issuer');
is(join(',', @{ $j->{certificate}{'san:email'} || [] }), 'alice@lab.example', 'alice: SAN email');
like($j->{certificate}{'not-after'} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'alice: not_after RFC 3339');
is($j->{certificate}{'days-left'}, int((cert('alice')->{not_after} - time) / 86400), 'alice: days_left');
like($j->{protocol} // '', qr/^TLSv1\.[23]$/, 'alice: TLS protocol');
is(json_of(whoami(svc => '/whoami'))->{certificate}{'san:uri'}[0] // '',
   'spiffe://lab.example/ns/prod/sa/api', 'svc: SAN URI');

# MTLSRequireStrength strong in a sub-location
$j = json_of(whoami(multiou => '/whoami/strong'));
is($j->{reason} // '', 'weak-mapping', 'weak mapping where strong is required: weak-mapping');
is($j->{identity}{user} // '', 'dave', '... and still shows whom it maps to');
is(json_of(whoami(alice => '/whoami/strong'))->{reason} // '', 'none', 'a strong mapping passes there');

# a location with only a map file: unmapped
$j = json_of(whoami(utf8 => '/whoami-map'));
is($j->{reason} // '', 'unmapped', 'only a map file: unmapped');
ok(exists $j->{identity} && !defined $j->{identity}{user}, '... an identity section without a user');

# ---- no certificate -------------------------------------------------------------------
my $res = whoami('', '/whoami');
is($res->code, 200, 'no certificate: still answers 200');
$j = json_of($res);
is($j->{verify} // '', 'NONE', 'no certificate: verify NONE');
is($j->{reason} // '', 'no-certificate', 'no certificate: reason no-certificate');
ok(exists $j->{certificate} && !defined $j->{certificate}, 'no certificate: certificate null');
like($j->{hint} // '', qr/--cert/, 'no certificate: the hint says how to pass one with curl');
ok($j->{tls}, 'no certificate: the connection is TLS');

# ---- a browser ---------------------------------------------------------------------------
$res = whoami(comma => '/whoami', accept => 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
is($res->header('Content-Type') // '', 'text/html; charset=utf-8', 'browser: an HTML page');
like($res->decoded_content // '', qr{<td>CN=Doe\\, John,OU=dev,O=Lab\\, Inc\.</td>}, 'browser: the subject, escaped');
$res = whoami('', '/whoami', accept => 'text/html;q=0.5, application/json');
like($res->header('Content-Type') // '', qr{^application/json}, 'JSON preferred over HTML: JSON');
# the page is for browsers, which name text/html: a wildcard alone is not one
$res = whoami('', '/whoami', accept => 'application/json;q=0.5, */*');
like($res->header('Content-Type') // '', qr{^application/json}, 'JSON and a wildcard: JSON');
$res = whoami('', '/whoami', accept => 'text/html');
like($res->decoded_content // '', qr/no-certificate.*import your certificate/s, 'browser, no certificate: reason and hint');
like($res->header('Vary') // '', qr/Accept/, 'the answer varies with Accept');
