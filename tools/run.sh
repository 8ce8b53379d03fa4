#!/bin/sh
# `make run`: the whole suite in the foreground on loopback ports, with an
# embedded PostgreSQL, a demo domain and user.  Ctrl-C stops all of it.
build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
base=${WHARF_DEMO_DIR:-$top/run}
# The cluster runs as the unprivileged user "wharf" when we are root: it
# must be able to reach the directory.  Fall back to /var/tmp if not.
if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$top"; then
	base=/var/tmp/wharf-demo
fi
mkdir -p "$base" && chmod 0755 "$base"
conf=$base/main.conf
if [ ! -f "$conf" ]; then
	cat >"$conf" <<CONF
# make run: a demo instance on loopback ports.  See main.conf(5).
myhostname = localhost
state_dir = $base/state
run_dir = $base/run
smtp_listen = 127.0.0.1:2525
submission_listen = 127.0.0.1:5870
submissions_listen = 127.0.0.1:4650
imap_listen = 127.0.0.1:1430
imaps_listen = 127.0.0.1:9930
admin_listen = 127.0.0.1:8080
CONF
fi
wharf="$build/wharf -c $conf"
"$build/master" -f -c "$conf" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' INT TERM
i=0
until $wharf status >/dev/null 2>&1; do
	kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
	i=$((i + 1)); [ $i -gt 600 ] && { echo "run: master did not come up" >&2; kill $pid; exit 1; }
	sleep 0.2
done
# Wait until the database is set up (master logs "ready:").
until $wharf domain list >/dev/null 2>&1; do
	kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
	sleep 0.3
done
$wharf domain list | grep -qx 'demo.test' || $wharf domain add demo.test
$wharf user list demo.test | grep -q '^demo@demo.test' ||
	echo 'demo' | $wharf user add demo@demo.test
cat <<INFO

  Wharf is running (master pid $pid), config $conf
    status:      $wharf status
    users:       $wharf user list
    demo user:   demo@demo.test  password: demo
    database:    psql -h $base/run/pgsql -U wharf wharf
    receive:     swaks --to demo@demo.test --server 127.0.0.1 --port 2525
    submit:      swaks --to demo@demo.test --from demo@demo.test \\
                   --server 127.0.0.1 --port 5870 --tls \\
                   --auth PLAIN --auth-user demo@demo.test --auth-password demo
    the queue:   $wharf queue list
    logins:      $wharf user log demo@demo.test
  SMTP listens on 127.0.0.1:2525, submission on 5870 (STARTTLS) and 4650
  (implicit TLS), with a self-signed certificate; a mail client takes
  127.0.0.1:5870, STARTTLS, normal password, user demo@demo.test.
  IMAP listens on 127.0.0.1:1430 (STARTTLS) and 9930 (TLS), same user:
    openssl s_client -quiet -connect 127.0.0.1:9930
    then: a LOGIN demo@demo.test demo / b SELECT INBOX / c LOGOUT
  The admin panel (8080) comes with its daemon.
  Press Ctrl-C to stop everything.

INFO
while kill -0 $pid 2>/dev/null; do
	wait $pid
done
