# mtls-status for the directory and its cache: after a known sequence
# against the suite's real slapd (t/services/slapd.sh), the operations
# counter equals the searches slapd logged, the latency histogram counts
# each of them, and the cache counts one miss, one hit, and an outage's
# miss; the outage is counted as a directory-unavailable denial.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest qw(:DEFAULT read_from);
use Time::HiRes qw(sleep);

plan tests => 12;

sub scrape {
    my $res = GET_as('', '/status', vhost => 'mtls_ops', ua => fresh_ua(''));
    my %v;
    for (split /\n/, $res->decoded_content(charset => 'none') // '') {
        next if /^#/;
        $v{$1} = $2 if /^(\S+) (\S+)$/;
    }
    return \%v;
}
sub delta { my ($a, $b, $k) = @_; ($b->{$k} // 'absent') - ($a->{$k} // 0) }
sub get { GET_as($_[0], uniq($_[1]), vhost => 'mtls_ops', ua => fresh_ua($_[0]), json => 1) }
my $log = $ENV{MTLS_T_LDAP_LOG};
my $ops_ok = 'mtls_authz_ldap_operations_total{result="ok"}';
my $ops_err = 'mtls_authz_ldap_operations_total{result="error"}';

my $m0 = scrape();
my $mark = -s $log || 0;
is(get(ldcert => '/m/ldap')->code, 200, 'the directory maps ldcert');
is(get(ldcert => '/m/ldap')->code, 200, 'again, on a new connection (from the cache)');
sleep 0.5;   # slapd logs after answering; log_transaction after the response
my $searches = grep { /SRCH base=/ } split /\n/, read_from($log, $mark);
my $m1 = scrape();
ok($searches >= 1, "slapd searched $searches time(s)");
is(delta($m0, $m1, $ops_ok), $searches, 'operations ok = the searches slapd logged');
is(delta($m0, $m1, $ops_err), 0, 'no operation failed');
is(delta($m0, $m1, 'mtls_authz_ldap_seconds_count'), $searches, 'the latency histogram counts each');
is(delta($m0, $m1, 'mtls_authz_ldap_seconds_bucket{le="+Inf"}'), $searches, '... up to +Inf');
is(delta($m0, $m1, 'mtls_authz_cache_total{result="miss"}'), 1, 'one cache miss (the first request)');
is(delta($m0, $m1, 'mtls_authz_cache_total{result="hit"}'), 1, 'one cache hit (the second)');

is(get(ldcert => '/m/ldap-down')->code, 503, 'a directory nobody answers: 503');
sleep 0.3;
my $m2 = scrape();
is(delta($m1, $m2, $ops_err) + delta($m1, $m2, 'mtls_authz_ldap_operations_total{result="timeout"}'), 1,
   'the failed operation is counted as an error (or timeout)');
is(delta($m1, $m2, 'mtls_authz_decisions_total{result="denied",reason="directory-unavailable"}'), 1,
   '... and the request as a directory-unavailable denial');
