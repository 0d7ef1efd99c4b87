# What mod_ssl does before the module sees anything (expired, revoked,
# wrong-purpose and look-alike certificates with SSLVerifyClient optional),
# keep-alive reuse, and HTTP/2 (curl --http2).
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestConfig ();
use MTLSTest;
use File::Temp qw(tempdir);

my $mpm = Apache::Test::config()->httpd_mpm || '';
my $h2 = $mpm ne 'prefork';   # mod_http2 stays inactive under prefork

plan tests => 4 * 4 + 8 + 14;

# ---- handshake refusals ------------------------------------------------------
# With SSLVerifyClient optional, mod_ssl aborts the TLS handshake for these
# (verified empirically): no HTTP response, the error in mod_ssl's log line,
# and the module never logs a denial for them.
for my $case (['expired', 10, 'certificate has expired'],
              ['revoked', 23, 'certificate revoked'],
              ['serveronly', 26, 'unsuitable certificate purpose'],
              ['evilalice', 20, 'unable to get local issuer certificate']) {
    my ($who, $err, $text) = @$case;
    my $mark = log_mark();
    my $p = uniq('/p/verified');
    my $res = GET_as($who, $p, ua => fresh_ua($who));
    ok($res->code != 200 && $res->code != 403, "$who: no HTTP answer (" . $res->code . ")");
    is($res->header('Client-Warning') // '', 'Internal response', "$who: the client saw the TLS failure");
    my @l = log_wait($mark, qr/Certificate Verification: Error \($err\): \Q$text\E/);
    ok(scalar @l, "$who: mod_ssl refused the handshake: $text");
    # Then the same URI without a certificate: the module refuses it with
    # a line naming the URI, as it would have refused a request that came
    # with the bad certificate (not-verified).  Exactly one such line, and
    # exactly one request in the access log: the control's.
    GET_as('', $p, ua => fresh_ua(''));
    my @d = log_wait($mark, qr/denied: reason=\S+ .*uri=\Q$p\E(\s|$)/);
    access_wait($mark, $p);
    my @acc = grep { /"\Q$p\E"$/ } split /\n/, MTLSTest::read_from(MTLSTest::access_log(), $mark->{access});
    is(join(' ', scalar @acc, map { /reason=(\S+)/ } @d), '1 no-certificate',
       "$who: no request reached the server (only the control did)");
}

# ---- keep-alive ------------------------------------------------------------------
{
    my $ua = fresh_ua('alice');
    my $mark = log_mark();
    my @p = map { uniq($_) } qw(/p/user /p/subjectcomma /fields /p/user);
    my @codes = map { GET_as(alice => $_, ua => $ua)->code } @p;
    is("@codes", "200 403 200 200", 'keep-alive: grant, deny, grant, grant on one connection');
    my @ka = map { my $a = access_wait($mark, $_); $a ? $a->{keepalive} : -1 } @p;
    is("@ka", "0 1 2 3", 'keep-alive: one connection (%k)');
    my @u = map { my $a = access_wait($mark, $_); $a ? $a->{reason} : '?' } @p;
    is("@u", "- subject-mismatch - -", 'keep-alive: MTLS_DENY_REASON only on the denied request');
    my $res = GET_as(alice => uniq('/fields'), ua => $ua);
    is(env_of($res)->{MTLS_USER} // '', 'alice', 'keep-alive: identity after a denial');

    # two certificates, two connections, never mixed up
    my $ub = fresh_ua('bob');
    my @users = map { env_of(GET_as($_->[0], uniq('/fields'), ua => $_->[1]))->{MTLS_USER} // '' }
        ([alice => $ua], [bob => $ub], [alice => $ua], [bob => $ub]);
    is("@users", 'alice bob alice bob', 'keep-alive: interleaved connections keep their identity');

    # a new connection without certificate gets no identity
    my $res2 = GET_as('', uniq('/open'), ua => fresh_ua(''));
    is($res2->code, 200, 'no certificate: an open location still works');
    is(env_of($res2)->{MTLS_USER} // '', '', 'no certificate: no MTLS_USER');
    is(GET_as('', uniq('/p/verified'), ua => fresh_ua(''))->code, 403, 'no certificate: mtls-verified 403');
}

# ---- HTTP/2 --------------------------------------------------------------------------
my $dir = tempdir(CLEANUP => 1);
sub curl {
    my ($who, @paths) = @_;
    my @cmd = ('curl', '-s', '--http2', '--cacert', pki('ca-bundle.crt'),
               '-H', 'Accept: application/json');
    push @cmd, '--cert', pki("$who.crt"), '--key', pki("$who.key") if $who;
    my $i = 0;
    for (@paths) {
        $i++;
        push @cmd, '-o', "$dir/body$i", '-w', '%{http_code} %{http_version} %{num_connects}\n',
             sprintf('https://localhost:%d%s', MTLSTest::port('mtls'), $_);
    }
    open my $fh, '-|', @cmd or die "curl: $!";
    my @out = map { [split] } <$fh>;
    close $fh;
    my @bodies = map { local $/; open my $b, '<', "$dir/body$_" or return ''; scalar <$b> } 1 .. @paths;
    return (\@out, \@bodies);
}
sub body_env { my %e = $_[0] =~ /^([A-Z_0-9]+)=(.*)$/mg; \%e }

{
    my $want = $h2 ? '2' : '1.1';
    my $mark = log_mark();
    my @p = (uniq('/fields'), uniq('/rule/email'), uniq('/p/user'));
    my ($out, $bodies) = curl(alice => @p);
    is($out->[0][0] // '', '200', "h2 ($mpm): alice 200");
    is($out->[0][1] // '', $want, "h2 ($mpm): protocol $want");
    is(body_env($bodies->[0])->{MTLS_USER} // '', 'alice', 'h2: MTLS_USER on a stream');
    is(body_env($bodies->[0])->{SERVER_PROTOCOL} // '', $h2 ? 'HTTP/2.0' : 'HTTP/1.1', 'h2: the CGI saw the protocol');
    is(body_env($bodies->[1])->{MTLS_USER} // '', 'alice', 'h2: second stream, other location');
    is($out->[1][2] // '', '0', 'h2: second request reused the connection');
    is($out->[2][0] // '', '200', 'h2: third stream granted by mtls-user');
    my $acc = access_wait($mark, $p[0]);
    is($acc && $acc->{protocol}, $h2 ? 'HTTP/2.0' : 'HTTP/1.1', 'h2: access log protocol');

    $mark = log_mark();
    my $q = uniq('/p/user');
    ($out, $bodies) = curl(bob => $q);
    is($out->[0][0] // '', '403', 'h2: bob denied by mtls-user');
    my $j = eval { JSON::PP->new->decode($bodies->[0]) } || {};
    is($j->{reason} // '', 'user-mismatch', 'h2: JSON reason');
    is(scalar(log_wait($mark, qr/denied: reason=user-mismatch .*uri=\Q$q\E(\s|$)/)), 1, 'h2: one denial line');

    ($out, $bodies) = curl('' => uniq('/p/verified'));
    is($out->[0][0] // '', '403', 'h2: no certificate 403');
    $j = eval { JSON::PP->new->decode($bodies->[0]) } || {};
    is($j->{reason} // '', 'no-certificate', 'h2: no-certificate');

    ($out, $bodies) = curl(svc => uniq('/rule/spiffe'));
    is(body_env($bodies->[0])->{MTLS_USER} // '', 'api.prod', 'h2: SPIFFE rule');
}
