#!/usr/bin/env bash
# The image that `sam local invoke` runs python3.12 functions in: public.ecr.aws/lambda/python:3.12-x86_64.
#   1. present locally: nothing to do (a look-alike built from older inputs here is rebuilt);
#   2. else `docker pull` (PULL_TIMEOUT seconds, default 30): the real image, where a registry is reachable;
#   3. else a look-alike built without any image registry: a Debian root file system (debootstrap, from the
#      Debian mirror apt uses here; cached under .cache/lambda-image/), the libraries Python needs (apt, in
#      it), the Python 3.12 of $PY312 (a prefix or its python3.12; default: pyenv's 3.12.1), awslambdaric in
#      /var/runtime and a /var/runtime/bootstrap; imported with `docker import` and tagged like the real one.
# Options: --rebuild  build the look-alike even if an image of that name exists (never removes a pulled one
#                     unless given). See README.md beside this file for what differs from the real image.
# Needs a Docker daemon (scripts/docker-up.sh), and root or sudo for debootstrap.
set -euo pipefail

IMAGE=public.ecr.aws/lambda/python:3.12-x86_64
# SAM's own image on top of this one (emulator added); SAM does not rebuild it when the base changes.
RAPID_IMAGE=public.ecr.aws/lambda/python:3.12-rapid-x86_64
LABEL=mlpipe.lambda-image
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${LAMBDA_IMAGE_CACHE:-$REPO/.cache/lambda-image}
PULL_TIMEOUT=${PULL_TIMEOUT:-30}
REBUILD=0
[ "${1:-}" = "--rebuild" ] && REBUILD=1

say() { echo "lambda-image: $*"; }
die() { echo "lambda-image: $*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "needs root for: $*"; fi
}
SECONDS=0

command -v docker >/dev/null 2>&1 || die "no docker client: run scripts/docker-up.sh"
timeout 10 docker info >/dev/null 2>&1 || die "no Docker daemon answers: run scripts/docker-up.sh"

# ---- Python 3.12 to copy in --------------------------------------------------------------------------
PY312=${PY312:-$( (pyenv root 2>/dev/null || echo "$HOME/.pyenv") | head -n1)/versions/3.12.1}
if [ -d "$PY312" ]; then PYBIN=$PY312/bin/python3.12; else PYBIN=$PY312; fi
PYPREFIX= PYSHARED= PYSONAME= PYVER= PYPROBLEM=
if [ ! -x "$PYBIN" ]; then
  PYPROBLEM="no Python 3.12 at $PY312: set PY312 to a Python 3.12 prefix or its bin/python3.12"
else
  # Asked of the interpreter itself (a pyenv shim is not a path to copy).
  read -r PYPREFIX PYSHARED PYSONAME PYVER < <("$PYBIN" -c 'import sys, sysconfig as s
print(sys.base_prefix, s.get_config_var("Py_ENABLE_SHARED") or 0, s.get_config_var("INSTSONAME"), "%d.%d" % sys.version_info[:2])' 2>/dev/null) || true
  if [ -z "$PYVER" ]; then PYPROBLEM="$PYBIN does not run"
  elif [ "$PYVER" != 3.12 ]; then PYPROBLEM="$PYBIN is Python $PYVER, not 3.12"
  elif [ ! -f "$PYPREFIX/lib/python3.12/os.py" ] || [ ! -x "$PYPREFIX/bin/python3.12" ]; then
    PYPROBLEM="$PYPREFIX is not a prefix with bin/python3.12 and lib/python3.12 (a self-built or pyenv Python is)"
  fi
fi

# What the look-alike is made of: a change in any of these means another image.
ROOTFS_KEY_FILES=("$HERE/packages.txt")
INPUTS_ID=unknown
if [ -z "$PYPROBLEM" ]; then
  INPUTS_ID=$(
    {
      cat "$HERE/build.sh" "$HERE/packages.txt" "$HERE/bootstrap" "$HERE/lambda-entrypoint.sh" "$HERE/runtime-requirements.txt"
      "$PYBIN" -c 'import sys; print(sys.version)'
      echo "$PYPREFIX"
    } | sha256sum | cut -c1-16
  )
fi

# ---- 1. present already -------------------------------------------------------------------------------
if [ "$REBUILD" = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  built=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL.inputs\" }}" "$IMAGE" 2>/dev/null || true)
  if [ -z "$built" ] || [ "$built" = "<no value>" ]; then
    say "$IMAGE is present (not built by this script: a pulled image); nothing to do"
    exit 0
  elif [ "$built" = "$INPUTS_ID" ]; then
    say "$IMAGE is present (look-alike, inputs $INPUTS_ID); nothing to do"
    exit 0
  elif [ -n "$PYPROBLEM" ]; then
    say "$IMAGE is present (look-alike, inputs $built; cannot compare: $PYPROBLEM); nothing to do"
    exit 0
  fi
  say "$IMAGE is a look-alike from other inputs ($built, now $INPUTS_ID): rebuilding it"
else
  # ---- 2. pull --------------------------------------------------------------------------------------
  if [ "$REBUILD" = 0 ]; then
    PULL_LOG=$(mktemp)
    say "pulling $IMAGE (at most ${PULL_TIMEOUT}s)"
    if timeout "$PULL_TIMEOUT" docker pull -q "$IMAGE" >"$PULL_LOG" 2>&1; then
      rm -f "$PULL_LOG"
      say "pulled the real $IMAGE in ${SECONDS}s"
      exit 0
    fi
    say "pull failed ($(tail -n1 "$PULL_LOG" | cut -c1-160)): building a look-alike"
    rm -f "$PULL_LOG"
  fi
fi

# ---- 3. look-alike ------------------------------------------------------------------------------------
[ -z "$PYPROBLEM" ] || die "$PYPROBLEM"
# The emulator that the real image carries as /usr/local/bin/aws-lambda-rie (for `docker run` without SAM):
# the one shipped in the aws-sam-cli package, if found. SAM adds its own copy either way.
RIE=${SAM_RIE:-}
if [ -z "$RIE" ]; then
  for py in "$REPO/.venv/bin/python" "$(dirname "$(command -v sam 2>/dev/null || echo /nonexistent/sam)")/python"; do
    [ -x "$py" ] || continue
    RIE=$("$py" -c 'import samcli, pathlib; print(pathlib.Path(samcli.__file__).parent / "local/rapid/aws-lambda-rie-x86_64")' 2>/dev/null) || RIE=
    [ -f "$RIE" ] && break
    RIE=
  done
fi
command -v debootstrap >/dev/null 2>&1 || {
  say "installing debootstrap (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# The Debian release and mirror of this machine: the copied Python was built against its C library.
SUITE=${LAMBDA_IMAGE_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
debian_mirror() {  # the first non-security URI of apt's Debian sources
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' || true
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' || true
  } | tr ' ' '\n' | grep -v -e security -e '^$' | head -n1 || true
}
MIRROR=${LAMBDA_IMAGE_MIRROR:-$(debian_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

mkdir -p "$CACHE"
ROOTFS_ID=$({ echo "$SUITE $MIRROR v1"; cat "${ROOTFS_KEY_FILES[@]}"; } | sha256sum | cut -c1-16)
ROOTFS_TAR=$CACHE/rootfs-$SUITE-$ROOTFS_ID.tar.gz
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lambda-image.XXXXXX")
trap 'as_root rm -rf "$WORK"' EXIT
STAGE=$WORK/rootfs

if [ -f "$ROOTFS_TAR" ]; then
  say "root file system from the cache: $ROOTFS_TAR"
  mkdir -p "$STAGE"
  as_root tar -C "$STAGE" --numeric-owner -xzf "$ROOTFS_TAR"
else
  say "debootstrap $SUITE (minbase) from $MIRROR (about a minute; log: $WORK/debootstrap.log)"
  as_root debootstrap --variant=minbase "$SUITE" "$STAGE" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # Each line of packages.txt: the first of its alternatives that this release has.
  pkgs=()
  while read -r line; do
    line=${line%%#*}; line=${line//[[:space:]]/}
    [ -n "$line" ] || continue
    pick=
    for alt in ${line//|/ }; do
      if as_root chroot "$STAGE" apt-cache show "$alt" >/dev/null 2>&1; then pick=$alt; break; fi
    done
    [ -n "$pick" ] || die "none of '$line' (packages.txt) is in Debian $SUITE"
    pkgs+=("$pick")
  done <"$HERE/packages.txt"
  say "apt-get install in the root file system: ${pkgs[*]}"
  as_root chroot "$STAGE" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
    >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install in the root file system failed"; }
  # What an image does not need: package lists and archives, documentation, translations.
  as_root chroot "$STAGE" apt-get clean
  as_root rm -rf "$STAGE"/var/lib/apt/lists/* "$STAGE"/var/cache/apt/*.bin "$STAGE"/var/cache/debconf/*-old \
    "$STAGE"/usr/share/doc/* "$STAGE"/usr/share/man/* "$STAGE"/usr/share/info/* "$STAGE"/usr/share/locale/* \
    "$STAGE"/usr/share/lintian "$STAGE"/var/log/*.log "$STAGE"/var/log/apt/* "$STAGE"/tmp/* "$STAGE"/root/.[!.]* 2>/dev/null || true
  as_root tar -C "$STAGE" --numeric-owner -czf "$ROOTFS_TAR.part" . && as_root mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
  as_root chown "$(id -u):$(id -g)" "$ROOTFS_TAR"
  say "root file system cached: $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1))"
fi

# Python 3.12 as /var/lang, like the real image: the interpreter, its shared library, and the standard
# library without its test suite, site-packages, IDLE/Tk, ensurepip, static library and optimized .pyc.
say "Python $("$PYBIN" -c 'import platform; print(platform.python_version())') from $PYPREFIX into /var/lang"
as_root mkdir -p "$STAGE/var/lang/bin" "$STAGE/var/lang/lib" "$STAGE/var/runtime" "$STAGE/var/task" "$STAGE/opt"
as_root cp "$PYPREFIX/bin/python3.12" "$STAGE/var/lang/bin/python3.12"
as_root ln -sf python3.12 "$STAGE/var/lang/bin/python3"
as_root ln -sf python3.12 "$STAGE/var/lang/bin/python"
if [ "$PYSHARED" = 1 ]; then
  as_root cp "$PYPREFIX/lib/$PYSONAME" "$STAGE/var/lang/lib/"
  [ -f "$PYPREFIX/lib/libpython3.so" ] && as_root cp "$PYPREFIX/lib/libpython3.so" "$STAGE/var/lang/lib/"
  as_root ln -sf "$PYSONAME" "$STAGE/var/lang/lib/libpython3.12.so"
fi
tar -C "$PYPREFIX/lib" -c \
  --exclude=python3.12/test --exclude=python3.12/site-packages --exclude=python3.12/idlelib \
  --exclude=python3.12/tkinter --exclude=python3.12/turtledemo --exclude=python3.12/turtle.py \
  --exclude=python3.12/ensurepip --exclude='python3.12/config-*/*.a' --exclude='python3.12/config-*/*.o' \
  --exclude='*.opt-1.pyc' --exclude='*.opt-2.pyc' \
  --exclude='lib-dynload/_tkinter.*' --exclude='lib-dynload/_test*' --exclude='lib-dynload/_ctypes_test.*' \
  --exclude='lib-dynload/xxlimited*' --exclude='lib-dynload/_xxtestfuzz.*' --exclude='lib-dynload/xxsubtype.*' \
  python3.12 | as_root tar -C "$STAGE/var/lang/lib" -x --no-same-owner
as_root mkdir -p "$STAGE/var/lang/lib/python3.12/site-packages"
# Debug symbols are most of the size of a self-built Python.
if command -v strip >/dev/null 2>&1; then
  as_root find "$STAGE/var/lang" -type f \( -name '*.so' -o -name '*.so.*' -o -name python3.12 \) \
    -exec strip --strip-unneeded {} +
fi
# The interpreter's RUNPATH names the prefix it was built in: the loader finds libpython through ld.so.conf
# (and through LD_LIBRARY_PATH=/var/lang/lib, as in the real image).
echo /var/lang/lib | as_root tee "$STAGE/etc/ld.so.conf.d/00-var-lang.conf" >/dev/null
as_root chroot "$STAGE" ldconfig

missing=$(as_root chroot "$STAGE" sh -c 'for f in /var/lang/bin/python3.12 /var/lang/lib/python3.12/lib-dynload/*.so; do ldd "$f" | sed -n "s|^\s*\(\S*\) => not found|$f: \1|p"; done')
[ -z "$missing" ] || die "libraries missing in the image (add their Debian packages to packages.txt): $missing"

# The runtime: awslambdaric and its dependencies (wheels cached), the bootstrap, the entrypoint.
WHEELS=$CACHE/wheels
mkdir -p "$WHEELS"
PIPARGS=(--only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.12 --implementation cp)
if ! "$PYBIN" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$WHEELS" "${PIPARGS[@]}" \
    --target "$WORK/runtime" -r "$HERE/runtime-requirements.txt" >/dev/null 2>&1; then
  say "downloading awslambdaric wheels (PyPI) into $WHEELS"
  "$PYBIN" -m pip download --quiet --disable-pip-version-check "${PIPARGS[@]}" -d "$WHEELS" \
    -r "$HERE/runtime-requirements.txt" >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; die "pip download failed"; }
  rm -rf "$WORK/runtime"
  "$PYBIN" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$WHEELS" "${PIPARGS[@]}" \
    --target "$WORK/runtime" -r "$HERE/runtime-requirements.txt" >"$WORK/pip.log" 2>&1 ||
    { cat "$WORK/pip.log" >&2; die "pip install of the runtime failed"; }
fi
find "$WORK/runtime" -depth -name __pycache__ -type d -exec rm -rf {} + 2>/dev/null || true
rm -rf "$WORK/runtime/bin"
as_root cp -r "$WORK/runtime/." "$STAGE/var/runtime/"
as_root install -m 0755 "$HERE/bootstrap" "$STAGE/var/runtime/bootstrap"
as_root install -m 0755 "$HERE/lambda-entrypoint.sh" "$STAGE/lambda-entrypoint.sh"
if [ -n "$RIE" ]; then
  as_root install -m 0755 "$RIE" "$STAGE/usr/local/bin/aws-lambda-rie"
else
  say "no aws-sam-cli found: the image has no /usr/local/bin/aws-lambda-rie (sam local invoke adds its own)"
fi

# ---- import and tag -----------------------------------------------------------------------------------
say "docker import as $IMAGE"
old_id=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
as_root tar -C "$STAGE" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
  --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
  --change "LABEL $LABEL=look-alike $LABEL.inputs=$INPUTS_ID $LABEL.base=debian-$SUITE" \
  - "$IMAGE" >/dev/null

# SAM keeps its emulator image built on the old base unless it is gone; then the old base can go.
if docker image inspect "$RAPID_IMAGE" >/dev/null 2>&1; then
  say "removing $RAPID_IMAGE (SAM rebuilds it on the new base at the next invoke)"
  docker image rm -f "$RAPID_IMAGE" >/dev/null 2>&1 || true
fi
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi

# The interpreter and the runtime load in the image.
docker run --rm --entrypoint /var/lang/bin/python3.12 "$IMAGE" -c '
import sys
sys.path.append("/var/runtime")
import ssl, sqlite3, ctypes, lzma, bz2, zlib, decimal, hashlib, uuid, json, urllib.request, zoneinfo, readline, awslambdaric
import os
assert os.path.exists(ssl.get_default_verify_paths().openssl_capath + "/ca-certificates.crt"), "no CA certificates"
' || die "the image's Python does not load its modules"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
say "built $IMAGE (look-alike on Debian $SUITE, inputs $INPUTS_ID, $((size / 1000000)) MB) in ${SECONDS}s"
