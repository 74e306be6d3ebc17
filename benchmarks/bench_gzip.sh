#!/bin/bash
# A cold server's region profiles as a browser asks them (Accept-Encoding: gzip), at one gzip level.
#   benchmarks/bench_gzip.sh ATLAS LEVEL     (wrk: 2 threads, 50 connections, 30 s; prints p50/p95/p99)
# The level is set by patching Starlette's GZipMiddleware default before the server starts, so any level
# can be compared with what the server ships (6). Run from the repository root with the package installed.
set -u
ATLAS=$1 LEVEL=$2 PORT=$((18000 + $2))
WORK=$(mktemp -d)
python - "$ATLAS" > "$WORK/paths.txt" <<'PY'
import sys
from urllib.parse import quote

import duckdb

with duckdb.connect(sys.argv[1], read_only=True) as con:
    for (region,) in con.execute("SELECT DISTINCT region FROM results_regions ORDER BY 1").fetchall():
        print(f"/api/v1/regions/{quote(region, safe='')}")
PY
cat > "$WORK/gzip.lua" <<'LUA'
local paths = {}
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(1000 + (id or 0))
end
function request() return wrk.format("GET", paths[math.random(#paths)], {["Accept-Encoding"] = "gzip"}) end
function done(summary, latency, requests)
  io.write(string.format("\nlevel %s: %d requests, %d errors, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
    os.getenv("LEVEL"), summary.requests, summary.errors.status + summary.errors.timeout + summary.errors.read,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
LUA
python -c "
import starlette.middleware.gzip as g
orig = g.GZipMiddleware.__init__
def init(self, app, minimum_size=500, compresslevel=9): orig(self, app, minimum_size, $LEVEL)
g.GZipMiddleware.__init__ = init
from clusteratlas.cli import run; run()" serve --atlas "$ATLAS" --read-only --no-warm --port "$PORT" > "$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" > /dev/null && break; sleep 0.5; done
LEVEL=$LEVEL wrk -t 2 -c 50 -d 30s --timeout 10s -s "$WORK/gzip.lua" "http://127.0.0.1:$PORT" -- "$WORK/paths.txt" | tail -1
curl -s -H "Accept-Encoding: gzip" -o /dev/null -w "first profile, gzip: %{size_download} bytes\n" \
  "http://127.0.0.1:$PORT$(head -1 "$WORK/paths.txt")"
kill "$PID"; wait "$PID" 2>/dev/null
rm -rf "$WORK"
