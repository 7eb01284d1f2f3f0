#!/bin/busybox sh
# Wrenn initramfs /init: load the virtio drivers the Debian cloud kernel ships as
# modules, mount the root filesystem from /dev/vda and hand over to its init.
# Runs as PID 1 from the initramfs, so every failure must be visible on the console.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "wrenn-initramfs: $*" >/dev/console
  echo "wrenn-initramfs: kernel command line: $(cat /proc/cmdline)" >/dev/console
  dmesg | tail -n 25 >/dev/console
  # Nothing sensible can run without a root filesystem; give the operator a shell
  # on the console rather than a kernel panic with no context.
  exec sh
}

# Module parameters on the kernel command line (<module>.<param>=<value>) are applied by
# modprobe, not by the kernel, so insmod is given them here (e.g. virtio_net.napi_tx=1).
module_params() {
  for arg in $(cat /proc/cmdline); do
    case "$arg" in
      "$1".*=*) echo "${arg#"$1".}" ;;
    esac
  done
}

# Listed in dependency order at build time (see /lib/modules/load-order).
while read -r mod; do
  [ -n "$mod" ] || continue
  # shellcheck disable=SC2046 # one word per parameter is intended
  insmod "/lib/modules/$mod.ko" $(module_params "$mod") || fail "cannot load module $mod"
done </lib/modules/load-order

root=/dev/vda
rootfstype=ext4
rootflags=rw
init=/usr/local/sbin/wrenn-init
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root="${arg#root=}" ;;
    rootfstype=*) rootfstype="${arg#rootfstype=}" ;;
    ro) rootflags=ro ;;
    rw) rootflags=rw ;;
    wrenn.init=*) init="${arg#wrenn.init=}" ;;
  esac
done

# virtio-mmio devices are probed asynchronously after the module loads.
tries=0
while [ ! -b "$root" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 200 ] || fail "root device $root did not appear"
  sleep 0.05
done

mkdir -p /newroot
mount -t "$rootfstype" -o "$rootflags" "$root" /newroot || fail "cannot mount $root"
[ -x "/newroot$init" ] || fail "$init is missing or not executable on $root"

# Keep devtmpfs (it holds /dev/console for the new init); the rest is remounted there.
mount --move /dev /newroot/dev || umount /dev
umount /sys
umount /proc
exec switch_root /newroot "$init"
