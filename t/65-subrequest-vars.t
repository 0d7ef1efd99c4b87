# The MTLS_* variables in a subrequest (SSI include virtual, as mod_dir's
# index): in the page's own scope they are the page's identity; in a
# scope that maps the certificate to another user they are that user's,
# not a copy of the main request's.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;

plan tests => 5;

my $r = GET_as('alice', '/ssi/env.shtml', vhost => 'mtls_headers');
is($r->code, 200, 'the SSI page answers');
my ($same, $other) = split /^--8<--$/m, $r->decoded_content(charset => 'none');
my %s = map { /^([A-Z_0-9]+)=(.*)$/ ? ($1, $2) : () } split /\n/, $same // '';
my %o = map { /^([A-Z_0-9]+)=(.*)$/ ? ($1, $2) : () } split /\n/, $other // '';
is($s{MTLS_USER} // '', 'alice', 'subrequest in the page\'s scope: MTLS_USER of the page\'s identity');
is($s{MTLS_SUBJECT} // '', 'CN=alice,OU=admins,O=Lab', '... and its MTLS_SUBJECT');
is($o{MTLS_USER} // '', 'admins', 'subrequest in a scope that maps OU: its own user, not the main request\'s');
is($o{MTLS_SUBJECT} // '', 'CN=alice,OU=admins,O=Lab', '... with the same certificate\'s subject');
