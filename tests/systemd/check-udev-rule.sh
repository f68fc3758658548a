#!/usr/bin/env bash
# systemd/99-soleus-rs485.rules, checked without udev (Debian 12's udevadm,
# systemd 252, has no `udevadm verify`, and `udevadm test` needs the device):
#  - every line parses as udev's KEY[{attr}]OP"value", ... with a matching
#    operator for a match key and an assigning one for an assignment key;
#  - no shell: no RUN, PROGRAM or IMPORT{program};
#  - the FTDI latency: ACTION=="add", SUBSYSTEM=="usb-serial", ATTR{latency_timer}="1";
#  - the tty: SYMLINK+="ttySOLEUS" and TAG+="systemd", on every event (no
#    ACTION=="add": udev would drop the link on a "change").
# The checker's own control: variants with a RUN+=, without ACTION=="add" or
# with a bad operator must be refused.
# usage: check-udev-rule.sh RULES_FILE
set -euo pipefail
rules=$1

# check FILE: prints the first problem and returns 1, or returns 0.
check() {
  local file=$1 n=0 line rest key attr op value latency=0 symlink=0
  local match_only='^(ACTION|SUBSYSTEM|SUBSYSTEMS|DRIVER|DRIVERS|KERNEL|KERNELS|ATTRS|DEVPATH|TAGS|TEST|RESULT|CONST|SYSCTL)$'
  local assign_only='^(SYMLINK|GROUP|MODE|OWNER|TAG|NAME|OPTIONS|LABEL|GOTO|SECLABEL)$'
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    local -A m=() a=()
    rest=$line
    while [[ -n $rest ]]; do
      if [[ $rest =~ ^[[:space:]]*([A-Z_]+)(\{([A-Za-z0-9_.-]+)\})?[[:space:]]*(==|!=|\+=|-=|:=|=)[[:space:]]*\"([^\"]*)\"[[:space:]]*(,[[:space:]]*)?(.*)$ ]]; then
        key=${BASH_REMATCH[1]} attr=${BASH_REMATCH[3]} op=${BASH_REMATCH[4]} value=${BASH_REMATCH[5]}
        rest=${BASH_REMATCH[7]}
        [[ -n ${BASH_REMATCH[6]} || -z $rest ]] || { echo "$file:$n: no comma before: $rest"; return 1; }
      else
        echo "$file:$n: cannot parse: $rest"
        return 1
      fi
      case $key in
        RUN | PROGRAM) echo "$file:$n: $key: no programs from udev rules"; return 1 ;;
        IMPORT) [[ $attr != program ]] || { echo "$file:$n: IMPORT{program}: no programs"; return 1; } ;;
      esac
      if [[ $op == "==" || $op == "!=" ]]; then
        [[ ! $key =~ $assign_only ]] || { echo "$file:$n: $key$op: $key can only be assigned"; return 1; }
        m[$key${attr:+\{$attr\}}]=$value
      else
        [[ ! $key =~ $match_only ]] || { echo "$file:$n: $key$op: $key can only be matched"; return 1; }
        a[$key${attr:+\{$attr\}}]=$value
      fi
    done
    if [[ ${a[ATTR{latency_timer}]+x} ]]; then
      [[ ${m[ACTION]:-} == add ]] || { echo "$file:$n: the latency rule needs ACTION==\"add\""; return 1; }
      [[ ${m[SUBSYSTEM]:-} == usb-serial ]] ||
        { echo "$file:$n: latency_timer is an attribute of the usb-serial device"; return 1; }
      [[ ${a[ATTR{latency_timer}]} == 1 ]] || { echo "$file:$n: latency_timer must be 1"; return 1; }
      latency=1
    fi
    if [[ ${a[SYMLINK]:-} == ttySOLEUS ]]; then
      [[ ${m[SUBSYSTEM]:-} == tty ]] || { echo "$file:$n: the link is the tty's"; return 1; }
      [[ ${a[TAG]:-} == systemd ]] || { echo "$file:$n: no TAG+=\"systemd\" (no device unit)"; return 1; }
      [[ -z ${m[ACTION]+x} ]] || { echo "$file:$n: SYMLINK on one ACTION only"; return 1; }
      symlink=1
    fi
    unset m a
  done < "$file"
  ((latency)) || { echo "$file: no ATTR{latency_timer}=\"1\" rule"; return 1; }
  ((symlink)) || { echo "$file: no SYMLINK+=\"ttySOLEUS\" rule"; return 1; }
}

check "$rules" || exit 1
echo "ok: $rules"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
refuse() {  # refuse NAME SED-EXPRESSION: the variant must fail the check
  sed "$2" "$rules" > "$tmp/$1.rules"
  if cmp -s "$rules" "$tmp/$1.rules"; then echo "FAIL: variant $1 changed nothing"; exit 1; fi
  if msg=$(check "$tmp/$1.rules"); then echo "FAIL: variant $1 was accepted"; exit 1; fi
  echo "control: $1 refused (${msg#"$tmp/"})"
}
refuse run '$a SUBSYSTEM=="tty", RUN+="/bin/sh -c true"'
refuse no-action 's/ACTION=="add", //'
refuse attrs-assigned 's/ATTR{latency_timer}="1"/ATTRS{latency_timer}="1"/'
refuse bad-operator 's/SUBSYSTEM=="usb-serial"/SUBSYSTEM="usb-serial"/'
refuse no-tag 's/, TAG+="systemd"//'
