package MTLSTest::Apxs;
# Loaded before Apache::Test reads its configuration (by t/TEST and
# MTLSTest.pm): every process that does (the harness, each test file)
# parses the inherited httpd.conf again and asks `apxs -q PREFIX` for each
# of its LoadModule lines.  Debian's apxs answers nothing, which
# Apache::TestConfig does not remember, so that was ~30 apxs (perl)
# processes and ~3 s of CPU each time, most of the suite's CPU.  This
# remembers the empty answers too, for the process.
use strict;
use warnings;
use Apache::TestConfig ();

{
    no warnings 'redefine';
    my $apxs = \&Apache::TestConfig::apxs;
    my %none;
    *Apache::TestConfig::apxs = sub {
        my ($self, $q, $ok_fail) = @_;
        return '' if $ok_fail && $none{$q};
        my $v = $apxs->(@_);
        $none{$q} = 1 if $ok_fail && !$v;
        return $v;
    };
}

1;
