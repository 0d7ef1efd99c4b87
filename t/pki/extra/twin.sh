# Certificates that differ from real ones only in their encoding or in one
# byte, re-signed by the real CA (sourced by ../mkpki.sh, inside OUTDIR):
#   bob-twin, alice-twin   the ECDSA signature twin (r, n-s) of bob (on the
#                          deny list) and alice (in the map file): the same
#                          certificate, it verifies, another sha256
#   nulcn                  CN=admin\0.evil,O=Lab (a NUL inside the CN),
#                          issued by inter
# The DER work is done by a small Perl tool (core modules only), written
# here so that changing it remakes the PKI.
cat > "$OUT/db/dertool.pl" <<'PERL'
#!/usr/bin/perl
# dertool.pl twin IN.der OUT.der ORDER_HEX
#   replace the ECDSA signature (r, s) by (r, ORDER - s)
# dertool.pl patch IN.der OUT.der FROM TO CAKEY
#   replace the bytes FROM (Perl string escapes) by TO (same length) in the
#   TBSCertificate, then sign it again with CAKEY (openssl dgst -sha256)
use strict;
use warnings;
use Math::BigInt;

sub slurp { open my $f, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$f> }
sub spew { open my $f, '>:raw', $_[0] or die "$_[0]: $!"; print $f $_[1]; close $f or die }

# (tag, header length, content length) of the TLV at $off
sub tlv {
    my ($d, $off) = @_;
    my $tag = ord substr $d, $off, 1;
    my $l = ord substr $d, $off + 1, 1;
    return ($tag, 2, $l) if $l < 0x80;
    my $n = $l & 0x7f;
    my $len = 0;
    $len = $len * 256 + ord substr $d, $off + 2 + $_, 1 for 0 .. $n - 1;
    return ($tag, 2 + $n, $len);
}
sub len {
    my $n = shift;
    return chr $n if $n < 0x80;
    my $s = '';
    while ($n) { $s = chr($n & 0xff) . $s; $n >>= 8 }
    return chr(0x80 | length $s) . $s;
}
sub wrap { my ($tag, $body) = @_; chr($tag) . len(length $body) . $body }
sub int_der {
    my $h = substr(shift->as_hex, 2);
    $h = "0$h" if length($h) % 2;
    my $b = pack 'H*', $h;
    $b = "\0$b" if ord($b) & 0x80;
    return wrap(0x02, $b);
}

# tbs, algorithm, signature value of a certificate
sub split_cert {
    my $d = shift;
    my ($t, $h, $l) = tlv($d, 0);
    die "not a certificate\n" unless $t == 0x30 && $h + $l == length $d;
    my @parts;
    my $off = $h;
    while ($off < length $d) {
        my ($pt, $ph, $pl) = tlv($d, $off);
        push @parts, substr $d, $off, $ph + $pl;
        $off += $ph + $pl;
    }
    die "expected 3 parts\n" unless @parts == 3;
    my ($st, $sh, $sl) = tlv($parts[2], 0);
    die "no BIT STRING\n" unless $st == 0x03 && ord(substr $parts[2], $sh, 1) == 0;
    return ($parts[0], $parts[1], substr($parts[2], $sh + 1));
}
sub join_cert { my ($tbs, $alg, $sig) = @_; wrap(0x30, $tbs . $alg . wrap(0x03, "\0" . $sig)) }

my ($cmd, $in, $out, @a) = @ARGV;
my ($tbs, $alg, $sig) = split_cert(slurp($in));
if ($cmd eq 'twin') {
    my ($t, $h) = tlv($sig, 0);
    my @ints;
    my $off = $h;
    while ($off < length $sig) {
        my ($it, $ih, $il) = tlv($sig, $off);
        push @ints, Math::BigInt->from_hex(unpack 'H*', substr $sig, $off + $ih, $il);
        $off += $ih + $il;
    }
    my ($r, $s) = @ints;
    my $n = Math::BigInt->from_hex($a[0]);
    spew($out, join_cert($tbs, $alg, wrap(0x30, int_der($r) . int_der($n - $s))));
}
elsif ($cmd eq 'patch') {
    my ($from, $to, $key) = map { eval qq{"$_"} } @a;
    die "FROM and TO differ in length\n" unless length $from == length $to;
    my $at = index $tbs, $from;
    die "FROM not found once\n" unless $at >= 0 && index($tbs, $from, $at + 1) < 0;
    substr($tbs, $at, length $from) = $to;
    spew("$out.tbs", $tbs);
    system('openssl', 'dgst', '-sha256', '-sign', $key, '-out', "$out.sig", "$out.tbs") == 0
        or die "signing failed\n";
    spew($out, join_cert($tbs, $alg, slurp("$out.sig")));
}
else { die "usage: dertool.pl twin|patch ...\n" }
PERL

# The order of P-256, the curve of the test CAs (mkpki.sh newkey).
P256_N=FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

for name in bob alice; do
    $OPENSSL x509 -in "$name.crt" -outform DER -out "db/$name.der"
    perl db/dertool.pl twin "db/$name.der" "db/$name-twin.der" "$P256_N"
    $OPENSSL x509 -inform DER -in "db/$name-twin.der" -out "$name-twin.crt"
    cp "$name.key" "$name-twin.key"
    cat "$name-twin.crt" "$name-twin.key" > "$name-twin.pem"
    # a twin that does not verify, or is the same DER, tests nothing
    $OPENSSL verify -CAfile root.crt -untrusted inter.crt "$name-twin.crt" >/dev/null
    if cmp -s "db/$name.der" "db/$name-twin.der"; then
        echo "twin.sh: the twin of $name is the same DER" >&2; exit 1
    fi
done

client inter nulcn "/O=Lab/CN=admin#.evil"
$OPENSSL x509 -in nulcn.crt -outform DER -out db/nulcn.der
perl db/dertool.pl patch db/nulcn.der db/nulcn-patched.der 'admin#.evil' 'admin\0.evil' inter.key
$OPENSSL x509 -inform DER -in db/nulcn-patched.der -out nulcn.crt
cat nulcn.crt nulcn.key > nulcn.pem
$OPENSSL verify -CAfile root.crt -untrusted inter.crt nulcn.crt >/dev/null
