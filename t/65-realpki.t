# Mapping for real PKIs (issue 12): the first value that matches, EKU and
# policy rules, the AD strong forms, one-line DNs in map files, grid-mapfiles
# and FakeBasicAuth files, and certificates that expire while a kept-alive
# HTTP/1.1 connection, an HTTP/2 connection or a resumed TLS session is in
# use.  Certificates: t/pki/extra/realpki.sh; configuration:
# t/conf/mtls-realpki.conf.in (vhost mtls_pki).
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestConfig ();
use MTLSTest;
use File::Temp qw(tempdir);
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);
use HTTP::Request ();

my $mpm = Apache::Test::config()->httpd_mpm || '';
my $h2 = $mpm ne 'prefork';   # mod_http2 stays inactive under prefork
my $port = MTLSTest::port('mtls_pki');
my %fact = do { open my $f, '<', pki('realpki.facts') or die; map { chomp; split /=/, $_, 2 } <$f> };

plan tests => 146 + 4 + 13 + 4 + 26 + 7;

# GET PATH as WHO on vhost mtls_pki: [code, env, X-MTLS-Deny, JSON body]
sub req {
    my ($who, $path, %o) = @_;
    my $res = GET_as($who, $path, vhost => 'mtls_pki', json => 1, %o);
    return [$res->code, env_of($res), $res->header('X-MTLS-Deny') // '',
            $res->is_success ? {} : json_of($res), $res];
}
sub grant {   # grant WHO PATH USER [STRENGTH [SOURCE [GROUPS]]]
    my ($who, $path, $user, $strength, $source, $groups) = @_;
    my $r = req($who, uniq($path));
    my $e = $r->[1];
    is($r->[0], 200, "$who $path: granted");
    is($e->{MTLS_USER} // '(none)', $user // '(none)', "$who $path: user");
    is($e->{MTLS_STRENGTH} // '', $strength, "$who $path: $strength") if defined $strength;
    is($e->{MTLS_SOURCE} // '', $source, "$who $path: source $source") if defined $source;
    is($e->{MTLS_GROUPS} // '', $groups, "$who $path: groups") if defined $groups;
}
sub refuse {   # refuse WHO PATH REASON: 403 with the reason and its hint
    my ($who, $path, $reason, $hint) = @_;
    my $r = req($who, uniq($path));
    is("$r->[0] $r->[2]", "403 $reason", "$who $path: 403 $reason");
    like($r->[3]{hint} // '', $hint, "$who $path: the hint for $reason") if $hint;
}

# ---- the first value that matches -------------------------------------------
grant(multiuri => '/first/uri', 'api.prod', 'weak', 'rule:1', 'svc, prod');
grant(multiuri => '/first/plain', 'https://lab.example/svc/api');
grant(twodns => '/first/dns', 'api');
grant(alice => '/first/uri', undef);

# ---- EKU ---------------------------------------------------------------------
grant(alice => '/eku/client', 'alice');
grant(dualeku => '/eku/client', 'partner.example');
grant(dualeku => '/eku/server', 'partner.example');
grant(smartcard => '/eku/card', 'smartcard');
refuse(noeku => '/eku/client', 'eku-mismatch', qr/extended key usage/);
refuse(alice => '/eku/card', 'eku-mismatch');
refuse(alice => '/eku/server', 'eku-mismatch');
# no EKU at all: OpenSSL accepts it for any purpose, so it arrives verified
grant(noeku => '/', 'noeku');
grant(smartcard => '/eku/fields', 'msSmartcardLogin', 'weak', 'rule:1',
      'clientAuth, msSmartcardLogin');
{
    # a certificate without clientAuth never arrives: mod_ssl ends the
    # handshake (what a public CA's server-only certificate runs into)
    my $mark = log_mark();
    my $p = uniq('/eku/server');
    my $res = GET_as(serveronly => $p, vhost => 'mtls_pki', ua => fresh_ua('serveronly'));
    ok($res->code != 200 && $res->code != 403, 'serverAuth only: no HTTP answer (' . $res->code . ')');
    ok(scalar(log_wait($mark, qr/Certificate Verification: Error \(26\): unsuitable certificate purpose/)),
       'serverAuth only: mod_ssl refused the handshake: unsuitable certificate purpose');
}

# ---- certificate policies ----------------------------------------------------------
grant(policies => '/policy/gov', 'policies');
refuse(smartcard => '/policy/gov', 'policy-mismatch', qr/certificate policies/);
grant(smartcard => '/policy/card', 'smartcard');
refuse(alice => '/policy/card', 'policy-mismatch');
grant(policies => '/policy/groups', 'policies', undef, undef, 'lab-policy-2, gov');
grant(smartcard => '/policy/groups', 'smartcard', undef, undef, 'lab-policy-1');
refuse(alice => '/policy/groups', 'group-mismatch');
grant(policies => '/policy/both', 'policies');
refuse(smartcard => '/policy/both', 'policy-mismatch');

# ---- AD strong forms --------------------------------------------------------------
grant(adsid => '/ad/sid', $fact{sid}, 'weak', 'rule:1');
grant(adsid => '/ad/sid/trusted', $fact{sid}, 'strong', 'rule:1');
# the same SID from a CA the server trusts, but not for SIDs
grant(adsidroot => '/ad/sid/trusted', $fact{sid}, 'weak');
refuse(adsidroot => '/ad/sid/strong', 'weak-mapping');
grant(adsid => '/ad/sid/strong', $fact{sid}, 'strong');
grant(adsid => '/ad/ski', $fact{'adsid.ski'}, 'strong');        # SKI = hash of its key
grant(chosenski => '/ad/ski', $fact{'chosenski.ski'}, 'weak');  # SKI the CA chose
grant(chosenski => '/ad/sha1', $fact{'chosenski.sha1key'}, 'strong');
grant(alice => '/ad/sid', undef);

# ---- the directory's AD placeholders, against the suite's slapd --------------------
{
    my $ldlog = $ENV{MTLS_T_LDAP_LOG} or die "MTLS_T_LDAP_LOG is not set: t/services/slapd.sh did not run\n";
    my $searches = sub {   # searches slapd ran since MARK with a filter containing S
        my ($mark, $s) = @_;
        sleep 0.3;   # slapd writes its log line after answering
        open my $f, '<', $ldlog or return 0;
        seek $f, $mark, 0; local $/; my $t = <$f> // '';
        return scalar grep { /SRCH base=.*filter="[^"]*\Q$s\E/i } split /\n/, $t;
    };
    my $ld = sub {   # WHO PATH FILTER-PART: "code user strength source dn", searches
        my ($who, $path, $part) = @_;
        my $mark = -s $ldlog;
        my $r = req($who, uniq($path));
        my $e = $r->[1];
        return (join(' ', $r->[0], map { $e->{$_} // '-' } qw(MTLS_USER MTLS_STRENGTH MTLS_SOURCE MTLS_LDAP_DN)),
                $searches->($mark, $part), $r);
    };
    my $dn = sub { "uid=$_[0],ou=people,dc=lab,dc=example" };
    my $sidf = "(objectSid=$fact{sid})";
    my ($got, $n) = $ld->(adsid => '/ldad/sid-trusted', $sidf);
    is($got, "200 adsidldap strong ldap " . $dn->('adsidldap'), '{sid} from a CA trusted for SIDs: the entry, strong');
    is($n, 1, "{sid}: slapd was asked $sidf");
    # the same SID from the root CA, which the server trusts but not for SIDs
    my $mark = log_mark();
    ($got, $n, my $r) = $ld->(adsidroot => '/ldad/sid-trusted', 'objectSid');
    is($got, '403 - - - -', '{sid} from a CA not trusted for SIDs: no entry');
    is($r->[2], 'unmapped', '... reason unmapped');
    is($n, 0, '... and slapd was not asked at all');
    ok(scalar(log_wait($mark, qr/MTLS6100: the certificate's SID \Q$fact{sid}\E is not used for \(objectSid=\{sid\}\): its issuer CN=MTLS Test Root CA/)),
       '... the log says why (MTLS6100)');
    # where nothing is trusted for SIDs, not even the answer cached above
    ($got, $n, $r) = $ld->(adsid => '/ldad/sid-plain', 'objectSid');
    is($got, '403 - - - -', '{sid} without MTLSTrustSIDFrom: no entry, not the cached one');
    is("$r->[2] $n", 'unmapped 0', '... unmapped, slapd not asked');
    ($got, $n) = $ld->(adsid => '/ldad/sid-trusted', 'objectSid');
    is("$got $n", "200 adsidldap strong ldap " . $dn->('adsidldap') . " 0", '... the trusted location still has its cached answer');

    my $chosen = uc $fact{'chosenski.ski'};
    ($got, $n) = $ld->(chosenski => '/ldad/ski', "X509:<SKI>$chosen");
    is($got, "200 chosenldap weak ldap " . $dn->('chosenldap'), '{ski!ad}: an SKI the CA chose finds the entry, weak');
    is($n, 1, '{ski!ad}: slapd was asked the upper-case hex');
    my $noeku = uc $fact{'noeku.ski'};
    ($got, $n) = $ld->(noeku => '/ldad/ski', "X509:<SKI>$noeku)");
    is($got, "200 noekuldap strong ldap " . $dn->('noekuldap'), '{ski!ad}: an SKI that is the hash of its key: strong');
    is($n, 1, '{ski!ad}: slapd was asked (altSecurityIdentities=X509:<SKI>' . $noeku . ')');
    my $pk = uc $fact{'dualeku.sha1key'};
    ($got, $n) = $ld->(dualeku => '/ldad/sha1', "(altSecurityIdentities=X509:<SHA1-PUKEY>$pk)");
    is($got, "200 partnerldap strong ldap " . $dn->('partnerldap'), '{sha1-pubkey!ad}: the entry, strong');
    is($n, 1, '{sha1-pubkey!ad}: slapd was asked X509:<SHA1-PUKEY>' . $pk);
    ($got, $n) = $ld->(dualeku => '/ldad/sha1-or-cn', "(cn=partner.example)");
    is($got, "200 partnerldap weak ldap " . $dn->('partnerldap'), 'OR with a name: weak (the name alone could find it)');
    is($n, 1, '... slapd was asked the whole OR');
    ($got, $n) = $ld->(alice => '/ldad/sha1', 'SHA1-PUKEY');
    is($got, '403 - - - -', '{sha1-pubkey!ad}: a key nobody has in the directory: no entry');
    is($n, 1, '... after one search');
    ($got, $n) = $ld->(noeku => '/ldad/sid-trusted', 'objectSid');
    is("$got $n", '403 - - - - 0', '{sid}: a certificate without SID: no entry, no search');
    # the same as a map-file key and a rule: strong and weak agree
    grant(noeku => '/ad/ski', $fact{'noeku.ski'}, 'strong');
    grant(chosenski => '/ad/ski', $fact{'chosenski.ski'}, 'weak');
}

# ---- the whoami page --------------------------------------------------------------
{
    my $w = sub { my $res = GET_as($_[0], uniq('/whoami'), vhost => 'mtls_pki', json => 1); json_of($res) };
    my $j = $w->('adsid');
    my $c = $j->{certificate} || {};
    is(join(',', @{ ref $c->{eku} ? $c->{eku} : [] }), 'clientAuth', 'whoami: eku, a list');
    is(join(' ', map { $c->{$_} // '-' } qw(sid ski sha1-pubkey)),
       "$fact{sid} $fact{'adsid.ski'} $fact{'adsid.sha1key'}", 'whoami: sid, ski, sha1-pubkey');
    is(join(' ', map { $j->{identity}{$_} // '-' } qw(user strength source)), "$fact{sid} strong rule:1",
       'whoami: the user from a trusted SID, strong');
    $c = $w->('policies')->{certificate} || {};
    is(join(',', @{ ref $c->{policies} ? $c->{policies} : [] }), "$fact{'pol.gov'},$fact{'pol.lab'}", 'whoami: policies, a list');
    $c = $w->('smartcard')->{certificate} || {};
    is(join(',', @{ ref $c->{eku} ? $c->{eku} : [] }), 'clientAuth,msSmartcardLogin', 'whoami: every EKU');
    $j = $w->('adsidroot');
    is(join(' ', map { $j->{identity}{$_} // '-' } qw(user strength)), "$fact{sid} weak", 'whoami: a SID from a CA not trusted for SIDs is weak');
    $c = $w->('noeku')->{certificate} || {};
    ok(!defined $c->{sid} && !@{ ref $c->{eku} ? $c->{eku} : [] }, 'whoami: no SID, no EKU');
}

# ---- the new fields as identity headers ------------------------------------------
{
    my $seen = sub { (req($_[0], uniq('/hdr'))->[4]->header('X-Seen') // '') };
    is($seen->('adsid'), "eku=[clientAuth] policies=[] sid=[$fact{sid}] ski=[$fact{'adsid.ski'}] "
       . "sha1-pubkey=[$fact{'adsid.sha1key'}]", 'headers: sid, ski and sha1-pubkey of the AD certificate');
    like($seen->('smartcard'), qr/^eku=\[clientAuth, msSmartcardLogin\] policies=\[$fact{'pol.card'}\] sid=\[\] /,
         'headers: every EKU, joined');
    like($seen->('policies'), qr/ policies=\[\Q$fact{'pol.gov'}, $fact{'pol.lab'}\E\] /, 'headers: every policy OID, joined');
    like($seen->('noeku'), qr/^eku=\[\] policies=\[\] sid=\[\] ski=\[$fact{'noeku.ski'}\] /, 'headers: no EKU, no header');
}

# ---- the same checks on certificates forwarded by HAProxy ---------------------------
my $hap = $ENV{MTLS_T_HAPROXY_PORT} or die "MTLS_T_HAPROXY_PORT is not set: t/services/haproxy.sh did not run\n";
my %hap_ua;
sub via_hap {   # GET PATH through HAProxy presenting WHO's certificate
    my ($who, $path) = @_;
    my $ua = $hap_ua{$who} ||= fresh_ua($who);
    my $req = HTTP::Request->new(GET => "https://127.0.0.1:$hap$path");
    $req->header(Accept => 'application/json');
    return $ua->request($req);
}
sub decision {   # what a response says: code, reason, user, strength, source
    my $res = shift;
    my $e = env_of($res);
    my $j = $res->is_success ? {} : json_of($res);
    return join ' | ', $res->code, $j->{reason} // '-',
        map { $e->{$_} // '' } qw(MTLS_USER MTLS_STRENGTH MTLS_SOURCE);
}
for (['alice', '/eku/client'], ['noeku', '/eku/client'], ['smartcard', '/eku/card'],
     ['alice', '/eku/card'], ['policies', '/policy/gov'], ['smartcard', '/policy/gov'],
     ['adsid', '/ad/sid/trusted'], ['adsidroot', '/ad/sid/trusted'],
     ['adsid', '/ad/sid/strong'], ['adsidroot', '/ad/sid/strong'], ['policies', '/pki/cn']) {
    my ($who, $path) = @$_;
    my $p = uniq($path);
    my $direct = decision(GET_as($who, $p, vhost => 'mtls_pki', json => 1));
    is(decision(via_hap($who, $p)), $direct, "forwarded by HAProxy as directly: $who $path ($direct)");
}
{
    # HAProxy takes any certificate; the module's own verification wants
    # clientAuth, as mod_ssl does
    my $res = via_hap(serveronly => uniq('/pki/cn'));
    is(decision($res), '403 | not-verified |  |  | ', 'forwarded serverAuth-only certificate: not-verified');
    like(json_of($res)->{detail} // '', qr/unsuitable certificate purpose/, "forwarded: the detail says why (OpenSSL's text)");
}

# ---- map-file keys, one-line DNs, grid-mapfile, FakeBasicAuth ---------------------
grant(adsid => '/map', 'adsid-user', 'weak', 'map', 'ad-users');
grant(adsid => '/map/trusted', 'adsid-user', 'strong', 'map');
grant(chosenski => '/map', 'chosen-user', 'weak', 'map');
grant(noeku => '/map', 'noeku-user', 'strong', 'map');
grant(dualeku => '/map', 'partner-user', 'strong', 'map');
grant(comma => '/map', 'doe-legacy', 'weak', 'map');
grant(utf8 => '/map', 'juergen-legacy', 'weak', 'map');
grant(alice => '/map', undef);
grant(comma => '/grid', 'jdoe', 'weak', 'map');
grant(utf8 => '/grid', 'juergen', 'weak', 'map');
grant(alice => '/grid', 'alice', 'weak', 'map');
grant(bob => '/grid', undef);
for (['alice', '/O=Lab/OU=admins/CN=alice'], ['comma', '/O=Lab, Inc./OU=dev/CN=Doe, John'],
     ['utf8', '/O=Lab/CN=J\\xC3\\xBCrgen \\xC3\\x84']) {
    my ($who, $dn) = @$_;
    my $ours = req($who, uniq('/fba'));
    my $theirs = req($who, uniq('/fba-modssl'));
    is($theirs->[1]{REMOTE_USER} // '', $dn, "$who: mod_ssl's FakeBasicAuth user is the one-line DN");
    is("$ours->[0] " . ($ours->[1]{REMOTE_USER} // ''), "200 $dn",
       "$who: MTLSUserMapFile fakebasicauth gives the same user from the same file");
}
refuse(bob => '/fba', 'unmapped');
refuse(twodns => '/deny', 'denylisted');
grant(multiuri => '/deny', 'multiuri');

# ---- expiry while connections and sessions live ------------------------------------
{
    my $dir = tempdir(CLEANUP => 1);
    my $name = "short$$";
    my $valid = 6;
    chomp(my $end = `sh '@{[pki('mkshort.sh')]}' $name $valid`);
    ok($end =~ /^\d+$/, "a certificate valid for $valid seconds (until $end)");
    my $na = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $end);
    my $wait = $end - time + 2.5;
    my @base = ('curl', '-s', '--cacert', pki('ca-bundle.crt'), '--cert', pki("$name.crt"),
                '--key', pki("$name.key"), '-H', 'Accept: application/json');
    my $u = sub { sprintf 'https://localhost:%d%s', $port, $_[0] };
    my $w = '%{http_code} %{http_version} %{num_connects} %header{x-mtls-deny}\n';
    my @pids;
    for my $proto ('http1.1', $h2 ? ('http2') : ()) {
        my @cmd = (@base, "--$proto",
                   '-o', "$dir/$proto.1", '-w', $w, $u->(uniq('/sleep') . "?$wait"),
                   '-o', "$dir/$proto.2", '-w', $w, $u->(uniq('/after')));
        my $pid = fork // die;
        if (!$pid) {
            open STDOUT, '>', "$dir/$proto.out" or die; exec @cmd; die "exec: $!";
        }
        push @pids, $pid;
    }
    # a TLS 1.2 session, saved before the certificate expires ...
    my $get = "GET /open HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my $sc = sub {
        my ($out, @args) = @_;
        open my $in, '>', "$dir/req" or die; print $in $get; close $in;
        system("openssl s_client -connect 127.0.0.1:$port -servername localhost -tls1_2 "
               . "-CAfile '@{[pki('ca-bundle.crt')]}' -ign_eof @args < $dir/req > $dir/$out 2>&1");
        local $/; open my $f, '<', "$dir/$out" or return ''; scalar <$f>;
    };
    my $fwd_before = via_hap($name, uniq('/pki/cn'));
    my $first = $sc->('s1', "-cert '@{[pki(\"$name.crt\")]}' -key '@{[pki(\"$name.key\")]}' -sess_out $dir/sess");
    like($first, qr{^HTTP/1\.1 200}m, 'session: granted before expiry');
    like($first, qr{^MTLS_USER=$name$}m, 'session: the short-lived certificate maps');
    # ... and resumed after it expired: mod_ssl verifies nothing again
    sleep 0.1 while time < $end + 1.5;
    my $mark = log_mark();
    my $again = $sc->('s2', "-sess_in $dir/sess");
    like($again, qr/^Reused, TLSv1\.2/m, 'session: resumed after expiry');
    like($again, qr{^HTTP/1\.1 403}m, 'session: refused after expiry');
    like($again, qr/^X-MTLS-Deny: not-verified\r?$/m, 'session: reason not-verified');
    like($again, qr/certificate has expired \(notAfter \Q$na\E/, 'session: the hint names the expiry date');
    ok(scalar(log_wait($mark, qr/denied: reason=not-verified detail="certificate has expired \(notAfter \Q$na\E.*uri=\/open/)),
       'session: the denial is logged with the date');
    waitpid $_, 0 for @pids;
    is(decision($fwd_before), "200 | - | $name | weak | rule:1", 'forwarded by HAProxy: granted while valid');
    my $fwd_after = via_hap($name, uniq('/pki/cn'));
    is(decision($fwd_after), '403 | not-verified |  |  | ', 'forwarded by HAProxy after notAfter: not-verified');
    like(json_of($fwd_after)->{detail} // '', qr/certificate has expired/, 'forwarded after notAfter: the detail says expired');
    like(json_of($fwd_after)->{hint} // '', qr/./, 'forwarded after notAfter: with a hint');
    for my $proto ('http1.1', $h2 ? ('http2') : ()) {
        open my $f, '<', "$dir/$proto.out" or die;
        my @l = map { [split] } <$f>;
        my ($b1, $b2) = map { local $/; open my $b, '<', "$dir/$proto.$_" or return ''; scalar <$b> } 1, 2;
        my $v = $proto eq 'http2' ? '2' : '1.1';
        is("@{$l[0] || []}", "200 $v 1", "$proto: a request while valid (one connection)");
        like($b1 // '', qr/^MTLS_USER=$name$/m, "$proto: it was mapped");
        is("@{$l[1] || []}", "403 $v 0 not-verified", "$proto: the next request on the same connection, after notAfter: not-verified");
        my $j = eval { JSON::PP->new->decode($b2) } || {};
        like($j->{detail} // '', qr/^certificate has expired \(notAfter \Q$na\E/, "$proto: the detail has the date");
    }
    SKIP: {
        skip 'HTTP/2: mod_http2 is inactive under prefork, so no HTTP/2 connection can outlive the certificate', 4 unless $h2;
    }
}
