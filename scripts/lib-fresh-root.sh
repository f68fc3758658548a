# Functions shared by scripts/check-fresh.sh and scripts/cross-arm64.sh (sourced).
# Expects: $work (a scratch directory), $out (logs), $mirror, $cache, and say().

# A pristine root from a cached debootstrap (made once, then unpacked each time).
new_root() {
  local root=$1
  rm -rf "$root"
  if [[ ! -f $cache ]]; then
    say "debootstrap --variant=minbase bookworm ($mirror)"
    local tmp=$work/debootstrap
    rm -rf "$tmp"
    debootstrap --variant=minbase bookworm "$tmp" "$mirror" > "$out/debootstrap.log" 2>&1
    cat > "$tmp/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    tar -C "$tmp" -cf "$cache" .
    rm -rf "$tmp"
  fi
  mkdir -p "$root"
  tar -C "$root" -xf "$cache"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # The network's part, not the project's: where this machine reaches the
  # registries through a TLS-intercepting proxy, its local CA certificates
  # (/usr/local/share/ca-certificates) go into the root too; ca-certificates,
  # once install-deps.sh installs it, adds them to the root's trust store.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
}

# Runs a command in ROOT, in a private mount namespace (the mounts vanish with
# it): proc, sys, dev, /dev/pts, /dev/shm and a tmpfs /tmp, as on a booted system.
in_root() {
  local root=$1; shift
  unshare --mount --propagation private -- bash -c '
    set -e; r=$1; shift
    mount --bind "$r" "$r"
    mount -t proc proc "$r/proc"
    mount -t sysfs sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs -o mode=1777 shm "$r/dev/shm"
    mount -t tmpfs -o mode=1777 tmp "$r/tmp"
    mount -t tmpfs run "$r/run"; mkdir -p "$r/run/lock"
    exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
      ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS} \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"' bash "$root" "$@"
}

# Stops every process whose root directory is ROOT (the demo and its children).
kill_root() {
  local root=$1 sig=${2:-TERM} p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill "-$sig" "${p#/proc/}" 2>/dev/null
  done
  return 0
}

copy_checkout() {
  local dest=$1
  mkdir -p "$dest"
  (cd "$here" && git ls-files -z --cached --others --exclude-standard |
     xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' | tar --null -T - -cf -) | tar -xf - -C "$dest"
  say "checkout copied: $(cd "$here" && git describe --always --dirty) ($(du -sh "$dest" | cut -f1))"
}

