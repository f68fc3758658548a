#!/usr/bin/env bash
# Keeps the man pages and the completion in step with the programs: what
# each program's --help lists is compared, both ways, with its man page, and
# soleusctl's commands and options also with the bash completion (called as
# bash calls it).
#   soleusctl: the commands (soleusctl --help) = the .SS headings of COMMANDS
#              in soleusctl.8 = the completion's commands; each command's
#              options (soleusctl CMD --help) = the option tags of its .SS
#              = the completion's options for it (with the global ones);
#              the global options = the tags of GLOBAL OPTIONS = the completion's.
#   soleusd:   the options of soleusd --help = the tags of OPTIONS in soleusd.8.
#   soleus-sim: the options of soleus-sim --help = the tags of OPTIONS in soleus-sim.1.
# Usage: in-step.sh MAN_DIR COMPLETION SOLEUSD SOLEUSCTL SOLEUS_SIM
# Exit: 0 in step, 1 a difference, 2 usage, 77 a program is not built (skipped).
set -uo pipefail
[[ $# -eq 5 ]] || { echo "usage: in-step.sh MAN_DIR COMPLETION SOLEUSD SOLEUSCTL SOLEUS_SIM" >&2; exit 2; }
man=$1 completion=$2 soleusd=$3 soleusctl=$4 sim=$5
for exe in "$soleusd" "$soleusctl" "$sim"; do
  [[ -x $exe ]] || { echo "in-step: $exe not built: skipped" >&2; exit 77; }
done
status=0

# A man page as plain words: roff's \- and font escapes removed.
page_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\%//g' "$1"; }
# The lines of section .SH NAME (up to the next .SH).
section() { awk -v name="$1" '/^\.SH /{on = ($0 == ".SH " name || $0 == ".SH \"" name "\"")} on'; }
# The options named by the tags of .TP paragraphs (the line after .TP).
tp_options() { awk 'tag {print; tag = 0} /^\.TP/ {tag = 1}' | grep -oE -- '(^|[^a-z-])--?[a-z][a-z0-9-]*' |
  grep -oE -- '--?[a-z][a-z0-9-]*' | sort -u; }
# Options a --help text lists: the first word of its lines "  --name ..." (and "  -h, --help").
help_options() { grep -E '^ {2,}-' | grep -oE -- '^ +-[-a-z0-9]+(, --[a-z0-9-]+)?' | tr ',' '\n' |
  tr -d ' ' | sort -u; }
# compare WHAT LEFT_NAME LEFT RIGHT_NAME RIGHT: the two lists are the same.
compare() {
  local d
  d=$(diff <(sort -u <<<"$3" | sed '/^$/d') <(sort -u <<<"$5" | sed '/^$/d'))
  if [[ -n $d ]]; then
    echo "$1: $2 and $4 differ (< only in $2, > only in $4):"
    echo "$d" | grep '^[<>]'
    status=1
  fi
}
# The completion's candidates for a line (its last word being completed).
# shellcheck source=/dev/null
source "$completion"
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _soleusctl soleusctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort -u
}

# ---- soleusctl
help=$("$soleusctl" --help)
commands=$(sed -n '/^commands:/,/^$/p' <<<"$help" | sed -nE 's/^  ([a-z-]+( [a-z-]+)?)  +.*/\1/p')
[[ -n $commands ]] || { echo "in-step: no commands in soleusctl --help"; exit 1; }
globals=$(sed -n '/^global options/,/^$/p' <<<"$help" | help_options)
ctl_page=$(page_text "$man/soleusctl.8")
man_commands=$(section COMMANDS <<<"$ctl_page" | sed -nE 's/^\.SS "?([a-z-]+( (check|backup))?).*/\1/p')
compare "soleusctl commands" "soleusctl --help" "$commands" "soleusctl.8 (COMMANDS)" "$man_commands"
compare "soleusctl global options" "soleusctl --help" "$globals" "soleusctl.8 (GLOBAL OPTIONS)" \
  "$(section "GLOBAL OPTIONS" <<<"$ctl_page" | tp_options)"
compare "soleusctl commands" "soleusctl --help" "$(cut -d' ' -f1 <<<"$commands" | sort -u)" \
  "the completion" "$(complete_line soleusctl "")"
compare "soleusctl db subcommands" "soleusctl --help" "$(sed -n 's/^db //p' <<<"$commands")" \
  "the completion" "$(complete_line soleusctl db "")"
long_globals=$(grep -- '^--' <<<"$globals")
compare "soleusctl global options" "soleusctl --help" "$long_globals" "the completion" \
  "$(complete_line soleusctl --)"
while IFS= read -r cmd; do
  # shellcheck disable=SC2086 # "db check" is two words
  opts=$("$soleusctl" $cmd --help | sed -n '/^options:/,/^$/p' | help_options)
  man_opts=$(section COMMANDS <<<"$ctl_page" |
    awk -v cmd="$cmd" '/^\.S[SH] / {on = index($0, ".SS \"" cmd " ") == 1 || $0 == ".SS \"" cmd "\""} on' |
    tp_options)
  compare "soleusctl $cmd options" "soleusctl $cmd --help" "$opts" "soleusctl.8 (.SS $cmd)" "$man_opts"
  # shellcheck disable=SC2086
  compare "soleusctl $cmd options" "soleusctl $cmd --help (and the global options)" \
    "$(printf '%s\n%s\n' "$opts" "$long_globals")" "the completion" "$(complete_line soleusctl $cmd --)"
done <<<"$commands"

# ---- soleusd
compare "soleusd options" "soleusd --help" "$("$soleusd" --help | sed -n '/^options:/,/^$/p' | help_options)" \
  "soleusd.8 (OPTIONS)" "$(page_text "$man/soleusd.8" | section OPTIONS | tp_options)"

# ---- soleus-sim (its --help names -h nowhere; its page does)
compare "soleus-sim options" "soleus-sim --help" "$("$sim" --help | help_options)" \
  "soleus-sim.1 (OPTIONS)" "$(page_text "$man/soleus-sim.1" | section OPTIONS | tp_options | grep -vx -- -h)"

((status == 0)) && echo "in-step: soleusctl ($(wc -l <<<"$commands") commands), soleusd and soleus-sim: --help, man pages and completion agree"
exit $status
