# Map, group and deny-list files edited while the server runs
# (MTLSReloadInterval 1): the change takes effect without a restart, and a
# change that does not parse keeps the old contents and logs file:line.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest;
use MTLSTest::Setup ();
use Time::HiRes qw(sleep time);

plan tests => 30;

my $run = Apache::Test::vars('t_dir') . '/runtime';
my %c = map { $_ => cert($_) } qw(alice bob svc direct alice-twin);   # all initial_files names
my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
my $pid0 = slurp($pidfile);

sub slurp { open my $f, '<', $_[0] or return ''; local $/; my $s = <$f>; $s =~ s/\s+$// if defined $s; $s }

my $bump = 0;
sub edit {
    my ($file, $content) = @_;
    MTLSTest::Setup::spew("$run/$file", $content);
    my $t = time + 2 + $bump++;       # a strictly newer mtime each edit
    utime $t, $t, "$run/$file";
}
# No request reloads anything: a watcher thread in each child process
# re-reads a changed file every MTLSReloadInterval (1 s here), so children
# switch at slightly different moments.  Every check runs over fresh
# connections (any child may answer): "eventually" = 8 answers in a row
# agree.
sub eventually {
    my $cond = shift;
    my ($end, $ok) = (time + 10, 0);
    while (time < $end) {
        if ($cond->()) { return 1 if ++$ok >= 8 } else { $ok = 0; sleep 0.2 }
    }
    return 0;
}
# Every one of N fresh-connection answers satisfies COND.
sub always { my ($cond, $n) = @_; for (1 .. ($n || 8)) { return 0 unless $cond->() } 1 }
# Waits until the error log shows RE, which a child's watcher thread logs
# when it re-reads the file; the requests meanwhile show that the server
# keeps answering and keep the children alive.
sub until_logged {
    my ($mark, $re, $who, $path) = @_;
    my $end = time + 10;
    while (time < $end) {
        GET_as($who, uniq($path), ua => fresh_ua($who));
        my @l = log_wait($mark, $re, 0.1);
        return @l if @l;
        sleep 0.2;
    }
    return ();
}
sub user_at { env_of(GET_as($_[0], uniq($_[1]), ua => fresh_ua($_[0])))->{MTLS_USER} // '' }
sub code_at { GET_as($_[0], uniq($_[1]), ua => fresh_ua($_[0]), json => 1) }
sub reason  { MTLSTest::json_of($_[0])->{reason} // '' }
sub is_code { my ($who, $path, $code) = @_; sub { code_at($who, $path)->code == $code } }

# ---- MTLSUserMapFile ----------------------------------------------------------
ok(always(sub { user_at(alice => '/rt/map') eq 'alice-v1' }), 'map: initial entry');
my $mark = log_mark();
edit('rt-users.map', "sha256:$c{alice}{sha256} alice-v3\nthis-is-not-a-key someone\n");
my @l = until_logged($mark, qr/rt-users\.map:2\b/, alice => '/rt/map');
ok(scalar @l, 'map: broken edit logged with file:line');
like($l[0] // '', qr/\[mtls_authz:error\]/, 'map: logged at error level');
ok(always(sub { user_at(alice => '/rt/map') eq 'alice-v1' }), 'map: broken edit keeps the old contents');

edit('rt-users.map', "# edited\nsha256:$c{alice}{sha256} alice-v2 g2\n");
ok(eventually(sub { user_at(alice => '/rt/map') eq 'alice-v2' }), 'map: a good edit takes effect');
is(env_of(GET_as(alice => uniq('/rt/map'), ua => fresh_ua('alice')))->{MTLS_GROUPS} // '', 'g2',
   'map: groups of the new line');
edit('rt-users.map', "# nobody\n");
ok(eventually(sub { user_at(alice => '/rt/map') eq '' }), 'map: removed entry, no user');

# ---- MTLSGroupFile ----------------------------------------------------------------
ok(always(is_code(bob => '/rt/group', 200)), 'groups: bob is an editor');
my $r = code_at(alice => '/rt/group');
is($r->code, 403, 'groups: alice is not');
is(reason($r), 'group-mismatch', 'groups: group-mismatch');
$mark = log_mark();
edit('rt-groups.txt', "editors alice bob\n");
@l = until_logged($mark, qr/rt-groups\.txt:1\b/, alice => '/rt/group');
ok(scalar @l, 'groups: broken edit logged with file:line');
ok(always(is_code(alice => '/rt/group', 403)), 'groups: broken edit does not add alice');
ok(always(is_code(bob => '/rt/group', 200)), 'groups: broken edit keeps bob');
# One kept-alive connection of bob's, whose identity is remembered with
# the connection from before the edit: the edit reaches it too.
my $ka = fresh_ua('bob');
my @ka = (uniq('/rt/group'));
my $ka_mark = log_mark();
is(GET_as(bob => $ka[0], ua => $ka)->code, 200, 'groups: bob on a kept-alive connection');
edit('rt-groups.txt', "editors: alice\n");
ok(eventually(is_code(alice => '/rt/group', 200)), 'groups: edit adds alice');
ok(eventually(is_code(bob => '/rt/group', 403)), 'groups: edit removes bob');
my $ka_code;
for (1 .. 25) {
    push @ka, uniq('/rt/group');
    last if ($ka_code = GET_as(bob => $ka[-1], ua => $ka)->code) == 403;
    sleep 0.2;
}
# (%k, requests before this one on the connection: 0 only for the first;
# -1: no access log line, which must not pass for the same connection)
my @k = map { my $a = access_wait($ka_mark, $_); $a ? $a->{keepalive} : -1 } @ka;
is_deeply([$ka_code, [grep { $_ <= 0 } @k[1 .. $#k]]], [403, []],
          '... and the kept-alive connection is refused after it, as the same connection');

# ---- MTLSDenyList ---------------------------------------------------------------------
ok(always(is_code(alice => '/rt/deny', 200)), 'deny list: alice allowed at first');
$mark = log_mark();
edit('rt-deny.txt', "sha256:$c{alice}{sha256}\nsha256:not-hex\n");
@l = until_logged($mark, qr/rt-deny\.txt:2\b/, alice => '/rt/deny');
ok(scalar @l, 'deny list: broken edit logged with file:line');
like($l[0] // '', qr/\[mtls_authz:error\]/, 'deny list: at error level');
ok(always(is_code(alice => '/rt/deny', 200)), 'deny list: broken edit keeps the old (empty) list');

edit('rt-deny.txt', "sha256:$c{alice}{sha256}\n");
ok(eventually(is_code(alice => '/rt/deny', 403)), 'deny list: sha256 entry added');
is(reason(code_at(alice => '/rt/deny')), 'denylisted', 'deny list: reason denylisted');
is(code_at(bob => '/rt/deny')->code, 200, 'deny list: bob unaffected');

edit('rt-deny.txt', qq{"issuer-serial:$c{bob}{serial}/CN=MTLS Test Client CA,O=Lab"\nspki:$c{svc}{spki}\n});
ok(eventually(is_code(bob => '/rt/deny', 403)), 'deny list: issuer-serial entry');
ok(eventually(is_code(svc => '/rt/deny', 403)), 'deny list: spki entry');
ok(eventually(is_code(alice => '/rt/deny', 200)), 'deny list: alice removed again');

edit('rt-deny.txt', "# nothing denied\n");
ok(eventually(is_code(bob => '/rt/deny', 200)), 'deny list: emptied');
ok(eventually(is_code(svc => '/rt/deny', 200)), 'deny list: svc allowed again');

is(slurp($pidfile), $pid0, 'all of it without a restart (same server pid)');

# leave the files as the next run expects them
my %init = MTLSTest::Setup::initial_files(\%c);
edit($_, $init{$_}) for grep { /^rt-/ } keys %init;
