#!/usr/bin/env bash
# herd run beside GNU parallel and xargs -P, in one hyperfine run per row:
# 2,000 jobs of `true` at -j 2 and -j 8, and 200 jobs of `sleep 0.05` at
# -j 20. Prints hyperfine's table and herd's ratios to xargs (wall time),
# and CPU time (user + system of the runner and its jobs) per runner.
#   bash crates/herd-cli/bench/run.sh            (needs hyperfine, parallel)
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build --release -q -p herd-cli
herd="$PWD/target/release/herd"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
seq 2000 > "$work/in2000"
for _ in $(seq 200); do echo 0.05; done > "$work/sleep200"

row() { # name, input, job, slots
  local name=$1 input=$2 job=$3 j=$4
  echo "== $name"
  hyperfine -N -w 1 -r 5 --export-json "$work/$name.json" \
    -n "herd run" "bash -c '$herd run -j $j $job < $input'" \
    -n "GNU parallel" "bash -c 'parallel --will-cite -j $j $job < $input'" \
    -n "xargs -P" "bash -c 'xargs -P $j -n 1 $job < $input'" >/dev/null
  python3 - "$work/$name.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
x = results["xargs -P"]
for name in ["herd run", "GNU parallel", "xargs -P"]:
    r = results[name]
    cpu = r["user"] + r["system"]
    print(f"  {name:13s} wall {r['mean']*1000:8.1f} ms ({r['mean']/x['mean']:.2f}x xargs)"
          f"  cpu {cpu*1000:8.1f} ms ({cpu/(x['user']+x['system']):.2f}x xargs)")
PY
}
row true_j2 "$work/in2000" true 2
row true_j8 "$work/in2000" true 8
row sleep_j20 "$work/sleep200" sleep 20
echo "== start-up: herd run true ::: 1"
hyperfine -N -w 3 -r 20 "$herd run true ::: 1" 2>/dev/null | grep -E "Time|Range"
