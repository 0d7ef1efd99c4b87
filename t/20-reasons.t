# Every deny reason: the 403, the HTML and JSON bodies of MTLSErrorDetail on,
# the one info line "denied: reason=..." in the error log, and
# MTLS_DENY_REASON in the access log; MTLSErrorDetail off hides the reason.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

my $CA = 'CN=MTLS Test Client CA,O=Lab';
# reason => [cert, path, vhost, subject, issuer]
my @reasons = (
    ['no-certificate'       => '',        '/p/verified'],
    ['not-verified'         => 'evilalice', '/verified', 'mtls_noca'],
    ['denylisted'           => 'bob',     '/p/deny'],
    ['unmapped'             => 'alice',   '/rule/nomatch'],
    ['weak-mapping'         => 'bob',     '/p/strong'],
    ['user-mismatch'        => 'bob',     '/p/user'],
    ['group-mismatch'       => 'bob',     '/p/group'],
    ['subject-mismatch'     => 'bob',     '/p/subject'],
    ['issuer-mismatch'      => 'direct',  '/p/issuer'],
    ['san-mismatch'         => 'svcdev',  '/p/san'],
    ['fingerprint-mismatch' => 'svc',     '/p/fp'],
);
my %subject = (bob => 'CN=bob,OU=staff,O=Lab', alice => 'CN=alice,OU=admins,O=Lab',
               evilalice => 'CN=alice,OU=admins,O=Lab', direct => 'CN=direct,O=Lab',
               svcdev => 'CN=web', svc => 'CN=api');

plan tests => 18 * @reasons + (@reasons - 1) + 7 + 4 + 2 + 8;

for my $r (@reasons) {
    my ($reason, $who, $path, $vhost) = @$r;
    my $label = "$reason (" . ($who || 'no cert') . " $path)";

    my $mark = log_mark();
    my $p = uniq($path);
    my $res = GET_as($who, $p, vhost => $vhost);
    is($res->code, 403, "$label: 403");
    like($res->header('Content-Type') // '', qr{^text/html}, "$label: HTML body");
    like($res->content, qr/\Q$reason\E/, "$label: HTML names the reason");

    my @lines = log_wait($mark, qr/denied: reason=\Q$reason\E .*uri=\Q$p\E(\s|$)/);
    is(scalar @lines, 1, "$label: exactly one denial line in the error log");
    my $l = $lines[0] // '';
    like($l, qr/\[mtls_authz:info\]/, "$label: logged at info");
    like($l, qr/ denied: reason=\Q$reason\E (?:detail="(?:[^"\\]|\\.)*" )?(?:user="(?:[^"\\]|\\.)*" )?(?:source=\S+ )?(?:ldap-dn="(?:[^"\\]|\\.)*" )?subject=(?:"(?:[^"\\]|\\.)*"|-) issuer=(?:"(?:[^"\\]|\\.)*"|-) serial=(?:[0-9A-F]+|-) sha256=(?:[0-9a-f]{64}|-) client=\S+ uri=\S+$/,
         "$label: the documented line format");
    like($l, qr/client=127\.0\.0\.1\b/, "$label: client address logged");
    if ($who) {
        my $c = cert($who);
        like($l, qr/subject="\Q$subject{$who}\E"/, "$label: subject logged");
        like($l, qr/ sha256=\Q$c->{sha256}\E\b/, "$label: sha256 logged");
        like($l, qr/ serial=\Q$c->{serial}\E\b/, "$label: serial logged");
    }
    else {
        like($l, qr/subject=("-"|-)/, "$label: no subject");
        like($l, qr/ sha256=-/, "$label: no sha256");
        like($l, qr/ serial=-/, "$label: no serial");
    }
    my $acc = access_wait($mark, $p);
    is($acc && $acc->{reason}, $reason, "$label: MTLS_DENY_REASON in the access log");

    $res = GET_as($who, uniq($path), vhost => $vhost, json => 1);
    is($res->code, 403, "$label: JSON 403");
    like($res->header('Content-Type') // '', qr{^application/json}, "$label: JSON content type");
    my $j = json_of($res);
    is($j->{status}, 403, "$label: JSON status");
    is($j->{reason}, $reason, "$label: JSON reason");
    # the body always has the key; only mod_ssl's verdict gives it a value
    if ($reason eq 'not-verified') {
        like($j->{detail} // '', qr/unable to/i, "$label: JSON detail is mod_ssl's text");
    }
    else {
        ok(!defined $j->{detail}, "$label: JSON detail is null")
            or diag("detail: $j->{detail}");
    }
    like($j->{hint} // '', qr/\w{3,}.*\w{3,}/, "$label: JSON has a hint");
    is($res->header('X-MTLS-Deny') // '', $reason, "$label: %{MTLS_DENY_REASON} in ap_expr")
        unless $vhost;
    if ($reason eq 'not-verified') {
        like($l, qr/detail="[^"]*unable to/i, "$label: mod_ssl's text as detail");
    }
    elsif ($who) {
        my $iss = $who eq 'direct' ? 'CN=MTLS Test Root CA,O=Lab' : $CA;
        like($l, qr/issuer="\Q$iss\E"/, "$label: issuer logged");
    }
    else {
        like($l, qr/ issuer=("-"|-)/, "$label: no issuer");
    }
}

# the no-certificate hint tells what to do
{
    my $j = json_of(GET_as('', uniq('/p/verified'), json => 1));
    my $hint = $j->{hint} // '';
    like($hint, qr/--cert/, 'no-certificate hint: curl --cert');
    like($hint, qr/\.p12/, 'no-certificate hint: importing a .p12');
    like($hint, qr/proxy/i, 'no-certificate hint: a TLS-terminating proxy');
    my $html = GET_as('', uniq('/p/verified'))->content;
    like($html, qr/--cert/, 'no-certificate HTML: curl --cert');
    like($html, qr/\.p12/, 'no-certificate HTML: importing a .p12');
    like($html, qr/proxy/i, 'no-certificate HTML: a TLS-terminating proxy');
    my $nv = json_of(GET_as('evilalice', uniq('/verified'), vhost => 'mtls_noca', json => 1));
    like($nv->{detail} // '', qr/unable to/i, "not-verified JSON detail carries mod_ssl's text");
}

# MTLSErrorDetail off: the standard 403, reason only in the logs
{
    my $mark = log_mark();
    my $p = uniq('/detailoff');
    my $res = GET_as('', $p);
    is($res->code, 403, 'detail off: 403');
    unlike($res->content, qr/no-certificate|--cert/, 'detail off: body names no reason');
    my $acc = access_wait($mark, $p);
    is($acc && $acc->{reason}, 'no-certificate', 'detail off: reason still in MTLS_DENY_REASON');
    my $jres = GET_as('', uniq('/detailoff'), json => 1);
    unlike($jres->header('Content-Type') // '', qr/json/, 'detail off: no JSON body');
}

# default (no MTLSErrorDetail anywhere): off
{
    my $res = GET_as('evilalice', uniq('/default'), vhost => 'mtls_noca');
    is($res->code, 403, 'default detail: 403');
    unlike($res->content, qr/not-verified/, 'default detail: off');
}

# the untrusted look-alike CA never gets an identity (optional_no_ca)
{
    my $res = GET_as('evilalice', uniq('/subject'), vhost => 'mtls_noca', json => 1);
    is($res->code, 403, 'look-alike CA: mtls-subject denies');
    is(json_of($res)->{reason}, 'not-verified', 'look-alike CA: mtls-subject reason');
    $res = GET_as('evilalice', uniq('/issuer'), vhost => 'mtls_noca', json => 1);
    is($res->code, 403, 'look-alike CA: mtls-issuer denies');
    is(json_of($res)->{reason}, 'not-verified', 'look-alike CA: mtls-issuer reason');
    $res = GET_as('evilalice', uniq('/user'), vhost => 'mtls_noca');
    is($res->code, 403, 'look-alike CA: mtls-user denies');
    $res = GET_as('evilalice', uniq('/fields'), vhost => 'mtls_noca');
    is(env_of($res)->{MTLS_USER} // '', '', 'look-alike CA: no MTLS_USER');
    $res = GET_as('alice', uniq('/subject'), vhost => 'mtls_noca');
    is($res->code, 200, 'optional_no_ca: the real alice is granted');
    $res = GET_as('alice', uniq('/fields'), vhost => 'mtls_noca');
    is(env_of($res)->{MTLS_USER} // '', 'alice', 'optional_no_ca: real alice has MTLS_USER');
}
