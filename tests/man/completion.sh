#!/usr/bin/env bash
# soleusctl's bash completion, called as bash calls it (COMP_WORDS,
# COMP_CWORD), in a plain bash without the bash-completion package's helpers.
# Usage: completion.sh COMPLETION_FILE
# Exit: 0 every case right, 1 a wrong completion, 2 usage.
set -uo pipefail
[[ $# -eq 1 && -f $1 ]] || { echo "usage: completion.sh COMPLETION_FILE" >&2; exit 2; }
# shellcheck source=/dev/null
source "$1"
[[ $(complete -p soleusctl 2>/dev/null) == *"-F _soleusctl"* ]] ||
  { echo "the file does not register _soleusctl for soleusctl"; exit 1; }

status=0
cd "$(mktemp -d)" || exit 2
trap 'rm -rf "$PWD"' EXIT
touch backup-1.db soleus.toml

# complete WORD... : the words of the line, the last one being completed.
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _soleusctl soleusctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect "WANTED" WORD... : the completions are exactly WANTED (sorted, space-separated).
expect() {
  local want=$1 got
  shift
  got=$(complete_line "$@")
  if [[ $got != "$want" ]]; then
    echo "FAIL: soleusctl ${*:2}<TAB>: got '$got', want '$want'"
    status=1
  fi
}
# includes "WORD" WORD... : the completions include WORD.
includes() {
  local want=$1 got
  shift
  got=" $(complete_line "$@") "
  if [[ $got != *" $want "* ]]; then
    echo "FAIL: soleusctl ${*:2}<TAB>: '$want' not in '$got'"
    status=1
  fi
}

expect "status" soleusctl st
includes "status" soleusctl ""
includes "events" soleusctl ""
includes "check-config" soleusctl ""
expect "export" soleusctl ex
expect "db" soleusctl d
expect "backup check" soleusctl db ""
expect "check" soleusctl db ch
expect "--json" soleusctl --js
expect "--config" soleusctl --con
expect "events" soleusctl --config soleus.toml ev
expect "events" soleusctl --config = soleus.toml ev
expect "events" soleusctl --db backup-1.db --json ev
expect "error info warning" soleusctl events --severity ""
expect "warning" soleusctl events --severity w
expect "warning" soleusctl events --severity = w
expect "csv json" soleusctl export --member 12 --format ""
expect "--severity" soleusctl events --sev
expect "--before-id" soleusctl events --limit 5 --bef
expect "--member" soleusctl sets --mem
expect "--quick" soleusctl db check --q
expect "--force" soleusctl db backup backup-1.db --f
expect "--count" soleusctl probe --cou
expect "--api" soleusctl status --a
expect "wait-idle" soleusctl wa
expect "--timeout" soleusctl wait-idle --t
expect "--json" soleusctl sets --js
expect "backup-1.db" soleusctl db backup back
expect "soleus.toml" soleusctl --config sol
expect "soleus.toml" soleusctl check-config sol
expect "backup-1.db" soleusctl --db b
expect "" soleusctl events --limit ""
expect "" soleusctl hash-pin ""
((status == 0)) && echo "completion: all cases right"
exit $status
