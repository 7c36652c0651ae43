#!/usr/bin/env bash
# Smoke-run the image without a container engine: a buildah working container's root filesystem,
# mounted read-only (writable /tmp and /data as in the chart) and entered with chroot as uid 10001
# with the image's environment. Each service starts against the
# broker at $SMOKE_BUS_URL, answers /healthz and /readyz, and exits 0 on SIGTERM; the CLI and
# `ray start` answer --help. Needs root and buildah.
#   deploy/image/smoke.sh [IMAGE]            # default ghcr.io/silobridge/silobridge:<version>
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
IMAGE=${1:-ghcr.io/silobridge/silobridge:$VERSION}
BUS=${SMOKE_BUS_URL:-amqp://guest:guest@127.0.0.1:5672/}
PREFIX=smoke$$
B=(buildah --storage-driver "${STORAGE_DRIVER:-vfs}")

ctr=$("${B[@]}" from --pull-never "$IMAGE")
rw=$("${B[@]}" mount "$ctr")
# As the chart runs it: a read-only root filesystem, writable only /tmp (and /data where the chart
# mounts a volume, below), /dev/shm
mnt=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for m in data tmp proc dev/shm dev etc/resolv.conf; do umount -l "$mnt/$m" 2>/dev/null || true; done
  umount "$mnt" 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true
  "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT
touch "$rw/etc/resolv.conf"
mount --bind "$rw" "$mnt" && mount -o remount,bind,ro "$mnt"
mount -t tmpfs -o mode=1777 tmpfs "$mnt/tmp"
mount -t proc proc "$mnt/proc"
mount --rbind /dev "$mnt/dev"
mount --bind /etc/resolv.conf "$mnt/etc/resolv.conf"
# the image's own environment (PATH=/opt/silobridge/bin:..., SILOBRIDGE_DATA_DIR, ...)
mapfile -t image_env < <("${B[@]}" inspect --type image "$IMAGE" |
  python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["OCIv1"]["config"]["Env"]))')
in_image() { chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i "${image_env[@]}" HOME=/data "$@"; }
# chroot and env exec, so the pid of `run_service ... &` is the service's own (SIGTERM reaches it)
run_service() { exec chroot --userspec=10001:10001 "$mnt" /usr/bin/env -i "${image_env[@]}" HOME=/data "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url seconds
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            print(f"  {url} -> {r.status}"); sys.exit(0)
    except Exception as exc:
        if time.monotonic() > deadline:
            print(f"  {url}: {exc}"); sys.exit(1)
        time.sleep(0.5)
PY
}

echo "image $IMAGE: $(in_image id)"
in_image python -c 'import sys; print("python", sys.version.split()[0], sys.executable)'
for tool in pip gcc cc setuptools; do
  if in_image sh -c "command -v $tool" >/dev/null || in_image python -c "import $tool" 2>/dev/null; then
    echo "FAIL: $tool is in the final image"; exit 1
  fi
done
in_image silobridge --help | head -3
in_image ray start --help | head -2
in_image ray --version

# Ray as the chart runs it: a head without CPUs, a worker advertising silobridge_node_<node id>,
# and a driver placing a task on it the way a node-manager's compute backend does. Stopped by
# SIGTERM to the `ray start --block` processes started here (never `ray stop`, which would
# stop every Ray on the host).
if [ "${SMOKE_RAY:-1}" = 1 ]; then
  head_port=$(free_port)
  run_service RAY_USAGE_STATS_ENABLED=0 ray start --head --block --disable-usage-stats \
    --port="$head_port" --num-cpus=0 --include-dashboard=false >/dev/null 2>&1 &
  ray_head=$!; pids+=("$ray_head")
  sleep_until() { python3 -c 'import socket,sys,time
d=time.monotonic()+float(sys.argv[2])
while True:
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); break
    except OSError:
        if time.monotonic() > d: sys.exit("port %s not listening" % sys.argv[1])
        time.sleep(0.5)' "$@"; }
  sleep_until "$head_port" 120
  worker_port=$(free_port)
  run_service RAY_USAGE_STATS_ENABLED=0 ray start --block --disable-usage-stats \
    --address="127.0.0.1:$head_port" --node-manager-port="$worker_port" --num-cpus=1 \
    '--resources={"silobridge_node_smoke-node-0": 1024}' >/dev/null 2>&1 &
  ray_worker=$!; pids+=("$ray_worker")
  sleep_until "$worker_port" 120
  in_image python -c "
from silobridge.compute.ray_backend import RayBackend
b = RayBackend(address='127.0.0.1:$head_port', resources={'silobridge_node_smoke-node-0': 1.0})
assert b.map(abs, [-1, -2, -3]) == [1, 2, 3]
print('  ray: a task asking for silobridge_node_smoke-node-0 ran on the worker')
"
  kill -TERM "$ray_worker" "$ray_head"; wait "$ray_worker" "$ray_head" 2>/dev/null || true
fi

if in_image touch /data/x /opt/silobridge/x 2>/dev/null; then echo "FAIL: the root filesystem is writable"; exit 1; fi
mount -t tmpfs -o uid=10001,gid=10001,mode=0750 tmpfs "$mnt/data"  # the services' data volume
mkdir -p "$mnt/data/certs" && chown 10001:10001 "$mnt/data/certs"
in_image silobridge pki demo --dir /data/certs --parties 9999 >/dev/null
common=(SILOBRIDGE_PARTY_ID=9999 "SILOBRIDGE_BUS_URL=$BUS" "SILOBRIDGE_BUS_PREFIX=$PREFIX" SILOBRIDGE_HTTP_HOST=127.0.0.1 SILOBRIDGE_LOG_JSON=false)
# one party: all four started together (a node-manager is ready once the cluster-manager knows it)
failed=0
declare -A pid_of port_of
logs=$(mktemp -d)
for module in rollsite_router cluster_manager node_manager flow; do
  port=$(free_port); port_of[$module]=$port
  extra=("SILOBRIDGE_HTTP_PORT=$port" "SILOBRIDGE_DATA_DIR=/data/$module")
  [ "$module" = rollsite_router ] && extra+=(SILOBRIDGE_CERT_DIR=/data/certs "SILOBRIDGE_LISTEN_PORT=$(free_port)")
  [ "$module" = node_manager ] && extra+=(SILOBRIDGE_NODE_ID=smoke-node-0)
  run_service "${common[@]}" "${extra[@]}" python -m "$module" >"$logs/$module.log" 2>&1 &
  pid_of[$module]=$!; pids+=("$!")
done
for module in rollsite_router cluster_manager node_manager flow; do
  echo "$module (python -m $module):"
  if ! wait_http "http://127.0.0.1:${port_of[$module]}/healthz" 120 \
     || ! wait_http "http://127.0.0.1:${port_of[$module]}/readyz" 120; then
    failed=1; tail -20 "$logs/$module.log"
  fi
done
for module in flow node_manager cluster_manager rollsite_router; do
  kill -TERM "${pid_of[$module]}"; rc=0; wait "${pid_of[$module]}" || rc=$?
  echo "$module: SIGTERM -> exit $rc"; [ "$rc" = 0 ] || { failed=1; tail -20 "$logs/$module.log"; }
done
rm -rf "$logs"
[ "$failed" = 0 ] && echo "smoke: every entry point started from $IMAGE" || { echo "smoke: FAILED"; exit 1; }
