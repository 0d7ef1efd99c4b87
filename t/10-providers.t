# Every Require provider granting and denying, alone and inside
# <RequireAll>/<RequireAny>/<RequireNone>; the deny reason comes from the
# JSON error body (MTLSErrorDetail on is set for the whole vhost).
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

# [cert, path, expected status, expected reason on 403]
my @cases = (
    [alice   => '/p/verified', 200], [svc => '/p/verified', 200],
    [''      => '/p/verified', 403, 'no-certificate'],
    [alice   => '/p/user', 200], [multiou => '/p/user', 200],
    [bob     => '/p/user', 403, 'user-mismatch'],
    [''      => '/p/user', 403, 'no-certificate'],
    [alice   => '/p/group', 200], [multiou => '/p/group', 200],
    [bob     => '/p/group', 403, 'group-mismatch'],
    [bob     => '/p/groupfile', 200],
    [alice   => '/p/groupfile', 403, 'group-mismatch'],
    [alice   => '/p/subject', 200],
    [bob     => '/p/subject', 403, 'subject-mismatch'],
    [alice   => '/p/subjectci', 200],
    [multiou => '/p/subjectci', 403, 'subject-mismatch'],
    [comma   => '/p/subjectcomma', 200],
    [alice   => '/p/subjectcomma', 403, 'subject-mismatch'],
    [alice   => '/p/issuer', 200], [svc => '/p/issuer', 200],
    [direct  => '/p/issuer', 403, 'issuer-mismatch'],
    [svc     => '/p/san', 200],
    [svcdev  => '/p/san', 403, 'san-mismatch'],
    [alice   => '/p/san', 403, 'san-mismatch'],
    [svc     => '/p/sanns', 403, 'san-mismatch'],      # '*' never crosses '/'
    [svc     => '/p/sanmid', 200],
    [svcdev  => '/p/sanmid', 403, 'san-mismatch'],
    [dns     => '/p/sandns', 200],
    [dns     => '/p/sandnsshort', 403, 'san-mismatch'], # '*' never crosses '.'
    [alice   => '/p/sanemail', 200], [bob => '/p/sanemail', 200],
    [svc     => '/p/sanemail', 403, 'san-mismatch'],
    [upn     => '/p/sanupn', 200],
    [alice   => '/p/sanupn', 403, 'san-mismatch'],
    [dns     => '/p/sanip', 200],
    [svc     => '/p/sanip', 403, 'san-mismatch'],
    [svcdev  => '/p/sanmulti', 200], [bob => '/p/sanmulti', 200],
    [svc     => '/p/sanmulti', 403, 'san-mismatch'],
    [alice   => '/p/fp', 200], [bob => '/p/fp', 200],   # sha256: / spki:
    [svc     => '/p/fp', 403, 'fingerprint-mismatch'],
    [''      => '/p/fp', 403, 'no-certificate'],
    [alice   => '/p/deny', 200],
    [bob     => '/p/deny', 403, 'denylisted'],
    [bob     => '/p/denyuser', 403, 'denylisted'],
    [bob     => '/p/denysubject', 403, 'denylisted'],
    [alice   => '/p/strong', 200],
    [bob     => '/p/strong', 403, 'weak-mapping'],
    [alice   => '/p/stronggroup', 200],
    [multiou => '/p/stronggroup', 403, 'weak-mapping'],
    [alice   => '/rule/nomatch', 403, 'unmapped'],
    [alice   => '/p/all', 200], [multiou => '/p/all', 200],
    [bob     => '/p/all', 403, 'group-mismatch'],
    [alice   => '/p/all4', 200],
    [bob     => '/p/all4', 403, 'group-mismatch'],      # the fourth record
    [multiou => '/p/all4', 403, 'user-mismatch'],
    [bob     => '/p/any', 200], [svc => '/p/any', 200],
    [alice   => '/p/any', 403],
    [bob     => '/p/none', 200],
    [alice   => '/p/none', 403],
    [''      => '/open', 200],
);

my $n = 0;
$n += $_->[3] ? 2 : 1 for @cases;
plan tests => $n;

for (@cases) {
    my ($who, $path, $code, $reason) = @$_;
    my $res = GET_as($who, uniq($path), json => 1);
    my $label = ($who || 'no-cert') . " $path";
    is($res->code, $code, "$label: $code") or diag($res->status_line);
    next unless $reason;
    is(json_of($res)->{reason} // '', $reason, "$label: reason $reason");
}
