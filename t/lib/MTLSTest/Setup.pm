package MTLSTest::Setup;
# Prepares what the generated httpd.conf refers to, before the server starts:
# the PKI, the module path, fingerprints (as ${MTLS_T_*} variables) and the
# map / group / deny-list files the tests later edit while the server runs.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Path qw(make_path);
use MTLSTest::PKI ();

sub prepare {
    my $t = abs_path(shift);
    my $repo = abs_path("$t/..");
    $ENV{MTLS_MODULE_SO} ||= "$repo/.libs/mod_mtls_authz.so";
    warn "WARNING: $ENV{MTLS_MODULE_SO} does not exist (build the module first)\n"
        unless -e $ENV{MTLS_MODULE_SO};

    my $pki = "$t/pki/out";
    system("$t/pki/mkpki.sh", $pki) == 0 or die "mkpki.sh failed\n";
    $ENV{MTLS_T_PKI} = $pki;

    my $run = "$t/runtime";
    make_path($run);
    $ENV{MTLS_T_RUN} = $run;

    my %c = map { $_ => MTLSTest::PKI::info($_, $pki) }
            qw(alice bob svc direct alice-twin);
    $ENV{MTLS_T_ALICE_SHA256} = $c{alice}{sha256};
    $ENV{MTLS_T_ALICE_SPKI}   = $c{alice}{spki};
    $ENV{MTLS_T_BOB_SPKI}     = $c{bob}{spki};
    $ENV{MTLS_T_SVC_SHA256}   = $c{svc}{sha256};

    write_files($run, \%c);
    # MTLSCRL files the operations tests replace while the server runs
    for (['crl-before.pem' => 'ops-crl.pem'],
         ['crl-before.pem' => 'ops-metrics-crl.pem']) {
        my ($from, $to) = @$_;
        open my $in, '<', "$pki/$from" or die "$pki/$from: $!";
        local $/;
        spew("$run/$to", scalar <$in>);
    }
}

sub spew {
    my ($file, $content) = @_;
    open my $fh, '>', "$file.tmp" or die "$file: $!";
    print $fh $content;
    close $fh;
    rename "$file.tmp", $file or die "$file: $!";
}

# The initial contents; t/reload.t edits the rt-* files and restores them.
sub initial_files {
    my $c = shift;
    # every certificate named below, or the files would name nobody
    for my $name (qw(alice bob svc direct alice-twin)) {
        die "initial_files: no facts for the certificate $name\n"
            unless $c->{$name} && $c->{$name}{sha256};
    }
    return (
        'users.map' => <<"EOF2",
# static map: strong keys and one weak (subject) key
sha256:$c->{alice}{sha256} alice admins mapped
spki:$c->{svc}{spki}   svc-by-spki
"issuer-serial:$c->{direct}{serial}/CN=MTLS Test Root CA,O=Lab" direct-by-is
"subject:CN=bob,OU=staff,O=Lab" bob-by-subject staff

EOF2
        'groups.txt' => "# AuthGroupFile format\nops: bob carol\nauditors: alice dave\n",
        'deny.txt'   => "# denied certificates\nsha256:$c->{bob}{sha256}\n",
        # t/48-encodings.t: alice's signature twin must get alice's entry,
        # not one of the others that also name it; listing the twin's hash
        # denies the original
        'twin.map' => <<"EOF2",
"subject:CN=alice,OU=admins,O=Lab" alice-by-subject
spki:$c->{alice}{spki} alice-by-spki
sha256:$c->{alice}{sha256} alice admins
EOF2
        'twin-deny.txt' => "sha256:$c->{'alice-twin'}{sha256}\n",
        'rt-users.map'  => "sha256:$c->{alice}{sha256} alice-v1\n",
        'rt-groups.txt' => "editors: bob\n",
        'rt-deny.txt'   => "# nothing denied yet\n",
        # MTLSHeaderSignature (t/70-headers.t); a key must not be world-readable
        'hdr.key' => "t-signing-key-0123456789abcdef0123456789\n",
        'big.map'       => "sha256:$c->{alice}{sha256} alice-small\n",   # t/66-reload-lock.t
    );
}

sub write_files {
    my ($run, $c) = @_;
    my %f = initial_files($c);
    spew("$run/$_", $f{$_}) for keys %f;
    chmod 0600, glob("$run/*.key");
}

1;
