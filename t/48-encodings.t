# One certificate, another encoding; names whose values cannot be decoded.
#
# bob-twin and alice-twin (t/pki/extra/twin.sh) are bob's and alice's
# certificates with the ECDSA signature (r, s) re-encoded as (r, n-s): the
# same certificate, signed by the same CA, it verifies, but its sha256 is
# another.  Whoever holds a lost certificate and its key could make one.
# A deny-listed certificate must stay denied in every such encoding, and a
# map file must give the twin what it gives the original, never another
# entry.  nulcn is CN=admin\0.evil,O=Lab: it must not read as CN=,O=Lab.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

my %c = map { $_ => cert($_) } qw(alice bob alice-twin bob-twin);

plan tests => 44;

sub get {
    my ($who, $path) = @_;
    my $res = GET_as($who, uniq($path), json => 1);
    return ($res, $res->code, json_of($res)->{reason} // '', env_of($res));
}

# ---- the twins are real: another hash, and mod_ssl verifies them -------
for my $n (qw(alice bob)) {
    isnt($c{"$n-twin"}{sha256}, $c{$n}{sha256}, "$n-twin: another sha256");
    is($c{"$n-twin"}{spki}, $c{$n}{spki}, "$n-twin: the same key");
    my $v = `openssl verify -CAfile ${\ pki('root.crt')} -untrusted ${\ pki('inter.crt')} $c{"$n-twin"}{crt} 2>&1`;
    like($v, qr/: OK$/m, "$n-twin: verifies against the test CA");
    # /fields grants only a certificate mod_ssl calls SUCCESS
    my ($res, $code, undef, $env) = get("$n-twin", '/fields');
    is($code, 200, "$n-twin: mod_ssl accepts it (mtls-verified grants)");
    is($env->{MTLS_SHA256} // '', $c{"$n-twin"}{sha256}, "$n-twin: seen with its own sha256");
}

# ---- the deny list names the certificate in every encoding -------------
{
    my ($res, $code, $reason) = get(bob => '/p/deny');
    is($code, 403, 'bob: deny-listed by sha256');
    is($reason, 'denylisted', 'bob: reason denylisted');
}
for my $path (qw(/p/deny /p/denyuser /p/denysubject)) {
    my ($res, $code, $reason) = get('bob-twin' => $path);
    is($code, 403, "bob-twin $path: refused");
    is($reason, 'denylisted', "bob-twin $path: reason denylisted");
}
{
    my ($res, $code, undef, $env) = get('alice-twin' => '/p/deny');
    is($code, 200, 'alice-twin /p/deny: not listed, granted');
    is($env->{MTLS_USER} // '', 'alice', 'alice-twin /p/deny: user from subject:CN');
}
# listing the twin's hash denies the original too
{
    my ($res, $code, $reason) = get(alice => '/twin/deny');
    is($code, 403, 'alice /twin/deny (her twin is listed): refused');
    is($reason, 'denylisted', 'alice /twin/deny: reason denylisted');
    ($res, $code, $reason) = get('alice-twin' => '/twin/deny');
    is($code, 403, 'alice-twin /twin/deny: refused');
    ($res, $code) = get(bob => '/twin/deny');
    is($code, 200, 'bob /twin/deny: granted');
}

# ---- the map file: the twin gets the original's entry ------------------
for my $who (qw(alice alice-twin)) {
    my ($res, $code, undef, $env) = get($who => '/twin/map');
    is($code, 200, "$who /twin/map: 200");
    is($env->{MTLS_USER} // '', 'alice', "$who /twin/map: mapped by sha256, not by key or subject");
    is($env->{MTLS_STRENGTH} // '', 'strong', "$who /twin/map: strong");
    is($env->{MTLS_GROUPS} // '', 'admins', "$who /twin/map: the entry's groups");
}

# ---- mtls-fingerprint: sha256: is one encoding, spki: is the key -------
{
    my ($res, $code, $reason) = get(alice => '/p/fp');
    is($code, 200, 'alice /p/fp: her sha256 is listed');
    ($res, $code, $reason) = get('alice-twin' => '/p/fp');
    is($code, 403, 'alice-twin /p/fp: the twin is not that sha256 (fail closed)');
    is($reason, 'fingerprint-mismatch', 'alice-twin /p/fp: fingerprint-mismatch');
    ($res, $code) = get('bob-twin' => '/p/fp');
    is($code, 200, "bob-twin /p/fp: bob's spki is listed, any encoding");
}

# ---- an undecodable value: no subject, no such attribute, and a log line --
{
    my $mark = log_mark();
    my ($res, $code, undef, $env) = get(nulcn => '/f/subject');
    is($code, 200, 'nulcn /f/subject: verified');
    ok(!exists $env->{MTLS_USER}, 'nulcn /f/subject: no user from a subject that cannot be read')
        or diag("MTLS_USER=$env->{MTLS_USER}");
    ok(!exists $env->{MTLS_SUBJECT}, 'nulcn: no MTLS_SUBJECT (not "CN=,O=Lab")')
        or diag("MTLS_SUBJECT=$env->{MTLS_SUBJECT}");
    ($res, $code, undef, $env) = get(nulcn => '/f/cn');
    ok(!exists $env->{MTLS_USER}, 'nulcn /f/cn: the CN has no value');
    ($res, $code, undef, $env) = get(nulcn => '/f/o');
    is($env->{MTLS_USER} // '', 'Lab', 'nulcn /f/o: the other attributes still read');
    my @l = log_wait($mark, qr/MTLS0301: .*the subject cannot be decoded: its CN value holds a NUL byte/);
    ok(scalar @l, 'nulcn: the log says why the subject has no value');
    # refused, the HTML body and the log line cope with a name without text
    $mark = log_mark();
    my $p = uniq('/p/subject');
    $res = GET_as(nulcn => $p);
    is($res->code, 403, 'nulcn /p/subject: subject-mismatch 403 with an HTML body');
    @l = log_wait($mark, qr/denied: reason=subject-mismatch subject=- .*uri=\Q$p\E(\s|$)/);
    is(scalar @l, 1, 'nulcn /p/subject: logged with subject=-');
}
