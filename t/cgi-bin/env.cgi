#!/usr/bin/perl
# Echoes what the module exported to the environment, one NAME=VALUE a line.
print "Content-Type: text/plain\n\n";
for my $k (sort keys %ENV) {
    next unless $k =~ /^(MTLS_|REMOTE_USER$|AUTH_TYPE$|REQUEST_URI$|SERVER_PROTOCOL$|HTTPS$|OTHER_MODULE_VAR$|REWRITE_SAW$)/;
    my $v = $ENV{$k};
    $v =~ s/\n/ /g;
    print "$k=$v\n";
}
