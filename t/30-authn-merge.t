# AuthType mtls (REMOTE_USER, %u), Require expr on MTLS_* variables,
# MTLSMode report, and merging of nested <Location>s.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

plan tests => 67;

my ($res, $p, $mark, $env, $acc);

# ---- AuthType mtls -------------------------------------------------------
$mark = log_mark();
$p = uniq('/authn');
$res = GET_as(alice => $p);
is($res->code, 200, 'AuthType mtls + valid-user: alice 200');
$env = env_of($res);
is($env->{REMOTE_USER} // '', 'alice', 'AuthType mtls: REMOTE_USER in the CGI');
is($env->{AUTH_TYPE} // '', 'mtls', 'AuthType mtls: AUTH_TYPE');
$acc = access_wait($mark, $p);
is($acc && $acc->{user}, 'alice', 'AuthType mtls: %u in the access log');

$mark = log_mark();
$p = uniq('/authn');
$res = GET_as('' => $p, json => 1);
is($res->code, 403, 'AuthType mtls, no certificate: 403 (not 401)');
is(json_of($res)->{reason} // '', 'no-certificate', 'AuthType mtls, no certificate: reason');
# refused by the module's authentication, so nobody is logged as the user
$acc = access_wait($mark, $p);
is($acc && "$acc->{status} $acc->{user} $acc->{reason}", '403 - no-certificate',
   'AuthType mtls, no certificate: access log has no user and the reason');

$res = GET_as(bob => uniq('/authnuser'));
is($res->code, 200, 'AuthType mtls + Require user bob: bob 200');
is(env_of($res)->{REMOTE_USER} // '', 'bob', 'Require user bob: REMOTE_USER bob');
$res = GET_as(alice => uniq('/authnuser'));
# mod_authz_core answers 401 when an authenticated user fails Require user
# (README); on a 401 httpd sends the challenge of the AuthType, and for
# AuthType mtls there must be none: no password prompt in a browser
is($res->code, 401, 'Require user bob: alice refused with mod_authz_core\'s 401');
ok(!defined $res->header('WWW-Authenticate'), 'Require user bob: the 401 carries no WWW-Authenticate challenge')
    or diag('WWW-Authenticate: ' . $res->header('WWW-Authenticate'));

$res = GET_as(alice => uniq('/authnstrong'), json => 1);
is($res->code, 403, 'AuthType mtls + strong, weak rule: 403');
is(json_of($res)->{reason} // '', 'weak-mapping', 'AuthType mtls + strong: weak-mapping');

$res = GET_as(alice => uniq('/authnmap'));
is($res->code, 200, 'AuthType mtls + strong map key: 200');
is(env_of($res)->{REMOTE_USER} // '', 'alice', 'AuthType mtls + map: REMOTE_USER');
$res = GET_as(bob => uniq('/authnmap'), json => 1);
is($res->code, 403, 'AuthType mtls + strong, subject map key: 403');
is(json_of($res)->{reason} // '', 'weak-mapping', 'subject: key is weak');
$res = GET_as(multiou => uniq('/authnmap'), json => 1);
is($res->code, 403, 'AuthType mtls, not in the map: 403');
is(json_of($res)->{reason} // '', 'unmapped', 'not in the map: unmapped');

# ---- Require expr on ap_expr variables -----------------------------------
is(GET_as(alice => uniq('/expr'))->code, 200, "Require expr %{MTLS_USER} == 'alice': alice 200");
is(GET_as(bob => uniq('/expr'))->code, 403, "Require expr %{MTLS_USER} == 'alice': bob 403");
is(GET_as('' => uniq('/expr'))->code, 403, "Require expr %{MTLS_USER}: no certificate 403");
is(GET_as(multiou => uniq('/expr'))->code, 403, "Require expr %{MTLS_USER}: dave 403");

# ---- MTLSMode report -------------------------------------------------------
$mark = log_mark();
$p = uniq('/report');
$res = GET_as(bob => $p);
is($res->code, 200, 'report mode: bob granted');
my @l = log_wait($mark, qr/would deny: reason=user-mismatch .*uri=\Q$p\E(\s|$)/);
is(scalar @l, 1, 'report mode: one "would deny: reason=user-mismatch" line');
like($l[0] // '', qr/subject="CN=bob,OU=staff,O=Lab"/, 'report mode: line has the subject');
is(scalar(log_wait($mark, qr/\bdenied: .*uri=\Q$p\E(\s|$)/, 0.3)), 0, 'report mode: no "denied:" line');
is(env_of($res)->{MTLS_USER} // '', 'bob', 'report mode: identity still exported');

$mark = log_mark();
$p = uniq('/report');
is(GET_as('' => $p)->code, 200, 'report mode: no certificate granted');
is(scalar(log_wait($mark, qr/would deny: reason=no-certificate .*uri=\Q$p\E(\s|$)/)), 1,
   'report mode: would deny no-certificate');

$mark = log_mark();
$p = uniq('/report');
is(GET_as(alice => $p)->code, 200, 'report mode: alice granted');
is(scalar(log_wait($mark, qr/would deny: .*uri=\Q$p\E(\s|$)/, 0.5)), 0, 'report mode: nothing logged for alice');

$res = GET_as(bob => uniq('/report/enforce'), json => 1);
is($res->code, 403, 'nested MTLSMode enforce overrides report');
is(json_of($res)->{reason} // '', 'user-mismatch', 'nested enforce: reason');

# ---- merging ------------------------------------------------------------------
$res = GET_as(alice => uniq('/merge'));
is($res->code, 200, 'merge parent: alice (admins) 200');
is(env_of($res)->{MTLS_USER} // '', 'alice', 'merge parent: user from subject:CN');
is(GET_as(bob => uniq('/merge'))->code, 403, 'merge parent: bob 403');

$res = GET_as(alice => uniq('/merge/inherit'));
is($res->code, 200, 'merge child without MTLS directives: Require inherited (alice 200)');
is(env_of($res)->{MTLS_USER} // '', 'alice', 'merge child: MTLSUserFrom inherited');
is(env_of($res)->{MTLS_GROUPS} // '', 'admins', 'merge child: MTLSGroupFrom inherited');
is($res->header('X-Merge-Child') // '', 'inherit', 'merge child: its own directives apply');
is(GET_as(bob => uniq('/merge/inherit'))->code, 403, 'merge child: bob still 403');

$res = GET_as(bob => uniq('/merge/child'));
is($res->code, 200, 'merge override: Require mtls-group staff lets bob in');
$env = env_of($res);
is($env->{MTLS_USER} // '', 'mail-bob', 'merge override: child MTLSUserFrom replaces the parent rule');
is($env->{MTLS_SOURCE} // '', 'rule:1', 'merge override: rule index counts in the child scope');
is($env->{MTLS_GROUPS} // '', 'staff', 'merge override: MTLSGroupFrom inherited');
$res = GET_as(alice => uniq('/merge/child'), json => 1);
is($res->code, 403, 'merge override: alice 403 in the child');
is(json_of($res)->{reason} // '', 'group-mismatch', 'merge override: MTLSErrorDetail inherited from /');

$res = GET_as(alice => uniq('/merge/child/quiet'));
is($res->code, 403, 'grandchild: alice still 403');
unlike($res->content, qr/group-mismatch/, 'grandchild: MTLSErrorDetail off overrides');
$res = GET_as(bob => uniq('/merge/child/quiet'));
is($res->code, 200, 'grandchild: bob 200');
is(env_of($res)->{MTLS_USER} // '', 'mail-bob', 'grandchild: rule of the child inherited');

# Requests alternate between the <If> branches; each gets its own merge.
my @if_seen;
for my $round (1 .. 3) {
    for my $q ('', '?mail', '?strong') {
        $res = GET_as(alice => uniq('/merge/if') . $q);
        push @if_seen, sprintf '%s=%d:%s', $q || '-', $res->code,
            $res->code == 200 ? env_of($res)->{MTLS_USER} // '' : '';
    }
}
is("@if_seen", join(' ', ('-=200:alice ?mail=200:mail-alice ?strong=403:') x 3),
   'merge with <If>: each branch merges its own directives, request after request');

$mark = log_mark();
$p = uniq('/merge/report');
$res = GET_as(bob => $p);
is($res->code, 200, 'merge: nested MTLSMode report grants bob');
is(scalar(log_wait($mark, qr/would deny: reason=group-mismatch .*uri=\Q$p\E(\s|$)/)), 1,
   'merge: nested report logs would deny group-mismatch');

# files and strength merge too
$res = GET_as(bob => uniq('/p/deny/child'), json => 1);
is($res->code, 403, 'merge: MTLSDenyList inherited by a child location');
is(json_of($res)->{reason} // '', 'denylisted', 'merge: inherited deny list reason');
$res = GET_as(alice => uniq('/p/deny/child'));
is($res->code, 200, 'merge: child grants alice');
is(env_of($res)->{MTLS_USER} // '', 'alice', 'merge: child rule (san:email) in force');
$res = GET_as(bob => uniq('/p/strong/weakok'));
is($res->code, 200, 'merge: MTLSRequireStrength weak in a child overrides strong');
is(env_of($res)->{MTLS_USER} // '', 'bob-by-subject', 'merge: map file inherited by the child');
is(GET_as(multiou => uniq('/p/strong/weakok'))->code, 403, 'merge: inherited Require still applies');

# the same connection, several configurations: each location gets its identity
{
    my $ua = fresh_ua('svc');
    my @seq = (['/rule/spiffe' => 'api.prod'], ['/f/cn' => 'api'],
               ['/f/uri' => 'spiffe://lab.example/ns/prod/sa/api'], ['/rule/spiffe' => 'api.prod']);
    $mark = log_mark();
    my @paths;
    for (@seq) {
        my $q = uniq($_->[0]);
        push @paths, $q;
        is(env_of(GET_as(svc => $q, ua => $ua))->{MTLS_USER} // '', $_->[1],
           "one connection, $_->[0]: $_->[1]");
    }
    my @ka = map { my $a = access_wait($mark, $_); $a ? $a->{keepalive} : -1 } @paths;
    is("@ka", "0 1 2 3", 'those requests shared one keep-alive connection');
}
