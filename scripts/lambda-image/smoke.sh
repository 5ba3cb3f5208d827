#!/usr/bin/env bash
# Proof that `sam local invoke` runs a python3.12 function here: a throwaway template in a temporary folder,
# `sam build`, then `sam local invoke --skip-pull-image --docker-network host --env-vars ...`. The function
# returns its event and the body of an HTTP GET to PROBE_URL (from --env-vars): a server on the host's
# 127.0.0.1, which the container reaches only through the host network. SAM ignores `--docker-network host`
# (the container stays on the bridge), so SAM talks to Docker through docker_hostnet_proxy.py, which creates
# SAM's Lambda containers with NetworkMode=host (see README.md). SMOKE_NO_PROXY=1 shows SAM alone.
# Starts Docker and builds the image first if needed (scripts/docker-up.sh, build.sh: both idempotent).
# SAM: $SAM, else the repository's .venv/bin/sam, else sam on PATH. Its folder goes first on PATH
# (sam build wants a python3.12 there, which a venv's bin has).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SAM=${SAM:-}
[ -n "$SAM" ] || { [ -x "$REPO/.venv/bin/sam" ] && SAM=$REPO/.venv/bin/sam; } || SAM=$(command -v sam || true)
[ -n "$SAM" ] && [ -x "$SAM" ] || { echo "smoke: no sam (make venv, or set SAM=/path/to/sam)" >&2; exit 1; }
export PATH="$(dirname "$SAM"):$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
command -v python3.12 >/dev/null || { echo "smoke: sam build needs python3.12 on PATH" >&2; exit 1; }

bash "$REPO/scripts/docker-up.sh"
bash "$HERE/build.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lambda-smoke.XXXXXX")
SERVER_PID= PROXY_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# An HTTP server on the host's loopback only, on a free port; it answers a token.
TOKEN="probe-$RANDOM$RANDOM"
python3.12 - "$WORK/port" "$TOKEN" <<'EOF' &
import http.server, sys
port_file, token = sys.argv[1], sys.argv[2].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(token))); self.end_headers()
        self.wfile.write(token)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(port_file + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
s.timeout = 1
import time; end = time.time() + 600          # stops by itself
while time.time() < end: s.handle_request()
EOF
SERVER_PID=$!
for _ in $(seq 50); do [ -f "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")

mkdir -p "$WORK/src"
cat >"$WORK/src/app.py" <<'EOF'
import os, sys, urllib.request

def handler(event, context):
    with urllib.request.urlopen(os.environ["PROBE_URL"], timeout=5) as r:
        probe = r.read().decode()
    return {"event": event, "probe": probe, "python": sys.version.split()[0],
            "task_root": os.environ.get("LAMBDA_TASK_ROOT"), "function": context.function_name}
EOF
cat >"$WORK/template.yaml" <<'EOF'
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Probe:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Architectures: [x86_64]
      Handler: app.handler
      CodeUri: src/
      Timeout: 30
      Environment:
        Variables:
          PROBE_URL: ""
EOF
echo '{"hello": "smoke", "n": 1}' >"$WORK/event.json"
echo "{\"Probe\": {\"PROBE_URL\": \"http://127.0.0.1:$PORT/\"}}" >"$WORK/env.json"

if [ "${SMOKE_NO_PROXY:-0}" != 1 ]; then
  python3.12 "$HERE/docker_hostnet_proxy.py" --socket "$WORK/docker.sock" --idle 600 2>"$WORK/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 50); do [ -S "$WORK/docker.sock" ] && break; sleep 0.1; done
  export DOCKER_HOST="unix://$WORK/docker.sock"
fi

cd "$WORK"
t0=$(date +%s.%N)
"$SAM" build --template-file template.yaml >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; echo "smoke: sam build failed" >&2; exit 1; }
t1=$(date +%s.%N)
invoke() {  # $1: output file
  "$SAM" local invoke Probe --template .aws-sam/build/template.yaml -e event.json --env-vars env.json \
    --skip-pull-image --docker-network host >"$1" 2>"$WORK/invoke.log" ||
    { cat "$WORK/invoke.log" >&2; echo "smoke: sam local invoke failed" >&2; exit 1; }
}
invoke "$WORK/out1.json"   # the first one builds SAM's emulator image on the base if it is missing
t2=$(date +%s.%N)
invoke "$WORK/out.json"
t3=$(date +%s.%N)

python3.12 - "$WORK/out.json" "$TOKEN" <<'EOF' || { cat "$WORK/invoke.log" >&2; exit 1; }
import json, sys
text = open(sys.argv[1]).read()
out = json.loads(text.strip().splitlines()[-1])
if "errorMessage" in out:
    sys.exit(f"smoke: the function failed: {out['errorType']}: {out['errorMessage']}")
expected = {"event": {"hello": "smoke", "n": 1}, "probe": sys.argv[2], "python": "3.12",
            "task_root": "/var/task", "function": "Probe"}
for key, want in expected.items():
    got = out.get(key)
    ok = got.startswith(want) if key == "python" else got == want
    if not ok:
        sys.exit(f"smoke: {key} is {got!r}, expected {want!r}; answer: {text!r}")
print("smoke: answer", json.dumps(out))
EOF
[ -f "$WORK/proxy.log" ] && grep -m1 "host network" "$WORK/proxy.log" || true
printf 'smoke: ok: sam build %.1fs, sam local invoke %.1fs (first) and %.1fs; 127.0.0.1:%s of the host reached\n' \
  "$(awk "BEGIN{print $t1 - $t0}")" "$(awk "BEGIN{print $t2 - $t1}")" "$(awk "BEGIN{print $t3 - $t2}")" "$PORT"
