# The forwarded-certificate formats besides RFC 9440 over HTTP/1.1, each
# through the real proxy that speaks it: Envoy's x-forwarded-client-cert
# (nginx builds it, after an earlier hop's element), base64 DER in
# Traefik's X-Forwarded-Tls-Client-Cert (HAProxy), and RFC 9440 over
# cleartext HTTP/2 from HAProxy (proto h2, one connection for every
# client).  Each gives the same decisions as a direct TLS connection;
# what does not verify or does not decode is refused with the reason; a
# header from anyone but the trusted proxy is removed unread.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use LWP::UserAgent ();
use HTTP::Request ();
use MIME::Base64 qw(encode_base64);
use MTLSTest qw(:DEFAULT :proxy);

for (qw(MTLS_T_NGINX_XFCC_PORT MTLS_T_HAPROXY_DERB64_PORT MTLS_T_HAPROXY_H2_PORT
        MTLS_T_FWD_XFCC_PORT MTLS_T_FWD_DERB64_PORT MTLS_T_FWD_H2C_PORT
        MTLS_T_ECHO_FWD_PORT)) {
    die "$_ is not set: t/services/{fwd-ports,haproxy,nginx}.sh did not run\n"
        unless $ENV{$_};
}

my $t_dir = Apache::Test::config()->{vars}{t_dir};
my $mpm = Apache::Test::config()->httpd_mpm || '';
my $h2 = $mpm ne 'prefork';   # mod_http2 stays inactive under prefork
my $nothing = "client-cert=[] client-cert-chain=[] x-ssl-client-cert=[] xfcc=[] x-forwarded-tls-client-cert=[]\n";

# --- user agents and requests --------------------------------------------

sub via_xfcc   { "https://127.0.0.1:$ENV{MTLS_T_NGINX_XFCC_PORT}$_[0]" }
sub via_derb64 { "https://127.0.0.1:$ENV{MTLS_T_HAPROXY_DERB64_PORT}$_[0]" }
sub via_h2     { "https://127.0.0.1:$ENV{MTLS_T_HAPROXY_H2_PORT}$_[0]" }
sub fwd_xfcc   { "http://127.0.0.1:$ENV{MTLS_T_FWD_XFCC_PORT}$_[0]" }
sub fwd_derb64 { "http://127.0.0.1:$ENV{MTLS_T_FWD_DERB64_PORT}$_[0]" }

sub pem_of { my $n = shift; open my $f, '<', pki("$n.crt") or die; local $/; my $p = <$f>; $p =~ s/\A.*?(?=-----BEGIN)//s; $p }
# URL-encoded as nginx's $ssl_client_escaped_cert and Envoy do.
sub pct { my $s = shift; $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge; $s }
sub b64 { encode_base64($_[0], '') }

sub reason_of { my $r = shift; $r->code == 200 ? 'granted' : (json_of($r)->{reason} // $r->code) }
sub detail_of { json_of($_[0])->{detail} // '' }

# --- what is tested -------------------------------------------------------

my @certs = ('', qw(alice bob svc upn comma utf8 multiou direct));
my @paths = qw(/fields /p/group /p/san /p/fp /p/deny /p/strong /authn /report);
my @routes = (['XFCC via nginx' => \&via_xfcc], ['base64 DER via HAProxy' => \&via_derb64],
              $h2 ? (['HTTP/2 from HAProxy' => \&via_h2]) : ());

# (nginx itself refuses an expired certificate: optional_no_ca lets only
# an unknown issuer through)
my @bad = (['XFCC via nginx', \&via_xfcc, evilalice => 'unable to get local issuer certificate'],
           ['XFCC via nginx', \&via_xfcc, revoked => 'certificate revoked'],
           ['base64 DER via HAProxy', \&via_derb64, expired => 'certificate has expired'],
           ['base64 DER via HAProxy', \&via_derb64, evilalice => 'unable to get local issuer certificate'],
           ['base64 DER via HAProxy', \&via_derb64, serveronly => 'unsuitable certificate purpose'],
           $h2 ? (['HTTP/2 from HAProxy', \&via_h2, revoked => 'certificate revoked']) : ());

my $alice_pem = pct(pem_of('alice'));
my $big_pem = pct("-----BEGIN CERTIFICATE-----\n" . ('QUFB' x 16384) . "\n-----END CERTIFICATE-----\n");
my @bad_xfcc = (
    ['unterminated quote'   => 'By=x;Cert="abc', 'unterminated quote'],
    ['a pair without ='     => 'By=x;Cert', "a pair without '='"],
    ['Cert twice'           => qq{Cert="$alice_pem";Cert="$alice_pem"}, 'has Cert twice'],
    ['Cert not PEM'         => 'Cert="garbage"', 'is not PEM'],
    ['a bad %-escape'       => 'Cert="%zz"', 'bad %-escape'],
    ['truncated PEM'        => 'Cert="-----BEGIN%20CERTIFICATE-----%0AAAAA"', 'truncated'],
    ['two certificates in Cert' => 'Cert="' . pct(pem_of('alice') . pem_of('bob')) . '"', 'more than one certificate'],
    ['64 KiB in Cert'       => qq{Cert="$big_pem"}, 'larger than 16384 bytes'],
    ['a good earlier hop, a bad last one' => qq{Cert="$alice_pem",By=x;Cert="garbage"}, 'is not PEM'],
);
my $alice_b64 = b64(der_of('alice'));
my @bad_derb64 = (
    ['garbage DER'      => b64('this is no certificate'), 'not a valid X.509 certificate'],
    ['truncated DER'    => b64(substr(der_of('alice'), 0, 200)), 'not a valid X.509 certificate'],
    ['not base64'       => '#!?', 'not valid base64'],
    ['an RFC 9440 value' => ":$alice_b64:", 'not valid base64'],
    ['an empty element' => "$alice_b64,", 'empty element'],
    ['a bad %-escape'   => "${alice_b64}%zz", 'bad %-escape'],
    ['64 KiB of base64' => 'QUFB' x 16384, 'larger than 16384 bytes'],
);
my @spoof = (['XFCC', \&fwd_xfcc, 'X-Forwarded-Client-Cert', qq{Cert="$alice_pem"}],
             ['base64 DER', \&fwd_derb64, 'X-Forwarded-Tls-Client-Cert', $alice_b64]);
my @spellings = ('', ':lower', ':UPPER', ':under');

plan tests => @routes * @certs * @paths + 3 * @bad + 3 * @bad_xfcc + 3 * @bad_derb64
    + 5 + 2 + 2 * @spoof * @spellings + 2 + ($h2 ? 4 : 0);

# 1. The same decisions, identities and variables as a direct connection.
for my $who (@certs) {
    for my $path (@paths) {
        my $direct = outcome(GET_as($who, uniq($path), json => 1));
        for my $r (@routes) {
            my ($name, $url) = @$r;
            is(outcome(get(tls_ua($who), $url->(uniq($path)))), $direct,
               ($who || 'no cert') . " $path: $name as direct");
        }
    }
}

# 2. The proxies verify nothing: the module does, and refuses.
for (@bad) {
    my ($name, $url, $who, $text) = @$_;
    my $res = get(tls_ua($who), $url->(uniq('/p/verified')));
    is($res->code, 403, "$who $name: 403");
    is(reason_of($res), 'not-verified', "$who $name: not-verified");
    like(detail_of($res), qr/\Q$text\E/, "$who $name: $text");
}

# 3. A trusted proxy that forwards something bad (we play it).
for (@bad_xfcc) {
    my ($what, $value, $text) = @$_;
    my $res = get(plain_ua('127.0.0.3'), fwd_xfcc(uniq('/p/verified')), 'X-Forwarded-Client-Cert' => $value);
    is($res->code, 403, "XFCC, $what: 403");
    is(reason_of($res), 'not-verified', "XFCC, $what: not-verified");
    like(detail_of($res), qr/\Q$text\E/, "XFCC, $what: $text");
}
for (@bad_derb64) {
    my ($what, $value, $text) = @$_;
    my $res = get(plain_ua('127.0.0.2'), fwd_derb64(uniq('/p/verified')), 'X-Forwarded-Tls-Client-Cert' => $value);
    is($res->code, 403, "base64 DER, $what: 403");
    is(reason_of($res), 'not-verified', "base64 DER, $what: not-verified");
    like(detail_of($res), qr/\Q$text\E/, "base64 DER, $what: $text");
}
{
    my $u = sub { env_of($_[0])->{MTLS_USER} // reason_of($_[0]) };
    is($u->(get(plain_ua('127.0.0.3'), fwd_xfcc(uniq('/p/verified')),
                'X-Forwarded-Client-Cert' => qq{By=a;Cert="garbage",By=b;Hash=x;Cert="$alice_pem";Subject="CN=alice,OU=admins,O=Lab"})),
       'alice', 'XFCC: the last element counts, a bad earlier one does not');
    is($u->(get(plain_ua('127.0.0.3'), fwd_xfcc(uniq('/p/verified')), 'X-Forwarded-Client-Cert' => 'By=a;Cert=""')),
       'no-certificate', 'XFCC: an empty Cert is no certificate');
    is($u->(get(plain_ua('127.0.0.2'), fwd_derb64(uniq('/p/verified')),
                'X-Forwarded-Tls-Client-Cert' => pct($alice_b64))),
       'alice', 'base64 DER: URL-escaped (as Traefik sends it)');
    is($u->(get(plain_ua('127.0.0.2'), fwd_derb64(uniq('/p/verified')),
                'X-Forwarded-Tls-Client-Cert' => $alice_b64, 'X-Forwarded-Tls-Client-Cert' => b64(der_of('bob')))),
       'not-verified', 'base64 DER: the header twice (a second client certificate as the chain) is refused');
    like(detail_of(get(plain_ua('127.0.0.2'), fwd_derb64(uniq('/p/verified')),
                       'X-Forwarded-Tls-Client-Cert' => b64(der_of('bob')), 'X-Forwarded-Tls-Client-Cert' => $alice_b64)),
         qr/certificate 2 of the forwarded chain is not a CA certificate \(the header sent twice\?\)/,
         'base64 DER: the header twice: said so');
}

# 4. No certificate through the proxy: the hint names the setting.
{
    my $res = get(tls_ua(''), via_xfcc(uniq('/p/verified')));
    like(detail_of($res), qr/sent an empty X-Forwarded-Client-Cert header.*MTLSProxyCertHeader X-Forwarded-Client-Cert xfcc/,
         'no certificate via nginx (XFCC): the hint names the setting');
    $res = get(tls_ua(''), via_derb64(uniq('/p/verified')));
    like(detail_of($res), qr/sent no X-Forwarded-Tls-Client-Cert header.*MTLSProxyCertHeader X-Forwarded-Tls-Client-Cert der-base64/,
         'no certificate via HAProxy (base64 DER): the hint names the setting');
}

# 5. Spoofing: the header from an untrusted peer (127.0.0.1), in every
#    spelling, is removed unread and never reaches a backend.
for my $s (@spoof) {
    my ($what, $url, $name, $value) = @$s;
    for my $sp (@spellings) {
        my $h = $sp eq ':lower' ? ':' . lc $name : $sp eq ':UPPER' ? ':' . uc $name
              : $sp eq ':under' ? ':' . ($name =~ tr/-/_/r) : $name;
        my $res = get(plain_ua('127.0.0.1'), $url->(uniq('/p/verified')), $h => $value);
        is(reason_of($res), 'no-certificate', "untrusted $what $h: no identity");
        $res = get(plain_ua('127.0.0.1'), $url->(uniq('/backend/')), $h => $value);
        is($res->content, $nothing, "untrusted $what $h: the backend sees nothing");
    }
}
{
    my $res = get(tls_ua('alice'), via_xfcc(uniq('/backend/')));
    is($res->content, $nothing, 'via nginx (XFCC): the backend does not see the header');
    $res = get(tls_ua('alice'), via_derb64(uniq('/backend/')));
    is($res->content, $nothing, 'via HAProxy (base64 DER): the backend does not see the header');
}

# 6. HTTP/2 from the proxy: the requests arrive as HTTP/2 streams, and
#    streams of different clients on one connection each get their own
#    identity (never the connection's).
sub fwd_log {
    my %want = map { $_ => 1 } @_;
    my %seen;
    my $end = time + 3;
    while (time < $end) {
        open my $fh, '<', "$t_dir/logs/mtls_fwd_access.log" or last;
        while (<$fh>) {
            my ($ip, $rport, $ka, $user, $reason, $st, $path) =
                /^(\S+) (\d+) (\d+) "([^"]*)" "([^"]*)" (\d+) "([^"]*)"$/ or next;
            $seen{$path} = [$rport, $user] if $want{$path};
        }
        last if keys %seen == keys %want;
        select undef, undef, undef, 0.1;
    }
    return \%seen;
}
if ($h2) {
    my $res = get(tls_ua('alice'), via_h2(uniq('/fields')));
    is(env_of($res)->{SERVER_PROTOCOL} // '', 'HTTP/2.0', 'from HAProxy proto h2: the request is an HTTP/2 stream');
    my (@paths, %who);
    my $ok = 1;
    for my $i (1 .. 4) {
        for my $c (qw(alice bob svc)) {
            my $p = uniq('/fields');
            push @paths, $p;
            $who{$p} = $c eq 'svc' ? 'api' : $c;
            my $res = get(tls_ua($c, fresh => 1), via_h2($p));
            $ok &&= (env_of($res)->{MTLS_USER} // '') eq $who{$p};
        }
    }
    ok($ok, 'HTTP/2 from HAProxy: alternating clients each get their own identity');
    my $seen = fwd_log(@paths);
    is(scalar(keys %$seen), scalar(@paths), 'HTTP/2 from HAProxy: every request logged');
    my %users_by_port;
    $users_by_port{$_->[0]}{$_->[1]} = 1 for values %$seen;
    ok((grep { keys %{ $users_by_port{$_} } >= 2 } keys %users_by_port),
       'HTTP/2 from HAProxy: one connection carried streams of different clients')
        or diag(explain(\%users_by_port));
}
