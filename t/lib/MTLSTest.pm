package MTLSTest;
# Shared helpers of the mod_mtls_authz Apache::Test suite: one keep-alive
# LWP user agent per client certificate, URLs of the test vhosts, the CGI
# environment echo, and waiting for lines in the error and access logs.
# On request (use MTLSTest qw(:DEFAULT :proxy)): what the tests of
# forwarded certificates share.
use strict;
use warnings;

use Apache::Test ();
use Apache::TestConfig ();
use LWP::UserAgent ();
use HTTP::Request ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use MTLSTest::Apxs ();   # before Apache::Test::config
use MTLSTest::PKI ();
use Exporter 'import';

our @EXPORT = qw(pki cert ua fresh_ua GET_as url env_of log_mark log_wait
                 access_wait uniq json_of);
our @EXPORT_OK = qw(tls_ua plain_ua get der_of outcome read_from);
our %EXPORT_TAGS = (proxy => [qw(tls_ua plain_ua get der_of outcome)]);

my $cfg = Apache::Test::config();
my $t_dir = $cfg->{vars}{t_dir};

sub pki { "$t_dir/pki/out" . (@_ ? "/$_[0]" : '') }
sub cert { MTLSTest::PKI::info($_[0], pki()) }

# A fresh user agent presenting NAME.crt/NAME.key (undef: no certificate).
sub fresh_ua {
    my ($name, %o) = @_;
    my %ssl = (SSL_ca_file => pki('ca-bundle.crt'), verify_hostname => 0,
               SSL_verifycn_scheme => 'none');
    if ($name) {
        $ssl{SSL_cert_file} = pki("$name.crt");
        $ssl{SSL_key_file}  = pki("$name.key");
    }
    my $ua = LWP::UserAgent->new(keep_alive => 4, timeout => 20,
                                 ssl_opts => \%ssl, max_redirect => 0, %o);
    return $ua;
}

my %ua;
# The shared keep-alive agent for a certificate name ('' for none).
sub ua { my $n = shift // ''; $ua{$n} ||= fresh_ua($n) }

my %port = map { $_ => $cfg->{vhosts}{$_}{port} } qw(mtls mtls_noca mtls_require mtls_reneg);
sub port { my $v = $_[0] || 'mtls'; $port{$v} //= $cfg->{vhosts}{$v}{port} }

my $seq = 0;
# A unique path under PREFIX, so a request can be found in the logs.
sub uniq { my $p = shift; $p =~ s{/$}{}; sprintf "%s/t%d-%d", $p, $$, ++$seq }

sub url {
    my ($path, $vhost) = @_;
    return sprintf "https://127.0.0.1:%d%s", port($vhost), $path;
}

# GET_as(CERT, PATH, [vhost => 'mtls_noca'], [json => 1], [ua => $ua])
sub GET_as {
    my ($name, $path, %o) = @_;
    my $ua = $o{ua} || ua($name);
    my $req = HTTP::Request->new(GET => url($path, $o{vhost}));
    $req->header(Accept => $o{json} ? 'application/json' : 'text/html');
    return $ua->request($req);
}

# The NAME=VALUE lines printed by cgi-bin/env.cgi.
sub env_of {
    my $res = shift;
    my %e;
    return \%e unless $res->is_success;
    for (split /\n/, $res->decoded_content(charset => 'none')) {
        my ($k, $v) = /^([A-Z_0-9]+)=(.*)$/ or next;
        $e{$k} = $v;
    }
    return \%e;
}

sub json_of {
    my $res = shift;
    my $d = eval { JSON::PP->new->utf8->decode($res->content) };
    return $d || {};
}

# --- forwarded certificates (:proxy) ---------------------------------------

# TLS presenting NAME's certificate ('' none), kept per NAME and options:
# local => ADDR connects from ADDR; fresh => 1 makes a new one, not kept.
my %tls_ua;
sub tls_ua {
    my ($name, %o) = @_;
    my $key = join '|', $name, %o;
    return $tls_ua{$key} if $tls_ua{$key} && !$o{fresh};
    my $ua = fresh_ua($name, $o{local} ? (local_address => $o{local}) : ());
    $tls_ua{$key} = $ua unless $o{fresh};
    return $ua;
}

# Cleartext HTTP from the address LOCAL (a kept-alive agent per address).
my %plain;
sub plain_ua { my $l = shift; $plain{$l} ||= LWP::UserAgent->new(keep_alive => 2, timeout => 20, local_address => $l) }

# GET URL with UA, asking for JSON, with the extra headers NAME => VALUE.
sub get {
    my ($ua, $url, @headers) = @_;
    my $req = HTTP::Request->new(GET => $url);
    $req->header(Accept => 'application/json');
    while (@headers) {
        my ($k, $v) = splice @headers, 0, 2;
        $req->push_header($k => $v);
    }
    return $ua->request($req);
}

# NAME.crt in DER.
sub der_of { my $n = shift; my $d = `openssl x509 -in '${\pki("$n.crt")}' -outform DER`; die "openssl" if $?; $d }

# What a response says about the decision and the identity.
sub outcome {
    my $res = shift;
    my $j = $res->code == 200 ? {} : json_of($res);
    my $e = env_of($res);
    return join ' | ', $res->code, $j->{reason} // '-',
        map { "$_=" . ($e->{$_} // '') }
            qw(MTLS_USER MTLS_GROUPS MTLS_STRENGTH MTLS_SOURCE REMOTE_USER
               MTLS_SUBJECT MTLS_ISSUER MTLS_SHA256 MTLS_SERIAL MTLS_DAYS_LEFT);
}

# --- logs ---------------------------------------------------------------------

sub file_size { -s $_[0] || 0 }
sub error_log  { "$t_dir/logs/error_log" }
sub access_log { "$t_dir/logs/mtls_access.log" }

# Remember where the logs end now.
sub log_mark { return { error => file_size(error_log()), access => file_size(access_log()) } }

# What FILE holds from byte OFF on ('' when it cannot be read).
sub read_from {
    my ($file, $off) = @_;
    open my $fh, '<', $file or return '';
    seek $fh, $off, 0;
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

# Lines of the error log written since MARK that match RE (waits up to 3 s
# for at least one).
sub log_wait {
    my ($mark, $re, $timeout) = @_;
    my $end = time + ($timeout || 3);
    while (1) {
        my @l = grep { /$re/ } split /\n/, read_from(error_log(), $mark->{error});
        return @l if @l or time > $end;
        sleep 0.05;
    }
}

# The access log line of the request for PATH (exact %U), parsed.
sub access_wait {
    my ($mark, $path, $timeout) = @_;
    my $end = time + ($timeout || 3);
    while (1) {
        for (split /\n/, read_from(access_log(), $mark->{access})) {
            next unless /^(\S+) (\S+) "([^"]*)" "([^"]*)" (\d+) (\d+) (\S+) "([^"]*)"$/;
            next unless $8 eq $path;
            return { client => $1, vhost => $2, reason => $3, user => $4,
                     status => $5, keepalive => $6, protocol => $7, path => $8 };
        }
        return undef if time > $end;
        sleep 0.05;
    }
}

1;
