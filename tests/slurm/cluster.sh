#!/usr/bin/env bash
# Throw-away single-node Slurm cluster (slurmctld + slurmd + private munged) for the slurm tests.
#
#   cluster.sh start DIR   wipe DIR, start munged, slurmctld and slurmd with every file under DIR,
#                          and wait until the node "localhost" is idle
#   cluster.sh stop DIR    cancel this cluster's jobs and stop its daemons by PID
#   cluster.sh env DIR     print the `export SLURM_CONF=...` line(s) for client commands
#
# Runs as root, without systemd or cgroups (see /work/shared/SLURM-NOTES.md for why each
# slurm.conf setting is what it is). Environment knobs:
#   CLUSTER_CPUS       CPUs each node advertises (default 4, may exceed the real cores)
#   CLUSTER_NODES      0 (default): one node "localhost", TaskPlugin=task/none. N >= 1: nodes
#                      n1..nN, one slurmd each (`slurmd -N nI`, own port, spool, pid, log and
#                      TmpFS folder), all on 127.0.0.1, with TaskPlugin=task/affinity. Open MPI
#                      sees them as separate hosts: jobs must set OMPI_MCA_btl=tcp,self (its
#                      shared-memory transport between "hosts" on one machine crashes) and
#                      OMPI_MCA_btl_tcp_if_include=lo (with every interface, slurm_scaling_nodes
#                      failed once in CI and twice in about 50 runs here; the failure caught
#                      was a rank of a 2-node step dying of SIGSEGV before its first collective,
#                      likely the TCP BTL's connection race with several interfaces,
#                      open-mpi/ompi#3035)
#   CLUSTER_PORT       slurmctld port; the slurmd ports follow it (default: the first free run
#                      from 6817 on, so a second cluster on the same machine does not collide)
#   CLUSTER_START_TIMEOUT  seconds to wait for the node to become idle (default 30)
set -euo pipefail

readonly PACKAGES=(slurmd slurmctld slurm-client slurm-wlm-basic-plugins munge gnuplot-nox)
readonly MARKER=.paraprop-test-cluster

die() { printf 'cluster.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'cluster.sh: %s\n' "$*" >&2; }

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- packages ------------------------------------------------------------------------------

ensure_packages() {
  local need=0 cmd
  for cmd in slurmctld slurmd sinfo munged gnuplot; do
    command -v "$cmd" >/dev/null 2>&1 || need=1
  done
  [ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so ] || \
    compgen -G '/usr/lib/*/slurm-wlm/mpi_pmix.so' >/dev/null || need=1
  [ "$need" = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "Slurm packages missing and not root: apt-get install ${PACKAGES[*]}"
  log "installing ${PACKAGES[*]}"
  # Another apt may hold the dpkg lock (e.g. a parallel build set-up): wait for it.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 \
    || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${PACKAGES[@]}" >&2 || die "apt-get install failed"
}

# --- helpers -------------------------------------------------------------------------------

# Absolute path without requiring the folder to exist.
abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# True if PID runs (not a zombie: the sandbox's PID 1 reaps late, so kill -0 alone lies).
alive() {
  local pid=$1 state
  [ -r "/proc/$pid/status" ] || return 1
  state=$(awk '/^State:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# True if PID is alive and its command line mentions NAME (guards against PID reuse).
alive_as() {
  local pid=$1 name=$2
  alive "$pid" || return 1
  # (no `| grep -q`: under pipefail its early exit can kill tr and read as "not found")
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$name"* ]]
}

port_free() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# pick_ports COUNT: the first of COUNT consecutive free ports.
pick_ports() {
  local count=$1 p q ok
  if [ -n "${CLUSTER_PORT:-}" ]; then
    printf '%s\n' "$CLUSTER_PORT"
    return
  fi
  for ((p = 6817; p < 6917; p += count)); do
    ok=1
    for ((q = p; q < p + count; q++)); do port_free "$q" || { ok=0; break; }; done
    if [ "$ok" = 1 ]; then
      printf '%s\n' "$p"
      return
    fi
  done
  die "no $count free ports in 6817..6917 (set CLUSTER_PORT)"
}

# node_names NODES: "localhost" for 0, else n1 … nN.
node_names() {
  local i
  if [ "$1" -eq 0 ]; then echo localhost; return; fi
  for ((i = 1; i <= $1; i++)); do printf 'n%d\n' "$i"; done
}

# Stops the process in PIDFILE (TERM, then KILL after a few seconds) if it is still NAME.
stop_pidfile() {
  local pidfile=$1 name=$2 pid i
  [ -s "$pidfile" ] || return 0
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] || return 0
  alive_as "$pid" "$name" || { rm -f "$pidfile"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name ($pid) ignored SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  alive "$pid" && log "warning: $name ($pid) is still running"
  rm -f "$pidfile"
}

# PIDs of live processes whose environment names this cluster's slurm.conf (slurmstepd and the
# job processes it started inherit slurmd's SLURM_CONF): leftovers after the daemons stopped.
cluster_processes() {
  local conf=$1 env p
  for env in /proc/[0-9]*/environ; do
    p=${env#/proc/}; p=${p%/environ}
    [ "$p" = "$$" ] && continue
    [ "$p" = "$BASHPID" ] && continue
    alive "$p" || continue
    if grep -qxF "SLURM_CONF=$conf" < <(tr '\0' '\n' 2>/dev/null <"$env"); then
      printf '%s\n' "$p"
    fi
  done
  return 0
}

# --- stop ----------------------------------------------------------------------------------

cmd_stop() {
  local dir conf pids i p
  dir=$(abspath "$1")
  conf=$dir/slurm.conf
  [ -f "$dir/$MARKER" ] || return 0

  # Let running jobs end the Slurm way first (their steps get SIGTERM, then SIGKILL).
  if [ -f "$conf" ] && [ -s "$dir/run/slurmctld.pid" ]; then
    # every user's jobs (tests also submit as an unprivileged user)
    local u
    for u in $(id -un) $(SLURM_CONF=$conf timeout 5 squeue -h -o %u 2>/dev/null | sort -u || true); do
      SLURM_CONF=$conf timeout 10 scancel --quiet --user="$u" >/dev/null 2>&1 || true
    done
    for ((i = 0; i < 30; i++)); do
      [ -z "$(SLURM_CONF=$conf timeout 5 squeue -h -o %i 2>/dev/null || true)" ] && break
      sleep 0.2
    done
  fi

  local f
  for f in "$dir"/run/slurmd*.pid; do
    [ -e "$f" ] && stop_pidfile "$f" slurmd
  done
  stop_pidfile "$dir/run/slurmctld.pid" slurmctld

  # Orphaned slurmstepd / job processes of this cluster only (matched by their SLURM_CONF).
  if [ -f "$conf" ]; then
    pids=$(cluster_processes "$conf")
    if [ -n "$pids" ]; then
      log "killing leftover job processes: ${pids//$'\n'/ }"
      for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    fi
  fi

  local mdir
  mdir=$(cat "$dir/munge-dir" 2>/dev/null || printf '%s' "$dir/munge")
  stop_pidfile "$mdir/munged.pid" munged
  # A munge folder outside DIR (long-path fallback) is ours to remove.
  case "$mdir" in
    "$dir"/*) ;;
    *) [ -f "$mdir/$MARKER" ] && rm -rf -- "$mdir" ;;
  esac
  return 0
}

# --- start ---------------------------------------------------------------------------------

write_conf() {
  local dir=$1 msock=$2 port=$3 cpus=$4 nodes=$5 mem i
  local sd_port sd_pid sd_log tmpfs task node_lines part_nodes
  mem=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
  if [ "$nodes" -eq 0 ]; then
    sd_port="SlurmdPort=$((port + 1))"
    sd_pid=$dir/run/slurmd.pid sd_log=$dir/log/slurmd.log tmpfs=$dir/tmp task=task/none
    node_lines="NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN"
    part_nodes=localhost
  else
    # several slurmd on one host: each its own port (Port= per node) and, through %n, its own
    # pid file, log and spool folder; TmpFS too, or the PMIx client folders of a step collide
    mem=$((mem / nodes))
    sd_port="# slurmd ports: Port= on each node line"
    sd_pid=$dir/run/slurmd-%n.pid sd_log=$dir/log/slurmd-%n.log tmpfs=$dir/tmp/%n
    task=task/affinity
    node_lines=
    for ((i = 1; i <= nodes; i++)); do
      node_lines+="NodeName=n$i NodeAddr=127.0.0.1 Port=$((port + i)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"$'\n'
    done
    part_nodes="n[1-$nodes]"
  fi
  cat >"$dir/slurm.conf" <<EOF
# Generated by tests/slurm/cluster.sh: a throw-away single-node cluster rooted at $dir
ClusterName=paraprop-test
# the address in parentheses: a minimal system may have no /etc/hosts to resolve "localhost"
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
$sd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again.
AuthInfo=socket=$msock,cred_expire=10

StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$sd_pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$sd_log
TmpFS=$tmpfs
SlurmctldDebug=info
SlurmdDebug=info

# No cgroups and no systemd here: cgroup plugins fail and drain the node. task/affinity (binding
# by sched_setaffinity) works without them.
ProctrackType=proctrack/linuxproc
TaskPlugin=$task
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Lets CPUs exceed the real core count (needed for -n 2 -c 2 on a 2-core machine).
SlurmdParameters=config_overrides
MpiDefault=pmix
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=3
InactiveLimit=0
MinJobAge=600
SlurmdTimeout=60
SlurmctldTimeout=60
MessageTimeout=20

# Preemption as sites configure it: a job in "urgent" that needs the CPUs of jobs in "debug"
# (the default) preempts them; Slurm sends them SIGTERM, SIGKILL after KillWait, and requeues.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE

$node_lines
PartitionName=debug Nodes=$part_nodes Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=$part_nodes MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
}

# Whether every folder from / down to $1 is executable by all (what munged demands).
path_searchable() {
  local p
  p=$(cd "$1" && pwd -P) || return 1
  while [ -n "$p" ] && [ "$p" != / ]; do
    [ $(( 0$(stat -c %a "$p") & 1 )) -eq 1 ] || return 1  # octal mode: others may search
    p=$(dirname "$p")
  done
  return 0
}

start_munged() {
  local mdir=$1 i
  chmod 755 "$mdir"
  head -c 1024 /dev/urandom >"$mdir/munge.key"
  chmod 400 "$mdir/munge.key"
  munged --key-file="$mdir/munge.key" --socket="$mdir/munged.sock" \
    --pid-file="$mdir/munged.pid" --log-file="$mdir/munged.log" \
    --seed-file="$mdir/munged.seed" \
    || die "munged failed to start; see $mdir/munged.log"
  for ((i = 0; i < 50; i++)); do
    [ -S "$mdir/munged.sock" ] && munge -n -S "$mdir/munged.sock" 2>/dev/null \
      | unmunge -S "$mdir/munged.sock" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "munged does not answer on $mdir/munged.sock; see $mdir/munged.log"
}

show_logs() {
  local dir=$1 f
  for f in "$dir/log/slurmctld.log" "$dir"/log/slurmd*.log; do
    [ -f "$f" ] || continue
    printf '%s\n' "---- last lines of $f" >&2
    tail -n 15 "$f" >&2
  done
}

# EXIT trap while starting: on failure show the daemons' logs and stop what did start.
start_failed() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    show_logs "$START_DIR"
    cmd_stop "$START_DIR"
  fi
}

cmd_start() {
  local dir conf mdir port cpus state i timeout nodes node names
  dir=$(abspath "$1")
  conf=$dir/slurm.conf
  cpus=${CLUSTER_CPUS:-4}
  timeout=${CLUSTER_START_TIMEOUT:-30}

  ensure_packages
  # Refuse to wipe a folder that this script did not create.
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/$MARKER" ]; then
    die "$dir exists, is not empty and is not a cluster folder made by cluster.sh"
  fi
  cmd_stop "$dir"
  rm -rf -- "$dir"
  nodes=${CLUSTER_NODES:-0}
  if ! [[ "$nodes" =~ ^[0-9]+$ ]] || [ "$nodes" -gt 16 ]; then
    die "CLUSTER_NODES must be 0..16, not '$nodes'"
  fi
  mkdir -p "$dir"/{state,spool,run,log,tmp}
  names=$(node_names "$nodes" | tr '\n' ' ')
  names=${names% }
  for node in $names; do mkdir -p "$dir/spool/$node" "$dir/tmp/$node"; done
  : >"$dir/$MARKER"

  # munged needs every folder above its socket to be world-searchable (a clone under /root,
  # mode 700, is not) and sun_path holds only 108 bytes: keep munge's folder in /tmp unless
  # DIR's own path qualifies.
  mdir=$dir/munge
  if [ ${#mdir} -gt 80 ] || ! path_searchable "$dir"; then
    mdir=$(mktemp -d /tmp/ppmunge.XXXXXX)
    chmod 755 "$mdir"
    : >"$mdir/$MARKER"
  else
    mkdir -p "$mdir"
  fi
  printf '%s\n' "$mdir" >"$dir/munge-dir"

  # From here on, a failure stops whatever was started.
  START_DIR=$dir
  trap start_failed EXIT

  start_munged "$mdir"
  port=$(pick_ports $((nodes > 0 ? nodes + 1 : 2)))
  write_conf "$dir" "$mdir/munged.sock" "$port" "$cpus" "$nodes"

  export SLURM_CONF=$conf
  slurmctld -i -f "$conf" || die "slurmctld failed to start; see $dir/log/slurmctld.log"
  for node in $names; do
    slurmd -N "$node" -f "$conf" || die "slurmd $node failed to start; see $dir/log/"
  done

  state=
  for ((i = 0; i < timeout * 5; i++)); do
    # every node idle (one line per state: exactly "idle")
    state=$(timeout 5 sinfo -h -N -p debug -o %T 2>/dev/null | sort -u | tr '\n' ' ' || true)
    state=${state% }
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    die "nodes $names are not idle after ${timeout}s (state: '${state:-no answer}')"
  fi
  trap - EXIT
  log "cluster up in $dir (slurmctld port $port, node(s) $names, $cpus CPUs each)"
  cmd_env "$dir"
}

cmd_env() {
  local dir
  dir=$(abspath "$1")
  printf 'export SLURM_CONF=%q\n' "$dir/slurm.conf"
}

[ $# -eq 2 ] || usage
case "$1" in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  env) cmd_env "$2" ;;
  *) usage ;;
esac
