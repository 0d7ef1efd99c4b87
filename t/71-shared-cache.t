# Two httpd instances sharing one cache (SPEC §5): a certificate looked up
# through the first is answered by the second without a directory search,
# with a real memcached and a real redis-server (t/services/).  This file
# starts the servers itself, each with its own generated configuration and
# one child process, so what a process keeps in its own memory (the front
# of a remote cache) can be seen: a warm answer costs no cache read, and
# still expires with MTLSCacheTTL / MTLSCacheNegativeTTL.
use strict;
use warnings FATAL => 'all';
use FindBin; use lib "$FindBin::Bin/lib";
use Apache::Test qw(-withtestmore);
use MTLSTest qw(:DEFAULT read_from);
use File::Path qw(make_path);
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);

plan tests => 38;

my $vars = Apache::Test::vars();
my $httpd = $vars->{httpd};
my $inherit = $vars->{httpd_conf};
my $dir = "$vars->{t_dir}/build/shared-cache";
my $log = $ENV{MTLS_T_LDAP_LOG};
make_path($dir);

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1) or die;
    return $s->sockport;
}

# Start an httpd named NAME with MTLSCache CACHE (and the directives
# EXTRA in its location); returns its port.
sub start_httpd {
    my ($name, $cache, $extra) = @_;
    $extra //= '';
    my $port = free_port();
    my $d = "$dir/$name";
    make_path($d);
    my $so = $ENV{MTLS_MODULE_SO} || "$vars->{t_dir}/../.libs/mod_mtls_authz.so";
    open my $f, '>', "$d/httpd.conf" or die;
    print $f <<"EOF";
Include "$inherit"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$d/httpd.pid"
ErrorLog "$d/error_log"
LogLevel warn mtls_authz:debug
DefaultRuntimeDir "$d"
Mutex file:$d default
<IfModule cgid_module>
    ScriptSock "$d/cgisock"
</IfModule>
LoadModule mtls_authz_module "$so"
MTLSCache "$cache"
# one child process: the requests of a test meet the same process memory
<IfModule mpm_prefork_module>
    StartServers 1
    MinSpareServers 1
    MaxSpareServers 1
    ServerLimit 1
    MaxRequestWorkers 1
</IfModule>
<IfModule !mpm_prefork_module>
    StartServers 1
    ServerLimit 1
    ThreadsPerChild 8
    MaxRequestWorkers 8
    MinSpareThreads 1
    MaxSpareThreads 8
</IfModule>
<VirtualHost 127.0.0.1:$port>
    SSLEngine on
    SSLCertificateFile    "$ENV{MTLS_T_PKI}/server.crt"
    SSLCertificateKeyFile "$ENV{MTLS_T_PKI}/server.key"
    SSLCACertificateFile  "$ENV{MTLS_T_PKI}/ca-bundle.crt"
    SSLVerifyClient require
    SSLVerifyDepth 3
    <Location />
        MTLSLDAPURL "ldap://127.0.0.1:$ENV{MTLS_T_LDAP_PORT}/ou=people,dc=lab,dc=example?uid?sub?(objectClass=inetOrgPerson)"
        MTLSLDAPUserFilter "(mail={san:email})"
        MTLSLDAPGroupBase "ou=groups,dc=lab,dc=example"
        MTLSLDAPGroupFilter "(&(objectClass=groupOfNames)(member={dn}))"
        Require mtls-group ldap-admins
        Header always set X-MTLS-User "expr=%{MTLS_USER}"
        $extra
    </Location>
    Alias / "$d/"
</VirtualHost>
EOF
    close $f;
    open my $i, '>', "$d/index.html" or die; print $i "ok\n"; close $i;
    system($httpd, '-f', "$d/httpd.conf", '-k', 'start') == 0 or return;
    my $end = time + 20;
    while (time < $end) {
        return $port if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1);
        sleep 0.1;
    }
    return;
}
sub stop_httpd {
    my $name = shift;
    system($httpd, '-f', "$dir/$name/httpd.conf", '-k', 'stop');
    my $end = time + 10;
    while (-e "$dir/$name/httpd.pid" && time < $end) { sleep 0.1 }
}

sub get {
    my ($port, $who) = @_;
    my $ua = fresh_ua($who);
    return $ua->get("https://127.0.0.1:$port/");
}
sub flush_cache {
    my $kind = shift;
    my $port = $kind eq 'redis' ? $ENV{MTLS_T_REDIS_PORT} : $ENV{MTLS_T_MEMCACHED_PORT};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
        or die "$kind on $port: $!";
    print $s ($kind eq 'redis' ? "FLUSHALL\r\n" : "flush_all\r\n");
    my $answer = <$s>;
    die "$kind: flush refused: " . ($answer // 'no answer') unless ($answer // '') =~ /^(\+OK|OK)/;
    close $s;
}

# How many reads the cache server has answered so far (hits and misses).
sub cache_reads {
    my $kind = shift;
    my $port = $kind eq 'redis' ? $ENV{MTLS_T_REDIS_PORT} : $ENV{MTLS_T_MEMCACHED_PORT};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
        or die "$kind on $port: $!";
    my $text = '';
    if ($kind eq 'redis') {
        print $s "INFO stats\r\n";
        my $head = <$s> // '';
        my ($n) = $head =~ /^\$(\d+)/ or die "redis: INFO answered '$head'";
        read($s, $text, $n + 2);
        my ($h) = $text =~ /^keyspace_hits:(\d+)/m;
        my ($m) = $text =~ /^keyspace_misses:(\d+)/m;
        return $h + $m;
    }
    print $s "stats\r\n";
    while (my $l = <$s>) { last if $l =~ /^END/; $text .= $l }
    my ($g) = $text =~ /^STAT cmd_get (\d+)/m or die "memcached: no cmd_get in stats";
    return $g;
}

# user searches for WHO's address since MARK (this file's own filter)
sub searches {
    my ($mark, $mail) = @_;
    sleep 0.3;
    return scalar grep { /SRCH base=.*\(&\(mail=\Q$mail\E\)\(objectClass=inetOrgPerson\)\)/i }
        split /\n/, read_from($log, $mark);
}

for my $c (['memcache', "memcache:127.0.0.1:$ENV{MTLS_T_MEMCACHED_PORT}", 'ldmail', 'mailuser@lab.example'],
           ['redis', "redis:127.0.0.1:$ENV{MTLS_T_REDIS_PORT}", 'ldposix', 'posix@lab.example']) {
    my ($kind, $cache, $who, $mail) = @$c;
    # the cache servers live for the whole run (every MPM): start empty, so
    # an answer the previous MPM's run stored does not stand in for the search
    flush_cache($kind);
    my $pa = start_httpd("$kind-a", $cache);
    my $pb = start_httpd("$kind-b", $cache);
    ok($pa && $pb, "$kind: two httpd instances started");
    my $mark = -s $log;
    my $ra = $pa ? get($pa, $who) : undef;
    my $expect = $who eq 'ldmail' ? 200 : 403;   # posix is not in ldap-admins
    is($ra ? $ra->code : 0, $expect, "$kind: the first server answers from the directory");
    is(searches($mark, $mail), 1, "$kind: ... after one user search");
    $mark = -s $log;
    my $rb = $pb ? get($pb, $who) : undef;
    is($rb ? $rb->code : 0, $expect, "$kind: the second server gives the same answer");
    is(searches($mark, $mail), 0, "$kind: ... without asking the directory");
    # each process keeps what it read: a new connection to either server
    # asks neither the directory nor the cache server
    for my $port ($pa, $pb) {
        my $reads = cache_reads($kind);
        $mark = -s $log;
        my $r = $port ? get($port, $who) : undef;
        is($r ? $r->code : 0, $expect, "$kind: again, on a new connection");
        is(cache_reads($kind) - $reads, 0, "$kind: ... answered from the process's memory");
        is(searches($mark, $mail), 0, "$kind: ... without asking the directory");
    }
    stop_httpd("$kind-a");
    stop_httpd("$kind-b");

    # ... but never longer than the answer's TTL: found (MTLSCacheTTL) and
    # not found (MTLSCacheNegativeTTL) are asked again once it has passed
    flush_cache($kind);
    my $pt = start_httpd("$kind-ttl", $cache,
                         "MTLSCacheTTL 3\n        MTLSCacheNegativeTTL 2");
    for my $case ([$who, $mail, $expect, 3], ['ldnone', 'nobody@lab.example', 403, 2]) {
        my ($cert, $addr, $code, $ttl) = @$case;
        $mark = -s $log;
        my $t0 = time;
        my $r = $pt ? get($pt, $cert) : undef;
        is($r ? $r->code : 0, $code, "$kind: $cert, TTL ${ttl}s: first request");
        $mark = -s $log;
        $r = $pt ? get($pt, $cert) : undef;
        ok($r && $r->code == $code && searches($mark, $addr) == 0,
           "$kind: $cert: within the TTL, no directory search");
        sleep($t0 + $ttl + 0.5 - time) if time < $t0 + $ttl + 0.5;
        $mark = -s $log;
        $r = $pt ? get($pt, $cert) : undef;
        is($r ? $r->code : 0, $code, "$kind: $cert: after the TTL, the same answer");
        is(searches($mark, $addr), 1, "$kind: $cert: ... from the directory again");
    }
    stop_httpd("$kind-ttl");
}
