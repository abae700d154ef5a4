#!/usr/bin/env bash
# Install and start a Docker daemon, and build the local base image the sandbox tests build on.
#
# Idempotent, for a fresh Debian machine as root: installs docker.io and debootstrap when missing,
# starts dockerd when no daemon answers, and builds gym-review-base:trixie (Debian trixie with
# python3, python3-venv, python3-pip, ca-certificates) with debootstrap + `docker import`, because
# no image registry is reachable. The root filesystem is cached in $GYM_REVIEW_ROOTFS_CACHE.
set -euo pipefail

IMAGE="${GYM_REVIEW_BASE_IMAGE:-gym-review-base:trixie}"
CACHE_DIR="${GYM_REVIEW_ROOTFS_CACHE:-/var/cache/gym-review}"
ROOTFS="$CACHE_DIR/trixie-rootfs"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/gym-review-dockerd.log}"
DAEMON_WAIT_S=60

log() { echo "setup-docker: $*" >&2; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

start_daemon() {
    if docker info >/dev/null 2>&1; then
        log "a Docker daemon already answers"
        return
    fi
    log "starting dockerd (log: $DOCKERD_LOG)"
    nohup dockerd >"$DOCKERD_LOG" 2>&1 &
    local waited=0
    until docker info >/dev/null 2>&1; do
        if ((waited >= DAEMON_WAIT_S)); then
            log "dockerd did not answer within ${DAEMON_WAIT_S} s; last log lines:"
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "dockerd answers after ${waited} s"
}

build_rootfs() {
    # A finished rootfs is marked, so an interrupted debootstrap is redone rather than imported.
    # A rootfs without the mark is accepted when its last-configured package (ca-certificates) is in.
    if [[ -f "$ROOTFS/.gym-review-complete" ]] ||
        [[ -x "$ROOTFS/usr/bin/python3" && -s "$ROOTFS/etc/ssl/certs/ca-certificates.crt" ]]; then
        log "reusing the cached root filesystem $ROOTFS"
        return
    fi
    log "debootstrapping Debian trixie into $ROOTFS"
    rm -rf "$ROOTFS"
    mkdir -p "$CACHE_DIR"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        trixie "$ROOTFS" >"$CACHE_DIR/debootstrap.log" 2>&1 || {
        log "debootstrap failed; last log lines:"
        tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
        exit 1
    }
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
    touch "$ROOTFS/.gym-review-complete"
}

import_image() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then
        log "base image $IMAGE is present"
        return
    fi
    build_rootfs
    log "importing $ROOTFS as $IMAGE"
    tar -C "$ROOTFS" --exclude=./.gym-review-complete -c . | docker import - "$IMAGE" >/dev/null
}

install_packages
start_daemon
import_image
log "ready: $(docker version --format '{{.Server.Version}}') with base image $IMAGE"
