package MTLSTest::PKI;
# Facts about the generated certificates, computed with the openssl CLI
# (independently of the module under test).
use strict;
use warnings;

my %cache;

sub run { my $cmd = shift; my $out = `$cmd`; die "failed: $cmd\n" if $?; chomp $out; $out }

sub info {
    my ($name, $dir) = @_;
    return $cache{"$dir/$name"} ||= do {
        my $crt = "$dir/$name.crt";
        my $fp = run("openssl x509 -in '$crt' -noout -fingerprint -sha256");
        $fp =~ s/^.*=//; $fp =~ s/://g;
        my $spki = run("openssl x509 -in '$crt' -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256");
        $spki =~ s/^.*= *//;
        my $serial = run("openssl x509 -in '$crt' -noout -serial");
        $serial =~ s/^serial=//; $serial = uc $serial; $serial =~ s/^0+(?=.)//;
        my $end = run("openssl x509 -in '$crt' -noout -enddate");
        $end =~ s/^notAfter=//;
        my $endts = run("date -u -d '$end' +%s");
        { sha256 => lc $fp, spki => lc $spki, serial => $serial,
          not_after => $endts, crt => $crt, key => "$dir/$name.key" };
    };
}

1;
