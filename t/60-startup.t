# Configuration errors stop the server with the file and the line: each case
# writes a minimal httpd.conf (mod_ssl + the module) and runs the real
# binary, first `httpd -t`, then (for errors found only at start-up, such as
# file contents) a foreground start that must exit by itself.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use POSIX ();

my $cfg   = Apache::Test::config();
my $httpd = $cfg->{vars}{httpd};
my $mods  = '/usr/lib/apache2/modules';
my $so    = $ENV{MTLS_MODULE_SO} || "$cfg->{vars}{t_dir}/../.libs/mod_mtls_authz.so";
my $dir   = tempdir(CLEANUP => 1);
my %c = map { $_ => cert($_) } qw(alice);

sub spew { my ($f, $s) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $s; close $fh; $f }

my $good_map = spew("$dir/good.map", "# ok\nsha256:$c{alice}{sha256} alice admins\n");
my $bad_map  = spew("$dir/bad.map", "# line 1\nsha256:$c{alice}{sha256} alice\nsha256:xyz-not-hex bob\n");
my $bad_key  = spew("$dir/badkey.map", "nosuchkey:abc carol\n");
my $no_user  = spew("$dir/nouser.map", "\n\nsha256:$c{alice}{sha256}\n");
my $good_grp = spew("$dir/good.groups", "admins: alice\n");
my $good_deny = spew("$dir/good.deny", "# none\n");
my $bad_grp  = spew("$dir/bad.groups", "admins: alice\nthis line has no colon\n");
my $bad_deny = spew("$dir/bad.deny", "# c\n\n\nsha256:00zz\n");
# a DN key whose quotes were forgotten: cut at its first space, the rest
# of the DN would become the user and groups of a strong mapping
my $unquoted = spew("$dir/unquoted.map", "# the issuing CA has spaces\n"
                    . "issuer-serial:3C/CN=Lab Issuing CA,O=Lab alice admins\n");
my $quoted   = spew("$dir/quoted.map",
                    qq{"issuer-serial:3C/CN=Lab Issuing CA,O=Lab" alice admins\n});
my $unread   = spew("$dir/unreadable.map", "sha256:$c{alice}{sha256} alice\n");
# issue 12: the new key forms and file formats
my $bad_sid  = spew("$dir/badsid.map", "# c\nsid:S-1-5-x eve\n");
my $bad_grid = spew("$dir/bad.gridmap", "\"/O=Lab/CN=a\" a\n\"/O=Lab/CN=b\"\n");
my $bad_fba  = spew("$dir/bad.htpasswd", "/O=Lab/CN=a:xxj31ZMTZzkVA\nalice:xxj31ZMTZzkVA\n");
my $good_new = spew("$dir/new.map", "sid:S-1-5-21-1-2-3-1001 a\nski:00:11:22 b\n"
                    . "sha1-pubkey:" . ('ab' x 20) . " c\n\"subject:/C=DE/O=Lab/CN=d\" d\n");
my $good_grid = spew("$dir/good.gridmap", "\"/C=DE/O=Lab/CN=alice\" alice,a2\n");
my $good_fba = spew("$dir/good.htpasswd", "/C=DE/O=Lab/CN=alice:xxj31ZMTZzkVA\n");
chmod 0000, $unread;
# header signing keys (MTLSHeaderSignature): world-readable is refused
my $wkey     = spew("$dir/world.key", "a-good-long-key-0123456789abcdef\n");
chmod 0644, $wkey;
my $gkey     = spew("$dir/good.key", "a-good-long-key-0123456789abcdef\n");
chmod 0600, $gkey;
my $skey     = spew("$dir/short.key", "\nshort\n");
chmod 0600, $skey;
my ($pkica, $crl, $evilcrl) = (pki('ca-bundle.crt'), pki('crl-after.pem'), pki('crl-evil.pem'));
my $bad_crl = spew("$dir/bad.crl", "-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n");

# [name, config lines inside <Location /x>, what the message must name]
# The bad line is always the LAST line of the location block; its config
# line number is computed below. FILE:LINE cases name the data file.
my @cases = (
    ['unknown subject attribute',  ['MTLSUserFrom subject:XX-nope']],
    ['unknown field',              ['MTLSUserFrom nosuchfield']],
    ['unknown group field',        ['MTLSGroupFrom nosuchfield']],
    ['bad regex',                  ['MTLSUserFrom subject:CN ^(a+$ $1']],
    ['$3 with two groups',         ['MTLSUserFrom san:email ^(.+)@(.+)$ $3']],
    ['regex without template',     ['MTLSUserFrom subject:CN ^(.+)$']],
    ['bad DN in mtls-subject',     ['Require mtls-subject "this is not a DN"']],
    ['bad DN in mtls-issuer',      ['Require mtls-issuer "CN=x,,=y"']],
    ['bad fingerprint hex',        ['Require mtls-fingerprint sha256:xyz']],
    ['bad fingerprint length',     ['Require mtls-fingerprint sha256:abcd']],
    ['bad fingerprint type',       ['Require mtls-fingerprint md5:' . ('ab' x 16)]],
    ['mtls-verified with argument', ['Require mtls-verified foo']],
    ['mtls-user without argument', ['Require mtls-user']],
    ['bad SAN type',               ['Require mtls-san bogus:x']],
    ['MTLSUserFrom without field',  ['MTLSUserFrom']],
    ['mtls-group without argument', ['Require mtls-group']],
    ['MTLSReloadInterval in a location', ['MTLSReloadInterval 3']],
    ['bad strength',               ['MTLSRequireStrength medium']],
    ['bad mode',                   ['MTLSMode maybe']],
    ['bad error detail',           ['MTLSErrorDetail maybe']],
    ['missing map file',           ["MTLSUserMapFile $dir/does-not-exist.map"], "$dir/does-not-exist.map"],
    ['unreadable map file',        ["MTLSUserMapFile $unread"], $unread],
    ['map file bad line',          ["MTLSUserMapFile $bad_map"], "$bad_map:3"],
    ['map file unknown key type',  ["MTLSUserMapFile $bad_key"], "$bad_key:1"],
    ['map file DN key without quotes', ["MTLSUserMapFile $unquoted"],
        "$unquoted:2: 'CA,O=Lab' after the key 'issuer-serial:3C/CN=Lab' reads as the rest of its DN: a key that holds spaces must be quoted"],
    ['map file key without user',  ["MTLSUserMapFile $no_user"], "$no_user:3"],
    ['group file bad line',        ["MTLSGroupFile $bad_grp"], "$bad_grp:2"],
    ['deny list bad line',         ["MTLSDenyList $bad_deny"], "$bad_deny:4"],
    ['directory as map file',      ["MTLSUserMapFile $dir"], "$dir"],
    ['missing deny list',          ["MTLSDenyList $dir/nope.deny"], "$dir/nope.deny"],
    ['unknown header field',       ['MTLSRequestHeader X-A nosuchfield']],
    ['bad header name',            ['MTLSRequestHeader "X A" user']],
    ['header carrying the request', ['MTLSRequestHeader Host user']],
    ['MTLSRequestHeader one argument', ['MTLSRequestHeader X-A']],
    ['bad MTLSRequestHeaders',     ['MTLSRequestHeaders all']],
    ['strip glob that hits Host',  ['MTLSStripHeader X-* *']],
    ['bad strip glob',             ['MTLSStripHeader X-(a)']],
    ['world-readable key',         ["MTLSHeaderSignature X-Sig $wkey"], "$wkey: the key file is world-readable"],
    ['short key',                  ["MTLSHeaderSignature X-Sig $skey"], "$skey:2: the key is 5 bytes"],
    ['missing key',                ["MTLSHeaderSignature X-Sig $dir/nope.key"], "$dir/nope.key"],
    ['trusted proxy by name',      ['MTLSTrustedProxy proxy.example']],
    ['trusted proxy bad CIDR',     ['MTLSTrustedProxy 10.0.0.0/33']],
    ['trusted proxy bad pin',      ['MTLSTrustedProxy cert:sha256:abcd']],
    ['trusted proxy pin type',     ['MTLSTrustedProxy cert:spki:' . ('ab' x 32)]],
    ['proxy header bad format',    ['MTLSProxyCertHeader Client-Cert pem']],
    ['proxy header bad name',      ['MTLSProxyCertHeader "Client Cert" rfc9440']],
    ['proxy chain header on xfcc', ['MTLSProxyCertHeader X-Forwarded-Client-Cert xfcc Chain']],
    ['proxy CA missing',           ["MTLSProxyCertCA $dir/nope-ca.pem"], "$dir/nope-ca.pem"],
    ['proxy CA not PEM',           ["MTLSProxyCertCA $good_map"], "$good_map"],
    ['proxy CRL not PEM',          ["MTLSProxyCRL $good_map"], "$good_map"],
    ['proxy verify depth',         ['MTLSProxyVerifyDepth 17']],
    ['MTLSCRL not signed by the CA', ["MTLSCRL $evilcrl $pkica"], "$evilcrl:1: CRL refused: its signature does not verify"],
    ['MTLSCRL garbage',            ["MTLSCRL $bad_crl $pkica"], "$bad_crl:1: CRL cannot be parsed"],
    ['MTLSCRL missing CA file',    ["MTLSCRL $crl $dir/nope.pem"], "$dir/nope.pem"],
    ['MTLSCRL CA file without certificates', ["MTLSCRL $crl $good_deny"], "$good_deny: no PEM certificate"],
    ['MTLSCRL with one file',      ["MTLSCRL $crl"]],
    ['bad MTLSCRLStale',           ['MTLSCRLStale maybe']],
    ['unknown EKU name',           ['Require mtls-eku sha256']],
    ['mtls-eku without argument',  ['Require mtls-eku']],
    ['policy that is not an OID',  ['Require mtls-policy gov-medium']],
    ['mtls-policy without argument', ['Require mtls-policy']],
    ['unknown map file format',    ["MTLSUserMapFile $good_map csv"]],
    ['bad DN in MTLSTrustSIDFrom', ['MTLSTrustSIDFrom "not a DN"']],
    ['map file bad SID',           ["MTLSUserMapFile $bad_sid"], "$bad_sid:2"],
    ['grid-mapfile DN without account', ["MTLSUserMapFile $bad_grid gridmap"], "$bad_grid:2"],
    ['FakeBasicAuth name not a DN', ["MTLSUserMapFile $bad_fba fakebasicauth"], "$bad_fba:2"],
);
# accepted at start-up: fields of SPEC §2 and the ap_expr variables of §9
my @accepted = (
    (map { ["MTLSUserFrom $_", ["MTLSUserFrom $_", 'Require mtls-verified']] }
        qw(subject issuer subject:CN subject:emailAddress subject:serialNumber
           subject:UID subject:DC subject:0.9.2342.19200300.100.1.1 issuer:O
           san:email san:dns san:uri san:ip san:upn serial sha256 spki
           not-after days-left verify eku policies sid ski sha1-pubkey)),
    ['Require mtls-eku and mtls-policy',
        ['Require mtls-eku clientAuth serverAuth emailProtection codeSigning timeStamping '
         . 'OCSPSigning msSmartcardLogin 1.3.6.1.5.5.7.3.2',
         'Require mtls-policy 2.16.840.1.101.3.2.1.3.13 2.5.29.32.0']],
    ['new map keys, gridmap, fakebasicauth, MTLSTrustSIDFrom',
        ["MTLSUserMapFile $good_new", 'MTLSTrustSIDFrom "CN=Lab CA,O=Lab" "/O=Lab/CN=Other CA"',
         '<If "true">', "MTLSUserMapFile $good_grid gridmap", '</If>',
         '<If "false">', "MTLSUserMapFile $good_fba FakeBasicAuth", '</If>']],
    ['MTLSGroupFrom subject:OU with regex', ['MTLSGroupFrom subject:OU ^(.*)$ g-$1']],
    ['map file with a quoted DN key', ["MTLSUserMapFile $quoted", 'Require mtls-verified']],
    ['map, group file and deny list together',
        ["MTLSUserMapFile $good_map", "MTLSGroupFile $good_grp", "MTLSDenyList $good_deny"]],
    (map { ["ap_expr %{$_}", [qq{Header set X-T "expr=%{$_}"}, qq{Require expr "%{$_} != 'x'"}]] }
        qw(MTLS_USER MTLS_GROUPS MTLS_GROUP_0 MTLS_GROUPS_N MTLS_STRENGTH MTLS_SOURCE
           MTLS_SUBJECT MTLS_ISSUER MTLS_SERIAL MTLS_SHA256 MTLS_DAYS_LEFT MTLS_DENY_REASON)),
    ['<If> on %{MTLS_USER}', ['<If "%{MTLS_USER} == \'alice\'">', 'Header set X-A 1', '</If>']],
    ['all Require providers',
        ['<RequireAny>', 'Require mtls-verified', 'Require mtls-user a b', 'Require mtls-group g',
         'Require mtls-subject "CN=a,O=b"', 'Require mtls-issuer "CN=MTLS Test Client CA,O=Lab"',
         'Require mtls-san uri:spiffe://x/* dns:*.example email:*@x ip:10.0.0.1 upn:a@b',
         "Require mtls-fingerprint sha256:$c{alice}{sha256} spki:$c{alice}{spki}", '</RequireAny>']],
    ['AuthType mtls', ['AuthType mtls', 'Require valid-user']],
    (map { ["MTLSRequestHeader $_", ["MTLSRequestHeader X-V $_"]] }
        qw(subject issuer subject:CN issuer:O san:email san:dns san:uri san:ip
           san:upn serial sha256 spki not-after days-left verify user groups
           strength source ldap-dn cert chain xfcc pem)),
    ['identity headers, strip globs and a signature',
        ['MTLSRequestHeaders standard', 'MTLSRequestHeader Client-Cert cert',
         'MTLSStripHeader X-Remote-* Client-Cert*', "MTLSHeaderSignature X-MTLS-Signature $gkey"]],
    ['forwarded certificates',
        ['MTLSTrustedProxy 10.0.0.0/8 192.0.2.7 2001:db8::/32 ::1',
         'MTLSTrustedProxy cert:sha256:' . $c{alice}{sha256} . " spki:$c{alice}{spki}",
         'MTLSProxyCertHeader Client-Cert rfc9440 X-Client-Chain',
         'MTLSProxyCertCA ' . pki('ca-bundle.crt'), 'MTLSProxyCRL ' . pki('crl-bundle.pem'),
         'MTLSProxyVerifyDepth 0', 'Require mtls-verified']],
    (map { ["MTLSProxyCertHeader X $_", ["MTLSProxyCertHeader X $_", 'MTLSTrustedProxy none']] }
        qw(rfc9440 xfcc pem-urlencoded der-base64)),
    ['MTLSCRL', ["MTLSCRL $crl $pkica", 'MTLSCRLStale deny']],
    ['MTLSCRL none', ['MTLSCRL none', 'MTLSCRLStale allow']],
    ['SetHandler mtls-status and mtls-whoami', ['SetHandler mtls-status', '<If "true">', 'SetHandler mtls-whoami', '</If>']],
);

my @server_cases = (
    ['bad reload interval',        'MTLSReloadInterval soon'],
    ['negative reload interval',   'MTLSReloadInterval -3'],
    ['zero reload interval',       'MTLSReloadInterval 0'],
);

plan tests => 3 + 2 * @cases + 2 * @server_cases + @accepted;

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die $!;
    my $p = $s->sockport; close $s; $p
}

my $n = 0;
# Returns (config file, line number of the last line of @$loc or of $server).
sub write_conf {
    my ($loc, $server) = @_;
    my $d = "$dir/case" . ++$n;
    mkdir $d;
    my @l = (
        "ServerRoot $d", "DefaultRuntimeDir $d", "PidFile $d/httpd.pid",
        "ErrorLog $d/error_log", "LogLevel info", "ServerName localhost",
        'Listen 127.0.0.1:' . free_port(),
        "LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so",
        "LoadModule authz_core_module $mods/mod_authz_core.so",
        "LoadModule authn_core_module $mods/mod_authn_core.so",
        "LoadModule authz_user_module $mods/mod_authz_user.so",
        "LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so",
        "LoadModule headers_module $mods/mod_headers.so",
        "LoadModule ssl_module $mods/mod_ssl.so",
        "LoadModule mtls_authz_module $so",
        "DocumentRoot $d",
        "MTLSReloadInterval 1",
    );
    my $line;
    if ($server) { push @l, $server; $line = @l }
    push @l, '<Location /x>';
    for (@{ $loc || ['Require mtls-verified'] }) { push @l, "    $_"; $line = @l unless $server }
    push @l, '</Location>';
    return (spew("$d/httpd.conf", join("\n", @l) . "\n"), $line, $d);
}

# Runs `httpd -t`; when that passes, starts the server in the foreground:
# it must exit by itself (failure) rather than write its pid file and
# serve (started; it is stopped again). Returns (failed?, all output).
sub try_start {
    my ($conf, $d) = @_;
    my $out = `$httpd -t -f $conf 2>&1`;
    return (1, $out) if $?;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # its own session: prefork signals its whole process group on stop
        POSIX::setsid();
        open STDOUT, '>', "$d/stdout"; open STDERR, '>&', \*STDOUT;
        exec $httpd, '-DFOREGROUND', '-f', $conf; exit 127;
    }
    my ($failed, $end) = (undef, time + 8);
    while (time < $end) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) { $failed = $? != 0; last }
        if (-s "$d/httpd.pid") { select undef, undef, undef, 0.3; next unless kill 0, $pid;
                                 $failed = 0; last }
        select undef, undef, undef, 0.1;
    }
    if (!defined $failed) { $failed = 0 }          # still running: it started
    if (kill 0, $pid) { kill 'TERM', $pid; waitpid($pid, 0) }
    my $all = $out;
    for ("$d/stdout", "$d/error_log") {
        next unless -e $_;
        open my $f, '<', $_ or next; local $/; $all .= <$f> // '';
    }
    return ($failed, $all);
}

# the control: the same minimal configuration without an error starts
{
    my ($conf, $line, $d) = write_conf(["MTLSUserMapFile $good_map", 'MTLSUserFrom subject:CN',
                                        'Require mtls-verified']);
    my $out = `$httpd -t -f $conf 2>&1`;
    is($?, 0, 'control configuration passes httpd -t') or diag($out);
    like($out, qr/Syntax OK/, 'control: Syntax OK');
    my ($failed, $all) = try_start($conf, $d);
    ok(!$failed, 'control configuration starts') or diag($all);
}

for my $case (@cases) {
    my ($name, $loc, $where) = @$case;
    my ($conf, $line, $d) = write_conf($loc);
    my ($failed, $out) = try_start($conf, $d);
    ok($failed, "$name: the server refuses to start");
    if ($where) {
        like($out, qr/\Q$where\E/, "$name: message names $where") or diag($out);
    }
    else {
        like($out, qr/line $line of \Q$conf\E/, "$name: message names $conf line $line") or diag($out);
    }
}

for my $case (@server_cases) {
    my ($name, $directive) = @$case;
    my ($conf, $line, $d) = write_conf(undef, $directive);
    my ($failed, $out) = try_start($conf, $d);
    ok($failed, "$name: the server refuses to start");
    like($out, qr/line $line of \Q$conf\E/, "$name: message names the line") or diag($out);
}

for my $case (@accepted) {
    my ($name, $loc) = @$case;
    my ($conf) = write_conf($loc);
    my $out = `$httpd -t -f $conf 2>&1`;
    is($?, 0, "accepted: $name") or diag($out);
}
