#!/usr/bin/env bash
# The broker side of a gym's fleet (issue 14), for Debian's mosquitto: writes a
# mosquitto.conf snippet, the ACL file and the password file for one site and
# its machines, and each machine's [fleet] section. docs/fleet/broker.md has a
# worked example; tests/fleet (the ctest "fleet broker: the technicians'
# script ...") runs this script and a real mosquitto with its output.
#
# Usage:
#   fleet-broker-config.sh --site SITE --machines m1,m2,... --out DIR [options]
# Options:
#   --prefix P          topic prefix (default soleus)
#   --host NAME         the broker's name or address as the machines reach it
#                       (default: this host's name); goes into each [fleet]
#   --port N            the TLS listener's port (default 8883)
#   --plain-port N      also a plain listener on N, bound to --plain-bind
#                       (default none: TLS only)
#   --plain-bind ADDR   address of the plain listener (default 127.0.0.1)
#   --cafile F --certfile F --keyfile F
#                       the broker's TLS files as mosquitto will read them
#                       (default /etc/mosquitto/certs/{ca.crt,server.crt,server.key})
#   --etc DIR           where the password and ACL files will live on the
#                       broker (default /etc/mosquitto); written into the snippet
#   --passwords generate|prompt
#                       random passwords (default) or typed ones (twice each)
#   --max-queued N      mosquitto's max_queued_messages (default 100000)
# Output in DIR:
#   conf.d/soleus-SITE.conf   copy to /etc/mosquitto/conf.d/
#   soleus-SITE.acl, soleus-SITE.passwd   copy to --etc (owner mosquitto, mode 0640)
#   machines/M/fleet.toml     append to machine M's /etc/soleus/soleus.toml
#   machines/M/password       copy to machine M (the [fleet] password_file)
#   monitor.password          the read-only account `monitor` (dashboards, consumers)
# Nothing is installed or restarted: the script prints what to copy where.
set -euo pipefail

die() { echo "fleet-broker-config: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }

site="" machines="" out="" prefix=soleus host=$(hostname -f 2>/dev/null || hostname)
port=8883 plain_port="" plain_bind=127.0.0.1 etc=/etc/mosquitto passwords=generate
cafile=/etc/mosquitto/certs/ca.crt certfile=/etc/mosquitto/certs/server.crt
keyfile=/etc/mosquitto/certs/server.key max_queued=100000
while (($#)); do
  case $1 in
    --site) site=${2-}; shift 2 ;;
    --machines) machines=${2-}; shift 2 ;;
    --out) out=${2-}; shift 2 ;;
    --prefix) prefix=${2-}; shift 2 ;;
    --host) host=${2-}; shift 2 ;;
    --port) port=${2-}; shift 2 ;;
    --plain-port) plain_port=${2-}; shift 2 ;;
    --plain-bind) plain_bind=${2-}; shift 2 ;;
    --cafile) cafile=${2-}; shift 2 ;;
    --certfile) certfile=${2-}; shift 2 ;;
    --keyfile) keyfile=${2-}; shift 2 ;;
    --etc) etc=${2-}; shift 2 ;;
    --passwords) passwords=${2-}; shift 2 ;;
    --max-queued) max_queued=${2-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
  esac
done

# The contract's grammar for site and machine names (they are MQTT client ids,
# usernames and topic levels): [a-z0-9][a-z0-9_-]{0,31}.
name_re='^[a-z0-9][a-z0-9_-]{0,31}$'
[[ -n $site && -n $machines && -n $out ]] || die "--site, --machines and --out are required (--help)"
[[ $site =~ $name_re ]] || die "site '$site' is not [a-z0-9][a-z0-9_-]{0,31}"
[[ $prefix =~ ^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$ ]] || die "prefix '$prefix' must be topic levels without wildcards"
IFS=, read -r -a names <<<"$machines"
((${#names[@]})) || die "no machine names"
declare -A seen=()
for m in "${names[@]}"; do
  [[ $m =~ $name_re ]] || die "machine '$m' is not [a-z0-9][a-z0-9_-]{0,31}"
  [[ $m != monitor ]] || die "'monitor' is the read-only account's name, not a machine's"
  [[ -z ${seen[$m]-} ]] || die "machine '$m' given twice"
  seen[$m]=1
done
[[ $port =~ ^[0-9]+$ ]] || die "--port must be a number"
[[ -z $plain_port || $plain_port =~ ^[0-9]+$ ]] || die "--plain-port must be a number"
[[ $max_queued =~ ^[0-9]+$ ]] || die "--max-queued must be a number"
[[ $passwords == generate || $passwords == prompt ]] || die "--passwords is generate or prompt"
command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (apt-get install mosquitto)"

umask 077
mkdir -p "$out/conf.d" "$out/machines"
acl="$out/soleus-$site.acl"
passwd="$out/soleus-$site.passwd"
: >"$passwd"

new_password() {
  local who=$1 p1 p2
  if [[ $passwords == generate ]]; then
    head -c 18 /dev/urandom | base64 | tr '+/' '-_'
    return
  fi
  while :; do
    read -r -s -p "password for $who: " p1 </dev/tty; echo >/dev/tty
    read -r -s -p "again: " p2 </dev/tty; echo >/dev/tty
    [[ -n $p1 && $p1 == "$p2" ]] && { printf '%s\n' "$p1"; return; }
    echo "empty or different, again" >/dev/tty
  done
}

# The ACL (docs/fleet/broker.md, "Credentials and ACL"): explicit user blocks;
# a machine writes its own tree and the site's shared records and reads the
# site; monitor only reads. A `pattern` line with %u would also apply to
# monitor, so none is used.
{
  echo "# mosquitto ACL of site $site, written by scripts/fleet-broker-config.sh"
  echo "# A machine: write $prefix/$site/<its name>/# and $prefix/$site/shared/#, read $prefix/$site/#."
  for m in "${names[@]}"; do
    printf '\nuser %s\ntopic write %s/%s/%s/#\ntopic write %s/%s/shared/#\ntopic read %s/%s/#\n' \
      "$m" "$prefix" "$site" "$m" "$prefix" "$site" "$prefix" "$site"
  done
  printf '\n# Read-only: dashboards, consumers of sets and events.\nuser monitor\ntopic read %s/%s/#\n' \
    "$prefix" "$site"
} >"$acl"

for m in "${names[@]}" monitor; do
  pw=$(new_password "$m")
  mosquitto_passwd -b "$passwd" "$m" "$pw" >/dev/null
  if [[ $m == monitor ]]; then
    printf '%s\n' "$pw" >"$out/monitor.password"
  else
    mkdir -p "$out/machines/$m"
    printf '%s\n' "$pw" >"$out/machines/$m/password"
    cat >"$out/machines/$m/fleet.toml" <<EOF

[fleet]
broker = "mqtts://$host:$port"
machine = "$m"
site = "$site"
topic_prefix = "$prefix"
ca_file = "/etc/soleus/fleet-ca.crt"
username = "$m"
password_file = "/etc/soleus/fleet-password"
EOF
  fi
done

# The broker's snippet. per_listener_settings: each listener carries its own
# authentication (a plain listener, if any, is not left open by accident).
{
  echo "# mosquitto settings of site $site, written by scripts/fleet-broker-config.sh"
  echo "# Copy to /etc/mosquitto/conf.d/; Debian's mosquitto.conf includes that folder."
  echo "per_listener_settings true"
  echo "# Persistence (Debian's mosquitto.conf sets persistence true and its location):"
  echo "# retained shared records and offline sessions survive a restart."
  echo "autosave_interval 60"
  echo "# A machine's persistent session may queue this many QoS 1 messages while it"
  echo "# is offline (sets and events of the other machines; docs/fleet/broker.md)."
  echo "max_queued_messages $max_queued"
  echo "max_inflight_messages 20"
  echo "# Sessions of machines gone for good are dropped after 30 days."
  echo "persistent_client_expiration 30d"
  echo
  echo "listener $port"
  echo "allow_anonymous false"
  echo "password_file $etc/soleus-$site.passwd"
  echo "acl_file $etc/soleus-$site.acl"
  echo "cafile $cafile"
  echo "certfile $certfile"
  echo "keyfile $keyfile"
  if [[ -n $plain_port ]]; then
    echo
    echo "# Plain MQTT (no TLS): only for a closed network; PIN hashes never travel here"
    echo "# (docs/fleet.md, PINs)."
    echo "listener $plain_port $plain_bind"
    echo "allow_anonymous false"
    echo "password_file $etc/soleus-$site.passwd"
    echo "acl_file $etc/soleus-$site.acl"
  fi
} >"$out/conf.d/soleus-$site.conf"
chmod 0644 "$out/conf.d/soleus-$site.conf" "$acl"

cat <<EOF
Site $site: ${#names[@]} machine(s) and the read-only account monitor, in $out.

On the broker (Debian's mosquitto), as root:
  install -m 0644 $out/conf.d/soleus-$site.conf /etc/mosquitto/conf.d/
  install -m 0640 -o root -g mosquitto $passwd $acl $etc/
  # TLS: the site CA's ca.crt and the broker's server.crt/server.key in
  # $(dirname "$certfile")/ (docs/fleet/broker.md, "TLS with a site CA")
  systemctl restart mosquitto

On each machine M, as root:
EOF
for m in "${names[@]}"; do
  echo "  $m: append $out/machines/$m/fleet.toml to /etc/soleus/soleus.toml;"
  echo "     install -m 0640 -o root -g soleus $out/machines/$m/password /etc/soleus/fleet-password"
done
cat <<EOF
  and the site CA: install -m 0644 ca.crt /etc/soleus/fleet-ca.crt; then restart soleusd.
Monitor (read-only) password: $out/monitor.password
Keep $out private: it holds every password in clear.
EOF
