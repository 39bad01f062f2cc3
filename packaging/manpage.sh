#!/bin/sh
# manpage.sh BIN VERSION: writes lvsconsole(1) to stdout from the binary's
# own usage text (lvsconsole -h, and serve -h for the service's flags), so
# that the page says what the binary does.
set -eu
bin=$1 version=$2
# roff: backslashes doubled, a leading dot or quote escaped.
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
usage=$("$bin" -h 2>&1 || true)
serve=$("$bin" serve -h 2>&1 || true)
cat <<HEAD
.TH LVSCONSOLE 1 "" "lvsconsole $version" "User Commands"
.SH NAME
lvsconsole \- console, IPVS engine, health checks and failover for Linux Virtual Server
.SH SYNOPSIS
.B lvsconsole
.I command
.RI [ flags ]
.SH DESCRIPTION
lvsconsole is a web console for Linux Virtual Server load balancers, in the
manner of piranha: it keeps the configuration in an SQLite database with its
revisions, programs the kernel's IPVS table, checks the real servers and
fails over between two directors.
.PP
The Debian package runs
.B lvsconsole serve
as the service lvsconsole.service, as the user lvsconsole, with the flags of
.IR /etc/default/lvsconsole .
Other commands may be run on its database as root, for example
.BR "lvsconsole status \-db /var/lib/lvsconsole/lvsconsole.db" :
run by root on a database whose directory another user owns, a command
becomes that user before opening it.
.SH COMMANDS
.nf
HEAD
printf '%s\n' "$usage" | esc
cat <<MID
.fi
.SH SERVE
.nf
MID
printf '%s\n' "$serve" | esc
cat <<'TAIL'
.fi
.SH FILES
.TP
.I /var/lib/lvsconsole/lvsconsole.db
the database of the service
.TP
.I /etc/default/lvsconsole
the flags of the service (LVSCONSOLE_OPTS)
.SH SEE ALSO
.BR ipvsadm (8),
.BR systemctl (1),
.BR journalctl (1)
TAIL
