# Reloads never block requests: the watcher parses a changed file without
# holding the lock that requests take, so a request served by a process
# while that process is parsing a large map file is answered (from the
# old contents) before the parse ends.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use MTLSTest::Setup ();
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

plan tests => 4;

my $run = Apache::Test::vars('t_dir') . '/runtime';
my %c = map { $_ => cert($_) } qw(alice);
my $V = 'mtls_core';
my $file = "$run/big.map";

sub put {
    my ($content, $bump) = @_;
    MTLSTest::Setup::spew($file, $content);
    my $t = time + $bump;
    utime $t, $t, $file;
}
my %mon = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5, Jul => 6,
           Aug => 7, Sep => 8, Oct => 9, Nov => 10, Dec => 11);
# "[Tue Dec 01 21:14:36.526282 2026] ... [pid 9616:tid 9690] ..." -> (time, pid)
sub stamp {
    my $l = shift;
    $l =~ /^\[\w+ (\w+) (\d+) (\d+):(\d+):(\d+)(\.\d+) (\d+)\].*?\[pid (\d+)/ or return;
    return (timegm($5, $4, $3, $2, $mon{$1}, $7) + $6, $8);
}
sub user_of { $_[0]->header('X-MTLS-User') // '' }

is(user_of(GET_as(alice => uniq('/big'), vhost => $V)), 'alice-small', 'the small map first');

# 150,000 lines: long enough to parse that requests arrive meanwhile.
my $big = "sha256:$c{alice}{sha256} alice-big\n"
        . join('', map { sprintf "sha256:%064x user%d\n", $_, $_ } 1 .. 150_000);
my $mark = log_mark();
put($big, 2);
my $ua = fresh_ua('alice');
my ($inside, $served, $end, @why) = (0, 0, time + 40);
while (time < $end && !$inside) {
    my $res = GET_as(alice => uniq('/big'), vhost => $V, ua => $ua);
    $served++ if $res->code == 200;
    # each process: when it started parsing and when it swapped
    my (%start, %done);
    for (log_wait($mark, qr/MTLS1101: .*big\.map|MTLS0203: .*big\.map/, 0)) {
        my ($t, $pid) = stamp($_) or next;
        if (/MTLS1101/) { $start{$pid} //= $t } else { $done{$pid} //= $t }
    }
    # a request answered by a process between its two lines
    for (log_wait($mark, qr/MTLS101[01]: .* for \/big\//, 0)) {
        my ($t, $pid) = stamp($_) or next;
        next unless defined $start{$pid} && defined $done{$pid};
        if ($t > $start{$pid} && $t < $done{$pid}) { $inside = 1; last }
    }
    last if $inside;
    sleep 0.02;
}
ok($inside, 'a request was answered while its process was parsing the new file');
ok($served > 0, "requests kept being answered ($served)");

# the new contents are in force once parsed
my $ok = 0;
$end = time + 20;
while (time < $end) {
    if (user_of(GET_as(alice => uniq('/big'), vhost => $V, ua => fresh_ua('alice'))) eq 'alice-big') {
        last if ++$ok >= 4;
    }
    else { $ok = 0; sleep 0.2 }
}
is($ok, 4, 'then the large file is in force');

put("sha256:$c{alice}{sha256} alice-small\n", 4);
