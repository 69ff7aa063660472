#!/usr/bin/env bash
# Runs the map Indexed Job with one pod per line of files.txt, waits for it, then the reduce Job.
#   examples/kubernetes/submit.sh N_FILES [PARALLELISM]
set -euo pipefail
n=${1:?number of rank files (lines of /data/traces/files.txt)} parallel=${2:-64}
here=$(dirname "$(realpath "$0")")
sed -e "s/^  completions: .*/  completions: $n/" -e "s/^  parallelism: .*/  parallelism: $parallel/" "$here/map-job.yaml" | kubectl apply -f -
kubectl wait --for=condition=complete job/stepscope-map --timeout=24h
kubectl apply -f "$here/reduce-job.yaml"
kubectl wait --for=condition=complete job/stepscope-reduce --timeout=1h
