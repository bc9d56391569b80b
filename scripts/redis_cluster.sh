#!/usr/bin/env bash
# A throw-away local Redis Cluster: three masters (no replicas) from the installed redis-server, on free loopback ports,
# in a temp dir. For .ci/run, for tests (test/helpers/redis_cluster.ts) and for developers.
#
#   scripts/redis_cluster.sh start   prints REDIS_CLUSTER_NODES=redis://127.0.0.1:p1,... and the dir on stdout
#   scripts/redis_cluster.sh stop DIR
#
# `start` returns once `cluster_state:ok` on every node; when it fails it leaves nothing behind (no node, no dir).
# `stop` shuts every node down (nosave) and removes DIR.
set -euo pipefail

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local ports=() nodes=()
  command -v redis-server >/dev/null 2>&1 || { echo "redis cluster: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
  command -v redis-cli >/dev/null 2>&1 || { echo "redis cluster: redis-cli is not installed (apt-get install redis-tools)" >&2; exit 1; }
  dir=$(mktemp -d "${TMPDIR:-/tmp}/dts-redis-cluster.XXXXXX")
  echo "$dir" >"$dir/.dts-redis-cluster"
  # Whatever fails from here on (a node that does not start, the create, cluster_state), nothing is left behind: the
  # nodes started so far are stopped and the dir removed. Cleared once the cluster is handed over.
  trap 'stop "$dir" >/dev/null 2>&1 || true' EXIT
  for _ in 1 2 3; do ports+=("$(free_port)"); done
  for port in "${ports[@]}"; do
    mkdir -p "$dir/$port"
    # cluster-node-timeout 2000: a stopped master is marked failed (and the cluster down) within seconds, not 15 s.
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --save "" --appendonly no --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" >/dev/null
    nodes+=("127.0.0.1:$port")
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 || {
    cat "$dir/create.log" >&2
    exit 1
  }
  for port in "${ports[@]}"; do
    local ok=
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then ok=1; break; fi
      sleep 0.1
    done
    [ -n "$ok" ] || { echo "redis cluster: node $port never reached cluster_state:ok" >&2; exit 1; }
  done
  trap - EXIT
  local seeds
  seeds=$(printf 'redis://%s,' "${nodes[@]}")
  echo "REDIS_CLUSTER_NODES=${seeds%,}"
  echo "REDIS_CLUSTER_DIR=$dir"
}

stop() {
  local dir=${1:?usage: redis_cluster.sh stop DIR}
  # Only a directory this script made (marker file inside), so a wrong argument never removes anything else.
  [ -f "$dir/.dts-redis-cluster" ] || { echo "redis cluster: $dir is not a cluster dir" >&2; exit 1; }
  local node port pid
  for node in "$dir"/*/; do
    port=$(basename "$node")
    # A node that failed start may have no pid file yet; its port still names it.
    pid=$(cat "$node/redis.pid" 2>/dev/null || true)
    # A test may have left a node SIGSTOPped: wake it so it can shut down.
    [ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
    timeout 5 redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; } || true
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
