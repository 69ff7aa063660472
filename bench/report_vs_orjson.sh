#!/usr/bin/env bash
# Benchmark: `stepscope report` against a plain orjson parse of the same Kineto trace.
#
#   bench/report_vs_orjson.sh [SIZE_MB]        (default 350)
#
# 1. builds the release binary:  swift build -c release --product stepscope
# 2. generates bench/.cache/kineto_${SIZE}mb.json and .json.gz with bench/gen_kineto.py
#    (only when they are missing; delete bench/.cache to regenerate)
# 3. measures, best of $RUNS runs each (wall seconds, peak RSS of the child process):
#      orjson     python3 -c "import orjson; orjson.loads(open(F,'rb').read())"
#      stepscope  .build/release/stepscope report F --format json > /dev/null
#      stepscope  the same on F.gz, inflated by ISA-L (the default)
#      stepscope  the same on F.gz with STEPSCOPE_INFLATE=zlib (the zlib fallback)
#    the three stepscope rows alternate run by run, so the machine's drift hits them alike
# 4. prints a table: wall s, MB/s (of the uncompressed JSON), peak RSS MiB, RSS / JSON size,
#    the speed of each run relative to orjson and the least CPU time (user + system) of a run;
#    then each .gz row's wall over the plain one.
#
# Environment knobs:
#   RUNS=3            runs per measurement (the best is reported)
#   SKIP_BUILD=1      do not run swift build (use the existing binary)
#   ORJSON_ONLY=1     measure orjson only (no binary needed)
#   STEPSCOPE_BIN=... binary to measure (default .build/release/stepscope)
#   PYTHON=python3    interpreter for orjson, the generator and the measuring wrapper
#
# Peak RSS comes from getrusage(RUSAGE_CHILDREN) in a small Python wrapper, so no
# GNU time is needed.
set -euo pipefail

SIZE="${1:-350}"
RUNS="${RUNS:-3}"
PYTHON="${PYTHON:-python3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${STEPSCOPE_BIN:-$ROOT/.build/release/stepscope}"
CACHE="$ROOT/bench/.cache"
JSON="$CACHE/kineto_${SIZE}mb.json"
GZ="$JSON.gz"

die() { echo "report_vs_orjson: error: $*" >&2; exit 1; }

case "$SIZE" in ''|*[!0-9.]*) die "SIZE_MB must be a number, got '$SIZE'";; esac
"$PYTHON" -c "import orjson" 2>/dev/null || die "orjson is not importable by $PYTHON (pip install orjson)"

# --- 1. build ---------------------------------------------------------------
if [[ "${ORJSON_ONLY:-0}" != 1 ]]; then
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "== swift build -c release --product stepscope"
    swift build -c release --product stepscope || die "swift build failed"
  fi
  [[ -x "$BIN" ]] || die "stepscope binary not found at $BIN (build it with: swift build -c release --product stepscope)"
fi

# --- 2. input files -----------------------------------------------------------
mkdir -p "$CACHE"
if [[ ! -s "$JSON" ]]; then
  echo "== generating $JSON"
  # write under a temporary folder with the final name (the name ends up in traceName),
  # then move it into place so an interrupted run never leaves a truncated cache file
  mkdir -p "$CACHE/.partial"
  "$PYTHON" "$ROOT/bench/gen_kineto.py" --size-mb "$SIZE" --out "$CACHE/.partial/$(basename "$JSON")" --quiet
  mv "$CACHE/.partial/$(basename "$JSON")" "$JSON"
  rmdir "$CACHE/.partial" 2>/dev/null || true
  rm -f "$GZ"
fi
if [[ ! -s "$GZ" ]]; then
  echo "== compressing $GZ"
  gzip -6 -c "$JSON" > "$GZ.tmp"
  mv "$GZ.tmp" "$GZ"
fi
JSON_BYTES=$(wc -c < "$JSON" | tr -d ' ')
GZ_BYTES=$(wc -c < "$GZ" | tr -d ' ')

# --- 3. measurements ----------------------------------------------------------
# measure LABEL CMD...  -> appends "LABEL<TAB>best_wall<TAB>peak_rss_kb" to $RESULTS
RESULTS="$(mktemp)"
ERRLOG="$(mktemp)"
trap 'rm -f "$RESULTS" "$ERRLOG"' EXIT

MEASURE_PY='
import resource, subprocess, sys, time
t0 = time.perf_counter()
with open(sys.argv[1], "wb") as err:
    rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err)
wall = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
rss_kb = usage.ru_maxrss
if sys.platform == "darwin":
    rss_kb //= 1024            # bytes on macOS, KiB on Linux
print("%.4f %d %d %.3f" % (wall, rss_kb, rc, usage.ru_utime + usage.ru_stime))
'

# run_once LABEL RUN CMD...  -> one run; keeps the best wall, the highest RSS and the least CPU per label
declare -A BEST BEST_RSS BEST_CPU
run_once() {
  local label="$1" i="$2"; shift 2
  local out wall rss rc cpu
  out=$("$PYTHON" -c "$MEASURE_PY" "$ERRLOG" "$@")
  read -r wall rss rc cpu <<<"$out"
  if [[ "$rc" != 0 ]]; then
    echo "report_vs_orjson: error: '$label' exited with status $rc:" >&2
    echo "  command: $*" >&2
    tail -n 20 "$ERRLOG" | sed 's/^/  | /' >&2
    exit 1
  fi
  printf '   %-30s run %d: %7.3f s  %8.1f MiB  cpu %6.3f s\n' "$label" "$i" "$wall" "$(awk "BEGIN{print $rss/1024}")" "$cpu"
  if [[ -z "${BEST[$label]:-}" ]] || awk "BEGIN{exit !($wall < ${BEST[$label]})}"; then BEST[$label]="$wall"; fi
  (( rss > ${BEST_RSS[$label]:-0} )) && BEST_RSS[$label]="$rss"
  if [[ -z "${BEST_CPU[$label]:-}" ]] || awk "BEGIN{exit !($cpu < ${BEST_CPU[$label]})}"; then BEST_CPU[$label]="$cpu"; fi
  return 0
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "${BEST[$1]}" "${BEST_RSS[$1]}" "${BEST_CPU[$1]}" >> "$RESULTS"; }

measure() {
  local label="$1" i; shift
  for ((i = 1; i <= RUNS; i++)); do run_once "$label" "$i" "$@"; done
  record "$label"
}

echo "== input: $JSON ($(awk "BEGIN{printf \"%.1f\", $JSON_BYTES/1e6}") MB), $GZ ($(awk "BEGIN{printf \"%.1f\", $GZ_BYTES/1e6}") MB)"
echo "== measuring (best of $RUNS)"
measure "orjson.loads" "$PYTHON" -c "import orjson, sys; orjson.loads(open(sys.argv[1], 'rb').read())" "$JSON"
if [[ "${ORJSON_ONLY:-0}" != 1 ]]; then
  # STEPSCOPE_INFLATE=zlib makes stepscope inflate with zlib instead of ISA-L
  for ((i = 1; i <= RUNS; i++)); do
    run_once "stepscope report .json" "$i" env STEPSCOPE_INFLATE=isal "$BIN" report "$JSON" --format json
    run_once "stepscope report .json.gz" "$i" env STEPSCOPE_INFLATE=isal "$BIN" report "$GZ" --format json
    run_once "stepscope report .json.gz zlib" "$i" env STEPSCOPE_INFLATE=zlib "$BIN" report "$GZ" --format json
  done
  record "stepscope report .json"
  record "stepscope report .json.gz"
  record "stepscope report .json.gz zlib"
fi

# --- 4. table -----------------------------------------------------------------
"$PYTHON" - "$RESULTS" "$JSON_BYTES" "$GZ_BYTES" <<'EOF'
import sys
path, json_bytes, gz_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
base = float(rows[0][1])   # orjson wall time
mb = json_bytes / 1e6
print()
print("trace: %.1f MB JSON (%.1f MB gzip); MB/s and RSS/size use the uncompressed JSON size" % (mb, gz_bytes / 1e6))
print("%-30s %9s %9s %14s %10s %14s %7s" % ("", "wall s", "MB/s", "peak RSS MiB", "RSS/size", "speed vs orjson", "CPU s"))
for label, wall, rss, cpu in rows:
    w, r = float(wall), int(rss) * 1024
    print("%-30s %9.3f %9.1f %14.1f %10.2f %13.2fx %7.3f" % (label, w, mb / w, r / 2**20, r / json_bytes, base / w, float(cpu)))
print("\nspeed vs orjson = orjson wall / this wall (> 1: faster than orjson). orjson includes Python start-up and the file read.")
print("CPU s = the least user + system time of a run (all threads).")
walls = {label: float(wall) for label, wall, _, _ in rows}
plain = walls.get("stepscope report .json")
for label in ("stepscope report .json.gz", "stepscope report .json.gz zlib"):
    if plain and label in walls:
        print("%s / .json: %.2fx" % (label, walls[label] / plain))
EOF
