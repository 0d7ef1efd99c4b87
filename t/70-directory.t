# The directory source (SPEC §4) and the cache in front of it (§5), against
# the two real slapd servers t/services/slapd.sh starts: every filter form,
# groups, binds, TLS, fail-over, the outage policy (SIGSTOP, kill, stale,
# recovery), negative caching, TTL on a kept-alive connection, and the
# same decisions as mod_authnz_ldap.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest qw(:DEFAULT read_from);
use Time::HiRes qw(sleep time);

plan tests => 97;

my $V = 'mtls_ldap';
my $seq = 0;
sub req {
    my ($who, $path, %o) = @_;
    my $ua = $o{ua} || fresh_ua($who);
    return GET_as($who, "$path?n=" . ++$seq . "-$$", vhost => $V, ua => $ua,
                  json => 1);
}
sub code   { req(@_)->code }
sub reason { req(@_)->header('X-MTLS-Deny') // '' }
sub env    { my $r = req(@_); env_of($r) }

# Searches the slapd of LOG ran with a filter containing S, from byte MARK.
sub searches {
    my ($log, $mark, $s) = @_;
    sleep 0.3;   # slapd writes its log line after answering
    return scalar grep { /SRCH base=.*filter="[^"]*\Q$s\E/i }
        split /\n/, read_from($log, $mark);
}
my ($log1, $log2) = @ENV{qw(MTLS_T_LDAP_LOG MTLS_T_LDAP2_LOG)};
sub mark_of { -s $_[0] || 0 }

sub ldapmodify {
    my $ldif = shift;
    open my $p, '|-', "ldapmodify -x -H ldap://127.0.0.1:$ENV{MTLS_T_LDAP_PORT}"
        . " -D cn=admin,dc=lab,dc=example -w adminpw >/dev/null 2>&1" or die;
    print $p $ldif; close $p;
    return $? == 0;
}

# ---- the user's entry by every kind of filter ----------------------------
{
    my $e = env(ldcert => '/ld/cert');
    is($e->{MTLS_USER}, 'ldcert', 'default filter: the certificate finds uid=ldcert');
    is($e->{MTLS_SOURCE}, 'ldap', 'MTLS_SOURCE=ldap');
    is($e->{MTLS_STRENGTH}, 'strong', 'a certificate filter is strong');
    is($e->{MTLS_LDAP_DN}, 'uid=ldcert,ou=people,dc=lab,dc=example', 'MTLS_LDAP_DN');
    like($e->{MTLS_GROUPS} // '', qr/\bldap-admins\b/, 'groups: member (groupOfNames)');
    like($e->{MTLS_GROUPS} // '', qr/\bdevs\b/, 'groups: uniqueMember (groupOfUniqueNames)');
}
is(code(ldcert => '/ld/cert-devs'), 200, 'mtls-group by uniqueMember grants');
is(code(ldcert => '/ld/cert-strong'), 200, 'MTLSRequireStrength strong: the certificate filter passes');
# same subject, another certificate: not in userCertificate
is(code(ldcert2 => '/ld/cert'), 403, 'a look-alike certificate of the same subject is not found');
is(reason(ldcert2 => '/ld/cert'), 'unmapped', '... reason unmapped');

{
    my $e = env(ldmail => '/ld/mail');
    is($e->{MTLS_USER}, 'mailuser', '(mail={san:email}) finds mailuser');
    is($e->{MTLS_STRENGTH}, 'weak', 'a mail filter is weak');
}
is(code(ldmail => '/ld/mail-strong'), 403, 'weak directory mapping under MTLSRequireStrength strong');
is(reason(ldmail => '/ld/mail-strong'), 'weak-mapping', '... reason weak-mapping');
# two locations, two filters, one certificate: the second never reuses the
# first one's answer (cache keys hold the settings)
is(code(ldmail => '/ld/mail'), 200, 'first location answers');
is(code(ldmail => '/ld/mail-other'), 403, 'another filter on the same certificate is asked on its own');
is(reason(ldmail => '/ld/mail-other'), 'unmapped', '... and finds nobody');

{
    my $e = env(ldad => '/ld/ad');
    is($e->{MTLS_USER}, 'aduser', 'AD: altSecurityIdentities X509:<I>issuer!ad<SR>serial!ad');
    is($e->{MTLS_STRENGTH}, 'strong', 'AD issuer + serial mapping is strong');
    like($e->{MTLS_GROUPS} // '', qr/\bad-users\b.*\bvpn\b|\bvpn\b.*\bad-users\b/, 'AD: groups from memberOf');
}
is(code(ldposix => '/ld/posix'), 200, 'memberUid (posixGroup) through the default group filter');
{
    my $e = env(ldnested => '/ld/nested0');
    is($e->{MTLS_GROUPS}, 'n1', 'without nesting: only the direct group');
    $e = env(ldnested => '/ld/nested');
    is(join(',', sort split /, /, $e->{MTLS_GROUPS} // ''), 'n1,n2,n3',
       'nested groups with a cycle: each group once, the walk ends');
    $e = env(ldnested => '/ld/nested-memberof');
    is(join(',', sort split /, /, $e->{MTLS_GROUPS} // ''), 'n1,n2,n3',
       'nested groups from memberOf and the search alike');
}
{
    my $r = req(ldmany => '/ld/many');
    is($r->code, 200, '1,000 groups: the last one grants');
    is($r->header('X-MTLS-Groups-N'), 1000, '... all 1,000 groups are there');
}

# more than one entry: no match, and the log names the filter
{
    my $m = log_mark();
    is(code(ldtwin => '/ld/twin'), 403, 'two entries match: no user');
    ok(scalar(log_wait($m, qr/MTLS2021: .*\(mail=twin\@lab\.example\)/)), '... logged with the filter');
}
# injection through certificate fields: escaped, matches nothing
is(code(ldinject => '/ld/inject-cn'), 403, 'CN *)(uid=* matches nothing');
is(reason(ldinject => '/ld/inject-cn'), 'unmapped', '... unmapped');
is(code(ldinject => '/ld/inject-mail'), 403, 'email *)(mail=* matches nothing');
ok(searches($log1, 0, '(cn=\\2a\\29\\28uid=\\2a)') >= 1, '... the filter sent is escaped (RFC 4515)');
# a placeholder without value: no search at all
{
    my $m = mark_of($log1);
    is(code(ldcert => '/ld/mail'), 403, 'no email in the certificate: unmapped');
    is(searches($log1, $m, '(mail='), 0, '... and the directory is not asked for an empty value');
}
is(code(alice => '/ld/user'), 200, '{user} from MTLSUserFrom: uid=alice in ldap-admins');
{
    my $m = log_mark();
    is(code(bob => '/ld/user'), 403, '{user}: uid=bob is not');
    ok(scalar(log_wait($m, qr/MTLS0401: denied: reason=group-mismatch user="bob" source=rule:1 ldap-dn="uid=bob,ou=people,dc=lab,dc=example" /)),
       '... and the refusal line shows what the directory answered');
}

# ---- HTTP/2: streams of one connection share the directory's answer ------
{
    my $dir = "$ENV{MTLS_T_RUN}/h2-directory";
    mkdir $dir;
    my $port = MTLSTest::port($V);
    my @cmd = ('curl', '-s', '--http2', '--cacert', pki('ca-bundle.crt'),
               '--cert', pki('ldcert.crt'), '--key', pki('ldcert.key'));
    for my $i (1, 2) {
        push @cmd, '-o', "$dir/body$i", '-w', '%{http_code} %{http_version} %{num_connects}\n',
            sprintf('https://localhost:%d/ld/cert%s?h2=%d', $port, $i == 1 ? '' : '-devs', $i);
    }
    open my $fh, '-|', @cmd or die "curl: $!";
    my @out = map { [split] } <$fh>;
    close $fh;
    my $body = do { local $/; open my $b, '<', "$dir/body1" or die; <$b> };
    # mod_http2 stays inactive under prefork: the same two requests then
    # share one HTTP/1.1 connection
    my $v = (Apache::Test::config()->httpd_mpm || '') eq 'prefork' ? '1.1' : '2';
    is(join(' ', map { "$_->[0]/$_->[1]" } @out), "200/$v 200/$v", 'HTTP/2: two streams, both granted by directory groups');
    is(($out[1] // [])->[2], 0, '... on one connection');
    like($body, qr/^MTLS_LDAP_DN=uid=ldcert,ou=people,dc=lab,dc=example$/m, '... MTLS_LDAP_DN on a stream');
}

# ---- binds ----------------------------------------------------------------
is(code(ldcert => '/ld/bind-plain'), 200, 'bind with a password');
is(code(ldcert => '/ld/bind-file'), 200, 'bind with file:');
is(code(ldcert => '/ld/bind-exec'), 200, 'bind with exec:');
{
    my $m = log_mark();
    my $r = req(ldcert => '/ld/bind-wrong');
    is($r->code, 503, 'wrong bind password: 503');
    is($r->header('X-MTLS-Deny'), 'directory-unavailable', '... reason directory-unavailable');
    ok(scalar(log_wait($m, qr/MTLS2026: .*bind as cn=reader,dc=lab,dc=example: Invalid credentials/)),
       '... and the error log says why');
}
{
    my $m = log_mark();
    my $r = req(ldcert => '/ld/bind-nopassword');
    is($r->code, 503, 'a bind DN without its password: 503, no unauthenticated bind');
    ok(scalar(log_wait($m, qr/MTLS2026: .*MTLSLDAPBindDN cn=reader,dc=lab,dc=example has no MTLSLDAPBindPassword/)),
       '... and the error log says why');
}

# ---- a search base that does not exist: the directory cannot answer -------
for my $where ('/ld/nobase-groups', '/ld/nobase-user') {
    my $m = log_mark();
    my $r = req(ldcert => $where);
    is($r->code, 503, "$where: 503");
    is($r->header('X-MTLS-Deny'), 'directory-unavailable', '... reason directory-unavailable');
    ok(scalar(log_wait($m, qr/MTLS2026: .*the search base ou=nothere,dc=lab,dc=example does not exist/)),
       '... and the error log names the base');
}

# ---- TLS and fail-over ----------------------------------------------------
is(code(ldcert => '/ld/ldaps'), 200, 'ldaps:// with MTLSLDAPTrustedCA');
is(code(ldcert => '/ld/starttls'), 200, 'STARTTLS with MTLSLDAPTrustedCA');
is(code(ldcert => '/ld/ldaps-untrusted'), 503, 'ldaps:// to a server the CA does not vouch for: 503');
is(code(ldcert => '/ld/failover'), 200, 'the first host refuses: the second answers');
{
    my $t0 = time;
    is(code(ldcert => '/ld/failover-starttls'), 200,
       'the first host connects but fails STARTTLS: the second answers');
    cmp_ok(time - $t0, '<', 2, '... at once (the first host is not waited for)');
}

# ---- the cache --------------------------------------------------------------
{
    my $m = mark_of($log2);
    is(code(ldposix => '/v/count'), 403, 'a lookup (posix is not in ldap-admins)');
    code(ldposix => '/v/count') for 1 .. 3;
    is(searches($log2, $m, '(mail=posix@lab.example)'), 1,
       'four new connections, one user search: the rest came from the cache');
}
{
    my $m = mark_of($log2);
    is(code(ldnone => '/v/neg'), 403, 'no such user');
    is(reason(ldnone => '/v/neg'), 'unmapped', '... unmapped');
    code(ldnone => '/v/neg') for 1 .. 2;
    is(searches($log2, $m, '(mail=nobody@lab.example)'), 1, 'negative answers are cached too');
}

# ---- TTL on a connection that stays open -------------------------------
{
    my $ua = fresh_ua('ldgone');
    is(code(ldgone => '/ld/ttl', ua => $ua), 200, 'member of temp');
    ok(ldapmodify("dn: cn=temp,ou=groups,dc=lab,dc=example\nchangetype: modify\n"
                  . "delete: member\nmember: uid=ldgone,ou=people,dc=lab,dc=example\n"),
       'removed from temp in the directory');
    my ($end, $c) = (time + 6, 0);
    my $m = log_mark();
    while (time < $end) { $c = code(ldgone => '/ld/ttl', ua => $ua); last if $c == 403; sleep 0.25 }
    is($c, 403, 'the same kept-alive connection is refused within MTLSCacheTTL');
    my $last = access_wait($m, "/ld/ttl", 1);
    ok($last && $last->{keepalive} > 0, '... on a reused connection');
    ldapmodify("dn: cn=temp,ou=groups,dc=lab,dc=example\nchangetype: modify\n"
               . "add: member\nmember: uid=ldgone,ou=people,dc=lab,dc=example\n");
}

# ---- outages ---------------------------------------------------------------
my $pidfile = $ENV{MTLS_T_LDAP2_PIDFILE};
sub slapd2 { open my $f, '<', $pidfile or return 0; my $p = <$f>; chomp $p; $p }
is(code(ldmail => '/v/stale'), 200, 'warm: /v/stale answered by the directory');
is(code(ldmail => '/v'), 200, 'warm: /v');
sleep 1.2;   # past MTLSCacheTTL 1
kill 'STOP', slapd2();
{
    my $t0 = time;
    my $r = req(ldmail => '/v');
    my $dt = time - $t0;
    is($r->code, 503, 'SIGSTOPped directory: 503');
    ok($dt < 3, sprintf('... within the timeout (MTLSLDAPTimeout 1, took %.1fs)', $dt));
    ok(($r->header('Retry-After') // '') =~ /^\d+$/, '... with Retry-After');
    is($r->header('X-MTLS-Deny'), 'directory-unavailable', '... reason directory-unavailable');
    # several at once: each worker is freed after the timeout (each child
    # times its own request: forking and loading TLS is not the server's)
    my @kids;
    for (1 .. 4) {
        my $pid = fork;
        if (!$pid) {
            my $ua = fresh_ua('ldmail');
            my $t = time;
            my $c = code(ldmail => '/v', ua => $ua);
            exit($c != 503 ? 1 : time - $t >= 3 ? 2 : 0);
        }
        push @kids, $pid;
    }
    my %bad;
    for (@kids) { waitpid $_, 0; $bad{$? >> 8}++ if $? }
    ok(!$bad{1}, 'four requests at once: all 503');
    ok(!$bad{2}, '... each freed within the timeout');
    is(code(ldmail => '/open'), 200, 'the server still serves');
}
# on a connection kept alive (a 403 keeps it open; a 503 closes it): the
# outage is not remembered with the connection, its next request asks again
my $kept_ua = fresh_ua('ldmail');
{
    my $r = req(ldmail => '/v/deny', ua => $kept_ua);
    is($r->code, 403, 'MTLSLDAPOnError deny: 403');
    is($r->header('X-MTLS-Deny'), 'directory-unavailable', '... still named directory-unavailable');
}
is(code(ldmail => '/v/any'), 503, 'inside <RequireAny>: still 503, never a grant or a plain 403');
is(code(ldmail => '/v/verified'), 200, 'mtls-verified needs no directory answer');
{
    my $m = log_mark();
    is(code(ldmail => '/v/stale'), 200, 'MTLSCacheMaxStale: the stale answer serves');
    ok(scalar(log_wait($m, qr/MTLS2025: .*serving the answer cached/)), '... logged at warn');
}
kill 'CONT', slapd2();
{
    my ($end, $c) = (time + 5, 0);
    while (time < $end) { $c = code(ldmail => '/v'); last if $c == 200; sleep 0.2 }
    is($c, 200, 'SIGCONT: recovery without a restart');
    my $m;
    ($end, $c) = (time + 3, 0);
    while (time < $end) {
        $m = log_mark();
        $c = code(ldmail => '/v/deny', ua => $kept_ua);
        last if $c == 200;
        sleep 0.2;
    }
    is($c, 200, '... and the connection refused in the outage is granted now');
    my $last = access_wait($m, '/v/deny', 1);
    ok($last && $last->{keepalive} > 0, '... on that same connection');
}
sleep 1.2;
kill 'KILL', slapd2();
sleep 0.2;
{
    my $t0 = time;
    my $r = req(ldmail => '/v');
    my $dt = time - $t0;
    is($r->code, 503, 'killed directory: 503');
    ok($dt < 0.9, sprintf('... at once (%.2fs)', $dt));
    is(code(ldmail => '/v/neg'), 503, 'killed directory under MTLSCacheNegativeTTL 30: 503');
}
system('sh', $ENV{MTLS_T_SLAPD_SH}, 'restart2', $ENV{MTLS_T_SLAPD_STATE});
{
    my ($end, $c) = (time + 8, 0);
    while (time < $end) { $c = code(ldmail => '/v'); last if $c == 200; sleep 0.2 }
    is($c, 200, 'restarted directory: recovery without a restart of httpd');
    is(code(ldmail => '/v/neg'), 200, 'the failure was not cached as "no such user"');
}

# ---- the same decisions as mod_authnz_ldap ----------------------------------
for my $who (qw(alice bob ldcert ldmail ldinject mailuser)) {
    next unless -f pki("$who.crt");
    my $a = code($who => '/az/authnz');
    my $b = code($who => '/ld/user');
    is($b == 200 ? 'granted' : 'refused', $a == 200 ? 'granted' : 'refused',
       "$who: Require mtls-group agrees with Require ldap-group");
}
