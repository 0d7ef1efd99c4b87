package MTLSTest::PKI;
# Facts about the generated certificates, computed with the openssl CLI
# (independently of the module under test).  Computed once per certificate
# for the whole run: kept in DIR/.facts/NAME with the certificate's inode,
# size and mtime, which a re-made certificate changes (the harness and
# every test file of every MPM ask for the same ones, each fact costs
# six processes).
use strict;
use warnings;

my %cache;

sub run { my $cmd = shift; my $out = `$cmd`; die "failed: $cmd\n" if $?; chomp $out; $out }

my @keys = qw(sha256 spki serial not_after);

sub compute {
    my $crt = shift;
    my $fp = run("openssl x509 -in '$crt' -noout -fingerprint -sha256");
    $fp =~ s/^.*=//; $fp =~ s/://g;
    my $spki = run("openssl x509 -in '$crt' -noout -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256");
    $spki =~ s/^.*= *//;
    my $serial = run("openssl x509 -in '$crt' -noout -serial");
    $serial =~ s/^serial=//; $serial = uc $serial; $serial =~ s/^0+(?=.)//;
    my $end = run("openssl x509 -in '$crt' -noout -enddate");
    $end =~ s/^notAfter=//;
    my $endts = run("date -u -d '$end' +%s");
    return { sha256 => lc $fp, spki => lc $spki, serial => $serial, not_after => $endts };
}

sub info {
    my ($name, $dir) = @_;
    return $cache{"$dir/$name"} ||= do {
        my $crt = "$dir/$name.crt";
        my @st = stat $crt or die "$crt: $!\n";
        my $stamp = "$st[1] $st[7] $st[9]";
        my $file = "$dir/.facts/$name";
        my %f;
        if (open my $in, '<', $file) {
            chomp(my @l = <$in>);
            %f = map { split / /, $_, 2 } @l;
        }
        unless (($f{stamp} // '') eq $stamp && 4 == grep { defined $f{$_} } @keys) {
            %f = (%{ compute($crt) }, stamp => $stamp);
            mkdir "$dir/.facts";
            if (open my $out, '>', "$file.$$") {   # (another run may write it too)
                print $out "$_ $f{$_}\n" for 'stamp', @keys;
                close $out and rename "$file.$$", $file;
            }
        }
        +{ (map { $_ => $f{$_} } @keys), crt => $crt, key => "$dir/$name.key" };
    };
}

1;
