#!/usr/bin/env bash
# Records GNU parallel's standard output and exit status for every case in
# cases.txt into expected/, so the compatibility suite runs without GNU
# parallel installed. With --check, compares instead of writing (run it
# where GNU parallel is installed to re-check the fixtures).
#   bash crates/herd-cli/tests/compat/record.sh [--check]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
check=0; [[ "${1:-}" == "--check" ]] && check=1
command -v parallel >/dev/null || { echo "GNU parallel is not installed" >&2; exit 1; }
mkdir -p "$here/expected"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
failed=0
while IFS=$'\t' read -r name command; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  rm -rf "$work/case"; mkdir -p "$work/case"
  out="$(cd "$work/case" && PARALLEL_HOME="$work/.parallel" bash -c "parallel() { command parallel --will-cite \"\$@\"; }; $command" 2>/dev/null </dev/null; echo "exit:$?")"
  if (( check )); then
    if [[ "$out" != "$(cat "$here/expected/$name")" ]]; then echo "differs: $name"; failed=1; fi
  else
    printf '%s' "$out" > "$here/expected/$name"
  fi
done < "$here/cases.txt"
exit $failed
