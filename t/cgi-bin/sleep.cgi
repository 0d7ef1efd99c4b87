#!/usr/bin/perl
# Sleeps QUERY_STRING seconds (at most 30) after authorisation, then
# echoes the MTLS_* environment like env.cgi: keeps a connection busy
# while the client certificate expires.
my ($s) = ($ENV{QUERY_STRING} || '') =~ /^(\d+(?:\.\d+)?)$/;
select(undef, undef, undef, $s > 30 ? 30 : $s) if $s;
print "Content-Type: text/plain\n\n";
for my $k (sort keys %ENV) {
    next unless $k =~ /^(MTLS_|REMOTE_USER$|SERVER_PROTOCOL$)/;
    print "$k=$ENV{$k}\n";
}
