#!/usr/bin/env bash
# A Docker engine for `sam local invoke`, on a machine without systemd.
#   - installs Debian's docker.io when the docker client or dockerd is missing (as root, or with sudo);
#   - starts dockerd in the background when no daemon answers `docker info`;
#   - waits until it answers (DOCKER_UP_TIMEOUT seconds, default 60).
# Idempotent: with a daemon already answering, it only says so.
# The daemon's log is $DOCKERD_LOG (default /tmp/dockerd.log).
# `docker run --network host` works here: containers then reach the host's 127.0.0.1 services. SAM ignores
# `sam local invoke --docker-network host`; scripts/lambda-image/docker_hostnet_proxy.py makes it take
# effect (see scripts/lambda-image/README.md).
set -euo pipefail

TIMEOUT=${DOCKER_UP_TIMEOUT:-60}
LOG=${DOCKERD_LOG:-/tmp/dockerd.log}

say() { echo "docker-up: $*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "needs root for: $* (run as root or install sudo)" >&2
    exit 1
  fi
}

daemon_answers() { timeout 10 docker info >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
  say "installing Debian's docker.io (docker client or dockerd missing)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if daemon_answers; then
  say "daemon already answers ($(docker info --format '{{.ServerVersion}} storage={{.Driver}}' 2>/dev/null))"
  exit 0
fi

# A socket left by a dead daemon makes `docker info` fail; dockerd replaces it when it starts.
say "no daemon answers: starting dockerd in the background (log: $LOG)"
if [ "$(id -u)" -eq 0 ]; then
  nohup dockerd >"$LOG" 2>&1 </dev/null &
else
  as_root sh -c "nohup dockerd >'$LOG' 2>&1 </dev/null &"
fi

for _ in $(seq 1 "$TIMEOUT"); do
  if daemon_answers; then
    say "daemon up ($(docker info --format '{{.ServerVersion}} storage={{.Driver}}' 2>/dev/null))"
    # A user who is not root needs to be in the docker group, or to use sudo, to reach the socket.
    exit 0
  fi
  sleep 1
done
say "dockerd did not answer within ${TIMEOUT}s; the end of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
