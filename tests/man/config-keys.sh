#!/usr/bin/env bash
# Every section and every key of the shipped configuration files (also the
# keys shown commented with their defaults), and every key the parsers read
# (s.number("key", ...) and the like in their C++ sources), is in
# soleus.toml(5): a key added to the parsers cannot be missing from the page.
# Usage: config-keys.sh PAGE FILE...   (FILE: a .toml file or a parser's .cpp)
# Exit: 0 all present, 1 some missing, 2 usage.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: config-keys.sh PAGE FILE..." >&2; exit 2; }
page=$1
shift
[[ -s $page ]] || { echo "config-keys: $page missing" >&2; exit 2; }
# The page's words (roff escapes and fonts removed), and its section headings.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$page")
words=$(grep -oE '[a-z_][a-z_0-9]*' <<<"$text" | sort -u)
headings=$(grep -E '^\.S[HS] ' <<<"$text" | sed -E 's/^\.S[HS] "?([^"]*)"?.*/\1/' | sort -u)
missing=0 keys=0
for file in "$@"; do
  [[ -f $file ]] || { echo "config-keys: $file missing" >&2; exit 2; }
  if [[ $file == *.cpp ]]; then
    # The keys a parser reads: Section's getters, has() and (optional) sections.
    found=$(grep -oE '\b(string|integer|number|boolean|choice|has|section|optional_section)\("[a-z_][a-z_0-9]*"' "$file" |
              sed -E 's/.*\("//; s/"$//' | sort -u)
  else
    # key = value lines, "# key = value" lines (a default shown commented), and
    # the keys inside inline tables { k = v, ... }.
    found=$({
      sed -nE 's/^#?[[:space:]]*([a-z_][a-z_0-9]*)[[:space:]]*=.*/\1/p' "$file"
      grep -oE '\{[^}]*\}' "$file" | grep -oE '[a-z_][a-z_0-9]*[[:space:]]*=' | tr -d ' =' || true
    } | sort -u)
    sections=$(sed -nE 's/^\[([a-z_.]+)\].*/[\1]/p' "$file" | sort -u)
    for s in $(comm -23 <(echo "$sections") <(echo "$headings")); do
      echo "$(basename "$file"): section $s has no heading in $(basename "$page")"
      missing=$((missing + 1))
    done
  fi
  keys=$((keys + $(wc -l <<<"$found")))
  for k in $(comm -23 <(echo "$found") <(echo "$words")); do
    echo "$(basename "$file"): key $k is not in $(basename "$page")"
    missing=$((missing + 1))
  done
done
if ((missing)); then
  echo "config-keys: $missing missing"
  exit 1
fi
echo "config-keys: $keys keys (counted per file) of $# files, all in $(basename "$page")"
