#!/usr/bin/env bash
# A directory push and a pull as a user runs them, each device and `syncctl serve` in
# their own processes: wall time, the client's CPU (/usr/bin/time) and the server's (from
# /proc), for the same 276 MB tree bench/compare.sh uses. SYNCCTL=binary to compare
# builds; COLD=1 drops the page cache before the pull (needs root).
#   bench/blob-cpu.sh [runs]
set -euo pipefail
runs=${1:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/syncctl-blobcpu.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
bin=${SYNCCTL:-}
if [ -z "$bin" ]; then
	(cd "$here" && go build -o "$work/syncctl" ./cmd/syncctl)
	bin=$work/syncctl
fi
(cd "$here" && go build -o "$work/gentree" ./bench/gentree)
"$work/gentree" -dir "$work/src" >/dev/null
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }
for run in $(seq "$runs"); do
	r="$work/r$run"; mkdir -p "$r"
	p=$(port)
	"$bin" serve --listen "127.0.0.1:$p" --data-dir "$r/serve" --user alice:alice-secret --access-log=false >"$r/serve.log" 2>&1 &
	sp=$!
	wait_port "$p"
	env_of() { echo "XDG_CONFIG_HOME=$r/$1/config XDG_DATA_HOME=$r/$1/data"; }
	key=$(env $(env_of laptop) "$bin" login --server "http://127.0.0.1:$p" --user alice --secret alice-secret -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["new_key"])')
	env $(env_of desktop) "$bin" login --server "http://127.0.0.1:$p" --user alice --secret alice-secret --key "$key" >/dev/null
	s0=$(cpu_ms "$sp")
	push=$(env $(env_of laptop) /usr/bin/time -f "%e s, client CPU %U+%S s" "$bin" push "$work/src" --as bench 2>&1 >/dev/null | tail -1)
	sync
	[ "${COLD:-}" = 1 ] && echo 3 > /proc/sys/vm/drop_caches
	s1=$(cpu_ms "$sp")
	pull=$(env $(env_of desktop) /usr/bin/time -f "%e s, client CPU %U+%S s" "$bin" pull bench "$r/out" 2>&1 >/dev/null | tail -1)
	s2=$(cpu_ms "$sp")
	diff -r "$work/src" "$r/out" >/dev/null || { echo "the pull differs" >&2; exit 1; }
	echo "run $run: push $push, server CPU $(( s1 - s0 )) ms; pull $pull, server CPU $(( s2 - s1 )) ms"
	kill "$sp"; wait "$sp" 2>/dev/null || true
	rm -rf "$r"
done
