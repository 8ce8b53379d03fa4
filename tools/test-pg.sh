#!/bin/sh
# A throwaway PostgreSQL cluster for tests, on a UNIX socket only.
#
#   tools/test-pg.sh start      create and start one; print its DIR
#   tools/test-pg.sh stop DIR   stop it and remove DIR
#
# DIR (mktemp -d under /tmp, mode 0755) is also the socket directory:
# connect with host=DIR user=wharf dbname=wharf (trust authentication).
# As root, the cluster runs as "nobody" (postgres refuses to run as root).
set -u

die() {
	echo "test-pg: $*" >&2
	exit 1
}

pgbin() {
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$bin" ] && [ -x "$bin/initdb" ] ||
		die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
	echo "$bin"
}

# Run a command as the cluster's owner.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

start() {
	bin=$(pgbin) || exit 1
	dir=$(mktemp -d /tmp/wharf-pg.XXXXXX) || die "mktemp failed"
	chmod 0755 "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown nobody "$dir" || die "chown $dir failed"
	fi
	# postgres and initdb chdir nowhere: start them somewhere they can read.
	cd "$dir" || die "cd $dir failed"
	if ! as_owner "$bin/initdb" -D "$dir/data" --no-locale -E UTF8 \
	    -A trust -U wharf >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		rm -rf "$dir"
		die "initdb failed"
	fi
	cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" \
	    -w -t 60 start >/dev/null 2>&1; then
		cat "$dir/postgres.log" >&2
		rm -rf "$dir"
		die "postgres did not start"
	fi
	if ! as_owner "$bin/psql" -X -q -h "$dir" -U wharf -d postgres \
	    -c 'CREATE DATABASE wharf' >/dev/null; then
		stop "$dir"
		die "CREATE DATABASE wharf failed"
	fi
	echo "$dir"
}

stop() {
	dir=$1
	case "$dir" in
	/tmp/wharf-pg.*) ;;
	*) die "refusing to remove $dir (not made by test-pg.sh start)" ;;
	esac
	[ -d "$dir" ] || die "$dir: no such directory"
	bin=$(pgbin) || exit 1
	cd "$dir" || die "cd $dir failed"
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop \
		    >/dev/null 2>&1 || echo "test-pg: pg_ctl stop failed" >&2
	fi
	cd / && rm -rf "$dir"
}

case "${1:-}" in
start)	start ;;
stop)	[ $# = 2 ] || die "usage: test-pg.sh stop DIR"; stop "$2" ;;
*)	die "usage: test-pg.sh start | stop DIR" ;;
esac
