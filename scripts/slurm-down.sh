#!/usr/bin/env bash
# Stop the cluster that scripts/slurm-up.sh started in STATE_DIR (default /tmp/nst-slurm):
# cancel its jobs, then stop exactly the daemons named in STATE_DIR/pids, by pid (never by
# name), newest first, and wait until each is gone. A pid whose process is no longer the daemon
# it was recorded as (exited, pid reused) is left alone. Exit status 0 when none is left.
set -uo pipefail

STATE=${1:-/tmp/nst-slurm}
PIDS="$STATE/pids"
if [ ! -s "$PIDS" ]; then
  echo "slurm-down.sh: nothing recorded in $PIDS; nothing to stop" >&2
  exit 0
fi

# Is `pid` still the daemon `name` that slurm-up.sh started?
# (A zombie, exited but not yet reaped by its parent, counts as gone.)
is_ours() {
  [ "$(cat "/proc/$2/comm" 2> /dev/null)" = "$1" ] || return 1
  [ "$(awk '/^State:/ {print $2}' "/proc/$2/status" 2> /dev/null)" != Z ]
}

# Jobs first, while slurmctld still answers: no job step outlives the cluster.
ctld_pid=$(awk '$1 == "slurmctld" {print $2}' "$PIDS")
if [ -f "$STATE/slurm.conf" ] && [ -n "$ctld_pid" ] && is_ours slurmctld "$ctld_pid"; then
  export SLURM_CONF="$STATE/slurm.conf"
  jobs=$(squeue -h -o %i 2> /dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    # shellcheck disable=SC2086
    scancel $jobs 2> /dev/null || true
    for i in $(seq 1 40); do
      [ -z "$(squeue -h -t PD,R,CG,S -o %i 2> /dev/null)" ] && break
      sleep 0.5
    done
  fi
fi

rc=0
# Newest first: slurmd, slurmctld, munged.
while read -r name pid; do
  [ -n "$pid" ] || continue
  if ! is_ours "$name" "$pid"; then
    echo "slurm-down.sh: $name (pid $pid) already gone" >&2
    continue
  fi
  kill -TERM "$pid" 2> /dev/null || true
  for i in $(seq 1 100); do
    is_ours "$name" "$pid" || break
    sleep 0.1
  done
  if is_ours "$name" "$pid"; then
    echo "slurm-down.sh: $name (pid $pid) ignored SIGTERM for 10 s; SIGKILL" >&2
    kill -KILL "$pid" 2> /dev/null || true
    for i in $(seq 1 50); do
      is_ours "$name" "$pid" || break
      sleep 0.1
    done
  fi
  if is_ours "$name" "$pid"; then
    echo "slurm-down.sh: $name (pid $pid) is still running" >&2
    rc=1
  else
    echo "slurm-down.sh: stopped $name (pid $pid)" >&2
  fi
done < <(tac "$PIDS")
exit "$rc"
