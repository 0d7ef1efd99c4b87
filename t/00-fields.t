# Every certificate field and every MTLS_* variable, through the CGI
# environment and through ap_expr (Header ... expr=%{MTLS_*}).
use strict;
use warnings FATAL => 'all';
use utf8;
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use POSIX qw(strftime);

my $CA  = 'CN=MTLS Test Client CA,O=Lab';
my $ROOT = 'CN=MTLS Test Root CA,O=Lab';
my %c = map { $_ => cert($_) } qw(alice bob svc svcdev dns upn comma utf8 multiou direct multirdn);
my $now = time;
my $days = sub { int(($c{$_[0]}{not_after} - $now) / 86400) };
my $days_re = sub { my $d = $days->($_[0]); qr/^(?:@{[$d-1]}|$d|@{[$d+1]})$/ };
my $rfc3339 = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $c{alice}{not_after});
my $utf8_cn = "J\xc3\xbcrgen \xc3\x84";                   # UTF-8 bytes
my $EMPTY = qr/^$/;                                     # absent or empty

# [cert, path, {VAR => expected}]  expected: string, qr//, or $EMPTY
my @cases = (
    # all variables, user from subject:CN, groups from subject:OU
    [alice => '/fields', {
        MTLS_USER => 'alice', MTLS_GROUPS => 'admins', MTLS_GROUPS_N => 1,
        MTLS_GROUP_0 => 'admins', MTLS_STRENGTH => 'weak', MTLS_SOURCE => 'rule:1',
        MTLS_SUBJECT => 'CN=alice,OU=admins,O=Lab', MTLS_ISSUER => $CA,
        MTLS_SERIAL => $c{alice}{serial}, MTLS_SHA256 => $c{alice}{sha256},
        MTLS_DAYS_LEFT => $days_re->('alice'), MTLS_DENY_REASON => $EMPTY }],
    [multiou => '/fields', {
        MTLS_USER => 'dave', MTLS_GROUPS_N => 3,
        MTLS_GROUPS => qr/^(?=.*\badmins\b)(?=.*\bdba\b)(?=.*\bops\b)[a-z]+, [a-z]+, [a-z]+$/,
        MTLS_GROUP_0 => qr/^(admins|dba|ops)$/, MTLS_GROUP_2 => qr/^(admins|dba|ops)$/,
        MTLS_SUBJECT => 'CN=dave,OU=ops,OU=dba,OU=admins,O=Lab' }],
    [comma => '/fields', {
        MTLS_USER => 'Doe, John', MTLS_GROUPS => 'dev',
        MTLS_SUBJECT => 'CN=Doe\, John,OU=dev,O=Lab\, Inc.' }],
    [utf8 => '/fields', {
        MTLS_USER => $utf8_cn,
        MTLS_SUBJECT => qr/^CN=(?:\Q$utf8_cn\E|J\\C3\\BCrgen \\C3\\84),O=Lab$/ }],
    [direct => '/fields', {
        MTLS_USER => 'direct', MTLS_ISSUER => $ROOT, MTLS_GROUPS => $EMPTY,
        MTLS_GROUPS_N => qr/^0?$/, MTLS_SERIAL => $c{direct}{serial},
        MTLS_SHA256 => $c{direct}{sha256} }],
    [svc => '/fields', { MTLS_USER => 'api', MTLS_SUBJECT => 'CN=api',
        MTLS_SERIAL => qr/^[0-9A-F]+$/, MTLS_SHA256 => qr/^[0-9a-f]{64}$/ }],

    # a multi-valued RDN and an emailAddress attribute
    [multirdn => '/fields', { MTLS_USER => 'eve',
        MTLS_SUBJECT => qr/^(?:CN=eve\+UID=e123|UID=e123\+CN=eve),(?:emailAddress|E|1\.2\.840\.113549\.1\.9\.1)=.+,O=Lab$/ }],
    [multirdn => '/f/uid',       { MTLS_USER => 'e123' }],
    [multirdn => '/f/emailattr', { MTLS_USER => 'eve@lab.example' }],

    # every field as MTLSUserFrom FIELD
    [alice  => '/f/subject', { MTLS_USER => 'CN=alice,OU=admins,O=Lab', MTLS_STRENGTH => 'weak' }],
    [alice  => '/f/cn',      { MTLS_USER => 'alice', MTLS_STRENGTH => 'weak', MTLS_SOURCE => 'rule:1' }],
    [comma  => '/f/o',       { MTLS_USER => 'Lab, Inc.' }],
    [alice  => '/f/ou',      { MTLS_USER => 'admins' }],
    [alice  => '/f/oid',     { MTLS_USER => 'alice' }],
    [alice  => '/f/issuer',  { MTLS_USER => $CA }],
    [direct => '/f/issuercn', { MTLS_USER => 'MTLS Test Root CA' }],
    [bob    => '/f/email',   { MTLS_USER => 'bob@lab.example', MTLS_STRENGTH => 'weak' }],
    [svc    => '/f/email',   { MTLS_USER => $EMPTY }],
    [dns    => '/f/dns',     { MTLS_USER => 'host1.lab.example' }],
    [svc    => '/f/uri',     { MTLS_USER => 'spiffe://lab.example/ns/prod/sa/api' }],
    [dns    => '/f/ip',      { MTLS_USER => '10.1.2.3' }],
    [upn    => '/f/upn',     { MTLS_USER => 'carol@corp.example' }],
    [alice  => '/f/serial',  { MTLS_USER => $c{alice}{serial} }],
    [direct => '/f/serial',  { MTLS_USER => $c{direct}{serial} }],
    [alice  => '/f/sha256',  { MTLS_USER => $c{alice}{sha256}, MTLS_STRENGTH => 'strong' }],
    [bob    => '/f/spki',    { MTLS_USER => $c{bob}{spki}, MTLS_STRENGTH => 'strong' }],
    [alice  => '/f/notafter', { MTLS_USER => $rfc3339 }],
    [alice  => '/f/daysleft', { MTLS_USER => $days_re->('alice') }],

    # rules with REGEX TEMPLATE
    [alice  => '/rule/email',  { MTLS_USER => 'alice', MTLS_SOURCE => 'rule:1' }],
    [svc    => '/rule/email',  { MTLS_USER => $EMPTY }],
    [svc    => '/rule/spiffe', { MTLS_USER => 'api.prod' }],
    [svcdev => '/rule/spiffe', { MTLS_USER => 'web.dev' }],
    [alice  => '/rule/chain',  { MTLS_USER => 'alice', MTLS_SOURCE => 'rule:1' }],
    [svc    => '/rule/chain',  { MTLS_USER => 'api.prod', MTLS_SOURCE => 'rule:2' }],
    [dns    => '/rule/chain',  { MTLS_USER => 'host1', MTLS_SOURCE => 'rule:3' }],
    [alice  => '/rule/dollar0', { MTLS_USER => 'u-alice' }],
    [bob    => '/rule/dollar0', { MTLS_USER => $EMPTY }],
    [svc    => '/rule/groups', { MTLS_USER => 'api', MTLS_GROUPS => 'ns-prod', MTLS_GROUPS_N => 1 }],
    [multiou => '/rule/groups', { MTLS_GROUPS_N => 2,
        MTLS_GROUPS => qr/^(adm-grp, dba-grp|dba-grp, adm-grp)$/ }],

    # the map file (strong keys, weak subject key) + the group file
    [alice  => '/p/map', { MTLS_USER => 'alice', MTLS_SOURCE => 'map', MTLS_STRENGTH => 'strong',
        MTLS_GROUPS => qr/^(?=.*\badmins\b)(?=.*\bmapped\b)(?=.*\bauditors\b)/, MTLS_GROUPS_N => 3 }],
    [svc    => '/p/map', { MTLS_USER => 'svc-by-spki', MTLS_STRENGTH => 'strong' }],
    [direct => '/p/map', { MTLS_USER => 'direct-by-is', MTLS_STRENGTH => 'strong' }],
    [bob    => '/p/map', { MTLS_USER => 'bob-by-subject', MTLS_STRENGTH => 'weak',
        MTLS_GROUPS => 'staff', MTLS_SOURCE => 'map' }],
    [multiou => '/p/map', { MTLS_USER => $EMPTY }],
    [alice  => '/p/dedupe', { MTLS_USER => 'alice', MTLS_GROUPS_N => 2,
        MTLS_GROUPS => qr/^(admins, mapped|mapped, admins)$/ }],   # no duplicates
    [alice  => '/p/mapfirst', { MTLS_USER => 'alice', MTLS_SOURCE => 'map' }],
    [multiou => '/p/mapfirst', { MTLS_USER => 'dave', MTLS_SOURCE => 'rule:1', MTLS_STRENGTH => 'weak' }],

    # a location without MTLS requirements: no certificate, no identity
    [''     => '/open', { MTLS_USER => $EMPTY }],
);

my @headers = (
    ['X-MTLS-User' => 'alice'], ['X-MTLS-Groups' => 'admins'],
    ['X-MTLS-Groups-N' => '1'],
    ['X-MTLS-Strength' => 'weak'], ['X-MTLS-Source' => 'rule:1'],
    ['X-MTLS-Subject' => 'CN=alice,OU=admins,O=Lab'], ['X-MTLS-Issuer' => $CA],
    ['X-MTLS-Serial' => $c{alice}{serial}], ['X-MTLS-SHA256' => $c{alice}{sha256}],
    ['X-MTLS-Days' => $days_re->('alice')],
);

my $n = 0;
$n += 1 + keys %{ $_->[2] } for @cases;
plan tests => $n + @headers + 2;

for my $case (@cases) {
    my ($who, $path, $exp) = @$case;
    my $p = uniq($path);
    my $res = GET_as($who, $p);
    is($res->code, 200, "$who $path: 200") or diag($res->status_line);
    my $env = env_of($res);
    for my $k (sort keys %$exp) {
        my $e = $exp->{$k};
        my $got = $env->{$k} // '';
        if (ref $e) { like($got, $e, "$who $path: $k") }
        else        { is($got, $e, "$who $path: $k") }
    }
}

# ap_expr variables, as response headers
my $res = GET_as(alice => uniq('/fields'));
for my $h (@headers) {
    my ($name, $e) = @$h;
    my $got = $res->header($name) // '';
    if (ref $e) { like($got, $e, "expr $name") } else { is($got, $e, "expr $name") }
}

# <If> on ap_expr variables
is(GET_as(alice => uniq('/exprif'))->header('X-Is-Admin') // '', 'yes', '<If> %{MTLS_GROUPS} true for alice');
is(GET_as(bob => uniq('/exprif'))->header('X-Is-Admin') // '', '', '<If> %{MTLS_GROUPS} false for bob');
