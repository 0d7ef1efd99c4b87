#!/usr/bin/perl
# cgclient.pl PORT PATH CERT KEY CA N...: one TLS connection to
# localhost:PORT (SNI localhost, the client certificate CERT/KEY, the
# server checked against CA), and on it, for each N, N keep-alive
# GET PATH requests; after each batch it prints "done OK" (OK: how many
# answered 200) and waits for a line on stdin before the next batch.
# bench/lib.sh zeroes and dumps callgrind's counters between batches, so
# no batch it measures has a handshake in it: the handshake's cost varies
# by a few hundred instructions per request over a batch of 300, more
# than the differences the counts are there to show.
use strict;
use warnings;
use IO::Socket::SSL;

my ($port, $path, $cert, $key, $ca, @batches) = @ARGV;
die "usage: cgclient.pl PORT PATH CERT KEY CA N...\n" unless @batches;
$| = 1;

my $s = IO::Socket::SSL->new(
    PeerHost => '127.0.0.1', PeerPort => $port, SSL_hostname => 'localhost',
    SSL_cert_file => $cert, SSL_key_file => $key, SSL_ca_file => $ca,
    SSL_verifycn_name => 'localhost', SSL_verifycn_scheme => 'http',
    SSL_alpn_protocols => ['http/1.1'], Timeout => 60,
) or die "cgclient: connect: $SSL_ERROR\n";

# One response: its status, after reading the body (Content-Length only:
# the bench serves static files).
sub response {
    my $status = <$s>;
    die "cgclient: the server closed the connection\n" unless defined $status;
    my $len;
    while (defined(my $h = <$s>)) {
        last if $h eq "\r\n";
        $len = $1 if $h =~ /^content-length:\s*(\d+)/i;
    }
    die "cgclient: a response without Content-Length\n" unless defined $len;
    my $body = '';
    while (length($body) < $len) {
        my $got = read($s, $body, $len - length($body), length($body));
        die "cgclient: the body was cut short\n" unless $got;
    }
    return $status =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}

for my $n (@batches) {
    my $ok = 0;
    for (1 .. $n) {
        print $s "GET $path HTTP/1.1\r\nHost: localhost:$port\r\nUser-Agent: cgclient\r\n\r\n";
        $ok++ if response() == 200;
    }
    print "done $ok\n";
    defined(<STDIN>) or last;
}
close $s;
