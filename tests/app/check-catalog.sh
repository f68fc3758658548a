#!/bin/bash
# The generated journal catalog (soleus.catalog, from docs/events.md) is valid
# journald catalog syntax and holds every event code's MESSAGE_ID:
# `journalctl --update-catalog` against a temporary root builds its database,
# and `journalctl --list-catalog` lists every id of soleusd's generated table.
# A copy with a broken entry must be refused (the check's own control).
#   check-catalog.sh BUILD/app/soleus.catalog BUILD/app/generated/.../event_message_ids.hpp
# Exit 77 (skipped): no journalctl (Debian's systemd package).
set -euo pipefail
catalog=$1
table=$2
if ! command -v journalctl >/dev/null; then
  echo "SKIPPED: no journalctl (install Debian's systemd package)"
  exit 77
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/good/usr/lib/systemd/catalog" "$root/bad/usr/lib/systemd/catalog"
cp "$catalog" "$root/good/usr/lib/systemd/catalog/soleus.catalog"

journalctl --root="$root/good" --update-catalog
test -s "$root/good/var/lib/systemd/catalog/database" || {
  echo "FAIL: journalctl --update-catalog wrote no database"
  exit 1
}
listed=$(journalctl --root="$root/good" --list-catalog)
ids=$(grep -o '"[0-9a-f]\{32\}"' "$table" | tr -d '"')
n_ids=$(wc -l <<<"$ids")
[ "$n_ids" -ge 40 ] || { echo "FAIL: only $n_ids ids in $table"; exit 1; }
missing=0
for id in $ids; do
  if ! grep -q "^$id soleus: " <<<"$listed"; then
    echo "FAIL: $id (from $table) is not in the catalog"
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1
n_listed=$(grep -c ' soleus: ' <<<"$listed")
[ "$n_listed" = "$n_ids" ] || { echo "FAIL: $n_listed catalog entries, $n_ids codes"; exit 1; }
# An entry as journalctl -x shows it: the cause and what to do.
over_force=$(grep -o '"over_force", "[0-9a-f]*"' "$table" | grep -o '[0-9a-f]\{32\}')
entry=$(journalctl --root="$root/good" --dump-catalog "$over_force")
grep -q '^Subject: over_force: ' <<<"$entry" || { echo "FAIL: over_force's subject"; exit 1; }
grep -q '^What to do: ' <<<"$entry" || { echo "FAIL: over_force's entry has no action"; exit 1; }

# The control: the same file with one id cut short is refused.
sed '0,/^-- \([0-9a-f]\{32\}\)$/s//-- 0123/' "$catalog" >"$root/bad/usr/lib/systemd/catalog/soleus.catalog"
if journalctl --root="$root/bad" --update-catalog 2>/dev/null; then
  echo "FAIL: journalctl accepted a broken catalog (the check cannot fail)"
  exit 1
fi
echo "catalog OK: $n_ids entries, database $(stat -c %s "$root/good/var/lib/systemd/catalog/database") bytes"
