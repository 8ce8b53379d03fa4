#!/bin/sh
# Install the Debian packages named on the command line that are missing.
# As root: apt-get installs them.  As another user: print the line and fail.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "wharf: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || exit 1
# Peers installed for the tests (dovecot-core, postfix) must not start as
# system services: without a policy-rc.d of the machine's own, one that
# forbids starting any is in place for the install only.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d &&
		chmod 755 /usr/sbin/policy-rc.d && guard=1
fi
# Postfix is a test peer run from its own directory: its package must not
# ask for (or write) a system configuration.
case " $missing " in *" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" |
		debconf-set-selections ;;
esac
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
rc=$?
[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
exit $rc
