#!/usr/bin/env bash
# The package's version (debian/changelog's top entry) is the project's
# (CMakeLists.txt project(VERSION)), which --version prints: one version.
set -euo pipefail
root=$1 want=$2
top=$(sed -n '1s/^soleus (\([^)]*\)).*/\1/p' "$root/debian/changelog")
upstream=${top%%-*}
if [[ $upstream != "$want" ]]; then
  echo "debian/changelog's top version is '$top' (upstream part '$upstream'); CMakeLists.txt says $want" >&2
  exit 1
fi
echo "debian/changelog $top = project version $want"
