#!/bin/bash
# The steps of tests/deploy/package_test.sh that run inside the clean
# Debian 12 root (a container of the debootstrap image, host network):
#
#   package_inside.sh prepare            apt lists, systemd (for systemd-analyze)
#   package_inside.sh install DIR        apt-get install DIR/*.deb, then check
#                                        files, user, units, --version
#   package_inside.sh configure BP AP GP GAP   the operator's edit: ports
#   package_inside.sh start | stop       the daemons as their units say
#   package_inside.sh upgrade DIR        to DIR/*.deb keeping edited conffiles
#   package_inside.sh remove | purge     and what each must leave behind
#
# Fails (exit 1) with the reason on the first check that does not hold.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
state=/var/tmp/package-test
mkdir -p "$state"
fail() { echo "package test: $*" >&2; exit 1; }
daemons=(channel-broker ws-gateway)
packages=(channel-broker ws-gateway channel-cli)

check_installed() {
  local dir=$1 p v
  for p in "${packages[@]}"; do
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p")" == installed ]] || fail "$p is not installed"
    v=$(dpkg-query -W -f='${Version}' "$p")
    # --version reports the package's version.
    [[ "$("/usr/bin/$p" --version)" == "$p $v" ]] ||
      fail "$p --version says '$("/usr/bin/$p" --version)', the package is $v"
    [[ -s "/usr/share/man/man1/$p.1.gz" ]] || fail "$p has no man page"
    [[ -f "/usr/share/doc/$p/copyright" && -f "/usr/share/doc/$p/changelog.gz" ]] ||
      fail "$p lacks its copyright or changelog"
  done
  [[ -f /usr/lib/channel/libchannel-webhook-http.so ]] || fail "no webhook module in /usr/lib/channel"
  # What the daemons load only when a flag asks (libnats with --nats,
  # libssl with --tls_cert, libjwt with token keys) came with their Depends.
  local bin lib soname
  for bin in channel-broker:libnats ws-gateway:libssl ws-gateway:libjwt ws-gateway:libcrypto; do
    lib=${bin#*:}
    soname=$(grep -aoE "$lib\.so\.[0-9.]*[0-9]" "/usr/bin/${bin%%:*}" | head -n 1)
    [[ -n "$soname" ]] || fail "${bin%%:*} names no $lib soname"
    ldconfig -p | grep -qF "$soname" || fail "$soname (loaded by ${bin%%:*} when asked) is not installed"
  done
  [[ -f /usr/share/ws-gateway/channel-client.js ]] || fail "no browser client in /usr/share/ws-gateway"
  # The system user: no login, no home.
  local entry
  entry=$(getent passwd channel) || fail "no channel user"
  IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
  ((uid < 1000)) || fail "channel is not a system user (uid $uid)"
  [[ "$home" == /nonexistent && "$shell" == /usr/sbin/nologin ]] ||
    fail "channel user has home $home, shell $shell"
  for d in "${daemons[@]}"; do
    [[ "$(stat -c '%a %U' "/etc/default/$d")" == "600 root" ]] ||
      fail "/etc/default/$d is $(stat -c '%a %U' "/etc/default/$d"), not 600 root"
    grep -q "^/etc/default/$d$" "/var/lib/dpkg/info/$d.conffiles" ||
      fail "/etc/default/$d is not a conffile"
    # Every flag of the binary is in its settings file, commented, at its default.
    local flags
    flags=$("/usr/bin/$d" --help | grep -oE '^    --[a-z0-9_]+' | sed 's/^ *--//' || true)
    [[ -n "$flags" ]] || fail "$d --help lists no flags"
    for f in $flags; do
      grep -qE "^#?CHANNEL_${f^^}=" "/etc/default/$d" || fail "/etc/default/$d lacks CHANNEL_${f^^}"
    done
    # Enabled, not started.
    [[ -L "/etc/systemd/system/multi-user.target.wants/$d.service" ]] || fail "$d.service is not enabled"
    ! grep -qx "$d" /proc/[0-9]*/comm 2>/dev/null || fail "$d was started by the install"
    systemd-analyze verify --man=no "/lib/systemd/system/$d.service" ||
      fail "systemd-analyze verify $d.service"
    # The sandbox: "OK" or better by systemd's own measure (2.0 of 10).
    systemd-analyze security --offline=true --threshold=20 "$d.service" >"$state/security-$d.txt" ||
      fail "$d.service exposure: $(tail -n 1 "$state/security-$d.txt")"
  done
}

# Starts a daemon as its unit does: its User, EnvironmentFile and ExecStart
# (systemd is not PID 1 here).
start_unit() {
  local d=$1 unit=/lib/systemd/system/$1.service exec_start user env_file
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  user=$(sed -n 's/^User=//p' "$unit")
  env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
  (
    set -a
    # shellcheck disable=SC1090
    . "$env_file"
    set +a
    exec setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs $exec_start
  ) >"$state/$d.log" 2>&1 &
  echo $! >"$state/$d.pid"
}

# Running and not a zombie (PID 1 here is `sleep`, which reaps nothing).
alive() { [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" =~ ^[^Z]$ ]]; }

# The gateway first: a broker whose clients have all gone exits at once.
stop_daemons() {
  local d pid
  for d in ws-gateway channel-broker; do
    [[ -f "$state/$d.pid" ]] || continue
    pid=$(cat "$state/$d.pid")
    rm -f "$state/$d.pid"
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    ! alive "$pid" || { kill -9 "$pid"; fail "$d did not exit on SIGTERM"; }
  done
}

case "${1:-}" in
  prepare)
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends systemd >/dev/null
    ;;
  install)
    apt-get install -y -qq --no-install-recommends "$2"/*.deb >/dev/null
    check_installed "$2"
    dpkg -L "${packages[@]}" | sort -u >"$state/files"
    echo "package test: installed, files, user, units and --version checked" >&2
    ;;
  configure)
    # The operator's edit: ports of their choosing and a webhook (its module
    # must load from /usr/lib/channel, or the broker does not start).
    cat >>/etc/default/channel-broker <<EOF
# operator: ports for this host
CHANNEL_PORT=$2
CHANNEL_ADMIN_PORT=$3
CHANNEL_WEBHOOK_URL=http://127.0.0.1:9/hook
EOF
    cat >>/etc/default/ws-gateway <<EOF
# operator: ports for this host
CHANNEL_BROKER=127.0.0.1:$2
CHANNEL_PORT=$4
CHANNEL_ADMIN_PORT=$5
EOF
    ;;
  start)
    for d in "${daemons[@]}"; do start_unit "$d"; done
    ;;
  stop)
    stop_daemons
    ;;
  log)
    for d in "${daemons[@]}"; do echo "--- $d"; tail -n 20 "$state/$d.log" 2>/dev/null || true; done
    ;;
  upgrade)
    old=$(dpkg-query -W -f='${Version}' channel-broker)
    apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confold "$2"/*.deb >/dev/null
    new=$(dpkg-query -W -f='${Version}' channel-broker)
    [[ "$new" != "$old" ]] || fail "the upgrade left version $old"
    for d in "${daemons[@]}"; do
      grep -q '^# operator: ports for this host$' "/etc/default/$d" ||
        fail "the upgrade lost the operator's edit of /etc/default/$d"
      # dpkg saw the package's new conffile and kept the edited one.
      [[ -f "/etc/default/$d.dpkg-dist" ]] || fail "no /etc/default/$d.dpkg-dist: the new conffile was not offered"
      [[ -L "/etc/systemd/system/multi-user.target.wants/$d.service" ]] || fail "$d.service not enabled after the upgrade"
    done
    getent passwd channel >/dev/null || fail "the upgrade removed the channel user"
    echo "package test: upgraded $old -> $new, edits kept" >&2
    ;;
  remove)
    apt-get remove -y -qq "${packages[@]}" >/dev/null
    for d in "${daemons[@]}"; do
      [[ ! -e "/usr/bin/$d" ]] || fail "/usr/bin/$d left after remove"
      [[ -f "/etc/default/$d" ]] || fail "remove deleted the conffile /etc/default/$d"
    done
    getent passwd channel >/dev/null || fail "remove deleted the channel user (purge does)"
    ;;
  purge)
    apt-get purge -y -qq "${packages[@]}" >/dev/null
    for p in "${packages[@]}"; do
      status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
      [[ -z "$status" || "$status" == not-installed ]] || fail "$p is '$status' after purge"
    done
    ! getent passwd channel >/dev/null || fail "purge left the channel user"
    ! getent group channel >/dev/null || fail "purge left the channel group"
    # Nothing the packages installed, nor their conffiles' leftovers.
    while read -r path; do
      [[ -d "$path" ]] && continue  # shared directories (/usr/bin, /lib ...): below
      [[ ! -e "$path" ]] || fail "$path left after purge"
    done <"$state/files"
    for d in "${daemons[@]}"; do
      left=$(find /etc /var/lib/systemd /usr/lib/channel /usr/share/ws-gateway /usr/share/doc/"$d" \
        -name "*$d*" 2>/dev/null | head -n 5 || true)
      [[ -z "$left" ]] || fail "left after purge: $left"
    done
    for dir in /usr/lib/channel /usr/share/ws-gateway /usr/share/doc/channel-broker /usr/share/doc/ws-gateway /usr/share/doc/channel-cli; do
      [[ ! -e "$dir" ]] || fail "$dir left after purge"
    done
    echo "package test: removed and purged, nothing left" >&2
    ;;
  *)
    echo "usage: package_inside.sh prepare|install DIR|configure BP AP GP GAP|start|stop|log|upgrade DIR|remove|purge" >&2
    exit 2
    ;;
esac
