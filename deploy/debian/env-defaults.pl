#!/usr/bin/perl
# Writes a daemon's /etc/default file from its --help text (standard input):
# every flag as a commented CHANNEL_<FLAG>=<default> line under its help
# text, so the file lists exactly the flags the binary has, with their
# defaults. Settings given as arguments (FLAG=VALUE) are written active,
# after a line saying why the package sets them.
#
#   channel-broker --help | env-defaults.pl channel-broker listen=127.0.0.1 ...
use strict;
use warnings;

my ($program, @active) = @ARGV;
die "usage: env-defaults.pl PROGRAM [FLAG=VALUE ...] < help-text\n" unless $program;
my %active;
for (@active) {
  my ($flag, $value) = /^([a-z0-9_]+)=(.*)$/ or die "env-defaults: not FLAG=VALUE: $_\n";
  $active{$flag} = $value;
}

local $/;
my $help = <STDIN>;
# Abseil's --help: "--name (text); default: value;" wrapped over lines.
my @flags;
while ($help =~ /--([a-z0-9_]+) \((.*?)\);\s+default: ("?)(.*?)\3;/gs) {
  my ($name, $text, $default) = ($1, $2, $4);
  $text =~ s/\s+/ /g;
  push @flags, [$name, $text, $default];
}
die "env-defaults: no flags in the --help text of $program\n" if @flags < 5;
for my $flag (keys %active) {
  die "env-defaults: $program has no flag --$flag\n" unless grep { $_->[0] eq $flag } @flags;
}

# systemd's EnvironmentFile= takes VAR=VALUE; a value with blanks or quotes
# is written in double quotes (backslash-escaped inside).
sub quoted {
  my ($v) = @_;
  return $v if $v =~ /^[A-Za-z0-9_.,:\/*+=\@%-]*$/;
  $v =~ s/(["\\])/\\$1/g;
  return "\"$v\"";
}

# Wraps a comment at 76 columns.
sub comment {
  my ($text) = @_;
  my ($out, $line) = ('', '#');
  for my $word (split / /, $text) {
    if (length($line) + 1 + length($word) > 76 && $line ne '#') {
      $out .= "$line\n";
      $line = '#';
    }
    $line .= " $word";
  }
  return "$out$line\n";
}

print "# Settings of $program (its systemd unit reads this file).\n";
print "#\n";
print comment("Each CHANNEL_<FLAG>=value line sets the flag --<flag>: "
  . "'$program --help' explains them, and 'man $program' too. The commented "
  . "lines are every flag at its default; uncomment a line to change it, then "
  . "'systemctl restart $program'. This file is a conffile: upgrades keep "
  . "your edits. It is readable by root only, since secrets such as "
  . "CHANNEL_AUTH_TOKEN belong here rather than on the command line.");
if (%active) {
  print "\n# Set by the package: listen on loopback until you choose otherwise.\n";
  for my $flag (sort keys %active) {
    print "CHANNEL_\U$flag\E=" . quoted($active{$flag}) . "\n";
  }
}
for my $f (@flags) {
  my ($name, $text, $default) = @$f;
  next if exists $active{$name};
  print "\n" . comment("--$name: $text");
  print "#CHANNEL_\U$name\E=" . quoted($default) . "\n";
}
