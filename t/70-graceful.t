# A graceful restart (apachectl -k graceful: SIGUSR1 to the parent) while
# clients keep requesting on kept-alive connections: no request gets a
# wrong answer, and afterwards the map file, the deny list, identities and
# file reloads are right in the new generation of children.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use MTLSTest::Setup ();
use POSIX ();
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);

plan tests => 12;

my $run = Apache::Test::vars('t_dir') . '/runtime';
my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
sub slurp { open my $f, '<', $_[0] or return ''; local $/; my $s = <$f>; $s =~ s/\s+$// if defined $s; $s }
my $ppid = slurp($pidfile);
my %c = map { $_ => cert($_) } qw(alice bob svc direct alice-twin);   # all initial_files names
my $dir = tempdir(CLEANUP => 1);

# What each client asks, and the only answer that is right.
# (The /g/ locations answer with a static file and show the identity in
# response headers: a CGI in flight would get mod_cgid's own 503 while its
# daemon restarts, which says nothing about this module.)
sub user_is { my ($res, $u) = @_; $res->code == 200 && ($res->header('X-MTLS-User') // '') eq $u }
my @clients = (
    [alice => '/g/map',    sub { user_is($_[0], 'alice') && ($_[0]->header('X-MTLS-Source') // '') eq 'map' }],
    [svc   => '/g/map',    sub { user_is($_[0], 'svc-by-spki') }],
    [bob   => '/g/deny',   sub { $_[0]->code == 403 && ($_[0]->header('X-MTLS-Deny') // '') eq 'denylisted' }],
    [alice => '/g/fields', sub { user_is($_[0], 'alice') }],
);

# Each client requests until told to stop; it says when it has answers
# from before the restart, and again once it has some from after it.
my @kids;
for my $i (0 .. $#clients) {
    my ($who, $path, $right) = @{ $clients[$i] };
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $ua = fresh_ua($who);
        my ($n, $after, $bad, $retried) = (0, 0, 0, 0);
        my @why;
        my $end = time + 120;
        while (!-e "$dir/stop" && time < $end) {
            my $restarted = -e "$dir/restarted";
            my $res = GET_as($who, uniq($path), ua => $ua, json => 1);
            # A kept-alive connection the old child closed while idle: the
            # client retries an idempotent request (RFC 9110 9.2.2), as
            # browsers do.  Nothing was answered on it.
            if (($res->header('Client-Warning') // '') eq 'Internal response') {
                $retried++;
                $res = GET_as($who, uniq($path), ua => $ua, json => 1);
            }
            $n++;
            $after++ if $restarted;
            unless ($right->($res)) {
                $bad++;
                push @why, $res->code . ':' . ($res->header('X-MTLS-User') // $res->header('X-MTLS-Deny') // '-');
            }
            touch("$dir/before.$i") if $n == 3;
            touch("$dir/after.$i") if $after == 3;
        }
        open my $fh, '>', "$dir/$i" or POSIX::_exit(1);
        print $fh "$n $after $bad $retried @why[0 .. ($#why < 2 ? $#why : 2)]\n";
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
sub touch { my $f; open($f, ">", $_[0]) and close $f }
sub all_there {
    my ($what, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        return 1 unless grep { !-e "$dir/$what.$_" } 0 .. $#clients;
        sleep 0.1;
    }
    return 0;
}

ok(all_there('before', 60), 'every client has answers before the restart');
my $mark = log_mark();
ok(kill('USR1', $ppid), "graceful restart signalled to $ppid");
ok(scalar(log_wait($mark, qr/resuming normal operations/, 30)), 'the server says it resumed');
touch("$dir/restarted");
ok(all_there('after', 60), 'every client has answers after the restart');
touch("$dir/stop");
waitpid $_, 0 for @kids;

my ($total, $bad, $retried, @why) = (0, 0, 0);
for my $i (0 .. $#clients) {
    my ($n, $a, $b, $r, @w) = split ' ', slurp("$dir/$i") || '0 0 1 0 no-result';
    $total += $n; $bad += $b; $retried += $r; push @why, @w;
    diag("client $i ($clients[$i][0] $clients[$i][1]): $n requests ($a after the restart), $b wrong, $r retried");
}
is($bad, 0, "no request of $total got a wrong answer") or diag("@why");

# ---- the new generation is right -------------------------------------------
my $res = GET_as(alice => uniq('/p/map'), ua => fresh_ua('alice'));
is(env_of($res)->{MTLS_USER} // '', 'alice', 'after: the map file maps alice');
is(env_of($res)->{MTLS_SOURCE} // '', 'map', 'after: from the map');
$res = GET_as(bob => uniq('/p/deny'), ua => fresh_ua('bob'), json => 1);
is($res->code, 403, 'after: bob still deny-listed');
is(json_of($res)->{reason} // '', 'denylisted', 'after: reason denylisted');
is(env_of(GET_as(svc => uniq('/p/map'), ua => fresh_ua('svc')))->{MTLS_USER} // '', 'svc-by-spki',
   'after: svc mapped by spki');

# files are still watched by the new children
MTLSTest::Setup::spew("$run/rt-users.map", "sha256:$c{alice}{sha256} alice-graceful\n");
my $t = time + 3; utime $t, $t, "$run/rt-users.map";
my ($ok, $end) = (0, time + 10);
while (time < $end) {
    my $u = env_of(GET_as(alice => uniq('/rt/map'), ua => fresh_ua('alice')))->{MTLS_USER} // '';
    if ($u eq 'alice-graceful') { last if ++$ok >= 8 } else { $ok = 0; sleep 0.2 }
}
is($ok, 8, 'after: an edited map file is reloaded by the new children');
is(slurp($pidfile), $ppid, 'a graceful restart: same parent');

my %init = MTLSTest::Setup::initial_files(\%c);
MTLSTest::Setup::spew("$run/rt-users.map", $init{'rt-users.map'});
$t = time + 4; utime $t, $t, "$run/rt-users.map";
