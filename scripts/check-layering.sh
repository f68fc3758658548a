#!/usr/bin/env bash
# The layering check (issue 11): which folder may reach which. The rules live
# once, in docs/architecture.md, in the fenced block marked `layering`; this
# script reads them from there. For each constrained folder it reads
#   - every #include of its C++ files ("soleus/<folder>/...", relative
#     "../<folder>/..." paths, and "<folder>/..." paths from the top), and
#   - its CMake files' target_link_libraries (targets mapped to the folder that
#     defines them) and target_include_directories (paths into other folders),
# and prints file:line for each reach that the rules do not allow.
# Usage: check-layering.sh [ROOT]   (ROOT defaults to this checkout)
# Exit: 0 clean, 1 violations, 2 the rules block is missing or malformed.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
root=$(cd "$root" && pwd)
doc="$root/docs/architecture.md"
[[ -f $doc ]] || { echo "check-layering: $doc not found" >&2; exit 2; }

# The rules: lines "folder : allowed..." between ```layering and ```.
rules=$(awk '/^```layering[[:space:]]*$/ {on=1; next} on && /^```/ {exit} on' "$doc" |
        sed -e 's/#.*//' -e '/^[[:space:]]*$/d')
[[ -n $rules ]] || { echo "check-layering: no \`\`\`layering block in $doc" >&2; exit 2; }
if bad=$(grep -vE '^[[:space:]]*[a-z_]+[[:space:]]*:[[:space:]]*([a-z_.@/-]+[[:space:]]*)*$' <<<"$rules"); then
  echo "check-layering: malformed rule line(s) in $doc:" >&2; echo "$bad" >&2; exit 2
fi

# Our folders: every top-level directory with a CMakeLists.txt, plus the ruled ones.
ours=$(cd "$root" && { ls -d */ 2>/dev/null | tr -d / ; awk -F: '{gsub(/[[:space:]]/,"",$1); print $1}' <<<"$rules"; } |
       while read -r d; do if [[ -f $root/$d/CMakeLists.txt || -d $root/$d/include ]]; then echo "$d"; fi; done |
       sort -u)

# CMake target -> folder that defines it (add_library / add_executable).
targetmap=$(cd "$root" && find . \( -name 'build*' -o -name node_modules -o -name .git \) -prune -o \
              \( -name CMakeLists.txt -o -name '*.cmake' \) -print |
            while read -r f; do
              d=${f#./}; d=${d%%/*}
              grep -oE '^[^#]*add_(library|executable)\([[:space:]]*[A-Za-z0-9_.+-]+' "$f" |
                sed -E 's/.*\([[:space:]]*//' | sed "s/\$/ $d/" || true
            done)

status=0
while IFS= read -r rule; do
  folder=$(sed -E 's/^[[:space:]]*([a-z_]+).*/\1/' <<<"$rule")
  allowed=$(sed -E 's/^[^:]*://' <<<"$rule")
  [[ -d $root/$folder ]] || { echo "check-layering: note: ruled folder $folder/ does not exist" >&2; continue; }
  out=$(cd "$root" && find "$folder" \( -name 'build*' -o -name node_modules \) -prune -o -type f \
          \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' -o -name '*.hh' -o -name '*.cxx' \
             -o -name '*.ipp' -o -name '*.inl' -o -name CMakeLists.txt -o -name '*.cmake' \) -print | sort |
        awk -v folder="$folder" -v allowed="$allowed" -v ours="$(tr '\n' ' ' <<<"$ours")" \
            -v tmap="$(tr '\n' ';' <<<"$targetmap")" -v root="$root" '
    function norm(p,   n, a, i, out, k, parts) {   # collapse a/b/../c and ./
      n = split(p, a, "/"); k = 0
      for (i = 1; i <= n; i++) {
        if (a[i] == "" || a[i] == ".") continue
        if (a[i] == ".." ) { if (k > 0) k--; else parts[++k] = ".."; continue }
        parts[++k] = a[i]
      }
      out = ""; for (i = 1; i <= k; i++) out = out (i > 1 ? "/" : "") parts[i]
      return out
    }
    # May `folder` reach folder f (header h, "" for a link or include path)?
    function ok(f, h) {
      if (f == folder || !(f in isours) || !(f in ruled_or_ours)) return 1
      if (f in allow) return 1
      if (h != "" && ((f "/" h) in allowh)) return 1
      if (h == "" && (f in partial)) return 1   # linking a library a header of which is granted
      return 0
    }
    function report(file, line, what) {
      printf "%s:%d: %s/ must not reach %s (docs/architecture.md, layering rules)\n", file, line, folder, what
      bad = 1
    }
    BEGIN {
      n = split(ours, o, " "); for (i = 1; i <= n; i++) { isours[o[i]] = 1; ruled_or_ours[o[i]] = 1 }
      n = split(allowed, a, " ")
      for (i = 1; i <= n; i++) {
        if (a[i] == "std-only") { stdonly = 1; continue }
        if (index(a[i], "/")) { allowh[a[i]] = 1; split(a[i], q, "/"); partial[q[1]] = 1 }
        else allow[a[i]] = 1
      }
      n = split(tmap, t, ";")
      for (i = 1; i <= n; i++) if (t[i] != "") { split(t[i], q, " "); tfolder[q[1]] = q[2] }
    }
    {
      file = $0; base = file; sub(/.*\//, "", base)
      dir = file; sub(/\/[^\/]*$/, "", dir)
      cmake = (base == "CMakeLists.txt" || base ~ /\.cmake$/)
      lineno = 0; cmd = ""; depth = 0
      while ((getline l < (root "/" file)) > 0) {
        lineno++
        if (!cmake) {
          if (l !~ /^[ \t]*#[ \t]*include[ \t]*[<"]/) continue
          inc = l; sub(/^[ \t]*#[ \t]*include[ \t]*/, "", inc)
          quote = substr(inc, 1, 1); inc = substr(inc, 2); sub(/[">].*/, "", inc)
          if (stdonly && quote == "<" && (inc ~ /[.\/]/)) { report(file, lineno, "<" inc "> (only the standard library)"); continue }
          f = ""; h = ""
          if (inc ~ /^soleus\/[^\/]+\//) { split(inc, q, "/"); f = q[2]; h = substr(inc, length("soleus/" f "/") + 1) }
          else if (quote == "\"" && inc ~ /\.\.\//) {
            p = norm(dir "/" inc); split(p, q, "/"); f = q[1]
            h = p; sub(/^[^\/]*\/(include\/soleus\/[^\/]*\/)?/, "", h)
          } else if (quote == "\"" && inc ~ /\//) {
            split(inc, q, "/"); if (q[1] in isours && q[1] != folder) { f = q[1]; h = inc; sub(/^[^\/]*\/(include\/soleus\/[^\/]*\/)?/, "", h) }
          }
          if (f != "" && !ok(f, h)) report(file, lineno, "\"" inc "\"")
          continue
        }
        # CMake: gather target_link_libraries(...) / target_include_directories(...) across lines.
        s = l; sub(/#.*/, "", s)
        if (cmd == "" && match(s, /target_(link_libraries|include_directories)[ \t]*\(/)) {
          cmd = (s ~ /target_link_libraries/) ? "link" : "incdir"
          s = substr(s, RSTART + RLENGTH); depth = 1; first = 1; startline = lineno
        } else if (cmd == "") continue
        # tokens of this line, up to the closing parenthesis
        gsub(/\$<[A-Z_]+:/, " ", s)    # $<BUILD_INTERFACE:x> -> x
        close_at = 0
        for (i = 1; i <= length(s); i++) {
          c = substr(s, i, 1)
          if (c == "(") depth++
          else if (c == ")") { depth--; if (depth == 0) { close_at = i; break } }
        }
        if (close_at) s = substr(s, 1, close_at - 1)
        gsub(/>/, " ", s)
        n = split(s, tok, /[ \t]+/)
        for (i = 1; i <= n; i++) {
          w = tok[i]; if (w == "") continue
          if (first) { first = 0; continue }      # the target being configured
          if (w ~ /^(PUBLIC|PRIVATE|INTERFACE|SYSTEM|BEFORE|AFTER)$/) continue
          if (cmd == "link") {
            if (w in tfolder && !ok(tfolder[w], "")) report(file, lineno, "target " w " (of " tfolder[w] "/)")
            else if (stdonly && !(w in tfolder && tfolder[w] == folder)) report(file, lineno, "library " w " (only the standard library)")
          } else {
            p = w
            if (sub(/^\$\{(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR|soleus_SOURCE_DIR)\}\/?/, "", p)) p = norm(p)
            else if (sub(/^\$\{CMAKE_CURRENT_SOURCE_DIR\}\/?/, "", p)) p = norm(dir "/" p)
            else if (p !~ /^[$\/]/) p = norm(dir "/" p)
            else continue
            split(p, q, "/")
            if (!ok(q[1], "")) report(file, lineno, "include directory " w " (of " q[1] "/)")
          }
        }
        if (close_at) cmd = ""
      }
      close(root "/" file)
    }
    END { exit bad }') || status=1
  [[ -n $out ]] && echo "$out"
done <<<"$rules"

if ((status)); then
  echo "check-layering: FAILED (rules: docs/architecture.md, the \`\`\`layering block)" >&2
else
  echo "check-layering: ok ($(wc -l <<<"$rules") folders ruled)"
fi
exit $status
