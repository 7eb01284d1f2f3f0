#!/bin/bash
# Wrenn guest init (PID 1 after switch_root): mounts the pseudo filesystems, sets the
# hostname, configures the network from the kernel command line and execs envd under tini.
#
# Kernel command line parameters (all optional):
#   wrenn.hostname=NAME   default "wrenn"
#   wrenn.ip=ADDR/PREFIX  default 169.254.0.21/30 (fixed so snapshots restore unchanged)
#   wrenn.gw=ADDR         default 169.254.0.22
#   wrenn.dns=A[,B...]    default 8.8.8.8
#   wrenn.iface=NAME      default eth0
# Lines starting with "wrenn-init:" on the console are part of the contract with tests.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

# Each line ends with the seconds since the kernel started, to see where boot time goes.
log() {
  local up
  read -r up _ </proc/uptime 2>/dev/null || up=?
  echo "wrenn-init: $* (t=${up}s)" >/dev/console 2>/dev/null || echo "wrenn-init: $* (t=${up}s)"
}

# Under software emulation every fork+exec costs tens of milliseconds, so this script
# sticks to bash builtins where it can (no mountpoint, cat or hostname processes).
mounted() { # target
  local _src target _rest
  [[ -r /proc/self/mounts ]] || return 1
  while read -r _src target _rest; do
    [[ "$target" == "$1" ]] && return 0
  done </proc/self/mounts
  return 1
}

mount_once() { # type source target options
  if [[ "$3" == /proc ]]; then [[ -e /proc/self ]] && return 0; elif mounted "$3"; then return 0; fi
  [[ -d "$3" ]] || mkdir -p "$3"
  mount -t "$1" -o "$4" "$2" "$3" || log "warning: cannot mount $1 on $3"
}

mount_once proc proc /proc nosuid,nodev,noexec
log "start"
mount_once sysfs sysfs /sys nosuid,nodev,noexec
mount_once devtmpfs devtmpfs /dev nosuid,mode=0755
mount_once devpts devpts /dev/pts nosuid,noexec,gid=5,mode=0620,ptmxmode=0666
mount_once tmpfs tmpfs /dev/shm nosuid,nodev,mode=1777
mount_once tmpfs tmpfs /run nosuid,nodev,mode=0755
mount_once tmpfs tmpfs /tmp nosuid,nodev,mode=1777
mount_once cgroup2 cgroup2 /sys/fs/cgroup nosuid,nodev,noexec
[[ -e /dev/ptmx ]] || ln -sf pts/ptmx /dev/ptmx
[[ -e /dev/fd ]] || ln -sf /proc/self/fd /dev/fd
mkdir -p /run/lock

hostname=wrenn ip=169.254.0.21/30 gw=169.254.0.22 dns=8.8.8.8 iface=eth0
read -r cmdline </proc/cmdline
for arg in $cmdline; do
  case "$arg" in
    wrenn.hostname=*) hostname="${arg#wrenn.hostname=}" ;;
    wrenn.ip=*) ip="${arg#wrenn.ip=}" ;;
    wrenn.gw=*) gw="${arg#wrenn.gw=}" ;;
    wrenn.dns=*) dns="${arg#wrenn.dns=}" ;;
    wrenn.iface=*) iface="${arg#wrenn.iface=}" ;;
  esac
done

echo "$hostname" >/proc/sys/kernel/hostname
echo "$hostname" >/etc/hostname
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n' "$hostname" >/etc/hosts
log "hostname=$hostname"

# One ip process for the whole configuration; -force keeps going past a failed line.
if out=$(ip -force -batch - 2>&1 <<EOF
link set lo up
link set $iface up
addr add $ip dev $iface
route add default via $gw dev $iface
EOF
); then
  log "network $iface ip=$ip gw=$gw"
else
  log "warning: network setup of $iface incomplete: ${out//$'\n'/; }"
fi
: >/etc/resolv.conf
for server in ${dns//,/ }; do echo "nameserver $server" >>/etc/resolv.conf; done
log "dns=$dns"

log "starting envd"
cd /
exec /usr/bin/tini -- /usr/local/bin/envd
