#!/usr/bin/env bash
# herd fetch beside curl --parallel and an aiohttp script, in one hyperfine
# run: 20,000 URLs at concurrency 64 against nginx on 127.0.0.1 (one
# worker, no access log, a 1 KiB body). Prints requests a second, herd's
# ratios, and each client's peak resident memory.
#   bash crates/herd-cli/bench/fetch.sh     (needs nginx, curl, hyperfine,
#                                            python3; installs aiohttp in a venv)
set -euo pipefail
cd "$(dirname "$0")/../../.."
cargo build --release -q -p herd-cli
herd="$PWD/target/release/herd"
bench="$PWD/crates/herd-cli/bench"
work="$(mktemp -d)"
port=${PORT:-18088}
n=${URLS:-20000}
chmod 755 "$work"  # nginx workers run as another user
mkdir -p "$work/html" "$work/logs" "$work/tmp"
head -c 1024 /dev/zero | tr '\0' x > "$work/html/index.html"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/tmp;
  server { listen 127.0.0.1:$port; root $work/html; location / { try_files \$uri /index.html; } }
}
CONF
nginx -c "$work/nginx.conf" -p "$work"
trap 'kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
venv="${AIOHTTP_VENV:-$HOME/.cache/herd-bench-aiohttp}"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q aiohttp; }
seq "$n" | sed "s|^|http://127.0.0.1:$port/|" > "$work/urls"
awk '{print "url = \"" $0 "\"\noutput = \"/dev/null\""}' "$work/urls" > "$work/curl.cfg"
herd_cmd="$herd fetch -c 64 -q -i $work/urls"
curl_cmd="curl -s -Z --parallel-max 64 -K $work/curl.cfg"
aio_cmd="$venv/bin/python $bench/aiohttp_fetch.py $work/urls 64"
hyperfine -N -w 1 -r 5 --export-json "$work/fetch.json" \
  -n "herd fetch" "bash -c '$herd_cmd > /dev/null'" \
  -n "curl -Z" "bash -c '$curl_cmd'" \
  -n "aiohttp" "bash -c '$aio_cmd 2>/dev/null'" >/dev/null
for name in herd curl aio; do
  cmd_var="${name}_cmd"
  /usr/bin/time -f "%M" -o "$work/$name.rss" bash -c "${!cmd_var} > /dev/null 2>&1"
done
python3 - "$work" "$n" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
results = {r["command"]: r for r in json.load(open(f"{work}/fetch.json"))["results"]}
rss = {name: int(open(f"{work}/{key}.rss").read().split()[-1]) / 1024
       for name, key in [("herd fetch", "herd"), ("curl -Z", "curl"), ("aiohttp", "aio")]}
herd = results["herd fetch"]["mean"]
for name in ["herd fetch", "curl -Z", "aiohttp"]:
    r = results[name]
    print(f"  {name:11s} {r['mean']:.3f} s ±{r['stddev']:.3f}  {n / r['mean']:8.0f} req/s"
          f"  herd {r['mean'] / herd:.2f}x  peak {rss[name]:.1f} MB")
PY
