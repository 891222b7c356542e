#!/usr/bin/env bash
# A one-node Slurm cluster with accounting for the cluster tests (tests/test_slurm_cluster.py), from Debian's packages,
# as root and without systemd: munge, MariaDB, slurmdbd (accounting: the executor plugin polls job states with sacct),
# slurmctld and slurmd. The node declares two GPUs (gres.conf File= on two character devices made with mknod, so
# Slurm schedules --gpus against them and sets CUDA_VISIBLE_DEVICES per job); its partition has a MaxTime.
#   bash .ci/slurm-setup.sh start    # installs what is missing, starts the daemons (PIDs in $STATE/*.pid), prints times
#   bash .ci/slurm-setup.sh stop     # stops the daemons `start` started, by their PIDs, newest first
# Needs root. Slurm's config goes to its compiled-in path, /etc/slurm (the executor's job step drops SLURM_CONF).
set -euo pipefail

STATE=/run/sumbench-slurm                        # PIDs, logs, spool, state, the GPU device nodes
CLUSTER=sumbench-ci
PARTITION=${SUMBENCH_SLURM_PARTITION:-ci}
MAX_TIME_MIN=${SUMBENCH_SLURM_MAX_TIME_MIN:-30}   # the partition's MaxTime: what quality_jobs.max_job_hours mirrors
GPUS=2
DB=slurm_acct_db
DB_PASS=sumbench-ci                             # a local, throw-away database reachable only through its socket
NODE=$(hostname -s)
CPUS=$(( $(nproc) > 4 ? $(nproc) : 4 ))          # at least 4 job slots (jobs mostly wait on locks and I/O here)
MEM_MB=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 3 / 4 ))

stage() {  # stage NAME COMMAND...: run a stage and print how long it took
    local name=$1 start=$SECONDS
    shift
    "$@"
    echo "slurm-setup: $name took $((SECONDS - start)) s"
}

wait_for() {  # wait_for WHAT PIDFILE LOG COMMAND...: until COMMAND succeeds (60 s), or say why not
    local what=$1 pidfile=$2 log=$3
    shift 3
    for _ in $(seq 120); do
        if "$@" >/dev/null 2>&1; then return; fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
        sleep 0.5
    done
    echo "slurm-setup: $what did not come up; its log:" >&2
    tail -20 "$log" >&2
    exit 1
}

daemon() {  # daemon NAME COMMAND...: start COMMAND in the background, its PID in $STATE/NAME.pid
    local name=$1
    shift
    "$@" >>"$STATE/$name.log" 2>&1 &
    echo $! >"$STATE/$name.pid"
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null && command -v slurmd >/dev/null \
        && command -v sacct >/dev/null && command -v munged >/dev/null && command -v mariadbd >/dev/null; then
        return
    fi
    # Packages start their services on install unless told not to; this script starts them itself.
    local policy=/usr/sbin/policy-rc.d made=""
    if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && made=1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurmdbd slurm-client munge mariadb-server >/dev/null
    if [ -n "$made" ]; then rm -f $policy; fi
}

write_config() {
    mkdir -p "$STATE"/{spool,state,dev} /etc/slurm /run/munge /run/mysqld
    for i in $(seq 0 $((GPUS - 1))); do  # NVIDIA's major number; the trailing index is the device's CUDA index
        [ -c "$STATE/dev/nvidia$i" ] || mknod "$STATE/dev/nvidia$i" c 195 "$i"
    done
    cat >/etc/slurm/slurm.conf <<EOF
# Written by .ci/slurm-setup.sh: one node, accounting through slurmdbd.
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.daemon.pid
SlurmdPidFile=$STATE/slurmd.daemon.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
GresTypes=gpu
ReturnToService=2
MinJobAge=300
KillWait=10
SchedulerParameters=sched_interval=2
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=$MAX_TIME_MIN State=UP
EOF
    cat >/etc/slurm/gres.conf <<EOF
NodeName=$NODE Name=gpu File=$STATE/dev/nvidia[0-$((GPUS - 1))]
EOF
    cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.daemon.pid
LogFile=$STATE/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=$DB
EOF
    chmod 600 /etc/slurm/slurmdbd.conf
}

start_munge() {
    if munge -n </dev/null >/dev/null 2>&1; then echo "slurm-setup: using the running munged"; return; fi
    [ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
    chown munge:munge /etc/munge/munge.key /run/munge && chmod 400 /etc/munge/munge.key
    daemon munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
    wait_for munged "$STATE/munged.pid" "$STATE/munged.log" munge -n
}

start_mariadb() {
    chown mysql:mysql /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    daemon mariadbd /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
        --skip-networking --pid-file=/run/mysqld/mysqld.pid
    wait_for MariaDB "$STATE/mariadbd.pid" "$STATE/mariadbd.log" mariadb -e "SELECT 1"
    mariadb -e "CREATE DATABASE IF NOT EXISTS $DB;
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
        GRANT ALL ON $DB.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
}

start_slurm() {
    daemon slurmdbd /usr/sbin/slurmdbd -D
    wait_for slurmdbd "$STATE/slurmdbd.pid" "$STATE/slurmdbd.log" sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i add account sumbench Cluster="$CLUSTER" Description=ci Organization=ci >/dev/null 2>&1 || true
    sacctmgr -i add user root Account=sumbench Cluster="$CLUSTER" >/dev/null 2>&1 || true
    daemon slurmctld /usr/sbin/slurmctld -D -i
    wait_for slurmctld "$STATE/slurmctld.pid" "$STATE/slurmctld.log" scontrol ping
    daemon slurmd /usr/sbin/slurmd -D
    wait_for "slurmd (node $NODE idle)" "$STATE/slurmd.pid" "$STATE/slurmd.log" \
        bash -c "sinfo -h -n $NODE -o %t | grep -qx idle"
}

stop_all() {
    local name pid
    for name in slurmd slurmctld slurmdbd mariadbd munged; do
        [ -f "$STATE/$name.pid" ] || continue
        pid=$(cat "$STATE/$name.pid")
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
            echo "slurm-setup: stopped $name (PID $pid)"
        fi
        rm -f "$STATE/$name.pid"
    done
}

case "${1:-}" in
    start)
        [ "$(id -u)" = 0 ] || { echo "slurm-setup: run as root (it installs packages and starts daemons)" >&2; exit 1; }
        if scontrol ping >/dev/null 2>&1 && [ ! -f "$STATE/slurmctld.pid" ]; then
            echo "slurm-setup: a Slurm cluster not started here answers; leaving it alone" >&2; exit 1
        fi
        stop_all  # daemons of an earlier start that was not stopped
        stage "install slurm + munge + mariadb" install_packages
        write_config
        stage "start munged" start_munge
        stage "start MariaDB" start_mariadb
        stage "start slurmdbd, slurmctld, slurmd" start_slurm
        echo "slurm-setup: partition $PARTITION (MaxTime $MAX_TIME_MIN min) on $NODE: $CPUS CPUs, $GPUS GPUs"
        ;;
    stop) stop_all ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
