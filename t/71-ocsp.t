# mod_ssl's own revocation checks with the module in front: OCSP
# (SSLOCSPEnable leaf) against a real `openssl ocsp` responder started by
# the suite (t/services/ocsp.sh) -- good, revoked, responder down -- and
# the CRL of SSLCARevocationFile.  As the README says, what mod_ssl
# refuses ends the TLS handshake (SSLVerifyClient optional): no HTTP
# answer and no request for the module; what it accepts arrives verified.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

plan tests => 17;

sub get { my ($who, $path, $vhost) = @_;
          GET_as($who, uniq($path), vhost => $vhost, ua => fresh_ua($who), json => 1) }
sub refused_in_handshake {
    my ($res) = @_;
    return $res->code != 200 && $res->code != 403
        && ($res->header('Client-Warning') // '') eq 'Internal response';
}

# ---- OCSP: good ------------------------------------------------------------
my $mark = log_mark();
my $res = get(ocspgood => '/ocsp', 'mtls_ocsp');
is($res->code, 200, 'OCSP good: allowed');
my $env = env_of($res);
is($env->{MTLS_USER} // '', 'ocsp-good', 'OCSP good: the module maps the certificate');
is($env->{MTLS_SERIAL} // '', cert('ocspgood')->{serial}, 'OCSP good: its serial');

# ---- OCSP: revoked -----------------------------------------------------------
$mark = log_mark();
my $p = uniq('/ocsp');
$res = GET_as(ocsprev => $p, vhost => 'mtls_ocsp', ua => fresh_ua('ocsprev'));
ok(refused_in_handshake($res), 'OCSP revoked: the handshake fails (' . $res->code . ')');
ok(scalar(log_wait($mark, qr/Certificate Verification: Error \(23\): certificate revoked/)),
   'OCSP revoked: mod_ssl logs "certificate revoked"');
is(scalar(log_wait($mark, qr/MTLS0401: denied: .*uri=\Q$p\E/, 0.3)), 0,
   'OCSP revoked: no request reached the module');

# the same certificate is fine where OCSP is not asked and no CRL lists it
is(get(ocsprev => '/open')->code, 200, 'OCSP revoked certificate: no OCSP, no CRL entry on the main vhost: allowed');

# ---- OCSP: responder down ---------------------------------------------------------
$mark = log_mark();
$p = uniq('/ocsp');
$res = GET_as(ocspgood => $p, vhost => 'mtls_ocsp_down', ua => fresh_ua('ocspgood'));
ok(refused_in_handshake($res), 'OCSP responder down: the handshake fails, fail closed (' . $res->code . ')');
ok(scalar(log_wait($mark, qr/AH01974: could not connect to OCSP responder|AH01941|OCSP.*(connect|responder)/i)),
   'OCSP responder down: mod_ssl says it could not reach the responder');
ok(scalar(log_wait($mark, qr/Certificate Verification: Error \(\d+\)/)),
   'OCSP responder down: logged as a verification error');
is(scalar(log_wait($mark, qr/MTLS0401: denied: .*uri=\Q$p\E/, 0.3)), 0,
   'OCSP responder down: no request reached the module');

# ---- no certificate: OCSP has nothing to check, the module answers ------------------
$res = get('' => '/ocsp', 'mtls_ocsp');
is($res->code, 403, 'OCSP vhost, no certificate: 403 from the module');
is(json_of($res)->{reason} // '', 'no-certificate', '... reason no-certificate');

# ---- CRL (SSLCARevocationFile) ---------------------------------------------------------
$mark = log_mark();
$p = uniq('/m/verified');
$res = GET_as(revoked => $p, vhost => 'mtls_ops', ua => fresh_ua('revoked'));
ok(refused_in_handshake($res), 'SSLCARevocationFile: a listed certificate fails the handshake');
ok(scalar(log_wait($mark, qr/Certificate Verification: Error \(23\): certificate revoked/)),
   'SSLCARevocationFile: mod_ssl logs "certificate revoked"');
is(scalar(log_wait($mark, qr/MTLS0401: denied: .*uri=\Q$p\E/, 0.3)), 0,
   'SSLCARevocationFile: no request reached the module');
is(get(alice => '/m/verified', 'mtls_ops')->code, 200, 'SSLCARevocationFile: an unlisted certificate is allowed');
