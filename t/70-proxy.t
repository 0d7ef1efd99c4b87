# Certificates forwarded by a trusted TLS-terminating proxy: a real
# HAProxy (RFC 9440 Client-Cert) and a real nginx ($ssl_client_escaped_cert)
# in front of Apache give the same decisions as direct connections; what
# does not verify is refused with the documented reason; nobody but a
# trusted proxy can put a certificate in the header, in any spelling, with
# or without a certificate of their own; one kept-alive proxy connection
# carries several clients, each with their own identity.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use LWP::UserAgent ();
use HTTP::Request ();
use MIME::Base64 qw(encode_base64);
use MTLSTest qw(:DEFAULT :proxy);

for (qw(MTLS_T_HAPROXY_PORT MTLS_T_HAPROXY_PIN_PORT MTLS_T_NGINX_PORT
        MTLS_T_FWD_HAPROXY_PORT MTLS_T_FWD_NGINX_PORT MTLS_T_FWD_TLS_PORT
        MTLS_T_ECHO_FWD_PORT)) {
    die "$_ is not set: t/services/{fwd-ports,haproxy,nginx}.sh did not run\n"
        unless $ENV{$_};
}

my $t_dir = Apache::Test::config()->{vars}{t_dir};
# What the echoing backend (t/services/nginx.sh) says when it got none of
# the forwarded-certificate headers.
my $nothing = "client-cert=[] client-cert-chain=[] x-ssl-client-cert=[] xfcc=[] x-forwarded-tls-client-cert=[]\n";

# --- user agents --------------------------------------------------------

sub hap   { "https://127.0.0.1:$ENV{MTLS_T_HAPROXY_PORT}$_[0]" }
sub hpin  { "https://127.0.0.1:$ENV{MTLS_T_HAPROXY_PIN_PORT}$_[0]" }
sub ngx   { "https://127.0.0.1:$ENV{MTLS_T_NGINX_PORT}$_[0]" }
sub fwdh  { "http://127.0.0.1:$ENV{MTLS_T_FWD_HAPROXY_PORT}$_[0]" }
sub fwdn  { "http://127.0.0.1:$ENV{MTLS_T_FWD_NGINX_PORT}$_[0]" }
sub fwdt  { "https://127.0.0.1:$ENV{MTLS_T_FWD_TLS_PORT}$_[0]" }

sub rfc9440 { ':' . encode_base64(der_of($_[0]), '') . ':' }

# --- the table ------------------------------------------------------------

my @certs = ('', qw(alice bob svc svcdev dns upn comma utf8 multiou multirdn direct));
my @paths = qw(/fields /f/cn /f/upn /rule/spiffe /rule/groups /p/verified
               /p/user /p/group /p/groupfile /p/subject /p/subjectcomma
               /p/issuer /p/san /p/sandns /p/sanip /p/sanupn /p/fp /p/deny
               /p/map /p/strong /p/stronggroup /p/any /p/none /expr /authn
               /authnmap /report);

my @bad = ([expired => 'certificate has expired'],
           [revoked => 'certificate revoked'],
           [serveronly => 'unsuitable certificate purpose'],
           [evilalice => 'unable to get local issuer certificate']);

my $alice = rfc9440('alice');
my @garbage = (
    ['garbage DER'     => ':' . encode_base64('this is no certificate', '') . ':',
                          'not a valid X.509 certificate'],
    ['truncated DER'   => ':' . encode_base64(substr(der_of('alice'), 0, 200), '') . ':',
                          'not a valid X.509 certificate'],
    ['not base64'      => ':#!?:', 'not valid base64'],
    ['not rfc9440'     => encode_base64(der_of('alice'), ''), 'not an RFC 9440 byte sequence'],
    ['64 KiB of base64' => ':' . ('QUFB' x 16384) . ':', 'larger than 16384 bytes'],
);

my @spellings = ('Client-Cert', ':client-cert', ':CLIENT-CERT', ':Client_Cert',
                 ':client_cert', ':CLIENT_CERT');

plan tests => 2 * @certs * @paths + 3 * @bad + 3 * @garbage + 4 + 3
    + 3 * @spellings + 2 + 2 + 3 + 3 + 2 + 6 + 3 + 3 + 3 * 2 + 1 + 2;

# 1. Through HAProxy and through nginx: the same decisions, identities and
#    variables as a direct TLS connection, for every certificate and
#    location.
for my $who (@certs) {
    for my $path (@paths) {
        my $direct = outcome(GET_as($who, uniq($path), json => 1));
        my $label = ($who || 'no cert') . " $path";
        is(outcome(get(tls_ua($who), hap(uniq($path)))), $direct,
           "$label: via HAProxy as direct");
        is(outcome(get(tls_ua($who), ngx(uniq($path)))), $direct,
           "$label: via nginx as direct");
    }
}

# 2. The proxies verify nothing here: the module does, and refuses.
for (@bad) {
    my ($who, $text) = @$_;
    my $res = get(tls_ua($who), hap(uniq('/p/verified')));
    is($res->code, 403, "$who via HAProxy: 403");
    is(json_of($res)->{reason} // '', 'not-verified', "$who: not-verified");
    like(json_of($res)->{detail} // '', qr/\Q$text\E/, "$who: $text");
}

# 3. A trusted proxy that forwards something bad (we play it from 127.0.0.2).
for (@garbage) {
    my ($what, $value, $text) = @$_;
    my $mark = log_mark();
    my $p = uniq('/p/verified');
    my $res = get(plain_ua('127.0.0.2'), fwdh($p), 'Client-Cert' => $value);
    is($res->code, 403, "$what: 403");
    is(json_of($res)->{reason} // '', 'not-verified', "$what: not-verified");
    like(json_of($res)->{detail} // '', qr/\Q$text\E/, "$what: $text");
}
{
    my $res = get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')),
                  'Client-Cert' => $alice, 'Client-Cert' => rfc9440('bob'));
    is(json_of($res)->{reason} // '', 'not-verified', "the header twice: not-verified");
    like(json_of($res)->{detail} // '', qr/sent twice/, "the header twice: said so");
    $res = get(plain_ua('127.0.0.3'), fwdn(uniq('/p/verified')),
               'X-SSL-Client-Cert' => '-----BEGIN%20CERTIFICATE-----%0AAAAA');
    like(json_of($res)->{detail} // '', qr/truncated/, "nginx format, truncated PEM: said so");
    $res = get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')), 'Client-Cert' => $alice);
    like(env_of($res)->{MTLS_USER} // '', qr/^alice$/, "a good certificate from the trusted address: alice");
}

# 4. A trusted proxy that forwarded no certificate: the hint names the setting.
{
    my $res = get(tls_ua(''), hap(uniq('/p/verified')));
    is(json_of($res)->{reason} // '', 'no-certificate', 'no certificate via HAProxy: no-certificate');
    like(json_of($res)->{detail} // '', qr/127\.0\.0\.2 sent no Client-Cert header.*MTLSProxyCertHeader Client-Cert rfc9440/,
         'no certificate via HAProxy: the hint names the proxy and the setting');
    $res = get(tls_ua(''), ngx(uniq('/p/verified')));
    like(json_of($res)->{detail} // '', qr/MTLSProxyCertHeader X-SSL-Client-Cert pem-urlencoded/,
         'no certificate via nginx: the hint names the setting');
}

# 5. Spoofing: the header from an untrusted peer (127.0.0.1), in every
#    spelling, is removed unread and never reaches a handler or backend.
my $mark = log_mark();
for my $h (@spellings) {
    my $res = get(plain_ua('127.0.0.1'), fwdh(uniq('/p/verified')), $h => $alice);
    is(json_of($res)->{reason} // '', 'no-certificate', "untrusted $h: no identity");
    $res = get(plain_ua('127.0.0.1'), fwdh(uniq('/open')), $h => $alice,
               ($h =~ /_/ ? ':Client_Cert_Chain' : 'Client-Cert-Chain') => $alice);
    is($res->header('X-Seen-Fwd') // 'missing', '[][][][][][]', "untrusted $h: handlers see nothing");
    $res = get(plain_ua('127.0.0.1'), fwdh(uniq('/backend/')), $h => $alice);
    is($res->content, $nothing,
       "untrusted $h: the backend sees nothing");
}
cmp_ok(scalar(log_wait($mark, qr/MTLS5001:/, 1)), '<', 6,
       'the warning is rate-limited (18 spoofed requests)');
{
    # (a test file just before may have had this process warn less than
    # 10 s ago: then the next spoofed request after the window warns)
    my $warned = qr/MTLS5001: removed the forwarded client certificate header \S+ sent by 127\.0\.0\.1, which is not a trusted proxy/;
    my $end = time + 12;
    while (!log_wait($mark, $warned, 0.5) && time < $end) {
        get(plain_ua('127.0.0.1'), fwdh(uniq('/p/verified')), 'Client-Cert' => $alice);
        sleep 1;
    }
    ok(scalar(log_wait($mark, $warned)), 'a warning names the untrusted peer');
}
{
    my $res = get(plain_ua('127.0.0.1'), fwdn(uniq('/backend/')),
                  'X-SSL-Client-Cert' => 'x', ':x_ssl_client_cert' => 'y');
    is($res->content, $nothing,
       'untrusted, nginx header names: the backend sees nothing');
    # a name the host reads in another location only (/traefik-style):
    # removed here too, from a trusted proxy as from anyone
    for my $from ('127.0.0.1', '127.0.0.2') {
        $res = get(plain_ua($from), fwdh(uniq('/backend/')),
                   'X-Forwarded-Tls-Client-Cert' => 'x', ':x_forwarded_tls_client_cert' => 'y');
        is($res->content, $nothing,
           "from $from, a forwarded-certificate name of another location: the backend sees nothing");
    }
    # a trusted proxy's '_' spelling is removed and not read either
    $res = get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')), ':Client_Cert' => $alice);
    is(json_of($res)->{reason} // '', 'no-certificate', "trusted proxy, Client_Cert: not read");
    $res = get(plain_ua('127.0.0.2'), fwdh(uniq('/backend/')), 'Client-Cert' => $alice,
               ':client_cert_chain' => $alice);
    is($res->content, $nothing,
       'trusted proxy: the backend gets no forwarded certificate header');
}
{
    my $res = get(tls_ua('alice'), hap(uniq('/untrusting')));
    is(json_of($res)->{reason} // '', 'no-certificate', 'MTLSTrustedProxy none in a location: the header is not read');
    my $mark = log_mark();
    $res = get(tls_ua('alice'), hap(uniq('/to-untrusting')));
    is(json_of($res)->{reason} // '', 'no-certificate',
       'an internal redirect from a trusting scope into it: not read there either');
    ok(scalar(log_wait($mark, qr{MTLS0401: denied: reason=no-certificate .*uri=/untrusting/redirected})),
       '... (refused in the redirected request)');
    $res = get(tls_ua('alice'), hap(uniq('/open')));
    is($res->header('X-Seen-Fwd') // 'missing', '[][][][][][]', 'via HAProxy: handlers do not see the header');
    $res = get(tls_ua('alice'), hap(uniq('/backend/')));
    is($res->content, $nothing,
       'via HAProxy: the backend does not see it');
}

# 6. With a certificate on the hop itself (the TLS vhost).
{
    my $u = sub { env_of($_[0])->{MTLS_USER} // json_of($_[0])->{reason} // $_[0]->code };
    is($u->(get(tls_ua('alice'), hpin(uniq('/p/verified')))), 'alice',
       'HAProxy with its pinned certificate on the hop: the client is alice');
    is($u->(get(tls_ua('bob'), hpin(uniq('/p/verified')))), 'bob',
       'HAProxy with its pinned certificate on the hop: the client is bob');
    is($u->(get(tls_ua('bob'), fwdt(uniq('/p/verified')), 'Client-Cert' => $alice)), 'bob',
       'untrusted address with its own certificate: its certificate, not the header');
    my $mark = log_mark();
    is($u->(get(tls_ua('bob', local => '127.0.0.2'), fwdt(uniq('/p/verified')), 'Client-Cert' => $alice)), 'bob',
       'trusted address, certificate not pinned: the header is not believed');
    is($u->(get(tls_ua('', local => '127.0.0.2'), fwdt(uniq('/p/verified')), 'Client-Cert' => $alice)), 'no-certificate',
       'trusted address, no certificate, a pin required: no identity');
    ok(scalar(log_wait($mark, qr/MTLS5001: .*whose TLS client certificate is not pinned/)),
       'the unpinned peer is warned about (rate-limited)');
    # asked early (<If>), before the header is read: the pinned proxy's
    # own certificate never stands in for the client, then or later
    my $hop = tls_ua('proxyhop', local => '127.0.0.2');
    is($u->(get($hop, fwdt(uniq('/p/early')))), 'no-certificate',
       'pinned proxy, no forwarded certificate, identity asked early: not the proxy\'s own');
    is($u->(get($hop, fwdt(uniq('/p/early')), 'Client-Cert' => $alice)), 'alice',
       'pinned proxy, identity asked early: the forwarded client, alice');
    is($u->(get($hop, fwdt(uniq('/p/verified')), 'Client-Cert' => $alice)), 'alice',
       'pinned proxy: alice (without an early ask)');
}
{
    my $mark = log_mark();
    my $res = get(tls_ua('bob', local => '127.0.0.2'), fwdt(uniq('/addronly')), 'Client-Cert' => $alice);
    is(env_of($res)->{MTLS_USER} // '', 'bob', 'a direct certificate and a forwarded one: the direct one wins');
    ok(scalar(log_wait($mark, qr/MTLS5002: a direct TLS client certificate and a forwarded one/)),
       'and the log says so');
    $res = get(tls_ua('', local => '127.0.0.2'), fwdt(uniq('/addronly')), 'Client-Cert' => $alice);
    is(env_of($res)->{MTLS_USER} // '', 'alice', 'no direct certificate: the forwarded one');
}

# 7. Several clients on one kept-alive proxy connection.
sub fwd_log_ports {
    my %want = map { $_ => 1 } @_;
    my %port;
    my $end = time + 3;
    while (time < $end) {
        open my $fh, '<', "$t_dir/logs/mtls_fwd_access.log" or last;
        while (<$fh>) {
            my ($ip, $rport, $ka, $user, $reason, $st, $path) =
                /^(\S+) (\d+) (\d+) "([^"]*)" "([^"]*)" (\d+) "([^"]*)"$/ or next;
            $port{$path} = [$rport, $ka, $user] if $want{$path};
        }
        last if keys %port == keys %want;
        select undef, undef, undef, 0.1;
    }
    return \%port;
}
for my $proxy ([HAProxy => \&hap], [nginx => \&ngx]) {
    my ($name, $url) = @$proxy;
    my (@paths, %who, $ok);
    $ok = 1;
    for my $i (1 .. 4) {
        for my $c (qw(alice bob svc)) {
            my $p = uniq('/fields');
            push @paths, $p;
            $who{$p} = $c eq 'svc' ? 'api' : $c;
            # a new client connection each time, as different clients
            my $res = get(tls_ua($c, fresh => 1), $url->($p));
            $ok &&= (env_of($res)->{MTLS_USER} // '') eq $who{$p};
        }
    }
    ok($ok, "$name: alternating clients each get their own identity");
    my $seen = fwd_log_ports(@paths);
    is(scalar(keys %$seen), scalar(@paths), "$name: every request logged");
    my %users_by_port;
    $users_by_port{$_->[0]}{$_->[2]} = 1 for values %$seen;
    ok((grep { keys %{ $users_by_port{$_} } >= 2 } keys %users_by_port),
       "$name: one backend connection carried requests of different clients")
        or diag(explain(\%users_by_port));
}

# 8. The metrics count what became of each request's forwarded certificate,
# once per request (two spellings of the header in one request count once).
sub forwarded_counts {
    my $res = GET_as('', '/status', vhost => 'mtls_ops', ua => fresh_ua(''));
    my %n = map { $_ => 0 } qw(verified not-verified none untrusted direct);
    my $text = $res->content;
    $n{$1} = $2 while $text =~ /^mtls_authz_forwarded_certificates_total\{result="([^"]+)"\} (\d+)$/mg;
    return \%n;
}
{
    my $before = forwarded_counts();
    get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')), 'Client-Cert' => $alice) for 1 .. 2;
    get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')), 'Client-Cert' => rfc9440('expired'));
    get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')), 'Client-Cert' => ':#!?:');
    get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')));
    get(plain_ua('127.0.0.1'), fwdh(uniq('/p/verified')), 'Client-Cert' => $alice, 'client_cert' => $alice);
    get(tls_ua('bob', local => '127.0.0.2'), fwdt(uniq('/p/verified')), 'Client-Cert' => $alice);
    get(tls_ua('bob', local => '127.0.0.2'), fwdt(uniq('/addronly')), 'Client-Cert' => $alice);
    my %want = (verified => 2, 'not-verified' => 2, none => 1, untrusted => 2, direct => 1);
    my ($after, %got);
    for (1 .. 30) {     # counted in the log hook, after the response went out
        $after = forwarded_counts();
        %got = map { $_ => $after->{$_} - $before->{$_} } keys %want;
        last if join(',', map { "$_=$got{$_}" } sort keys %got)
             eq join(',', map { "$_=$want{$_}" } sort keys %want);
        select undef, undef, undef, 0.1;
    }
    is_deeply(\%got, \%want, 'mtls_authz_forwarded_certificates_total counts each request once, by result');
}
# A forwarded certificate's days left are observed when it is verified:
# one never seen before, valid for 3 days, lands in le="7" once.
{
    my $name = "days$$";
    chomp(my $end = `sh '@{[pki('mkshort.sh')]}' $name 259300`);
    die "mkshort.sh failed" unless $end =~ /^\d+$/;
    my $week = sub {
        my $t = GET_as('', '/status', vhost => 'mtls_ops', ua => fresh_ua(''))->content;
        my ($b0) = $t =~ /^mtls_authz_client_cert_days_left_bucket\{le="0"\} (\d+)$/m;
        my ($b7) = $t =~ /^mtls_authz_client_cert_days_left_bucket\{le="7"\} (\d+)$/m;
        return ($b7 // 0) - ($b0 // 0);
    };
    my $before = $week->();
    my $res = get(plain_ua('127.0.0.2'), fwdh(uniq('/p/verified')), 'Client-Cert' => rfc9440($name));
    is($res->code, 200, 'a forwarded certificate valid for 3 days: granted');
    is($week->() - $before, 1, 'and observed once in mtls_authz_client_cert_days_left{le="7"}');
}
