#!/usr/bin/env bash
# A local dask.distributed cluster for `csbench ... --scheduler`: one scheduler and N single-threaded
# worker processes on 127.0.0.1 (docs/harness.md, "Running on a cluster").
#
#   scripts/dask_local_cluster.sh start [--nworkers 2] [--port 8786] [--dir results/dask-cluster]
#   scripts/dask_local_cluster.sh status [--dir DIR]
#   scripts/dask_local_cluster.sh stop [--dir DIR]
#
# `start` returns once every worker has joined and prints the address (tcp://127.0.0.1:PORT).
# DIR holds the address, the pid file (`pids`: scheduler, then the `dask worker` process, whose nannies restart a
# worker that dies), the logs (scheduler.log, workers.log) and the workers' scratch space.
# Workers run one BLAS/OpenMP/numba thread each (environment below; csbench also pins every task,
# csbench.executors.run_pinned) and import csbench from this checkout (PYTHONPATH) when they start
# (--preload csbench.harness: a worker that cannot import it fails at start, not at its first task).
set -euo pipefail

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

cmd=${1:-}; [[ -n $cmd ]] || usage; shift
nworkers=2 port=8786 dir=results/dask-cluster
while [[ $# -gt 0 ]]; do
  case $1 in
    --nworkers) nworkers=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "dask_local_cluster.sh: unknown option '$1'" >&2; usage ;;
  esac
done
[[ $nworkers =~ ^[1-9][0-9]*$ ]] || { echo "dask_local_cluster.sh: --nworkers=$nworkers; allowed: an integer >= 1" >&2; exit 2; }
[[ $port =~ ^[0-9]+$ ]] && (( port >= 1 && port <= 65535 )) || {
  echo "dask_local_cluster.sh: --port=$port; allowed: 1..65535" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
pids=$dir/pids
py=${PYTHON:-python}  # the Python with csbench and distributed

alive() { [[ -f $pids ]] && while read -r p; do kill -0 "$p" 2>/dev/null && return 0; done < "$pids"; return 1; }

registered() { grep -c "Register worker" "$dir/scheduler.log" 2>/dev/null || true; }

stop() {  # workers first (they close cleanly while the scheduler still answers), then the scheduler
  [[ -f $pids ]] || { echo "no cluster recorded in $dir"; return 0; }
  local p
  for p in $(tac "$pids"); do
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done  # 5 s grace, then SIGKILL
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -f "$pids"
  echo "stopped the cluster in $dir"
}

case $cmd in
  start)
    if alive; then echo "dask_local_cluster.sh: a cluster of $dir is running (pids $(tr '\n' ' ' < "$pids")); stop it first" >&2; exit 1; fi
    mkdir -p "$dir"
    export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1
    export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
    address=tcp://127.0.0.1:$port
    "$py" -m dask scheduler --host 127.0.0.1 --port "$port" --no-dashboard >"$dir/scheduler.log" 2>&1 &
    echo $! > "$pids"
    "$py" -m dask worker "$address" --host 127.0.0.1 --nworkers "$nworkers" --nthreads 1 --no-dashboard \
      --local-directory "$dir/workers" --death-timeout 60 --preload csbench.harness >"$dir/workers.log" 2>&1 &
    echo $! >> "$pids"
    for _ in $(seq 1200); do  # until every worker has registered (the scheduler logs each), 120 s at most
      (( $(registered) >= nworkers )) && break
      while read -r p; do kill -0 "$p" 2>/dev/null || break 2; done < "$pids"  # one of them died
      sleep 0.1
    done
    if (( $(registered) < nworkers )); then
      echo "dask_local_cluster.sh: the cluster did not come up; see $dir/scheduler.log and $dir/workers.log" >&2
      stop >/dev/null; exit 1
    fi
    echo "$address" | tee "$dir/address"
    ;;
  status)
    if alive; then echo "running at $(cat "$dir/address" 2>/dev/null): pids $(tr '\n' ' ' < "$pids")(logs in $dir)"; else echo "not running"; exit 1; fi
    ;;
  stop) stop ;;
  *) usage ;;
esac
