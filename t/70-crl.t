# MTLSCRL: a CRL replaced while the server runs refuses a certificate
# within the reload interval (MTLSReloadInterval 1), a CRL that is not
# signed by the CA file's CA is refused with a clear log line and the
# previous one kept, and a CRL past its nextUpdate with MTLSCRLStale deny
# and allow.  crla and crlb are valid for mod_ssl (its own CRL does not
# list them): only MTLSCRL can refuse them.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use Time::HiRes qw(sleep time);

plan tests => 28;

my $run = Apache::Test::vars('t_dir') . '/runtime';
my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
sub slurp { open my $f, '<', $_[0] or return ''; local $/; my $s = <$f>; $s }
my $pid0 = slurp($pidfile);

my $bump = 0;
# Replace the live CRL with a PKI file; a strictly newer mtime each time.
sub install {
    my ($from) = @_;
    my $text = slurp(pki($from)) or die "no $from";
    open my $fh, '>', "$run/ops-crl.pem.tmp" or die $!;
    print $fh $text; close $fh;
    rename "$run/ops-crl.pem.tmp", "$run/ops-crl.pem" or die $!;
    my $t = time + 2 + $bump++;
    utime $t, $t, "$run/ops-crl.pem";
    return time;
}
sub get { GET_as($_[0], uniq($_[1]), vhost => 'mtls_ops', ua => fresh_ua($_[0]), json => 1) }
sub code { get(@_)->code }
sub reason { json_of($_[0])->{reason} // '' }
# COND holds for 8 fresh connections in a row (they land on any process);
# returns the seconds it took, or undef after 10 s.
sub eventually {
    my ($cond) = @_;
    my ($t0, $ok) = (time, 0);
    while (time < $t0 + 10) {
        if ($cond->()) { return time - $t0 if ++$ok >= 8 } else { $ok = 0; sleep 0.1 }
    }
    return undef;
}
sub always { my $cond = shift; for (1 .. 8) { return 0 unless $cond->() } 1 }

# ---- the CRL at start-up lists neither ------------------------------------
ok(always(sub { code(crla => '/crl/live') == 200 }), 'crl-a allowed at first');
ok(always(sub { code(crlb => '/crl/live') == 200 }), 'crl-b allowed at first');
my $r = get(revoked => '/crl/live');
isnt($r->code, 200, 'mod_ssl still refuses its own revoked certificate');

# ---- crl-b revoked while the server runs ------------------------------------
my $mark = log_mark();
my $t0 = install('crl-after.pem');
my $took = eventually(sub { code(crlb => '/crl/live') == 403 });
ok(defined $took, 'crl-b refused after the CRL was replaced');
# the watcher checks every second; 8 answers in a row take their own time
ok(defined $took && $took < 1 + 3, sprintf('... within the reload interval (%.1f s)', $took // -1));
# 8 refusals in a row need not have reached every process: each watcher
# ticks on its own second, so only after a whole interval are all in force
my $left = $t0 + 1.5 - time;
sleep $left if $left > 0;
$r = get(crlb => '/crl/live');
is(reason($r), 'revoked', 'crl-b: reason revoked');
is($r->header('Content-Type') // '', 'application/json', 'crl-b: JSON error body');
ok(scalar(log_wait($mark, qr/denied: reason=revoked subject="CN=crl-b,OU=ops,O=Lab"/)),
   'crl-b: the refusal log line names the reason and the subject');
ok(scalar(log_wait($mark, qr/ops-crl\.pem reloaded/)), 'the reload is logged');
ok(always(sub { code(crla => '/crl/live') == 200 }), 'crl-a still allowed');
is(code(crlb => '/crl/none'), 200, 'crl-b allowed where MTLSCRL none');
is(code(crlb => '/m/verified'), 200, 'crl-b allowed where no MTLSCRL is set');

# ---- a CRL not signed by the CA: refused, the old one kept ---------------------
$mark = log_mark();
install('crl-evil.pem');
my @l;
{
    my $end = time + 10;
    while (time < $end && !@l) {
        code(crla => '/crl/live');
        @l = log_wait($mark, qr/ops-crl\.pem:\d+: CRL refused/, 0.2);
    }
}
ok(scalar @l, 'the look-alike CRL is refused');
like($l[0] // '', qr/\[mtls_authz:error\]/, '... at error level');
like($l[0] // '', qr/reload failed, keeping the previous contents: \S*ops-crl\.pem:1: CRL refused: its signature does not verify with the key of "CN=MTLS Test Client CA,O=Lab"/,
     '... naming the file, the line and why');
ok(always(sub { code(crla => '/crl/live') == 200 }), 'crl-a (listed by the look-alike) still allowed');
ok(always(sub { code(crlb => '/crl/live') == 403 }), 'crl-b still revoked: the previous CRL kept');

# ---- garbage: refused, kept ---------------------------------------------------------
$mark = log_mark();
{
    open my $fh, '>', "$run/ops-crl.pem" or die $!;
    print $fh "-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n"; close $fh;
    my $t = time + 2 + $bump++; utime $t, $t, "$run/ops-crl.pem";
}
@l = ();
{
    my $end = time + 10;
    while (time < $end && !@l) {
        code(crla => '/crl/live');
        @l = log_wait($mark, qr/ops-crl\.pem:1: CRL cannot be parsed/, 0.2);
    }
}
ok(scalar @l, 'an unparseable CRL is refused with file:line');
ok(always(sub { code(crlb => '/crl/live') == 403 }), 'crl-b still revoked after the garbage');

# ---- back to the first CRL: crl-b allowed again ---------------------------------
install('crl-before.pem');
ok(defined eventually(sub { code(crlb => '/crl/live') == 200 }), 'crl-b allowed again with the older CRL');

# ---- past nextUpdate ---------------------------------------------------------------------
$mark = log_mark();
$r = get(crla => '/crl/stale-deny');
is($r->code, 403, 'stale CRL, MTLSCRLStale deny: crl-a refused');
is(reason($r), 'revoked', '... reason revoked');
ok(scalar(log_wait($mark, qr/\[mtls_authz:warn\].*MTLS3010: the CRL of "CN=MTLS Test Client CA,O=Lab" is past its nextUpdate: certificate serial \S+ refused \(MTLSCRLStale deny\)/)),
   '... and a warning says the CRL is stale');
$mark = log_mark();
is(code(crla => '/crl/stale-allow'), 200, 'stale CRL, MTLSCRLStale allow: crl-a allowed');
ok(scalar(log_wait($mark, qr/\[mtls_authz:warn\].*past its nextUpdate: certificate serial \S+ accepted \(MTLSCRLStale allow\)/)),
   '... with a warning');
is(code(crla => '/crl/stale-default'), 200, 'stale CRL, default (allow): crl-a allowed');
is(code(crlb => '/crl/stale-allow'), 403, 'stale CRL, allow: a listed certificate is still refused');

is(slurp($pidfile), $pid0, 'all of it without a restart (same server pid)');
