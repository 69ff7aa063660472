#!/usr/bin/env bash
# Map/reduce a run's traces under Slurm (docs/scale.md): an array job summarising one rank file
# per task, at most THROTTLE at a time, and a reduce job that starts when they all succeeded.
#   examples/slurm/submit.sh TRACES_DIR OUT_DIR [THROTTLE]    # prints the two job ids
# OUT_DIR (on a file system the nodes share) gets files.txt, summaries/, report.json, report.txt
# and the jobs' logs. STEPSCOPE names the binary (default: stepscope on PATH); extra sbatch
# options (partition, account, time) go in SBATCH_* variables as usual.
set -euo pipefail
traces=$(realpath "${1:?TRACES_DIR}") out=$(realpath -m "${2:?OUT_DIR}") throttle=${3:-64}
here=$(dirname "$(realpath "$0")")
mkdir -p "$out/summaries" "$out/logs"
find "$traces" -maxdepth 1 -type f \( -name '*.json' -o -name '*.json.gz' -o -name '*.sqlite' \) | LC_ALL=C sort > "$out/files.txt"
n=$(wc -l < "$out/files.txt")
[ "$n" -gt 0 ] || { echo "submit.sh: no trace files in $traces" >&2; exit 2; }
map=$(sbatch --parsable --array="0-$((n - 1))%$throttle" --output="$out/logs/map-%A_%a.out" \
  "$here/map.sbatch" "$out/files.txt" "$out/summaries")
reduce=$(sbatch --parsable --dependency="afterok:$map" --kill-on-invalid-dep=yes --output="$out/logs/reduce-%j.out" \
  "$here/reduce.sbatch" "$out/summaries" "$out/report")
echo "$map $reduce"
