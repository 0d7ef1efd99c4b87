#!/usr/bin/perl
# Echoes the request headers a CGI program receives (HTTP_* variables).
print "Content-Type: text/plain\n\n";
for my $k (sort keys %ENV) {
    next unless $k =~ /^HTTP_/;
    my $v = $ENV{$k};
    $v =~ s/\n/ /g;
    print "$k=$v\n";
}
