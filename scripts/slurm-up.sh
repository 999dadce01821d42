#!/usr/bin/env bash
# Start a one-node SLURM cluster on this host, for the SLURM test (tests/workflow/test_slurm.py) and for
# trying the slurm profile by hand:
#
#   bash scripts/slurm-up.sh [STATE_DIR]       # default /tmp/nst-slurm
#   source STATE_DIR/env                       # SLURM_CONF and PATH for the client tools
#   sinfo; sbatch --wrap hostname; ...
#   bash scripts/slurm-down.sh [STATE_DIR]     # stops exactly the daemons started here
#
# Everything lives in STATE_DIR: its own slurm.conf (the tools find it through SLURM_CONF, never
# /etc/slurm), its own munge key and socket, client shims in bin/ (see below), state, spool,
# logs, the job completion file (jobcomp.txt) and `pids` (name and pid of each daemon started
# here, for slurm-down.sh).
# Ports are the first free pair from 16817 up, so it never clashes with a system SLURM or with a
# second test cluster. Installs slurm-wlm and munge with apt-get when they are missing.
#
# Needs root (SlurmUser=root, the munge daemon runs as user munge). Exit status: 0 the node is
# idle and accepts jobs; 3 this host cannot run it (not root, no apt-get, packages not
# installable): a test skips; 1 anything else (see the logs in STATE_DIR/log).
set -euo pipefail

STATE=${1:-/tmp/nst-slurm}
cannot() { echo "slurm-up.sh: cannot start a SLURM cluster here: $*" >&2; exit 3; }
fail() { echo "slurm-up.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || cannot "needs root (SlurmUser=root, munged as user munge)"

# --- packages ------------------------------------------------------------------------------
missing() {
  local tool
  for tool in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/sbin/mungekey \
      sbatch squeue sinfo scontrol; do
    command -v "$tool" > /dev/null 2>&1 || return 0
  done
  id munge > /dev/null 2>&1 || return 0
  return 1
}
if missing; then
  command -v apt-get > /dev/null 2>&1 || cannot "slurm-wlm/munge are not installed and there is no apt-get"
  echo "slurm-up.sh: installing slurm-wlm and munge (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq slurm-wlm munge > /dev/null 2>&1; then
    apt-get update -qq > /dev/null 2>&1 || cannot "apt-get update failed (no network?)"
    apt-get install -y -qq slurm-wlm munge > /dev/null 2>&1 || cannot "apt-get install slurm-wlm munge failed"
  fi
  missing && cannot "slurm-wlm/munge installed, but slurmctld/slurmd/munged/sbatch are still missing"
fi

# --- state folder --------------------------------------------------------------------------
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd -P)
PIDS="$STATE/pids"
# Is `pid` (still) the daemon `name`? A zombie (exited, not yet reaped) is not.
alive() {
  [ "$(cat "/proc/$2/comm" 2> /dev/null)" = "$1" ] || return 1
  [ "$(awk '/^State:/ {print $2}' "/proc/$2/status" 2> /dev/null)" != Z ]
}
if [ -s "$PIDS" ]; then
  while read -r name pid; do
    if [ -n "$pid" ] && alive "$name" "$pid"; then
      fail "a cluster started here is still running ($name, pid $pid): bash scripts/slurm-down.sh $STATE"
    fi
  done < "$PIDS"
fi
rm -rf "$STATE/ctld" "$STATE/slurmd" "$STATE/munge" "$STATE/log" "$STATE/bin" "$STATE/jobcomp.txt" "$PIDS" \
  "$STATE/slurmctld.pid" "$STATE/slurmd.pid"
mkdir -p "$STATE/ctld" "$STATE/slurmd" "$STATE/log" "$STATE/munge"
chmod 755 "$STATE"
: > "$PIDS"

# Whatever fails from here on stops what was already started.
cleanup_on_error() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    echo "slurm-up.sh: failed; stopping what was started. Logs: $STATE/log" >&2
    tail -n 20 "$STATE"/log/*.log >&2 2> /dev/null || true
    bash "$(dirname "$0")/slurm-down.sh" "$STATE" >&2 || true
  fi
}
trap cleanup_on_error EXIT

record() { echo "$1 $2" >> "$PIDS"; }
wait_for_pidfile() {  # file, name: waits for the daemon's pid file, then records the pid
  local i pid
  for i in $(seq 1 100); do
    if [ -s "$1" ]; then
      pid=$(tr -dc '0-9' < "$1")
      if [ -n "$pid" ] && alive "$2" "$pid"; then
        record "$2" "$pid"
        return 0
      fi
    fi
    sleep 0.1
  done
  fail "$2 did not start (no live pid in $1)"
}
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
PORT=16817
while ! { port_free "$PORT" && port_free $((PORT + 1)); }; do
  PORT=$((PORT + 2))
  [ "$PORT" -lt 17817 ] || fail "no free port pair between 16817 and 17817"
done

# --- munge: its own key, socket and pid file -----------------------------------------------
chown munge:munge "$STATE/munge"
chmod 755 "$STATE/munge"
runuser -u munge -- /usr/sbin/mungekey --create --keyfile="$STATE/munge/munge.key" > /dev/null
runuser -u munge -- /usr/sbin/munged \
  --socket="$STATE/munge/munge.socket" \
  --key-file="$STATE/munge/munge.key" \
  --pid-file="$STATE/munge/munged.pid" \
  --log-file="$STATE/munge/munged.log" \
  --seed-file="$STATE/munge/munged.seed" \
  < /dev/null > "$STATE/log/munged.out" 2>&1 || fail "munged did not start: $(cat "$STATE/log/munged.out")"
wait_for_pidfile "$STATE/munge/munged.pid" munged

# --- slurm.conf ----------------------------------------------------------------------------
cat > "$STATE/slurm.conf" << EOF
# Written by scripts/slurm-up.sh: a one-node cluster for tests. Read through SLURM_CONF.
ClusterName=nsttest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
# No accounting database: sacct does not work, squeue does (jobs stay listed for MinJobAge s).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
MinJobAge=300
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$STATE/slurm.conf"
# Client shims in STATE_DIR/bin that set SLURM_CONF themselves: inside a job the executor
# plugin's job step (snakemake-executor-plugin-slurm-jobstep) removes every SLURM_* variable,
# SLURM_CONF included, before it calls srun, and srun would then look for /etc/slurm/slurm.conf.
mkdir -p "$STATE/bin"
for tool in srun sbatch squeue scontrol sinfo scancel sacct sacctmgr sshare salloc; do
  real=$(PATH=/usr/local/bin:/usr/bin:/bin:$PATH command -v "$tool" 2> /dev/null || true)
  case "$real" in /*) ;; *) continue ;; esac
  printf '#!/bin/sh\n# Written by scripts/slurm-up.sh\nSLURM_CONF=%s; export SLURM_CONF\nexec %s "$@"\n' \
    "$SLURM_CONF" "$real" > "$STATE/bin/$tool"
  chmod 755 "$STATE/bin/$tool"
done
printf 'export SLURM_CONF=%s\nexport PATH=%s/bin:$PATH\n' "$SLURM_CONF" "$STATE" > "$STATE/env"

# --- daemons -------------------------------------------------------------------------------
/usr/sbin/slurmctld -f "$SLURM_CONF" < /dev/null > "$STATE/log/slurmctld.out" 2>&1 \
  || fail "slurmctld did not start: $(cat "$STATE/log/slurmctld.out")"
wait_for_pidfile "$STATE/slurmctld.pid" slurmctld
/usr/sbin/slurmd -f "$SLURM_CONF" < /dev/null > "$STATE/log/slurmd.out" 2>&1 \
  || fail "slurmd did not start: $(cat "$STATE/log/slurmd.out")"
wait_for_pidfile "$STATE/slurmd.pid" slurmd

state=""
for i in $(seq 1 120); do
  state=$(sinfo -h -N -n "$HOST" -o %T 2> /dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "node $HOST is '${state:-unknown}', not idle, after 60 s"

trap - EXIT
echo "slurm-up.sh: node $HOST idle ($CPUS CPUs, ${MEM_MB} MB, partition debug, port $PORT)." >&2
echo "slurm-up.sh: source $STATE/env   # SLURM_CONF=$SLURM_CONF, PATH=$STATE/bin:...; pids in $PIDS" >&2
