# Identity headers for backends (SPEC §9): what a backend behind real
# mod_proxy_http (t/services/echo.sh echoes the request head it got), a
# CGI, mod_rewrite [P], mod_headers and an SSI subrequest see; that no
# client-sent spelling of a configured name gets through; and the HMAC
# signature, checked by scripts/mtls-verify-signature (Perl Digest::SHA)
# and by `openssl dgst`, never by the module's own code.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestConfig ();
use MTLSTest;
use IO::Socket::SSL ();
use POSIX qw(strftime);
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use JSON::PP ();

my $cfg  = Apache::Test::config();
my $mpm  = $cfg->httpd_mpm || '';
my $h2   = $mpm ne 'prefork';
my $port = $cfg->{vhosts}{mtls_headers}{port};
my $t_dir = $cfg->{vars}{t_dir};
my $verifier = "$t_dir/../scripts/mtls-verify-signature";
my $key  = "$ENV{MTLS_T_RUN}/hdr.key";
my $tmp  = tempdir(CLEANUP => 1);

plan tests => 258;

# ---- an HTTP/1.1 client that sends exactly these bytes ------------------
# (LWP would rewrite '_' to '-' and fold the case of header names)
sub raw {
    my ($who, $method, $path, @hdrs) = @_;
    my %o = (PeerAddr => '127.0.0.1', PeerPort => $port,
             SSL_ca_file => pki('ca-bundle.crt'), SSL_verifycn_scheme => 'none',
             SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_PEER());
    if ($who) { $o{SSL_cert_file} = pki("$who.crt"); $o{SSL_key_file} = pki("$who.key") }
    # without a trust store OpenSSL sends the certificate alone, no chain
    if (grep { $_ eq 'NOCHAIN' } @hdrs) {
        @hdrs = grep { $_ ne 'NOCHAIN' } @hdrs;
        delete $o{SSL_ca_file};
        $o{SSL_verify_mode} = IO::Socket::SSL::SSL_VERIFY_NONE();
    }
    my $s = IO::Socket::SSL->new(%o) or die "connect: $IO::Socket::SSL::SSL_ERROR";
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $req .= "$_\r\n" for @hdrs;
    $req .= $method eq 'POST' ? "Content-Length: 3\r\n\r\nabc" : "\r\n";
    print $s $req;
    my $res = do { local $/; <$s> } // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($code) = ($head // '') =~ /^HTTP\/1\.1 (\d+)/;
    return ($code // 0, $body // '');
}

# The echo backend's body: the request line and [name, value] pairs.
sub parse_echo {
    my $body = shift;
    my @l = split /\r?\n/, $body;
    my $rl = shift(@l) // '';
    my @h = map { /^([^:]+):\s?(.*)$/ ? [$1, $2] : () } @l;
    return ($rl, \@h);
}
sub values_of {
    my ($h, $name) = @_;
    return map { $_->[1] } grep { lc $_->[0] eq lc $name } @$h;
}

# ---- expected values, from the openssl CLI -------------------------------
sub sh1 { my $o = `$_[0]`; die "failed: $_[0]\n" if $?; chomp $o; $o }
sub dn {
    my ($who, $which) = @_;
    my $v = sh1("openssl x509 -in '@{[pki(qq{$who.crt})]}' -noout -$which -nameopt RFC2253");
    $v =~ s/^\w+=//;   # RFC2253 escapes bytes > 0x7F as \XX, as the headers do
    return $v;
}
sub b64der {
    my $f = shift;
    return sh1("openssl x509 -in '$f' -outform der | base64 -w0");
}
sub urlenc { my $s = shift; $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge; $s }
sub pem_of { my $f = shift; sh1("openssl x509 -in '$f'") . "\n" }
sub xq { my $s = shift; $s =~ s/(["\\])/\\$1/g; qq{"$s"} }

my %certs = (
    #          CN (header-safe)        user            groups         email                               dns                               uri                                                     ip           upn
    alice    => ['alice',              'alice',        'admins',      'alice@lab.example',                undef,                            undef,                                                  undef,       undef],
    comma    => ['"Doe, John"',        'Doe, John',    'dev',         undef,                              undef,                            undef,                                                  undef,       undef],
    utf8     => ['J\\C3\\BCrgen \\C3\\84', 'J\\C3\\BCrgen \\C3\\84', undef, undef,                       undef,                            undef,                                                  undef,       undef],
    upn      => ['carol',              'carol',        undef,         undef,                              undef,                            undef,                                                  undef,       'carol@corp.example'],
    dns      => ['host1',              'host1',        undef,         undef,                              'host1.lab.example',              undef,                                                  '10.1.2.3',  undef],
    svc      => ['api',                'api',          undef,         undef,                              undef,                            'spiffe://lab.example/ns/prod/sa/api',                  undef,       undef],
    multisan => ['multi',              'multi',        'dev, ops',    'm1@lab.example, m2@lab.example',   'a.lab.example, b.lab.example',   'spiffe://lab.example/ns/x/sa/y, https://lab.example/a;b%2Cc', '10.9.8.7', undef],
);

for my $who (sort keys %certs) {
    my ($cn, $user, $groups, $email, $dns, $uri, $ip, $upn) = @{ $certs{$who} };
    my $i = cert($who);
    my $crt = pki("$who.crt");
    my $subject = dn($who, 'subject');
    my @dns = $dns ? split(/, /, $dns) : ();
    my @uri = $uri ? split(/, /, $uri) : ();
    my $xfcc = "Hash=$i->{sha256};Subject=" . xq($subject)
             . (@uri ? ';URI=' . ($uri[0] =~ /[,;="]/ ? xq($uri[0]) : $uri[0]) : '')
             . join('', map { ";DNS=$_" } @dns);
    my %want = (
        'X-TLS-Verified'      => 'SUCCESS',
        'X-TLS-Client-CN'     => $cn,
        'X-TLS-Client-DN'     => $subject,
        'X-TLS-Client-Issuer' => dn($who, 'issuer'),
        'X-TLS-Client-Serial' => $i->{serial},
        'X-TLS-Client-SHA256' => $i->{sha256},
        'X-Remote-User'       => $user,
        'X-Remote-Groups'     => $groups,
        'X-Cert'              => ':' . b64der($crt) . ':',
        # OpenSSL clients send the chain they build from their trust store
        'X-Chain'             => join(', ', map { ':' . b64der(pki("$_.crt")) . ':' } qw(inter root)),
        'X-Xfcc'              => $xfcc,
        'X-Pem'               => urlenc(pem_of($crt)),
        'X-San-Email'         => $email,
        'X-San-Dns'           => $dns,
        'X-San-Uri'           => $uri,
        'X-San-Ip'            => $ip,
        'X-San-Upn'           => $upn,
        'X-OU'                => $groups,
        'X-Issuer-CN'         => 'MTLS Test Client CA',
        'X-Spki'              => $i->{spki},
        'X-Not-After'         => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $i->{not_after}),
        'X-Strength'          => 'weak',
        'X-Source'            => 'rule:1',
        'X-Ldap-Dn'           => undef,
    );
    my ($code, $body) = raw($who, 'GET', "/px/$who");
    my ($rl, $h) = parse_echo($body);
    is($code, 200, "$who: proxied");
    for my $name (sort keys %want) {
        my @v = values_of($h, $name);
        if (defined $want{$name}) {
            is(join('|', @v), $want{$name}, "$who: $name");
        }
        else {
            is(scalar @v, 0, "$who: no $name") or diag("@v");
        }
    }
}

# ---- no certificate: none of them ----------------------------------------
{
    my ($code, $body) = raw('', 'GET', '/px/none');
    my ($rl, $h) = parse_echo($body);
    is($code, 200, 'no certificate: proxied');
    is(scalar(grep { $_->[0] =~ /^X-(TLS|Remote|Cert|Chain|Xfcc|Pem|San|OU|Issuer|Spki|Not|Strength|Source|Ldap)/i } @$h), 0,
       'no certificate: no identity header') or diag($body);
}

# ---- MTLSRequireStrength strong: a weak user is no user -------------------
{
    my ($code, $body) = raw('alice', 'GET', '/pxstrong/x');
    my (undef, $h) = parse_echo($body);
    is(join('|', values_of($h, 'X-TLS-Client-CN')), 'alice', 'strong required: certificate fields still set');
    is(scalar(values_of($h, 'X-Remote-User')) + scalar(values_of($h, 'X-Remote-Groups')), 0,
       'strong required: no X-Remote-User or X-Remote-Groups from a weak mapping');
}

# ---- a client that sends no chain: no Client-Cert-Chain ------------------
{
    my ($code, $body) = raw('alice', 'GET', '/px/nochain', 'NOCHAIN');
    my (undef, $h) = parse_echo($body);
    is(scalar(values_of($h, 'X-Chain')), 0, 'chain: absent when the client sent its certificate alone');
    is(join('|', values_of($h, 'X-Cert')), ':' . b64der(pki('alice.crt')) . ':',
       'chain: Client-Cert is still there');
}

# ---- size cap -----------------------------------------------------------------
{
    my $mark = log_mark();
    my ($code, $body) = raw('bigsan', 'GET', '/px/big');
    my (undef, $h) = parse_echo($body);
    is($code, 200, 'cap: a certificate with 300 DNS names still gets through');
    is(scalar(values_of($h, 'X-San-Dns')), 0, 'cap: the oversized header is left out');
    is(join('|', values_of($h, 'X-Remote-User')), 'big', 'cap: the other headers are set');
    ok(scalar(log_wait($mark, qr/MTLS4003: X-San-Dns: the value .* is \d+ bytes, more than the 7900/)),
       'cap: a clear log line names the header');
}

# ---- spoofing --------------------------------------------------------------------
my @spoof = (
    'X-Remote-User: evil1', 'x-remote-user: evil2', 'X_Remote_User: evil3',
    'x_REMOTE_user: evil4', 'X-Remote-User:', 'X-Remote-User: evil5',
    'X-TLS-Client-CN: evil6' . ('A' x 7000), 'X-Tls-Verified: SUCCESSevil7',
    'X_TLS_Client_DN: CN=evil8', 'x-tls-client-sha256: evil9',
    'X-Remote-Whatever: evil10', 'Client-Cert: :ZXZpbA==:evil11',
    'client_cert_chain: evil12', 'X-Xfcc: evil13', 'X_Cert: evil14',
    'X-MTLS-Signature: t=1;h=;sig=evil15', 'x-pem: evil16',
);
sub no_evil {
    my ($what, $body) = @_;
    ok($body !~ /evil/i, "spoof: $what: no client value reaches the backend")
        or diag(join "\n", grep { /evil/i } split /\n/, $body);
}
{
    my $mark = log_mark();
    my ($code, $body) = raw('alice', 'GET', '/px/spoof', @spoof);
    my (undef, $h) = parse_echo($body);
    is($code, 200, 'spoof: granted request proxied');
    no_evil('granted, with certificate', $body);
    is(join('|', values_of($h, 'X-Remote-User')), 'alice', 'spoof: the real X-Remote-User, once');
    is(join('|', values_of($h, 'X-TLS-Verified')), 'SUCCESS', 'spoof: the real X-TLS-Verified, once');
    my @l = log_wait($mark, qr/MTLS4001: removed \d+ client-sent identity header/);
    is(scalar @l, 1, 'spoof: one warning line');
    like($l[0] // '', qr/from 127\.0\.0\.1/, 'spoof: the warning names the client address');
    like($l[0] // '', qr/X_Remote_User/, 'spoof: the warning names a header as sent');
    unlike(join("\n", log_wait($mark, qr/evil/, 0.3)), qr/evil/, 'spoof: no value in the error log');

    # rate limit: one line a second for the whole server (every process)
    sleep 1.05;
    $mark = log_mark();
    raw('', 'GET', '/px/flood', 'X-Remote-User: evil') for 1 .. 6;
    sleep 1.05;
    raw('', 'GET', '/px/flood', 'X-Remote-User: evil');
    @l = log_wait($mark, qr/MTLS4001: /);
    sleep 0.3;
    @l = log_wait($mark, qr/MTLS4001: /);
    # the six quick ones fall in one second, or two on a slow machine
    ok(@l >= 2 && @l <= 4, 'rate limit: 7 spoofed requests, at most one line a second (' . scalar(@l) . ')');
    my $held = 0;
    $held += (/\((\d+) more such warnings held back\)/)[0] // 0 for @l[1 .. $#l];
    is($held, 7 - @l, 'rate limit: the following lines count those held back');

    ($code, $body) = raw('', 'GET', '/px/spoof', @spoof);
    is($code, 200, 'spoof: no certificate, proxied');
    no_evil('granted, no certificate', $body);

    # refused, the ErrorDocument is proxied: an internal redirect
    ($code, $body) = raw('bob', 'GET', '/refused/x', @spoof);
    like($body, qr{^GET /px/errdoc HTTP/1.1}, 'spoof: the ErrorDocument went to the backend');
    no_evil('refused, internal redirect', $body);
    ($code, $body) = raw('', 'GET', '/refused/x', @spoof);
    no_evil('refused, no certificate', $body);

    # set, then an internal redirect into a scope that sets them again
    ($code, $body) = raw('alice', 'GET', '/dup/missing', @spoof);
    (undef, $h) = parse_echo($body);
    like($body, qr{^GET /px/e404 HTTP/1.1}, 'internal redirect: the 404 page went to the backend');
    is(join('|', values_of($h, 'X-Remote-User')), 'alice', 'internal redirect: X-Remote-User once, not carried over twice');
    no_evil('set, then internal redirect', $body);

    # a location without any header directive, same host
    ($code, $body) = raw('alice', 'GET', '/plain/x', @spoof);
    is($code, 200, 'spoof: plain location proxied');
    no_evil('location without header directives', $body);

    # subrequest (SSI include virtual)
    ($code, $body) = raw('alice', 'GET', '/ssi/page.shtml', @spoof);
    like($body, qr{^GET /px/ssi-inner HTTP/1.1}m, 'spoof: SSI subrequest proxied');
    (undef, $h) = parse_echo(($body =~ /(GET \/px\/ssi-inner.*)/s)[0] // '');
    is(join('|', values_of($h, 'X-Remote-User')), 'alice', 'subrequest: the real X-Remote-User, once');
    no_evil('subrequest', $body);

    # POST
    ($code, $body) = raw('alice', 'POST', '/px/post', @spoof);
    like($body, qr{^POST /px/post}, 'spoof: POST proxied');
    no_evil('POST', $body);

    # CGI: the HTTP_* environment
    ($code, $body) = raw('alice', 'GET', '/cgi/x', @spoof);
    is($code, 200, 'cgi: 200');
    like($body, qr/^HTTP_X_REMOTE_USER=alice$/m, 'cgi: HTTP_X_REMOTE_USER');
    like($body, qr/^HTTP_X_TLS_CLIENT_DN=CN=alice,OU=admins,O=Lab$/m, 'cgi: HTTP_X_TLS_CLIENT_DN');
    like($body, qr/^HTTP_X_REMOTE_GROUPS=admins$/m, 'cgi: HTTP_X_REMOTE_GROUPS');
    no_evil('CGI', $body);
    ($code, $body) = raw('', 'GET', '/cgi/x', @spoof);
    unlike($body, qr/^HTTP_X_(REMOTE|TLS)/m, 'cgi: no certificate, no identity variable');
    no_evil('CGI, no certificate', $body);
}

# ---- the client on HTTP/2 ---------------------------------------------------------
{
    my @cmd = ('curl', '-s', '--http2', '-w', '\n%{http_version}', '--cacert', pki('ca-bundle.crt'),
               '--cert', pki('alice.crt'), '--key', pki('alice.key'),
               (map { ('-H', $_) } grep { !/^X-Remote-User:$/ } @spoof),
               "https://localhost:$port/px/h2");
    open my $fh, '-|', @cmd or die;
    my $body = do { local $/; <$fh> } // '';
    close $fh;
    my ($ver) = $body =~ /\n(\S+)$/;
    is($ver, $h2 ? '2' : '1.1', "h2 ($mpm): protocol");
    no_evil("HTTP/$ver client", $body);
    my (undef, $h) = parse_echo($body);
    is(join('|', values_of($h, 'X-Remote-User')), 'alice', "h2: the real X-Remote-User");
    is(join('|', values_of($h, 'X-TLS-Client-DN')), 'CN=alice,OU=admins,O=Lab', 'h2: X-TLS-Client-DN');
}

# ---- mod_rewrite and mod_headers see the values -------------------------------------
{
    my ($code, $body) = raw('alice', 'GET', '/rw/x', 'X-Remote-User: evil');
    like($body, qr{^GET /rw-user/alice HTTP/1.1}, 'mod_rewrite: RewriteCond %{HTTP:X-Remote-User} and [P]');
    like($body, qr{^X-Copied-User: alice\r?$}m, 'mod_headers: RequestHeader copies the value');
    no_evil('mod_rewrite', $body);
    ($code, $body) = raw('', 'GET', '/rw/x', 'X-Remote-User: evil');
    no_evil('mod_rewrite, no certificate', $body);
}

# ---- the signature ----------------------------------------------------------------------
sub verify {
    my ($head, @opt) = @_;
    my $f = "$tmp/head";
    open my $o, '>', $f or die; print $o $head; close $o;
    my $out = `'$verifier' --key '$key' @opt < '$f'`;
    chomp $out;
    return $out;
}
sub sig_of { my (undef, $h) = parse_echo($_[0]); (values_of($h, 'X-MTLS-Signature'))[0] // '' }

{
    my ($code, $body) = raw('alice', 'GET', '/sig/a?b=1&c=%20d', @spoof);
    no_evil('signed location', $body);
    my $sig = sig_of($body);
    like($sig, qr/^t=\d+;h=x-tls-verified,x-tls-client-cn,x-tls-client-dn,x-tls-client-issuer,x-tls-client-serial,x-tls-client-sha256,x-remote-user,x-remote-groups;sig=[A-Za-z0-9_-]{43}$/,
         'signature: t, the signed names, a 256-bit base64url HMAC');
    is(verify($body), 'OK', 'signature: verified by scripts/mtls-verify-signature');
    my ($t) = $sig =~ /t=(\d+)/;
    ok(abs(time - $t) < 30, 'signature: t is now');

    # openssl dgst, from the canonical text
    my (undef, $h) = parse_echo($body);
    my $text = "$t\nGET\n/sig/a?b=1&c=%20d\n";
    for my $n (split /,/, ($sig =~ /h=([^;]*)/)[0]) { $text .= "$n:" . (values_of($h, $n))[0] . "\n" }
    open my $o, '>', "$tmp/text" or die; print $o $text; close $o;
    my ($k) = `cat '$key'` =~ /^\s*(\S+)/;
    my $mac = sh1("openssl dgst -sha256 -hmac '$k' -binary < '$tmp/text' | base64 -w0 | tr '+/' '-_' | tr -d '='");
    is(($sig =~ /sig=(\S+)$/)[0], $mac, 'signature: equal to openssl dgst -sha256 -hmac');

    (my $b = $body) =~ s/^X-Remote-User: alice/X-Remote-User: bob/m;
    like(verify($b), qr/^FAIL: signature/, 'signature: a changed header is refused');
    ($b = $body) =~ s/^X-TLS-Client-DN: [^\r\n]*/X-TLS-Client-DN: CN=bob,O=Lab/m;
    like(verify($b), qr/^FAIL: signature/, 'signature: a changed DN is refused');
    ($b = $body) =~ s/^GET /POST /;
    like(verify($b), qr/^FAIL: signature/, 'signature: a changed method is refused');
    ($b = $body) =~ s{^GET /sig/a\?b=1}{GET /sig/a?b=2};
    like(verify($b), qr/^FAIL: signature/, 'signature: a changed path is refused');
    ($b = $body) =~ s/^X-Remote-Groups: [^\r\n]*\r?\n//m;
    like(verify($b), qr/^FAIL: signed header x-remote-groups is missing/, 'signature: a removed header is refused');
    is(verify($body, '--now', $t + 59), 'OK', 'signature: 59 s of skew accepted');
    like(verify($body, '--now', $t + 61), qr/^FAIL: t=/, 'signature: 61 s later refused');
    like(verify($body, '--now', $t - 61), qr/^FAIL: t=/, 'signature: 61 s earlier refused');

    ($code, $body) = raw('', 'GET', '/sig/none', @spoof);
    like(sig_of($body), qr/^t=\d+;h=;sig=/, 'signature: without a certificate, signed and empty');
    is(verify($body), 'OK', 'signature: no-identity signature verifies');
    no_evil('signed, no certificate', $body);

    ($code, $body) = raw('alice', 'POST', '/sig/post');
    is(verify($body), 'OK', 'signature: POST verifies');
}

# ---- the backend checks the README shows (Python, shell), run as written ----------
{
    open my $rf, '<', "$t_dir/../README.md" or die "README.md: $!";
    my $readme = do { local $/; <$rf> };
    my ($py) = $readme =~ /Python \(standard library only\):\s*```python\n(.*?)```/s;
    my ($shell) = $readme =~ /Shell, as a CGI program sees the request.*?```sh\n(.*?)```/s;
    ok($py && $shell, 'README: the Python and the shell check are there');
    my ($code, $body) = raw('alice', 'GET', '/sig/readme?x=1');
    my ($rl, $h) = parse_echo($body);
    my %hdr = map { (lc $_->[0] => $_->[1]) } @$h;
    my ($k) = `cat '$key'` =~ /^\s*(\S+)/;
    my $run_py = sub {
        my ($method, $path, %over) = @_;
        my %hh = (%hdr, %over);
        open my $o, '>', "$tmp/check.py" or die;
        print $o $py // '', "\nimport json, sys\n",
            "d = json.load(open(sys.argv[1]))\n",
            "print(mtls_signature_ok(d['h'], d['m'], d['p'], d['k'].encode()))\n";
        close $o;
        open $o, '>', "$tmp/check.json" or die;
        print $o JSON::PP->new->encode({ h => \%hh, m => $method, p => $path, k => $k });
        close $o;
        my $out = `python3 '$tmp/check.py' '$tmp/check.json' 2>&1`;
        chomp $out;
        return $out;
    };
    is($run_py->('GET', '/sig/readme?x=1'), 'True', 'README Python check: accepts the signed request');
    is($run_py->('GET', '/sig/readme?x=2'), 'False', 'README Python check: refuses another path');
    is($run_py->('GET', '/sig/readme?x=1', 'x-remote-user' => 'bob'), 'False', 'README Python check: refuses a changed header');
    (my $sh = $shell // '') =~ s{^KEY=.*$}{KEY='$key'}m;
    open my $o, '>', "$tmp/check.sh" or die; print $o $sh; close $o;
    my $run_sh = sub {
        my ($method, $path, %over) = @_;
        my %env = (REQUEST_METHOD => $method, REQUEST_URI => $path);
        my %hh = (%hdr, %over);
        for my $n (keys %hh) { (my $v = "HTTP_\U$n") =~ tr/-/_/; $env{$v} = $hh{$n} }
        local %ENV = (PATH => $ENV{PATH}, %env);
        system('sh', "$tmp/check.sh");
        return $? == 0 ? 'ok' : 'refused';
    };
    is($run_sh->('GET', '/sig/readme?x=1'), 'ok', 'README shell check: accepts the signed request');
    is($run_sh->('POST', '/sig/readme?x=1'), 'refused', 'README shell check: refuses another method');
    is($run_sh->('GET', '/sig/readme?x=1', 'x-tls-client-cn' => 'mallory'), 'refused', 'README shell check: refuses a changed header');
}

# ---- the key is reloaded, and a world-readable one is refused ---------------------------
{
    my $old = do { open my $f, '<', $key or die; local $/; <$f> };
    my $keyfile = sub {
        my ($name, $content) = @_;
        open my $f, '>', "$tmp/$name" or die; print $f $content; close $f;
        "$tmp/$name";
    };
    my $oldk = $keyfile->('old.key', $old);
    my $newk = $keyfile->('new.key', "second-key-for-the-reload-test-0123456789\n");
    my $write = sub {
        my ($content, $mode) = @_;
        open my $f, '>', "$key.new" or die; print $f $content; close $f;
        chmod $mode, "$key.new"; rename "$key.new", $key or die;
    };
    my $check = sub {   # a fresh signature, verified with key file K
        my $k = shift;
        my (undef, $body) = raw('alice', 'GET', '/sig/reload');
        open my $o, '>', "$tmp/rhead" or die; print $o $body; close $o;
        my $out = `'$verifier' --key '$k' < '$tmp/rhead'`;
        chomp $out;
        return $out;
    };
    my $until = sub {   # wait until signatures verify with K
        my $k = shift;
        for (1 .. 40) { return 1 if $check->($k) eq 'OK'; sleep 0.25 }
        return 0;
    };
    $write->("second-key-for-the-reload-test-0123456789\n", 0600);
    ok($until->($newk), 'key reload: signatures change to the new key');
    sleep 2.2;    # every child process has checked by now (MTLSReloadInterval 1)
    like($check->($oldk), qr/^FAIL: signature/, 'key reload: the old key no longer verifies');

    my $mark = log_mark();
    $write->("a-world-readable-key-0123456789abcdef\n", 0644);
    ok(scalar(log_wait($mark, qr/MTLS0202: .*world-readable/, 6)), 'key reload: a world-readable key is refused, logged');
    sleep 1.2;
    is($check->($newk), 'OK', 'key reload: the previous key stays in use');

    $write->($old, 0600);
    ok($until->($oldk), 'key reload: the original key is back');

    # A chmod alone (same contents, same inode) is a change too.
    sleep 1.2;    # every process has read the original key again
    $mark = log_mark();
    chmod 0644, $key or die "chmod $key: $!";
    ok(scalar(log_wait($mark, qr/MTLS0202: .*\Q$key\E: the key file is world-readable/, 6)),
       'key chmod o+r: noticed and refused, logged');
    ok(scalar(log_wait($mark, qr/MTLS8001: \Q$key\E: the signing key in use became world-readable/, 1)),
       'key chmod o+r: the log says the key in use may have been read');
    is($check->($oldk), 'OK', 'key chmod o+r: the key stays in use (the previous contents)');
    $mark = log_mark();
    chmod 0600, $key or die "chmod $key: $!";
    ok(scalar(log_wait($mark, qr/MTLS0203: \Q$key\E reloaded/, 6)),
       'key chmod back to 0600: read again');
}
