#!/usr/bin/env bash
# Lints the generated man pages: each renders with groff's man macros and all
# warnings on (-ww) without a single message, is plain ASCII (portable roff:
# special characters as escapes), and its .TH line carries the project's
# version and release date. First it lints a planted faulty page and requires
# a warning, so that a lint that cannot see anything fails.
# Usage: lint.sh VERSION DATE DIR PAGE...
# Exit: 0 clean, 1 a finding, 2 usage, 77 groff is not installed (skipped;
# Debian package groff-base).
set -uo pipefail
[[ $# -ge 4 ]] || { echo "usage: lint.sh VERSION DATE DIR PAGE..." >&2; exit 2; }
version=$1 date=$2 dir=$3
shift 3
if ! command -v groff >/dev/null; then
  echo "man_lint: SKIPPED: groff is not installed (Debian: apt-get install groff-base)" >&2
  exit 77
fi
lint() { LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$1" 2>&1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '.TH BAD 1 "%s" "soleus %s"\n.SH NAME\nbad \\- a page with a fault\n.XX undefined macro\n' \
  "$date" "$version" >"$tmp/bad.1"
if [[ -z $(lint "$tmp/bad.1") ]]; then
  echo "man_lint: groff did not warn about a planted undefined macro: the lint sees nothing" >&2
  exit 1
fi

status=0
for page in "$@"; do
  f=$dir/$page
  if [[ ! -s $f ]]; then
    echo "$page: missing or empty ($f)"
    status=1
    continue
  fi
  out=$(lint "$f")
  if [[ -n $out ]]; then
    echo "$page: groff -man -ww warns:"
    echo "$out"
    status=1
  fi
  if bad=$(LC_ALL=C grep -n '[^[:print:][:space:]]' "$f"); then
    echo "$page: non-ASCII bytes (write them as roff escapes, e.g. \\(mu):"
    echo "$bad"
    status=1
  fi
  th=$(grep -m1 '^\.TH ' "$f" || true)
  if [[ $th != *"\"$date\""* || $th != *"\"soleus $version\""* ]]; then
    echo "$page: .TH does not carry date \"$date\" and \"soleus $version\": $th"
    status=1
  fi
  name=${page%.*}
  section=${page##*.}
  if ! grep -qE "^\.TH $(tr '[:lower:]' '[:upper:]' <<<"$name" | sed 's/-/\\\\-/g; s/\./\\./g') $section " "$f"; then
    echo "$page: .TH does not name the page and section $section: $th"
    status=1
  fi
  for sh in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
    grep -qE "^\.SH \"?$sh\"?\$" "$f" || { echo "$page: no .SH $sh"; status=1; }
  done
done
((status == 0)) && echo "man_lint: $# pages clean (groff $(groff -v 2>/dev/null | head -1 | awk '{print $NF}'))"
exit $status
