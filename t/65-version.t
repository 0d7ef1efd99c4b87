# The module says which version it is once when the server starts (and
# again on each graceful restart), never for `httpd -t`: a minimal server
# of its own, so the count is not blurred by the suite's restarts.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest::Apxs ();   # before Apache::Test::config
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use POSIX ();

my $cfg   = Apache::Test::config();
my $httpd = $cfg->{vars}{httpd};
my $mods  = '/usr/lib/apache2/modules';
my $top   = "$cfg->{vars}{t_dir}/..";
my $so    = $ENV{MTLS_MODULE_SO} || "$top/.libs/mod_mtls_authz.so";
my $d     = tempdir(CLEANUP => 1);

plan tests => 6;

open my $vf, '<', "$top/VERSION" or die "VERSION: $!";
chomp(my $version = <$vf>);
close $vf;
like($version, qr/^\d+(\.\d+)+$/, "VERSION holds a version ($version)");

my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die $!;
my $port = $s->sockport; close $s;
open my $c, '>', "$d/httpd.conf" or die $!;
print $c join("\n",
    "ServerRoot $d", "DefaultRuntimeDir $d", "PidFile $d/httpd.pid",
    "ErrorLog $d/error_log", "LogLevel warn", "ServerName localhost",
    "Listen 127.0.0.1:$port",
    "LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so",
    "LoadModule authz_core_module $mods/mod_authz_core.so",
    "LoadModule authn_core_module $mods/mod_authn_core.so",
    "LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so",
    "LoadModule ssl_module $mods/mod_ssl.so",
    "LoadModule mtls_authz_module $so",
    "StartServers 1", "DocumentRoot $d", ''), "\n";
close $c;

my $line = qr/MTLS4200: mod_mtls_authz\/\Q$version\E configured$/m;
sub lines {
    open my $f, '<', "$d/error_log" or return 0;
    my $n = () = do { local $/; <$f> } =~ /$line/g;
    $n
}
sub wait_for { my ($what, $secs) = @_; my $end = time + $secs;
               until ($what->()) { return 0 if time > $end; select undef, undef, undef, 0.1 } 1 }

my $out = `$httpd -t -f $d/httpd.conf 2>&1`;
ok($? == 0 && $out !~ /MTLS4200/, 'httpd -t: no version line') or diag($out);

my $pid = fork // die "fork: $!";
if (!$pid) {
    POSIX::setsid();
    open STDOUT, '>', "$d/stdout"; open STDERR, '>&', \*STDOUT;
    exec $httpd, '-DFOREGROUND', '-f', "$d/httpd.conf"; exit 127;
}
ok(wait_for(sub { -s "$d/httpd.pid" && lines() >= 1 }, 10), 'started: the version line is logged');
select undef, undef, undef, 0.5;
is(lines(), 1, "start-up: exactly one 'MTLS4200: mod_mtls_authz/$version configured'");

kill 'USR1', $pid;   # graceful restart: the configuration is read again
ok(wait_for(sub { lines() >= 2 }, 10), 'graceful restart: logged again');
select undef, undef, undef, 0.5;
is(lines(), 2, 'graceful restart: one more line, not two');

kill 'TERM', $pid; waitpid($pid, 0);
