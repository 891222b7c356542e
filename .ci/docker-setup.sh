#!/usr/bin/env bash
# A Docker engine for the container integration test (tests/test_docker_integration.py), on a machine with no
# registry: installs docker.io and debootstrap, starts dockerd as root, and makes the Debian base image the test
# builds on (debootstrap + `docker import`, cached as a tarball under /var/cache/sumbench).
#   bash .ci/docker-setup.sh start    # prints each stage's time; leaves dockerd running (PID in $STATE/dockerd.pid)
#   bash .ci/docker-setup.sh stop     # stops the dockerd that `start` started, by its PID
# Needs root. A dockerd that already answers is used as it is (and `stop` leaves it alone).
set -euo pipefail

BASE_IMAGE=${SUMBENCH_TEST_BASE_IMAGE:-sumbench/debian-base:bookworm}
SUITE=bookworm                                   # Debian 12: Python 3.11, the CPU torch wheel's Python
CACHE=/var/cache/sumbench
BASE_TAR=$CACHE/debian-$SUITE-python.tar
STATE=/run/sumbench-ci
PACKAGES=python3,python3-venv,ca-certificates    # minbase + what the Dockerfile's python stage checks for

stage() {  # stage NAME COMMAND...: run a stage and print how long it took
    local name=$1 start=$SECONDS
    shift
    "$@"
    echo "docker-setup: $name took $((SECONDS - start)) s"
}

install_packages() {
    if command -v dockerd >/dev/null && command -v debootstrap >/dev/null; then return; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
}

start_dockerd() {
    if docker info >/dev/null 2>&1; then echo "docker-setup: using the running dockerd"; return; fi
    mkdir -p "$STATE"
    # No bridge and no iptables (this machine may have neither); builds and jobs use the host network.
    dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none \
        --host=unix:///var/run/docker.sock >"$STATE/dockerd.log" 2>&1 &
    echo $! >"$STATE/dockerd.pid"
    for _ in $(seq 60); do
        if docker info >/dev/null 2>&1; then return; fi
        if ! kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null; then break; fi
        sleep 1
    done
    echo "docker-setup: dockerd did not come up; its log:" >&2
    tail -20 "$STATE/dockerd.log" >&2
    exit 1
}

base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then echo "docker-setup: $BASE_IMAGE is there"; return; fi
    if [ ! -s "$BASE_TAR" ]; then
        local root
        root=$(mktemp -d)
        debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" http://deb.debian.org/debian >/dev/null
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        mkdir -p "$CACHE"
        tar -C "$root" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
        rm -rf "$root"
    fi
    docker import --change 'ENV LANG=C.UTF-8' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
}

stop_dockerd() {
    local pidfile=$STATE/dockerd.pid
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
    rm -f "$pidfile"
    echo "docker-setup: stopped dockerd (PID $pid)"
}

case "${1:-}" in
    start)
        [ "$(id -u)" = 0 ] || { echo "docker-setup: run as root (it installs packages and starts dockerd)" >&2; exit 1; }
        stage "install docker.io + debootstrap" install_packages
        stage "start dockerd" start_dockerd
        stage "base image $BASE_IMAGE (debootstrap or cache)" base_image
        ;;
    stop) stop_dockerd ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
