# The core's shape, seen from outside: one parse and one resolution per
# connection (many HTTP/2 streams, many keep-alive requests), report mode
# never locking anyone out under negation, an outvoted denial not taken
# for another module's 403, and our MTLS_* variables replacing ones that
# another module set first.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use Apache::TestConfig ();
use MTLSTest;

my $mpm = Apache::Test::config()->httpd_mpm || '';
my $h2 = $mpm ne 'prefork';   # mod_http2 stays inactive under prefork
my $N = 24;
my $V = 'mtls_core';

my @shapes = qw(not none nested any positive);
plan tests => 5 + 2 + 5 + 5 * 3 + 5 * 5 + 7 + 4 + 3 + 3;

sub lines_for { my ($mark, $re) = @_; scalar log_wait($mark, $re, 0.5) }

# ---- HTTP/1.1 keep-alive: parsed once, resolved once, remembered after ------
{
    my $ua = fresh_ua('alice');
    my $base = uniq('/once/ka');
    my $mark = log_mark();
    my $ok = 0;
    for my $i (1 .. $N) {
        my $res = GET_as(alice => "$base/$i", ua => $ua, vhost => $V);
        $ok++ if $res->code == 200 && ($res->header('X-MTLS-User') // '') eq 'alice';
    }
    is($ok, $N, "keep-alive: $N requests granted to alice");
    # the last request's lines are written before its response ends
    log_wait($mark, qr/MTLS1005: .* for \Q$base\E\/$N\b/);
    is(lines_for($mark, qr/MTLS1001: .*at \Q$base\E\//), 1, 'keep-alive: certificate parsed once');
    is(lines_for($mark, qr/MTLS1002: identity resolved for \Q$base\E\//), 1, 'keep-alive: identity resolved once');
    is(lines_for($mark, qr/MTLS1005: identity for \Q$base\E\/\d+ from the connection's memo/), $N - 1,
       'keep-alive: every later request from the memo');
    is(lines_for($mark, qr/MTLS1010: identity for \Q$base\E\/\d+: user alice from map \(strong\)/), $N,
       'keep-alive: one DEBUG line per request naming the source');
}

# ---- new connections: one parse per certificate and process -----------------
# A client that connects anew for each request (or a browser's parallel
# connections) reuses the facts its process read from that certificate
# before: per process, at most one MTLS1001 line without "known to this
# process".  With more connections than processes, a module that parsed
# per connection gives some process two.
{
    my $C = 30;
    my $base = uniq('/once/new');
    my $mark = log_mark();
    my $ok = 0;
    for my $i (1 .. $C) {
        my $res = GET_as(alice => "$base/$i", ua => fresh_ua('alice'), vhost => $V);
        $ok++ if $res->code == 200 && ($res->header('X-MTLS-User') // '') eq 'alice';
    }
    is($ok, $C, "new connections: $C requests granted to alice");
    log_wait($mark, qr/MTLS1001: .*at \Q$base\E\/$C\b/);
    my %parsed;
    for (log_wait($mark, qr/MTLS1001: .*at \Q$base\E\//, 0.5)) {
        my ($pid) = /\[pid (\d+)/ or next;
        $parsed{$pid}++ unless /known to this process/;
    }
    my @twice = grep { $parsed{$_} > 1 } sort keys %parsed;
    is("@twice", '', 'new connections: no process parsed the same certificate twice')
        or diag(join ', ', map { "pid $_: $parsed{$_}" } sort keys %parsed);
}

# ---- HTTP/2: many concurrent streams on one connection -----------------------
SKIP: {
    skip "mod_http2 is inactive under $mpm", 5 unless $h2;
    my $path = uniq('/once/h2');
    my $mark = log_mark();
    my @cmd = ('nghttp', '-n', '-s', '-m', $N, '--cert=' . pki('alice.crt'),
               '--key=' . pki('alice.key'),
               sprintf('https://127.0.0.1:%d%s', MTLSTest::port('mtls_core'), $path));
    my $out = `@cmd 2>&1`;
    is($? >> 8, 0, "h2: nghttp -m $N ran") or diag($out);
    my @hits;
    my $end = time + 5;
    while (time < $end) {
        @hits = log_wait($mark, qr/MTLS1010: identity for \Q$path\E: user alice/, 0.2);
        last if @hits >= $N;
        sleep 1;
    }
    is(scalar @hits, $N, "h2: $N streams, each with alice's identity");
    is(lines_for($mark, qr/MTLS1001: .*at \Q$path\E\b/), 1, 'h2: certificate parsed once for all streams');
    is(lines_for($mark, qr/MTLS1002: identity resolved for \Q$path\E\b/), 1, 'h2: identity resolved once for all streams');
    is(lines_for($mark, qr/MTLS1005: identity for \Q$path\E from the connection's memo/), $N - 1,
       'h2: every other stream from the shared memo');
}

# ---- report mode under negation, and the same in enforce ---------------------
my %reason = (not => 'user-mismatch', none => 'user-mismatch', nested => 'group-mismatch',
              any => 'group-mismatch', positive => 'user-mismatch');
for my $shape (@shapes) {
    my $p = uniq("/neg/enforce/$shape");
    is(GET_as(alice => $p, vhost => $V)->code, 200, "enforce $shape: alice 200");
    $p = uniq("/neg/enforce/$shape");
    my $res = GET_as(bob => $p, json => 1, vhost => $V);
    is($res->code, 403, "enforce $shape: bob 403");
    is(json_of($res)->{reason} // '', $reason{$shape}, "enforce $shape: bob refused for $reason{$shape}");
}
for my $shape (@shapes) {
    my $mark = log_mark();
    my $pa = uniq("/neg/report/$shape");
    my $res = GET_as(alice => $pa, vhost => $V);
    is($res->code, 200, "report $shape: alice 200");
    my $pb = uniq("/neg/report/$shape");
    $res = GET_as(bob => $pb, vhost => $V);
    is($res->code, 200, "report $shape: bob 200 (report mode never locks anyone out)");
    is(env_of($res)->{MTLS_DENY_REASON} // '', $reason{$shape}, "report $shape: MTLS_DENY_REASON for bob");
    is(scalar(log_wait($mark, qr/would deny: reason=\Q$reason{$shape}\E .*uri=\Q$pb\E(\s|$)/)), 1,
       "report $shape: one 'would deny' line for bob");
    is(scalar(log_wait($mark, qr/\bdenied: .*uri=\Q$pb\E(\s|$)/, 0.2)), 0, "report $shape: no 'denied' line");
}

# ---- an outvoted denial, then another module's 403 ---------------------------
{
    my $mark = log_mark();
    my $p = uniq('/outvoted');
    my $res = GET_as(alice => $p, vhost => $V);
    is($res->code, 403, 'outvoted: mod_rewrite [F] refuses');
    is($res->header('X-MTLS-Deny') // '', '', 'outvoted: no MTLS_DENY_REASON');
    unlike($res->content, qr/user-mismatch/, 'outvoted: not our error body');
    my $a = access_wait($mark, $p);
    is($a->{reason} // '', '-', 'outvoted: the access log has no mtls reason');
    is(scalar(log_wait($mark, qr/\bdenied: .*uri=\Q$p\E(\s|$)/, 0.5)), 0, 'outvoted: no mtls denial logged');
    $p = uniq('/outvoted-ok');
    $res = GET_as(alice => $p, vhost => $V);
    is($res->code, 200, 'outvoted-ok: granted by the other branch');
    ok(!exists env_of($res)->{MTLS_DENY_REASON}, 'outvoted-ok: no MTLS_DENY_REASON for the CGI');
}

# ---- variables another module set first: ours replace them -------------------
{
    my $res = GET_as(alice => uniq('/vars/replace'), vhost => $V);
    is($res->code, 200, 'vars: granted');
    is($res->header('X-Env-User') // '', 'alice', 'vars: MTLS_USER is ours (SetEnvIf replaced, no duplicate)');
    is($res->header('X-Env-Groups') // '', 'admins', 'vars: MTLS_GROUPS is ours (RewriteRule [E=] replaced)');
    isnt($res->header('X-Env-Ldap') // '', 'spoofed', 'vars: a spoofed MTLS_LDAP_DN we have no value for is removed');
}
# mod_rewrite (fixups, first) reads them through ap_expr before they are set
{
    my $a = env_of(GET_as(alice => uniq('/vars/rewrite'), vhost => $V));
    is($a->{REWRITE_SAW} // '', 'admin', 'vars: RewriteCond expr sees MTLS_USER and MTLS_GROUPS');
    my $b = env_of(GET_as(bob => uniq('/vars/rewrite'), vhost => $V));
    is($b->{MTLS_USER} // '', 'bob', 'vars: bob is bob there');
    ok(!exists $b->{REWRITE_SAW}, 'vars: ... and RewriteCond expr does not match him');
}
# ... and keep the others: set before ours (SetEnvIf) and after (mod_ssl)
{
    my $e = env_of(GET_as(alice => uniq('/vars/others'), vhost => $V));
    is($e->{MTLS_USER} // '', 'alice', 'vars: ours with others\' set');
    is($e->{OTHER_MODULE_VAR} // '', 'kept', 'vars: a variable SetEnvIf set before ours is kept');
    is($e->{HTTPS} // '', 'on', "vars: mod_ssl's HTTPS, set after ours, is there");
}
