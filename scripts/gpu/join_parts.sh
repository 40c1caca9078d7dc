#!/usr/bin/env bash
# Reassemble the files that scripts/gpu/parent_leg.sh split into NAME.part-00, NAME.part-01, ... in DIR.
set -euo pipefail
dir=${1:?usage: join_parts.sh DIR}
for first in "$dir"/*.part-00; do
    [ -e "$first" ] || continue
    name=${first%.part-00}
    cat "$name".part-* > "$name.tmp" && mv "$name.tmp" "$name" && rm "$name".part-*
done
ls -la "$dir"
