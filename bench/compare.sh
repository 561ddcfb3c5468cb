#!/usr/bin/env bash
# Compares syncctl's directory push/pull with what users would pick instead, on the same
# data set, in one run, interleaved: restic to a REST server (rclone serve restic: the
# same client/server shape), restic to a local repository, and rclone with a crypt
# remote. Prints wall seconds per phase and syncctl's ratio to each. Outside the test
# suite (it installs restic and rclone from Debian's packages if they are missing, and
# takes a few minutes):  bench/compare.sh [rounds]   (4 rounds give each tool each place)
set -euo pipefail
rounds=${1:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/syncctl-compare.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

if ! command -v restic >/dev/null || ! command -v rclone >/dev/null; then
	sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q restic rclone
fi
(cd "$here" && go build -o "$work/syncctl" ./cmd/syncctl && go build -o "$work/gentree" ./bench/gentree)
"$work/gentree" -dir "$work/src"
size_mb=$(du -sm --apparent-size "$work/src" | cut -f1)
echo "data: $(find "$work/src" -type f | wc -l) files, ${size_mb} MB; restic $(restic version | cut -d' ' -f2), $(rclone version | head -1)"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }
# t NAME CMD...: runs CMD, adds its wall seconds to the phase NAME. The disk is synced
# first, so that no tool pays for the dirty pages of the one before it (a pull writes
# 276 MB; without it the figures of a run swung by 2x with the writeback).
declare -A secs
t() { local name=$1; shift; local s e; sync; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N)
	secs[$name]=$(python3 -c "print(${secs[$name]:-0} + $e - $s)"); }
# change: one large file rewritten (8 MB), ten small ones added.
change() { local big; big=$(find "$work/src" -type f -size +8M | sort | head -1)
	head -c $((8 << 20)) /dev/urandom > "$big"
	for i in $(seq 10); do head -c 20000 /dev/urandom > "$work/src/d00/new-$1-$i.bin"; done; }

for round in $(seq "$rounds"); do
	r="$work/r$round"; mkdir -p "$r"
	# syncctl: serve, a laptop that pushes, a desktop that pulls.
	p=$(port)
	"$work/syncctl" serve --listen "127.0.0.1:$p" --data-dir "$r/serve" --user alice:alice-secret --access-log=false >"$r/serve.log" 2>&1 &
	wait_port "$p"
	dev() { XDG_CONFIG_HOME="$r/$1/config" XDG_DATA_HOME="$r/$1/data" "$work/syncctl" "${@:2}"; }
	key=$(dev laptop login --server "http://127.0.0.1:$p" --user alice --secret alice-secret -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["new_key"])')
	dev desktop login --server "http://127.0.0.1:$p" --user alice --secret alice-secret --key "$key" >/dev/null
	# restic over REST, restic local, rclone crypt.
	rp=$(port)
	rclone serve restic --addr "127.0.0.1:$rp" "$r/rest" 2>"$r/rest.log" &
	wait_port "$rp"
	export RESTIC_PASSWORD=bench RCLONE_CONFIG_ENC_TYPE=crypt RCLONE_CONFIG_ENC_REMOTE="$r/crypt"
	RCLONE_CONFIG_ENC_PASSWORD=$(rclone obscure bench); export RCLONE_CONFIG_ENC_PASSWORD
	restic -q -r "rest:http://127.0.0.1:$rp/" init >/dev/null
	restic -q -r "$r/local" init >/dev/null

	# Each phase runs the four tools in an order that turns with the round: the first
	# to run after another tool's writes met the disk at its busiest (on this machine's
	# kind a pull right after three pushes was 2-3x slower), so the same tool must not
	# always be first. Use a multiple of 4 rounds for an even share.
	tools=(syncctl "restic REST" "restic local" "rclone crypt")
	phase() { # phase NAME: each tool's command for NAME, in this round's order
		for k in 0 1 2 3; do
			local tool=${tools[$(( (k + round - 1) % 4 ))]}
			case "$1/$tool" in
			*push/syncctl) t "$1/$tool" dev laptop push "$work/src" --as bench ;;
			*push/restic\ REST) t "$1/$tool" restic -q -r "rest:http://127.0.0.1:$rp/" backup "$work/src" ;;
			*push/restic\ local) t "$1/$tool" restic -q -r "$r/local" backup "$work/src" ;;
			*push/rclone\ crypt) t "$1/$tool" rclone copy "$work/src" enc: ;;
			pull/syncctl) t "$1/$tool" dev desktop pull bench "$r/out-syncctl" ;;
			pull/restic\ REST) t "$1/$tool" restic -q -r "rest:http://127.0.0.1:$rp/" restore latest --target "$r/out-rest" ;;
			pull/restic\ local) t "$1/$tool" restic -q -r "$r/local" restore latest --target "$r/out-local" ;;
			pull/rclone\ crypt) t "$1/$tool" rclone copy enc: "$r/out-rclone" ;;
			esac
		done
	}
	phase "first push"
	phase pull
	diff -r "$work/src" "$r/out-syncctl" >/dev/null || { echo "syncctl's pull differs" >&2; exit 1; }
	sleep 2.1 # past the window in which a push does not trust fresh files' stamps
	phase "no-change push"
	change "$round"
	phase "changed push"
	echo "round $round: server bytes syncctl $(du -sm "$r/serve" | cut -f1) MB, restic $(du -sm "$r/rest" | cut -f1) MB, rclone crypt $(du -sm "$r/crypt" | cut -f1) MB"
	kill %1 %2; wait 2>/dev/null || true
	rm -rf "$r"
done

printf '\n%-16s %9s %11s %11s %11s %13s %13s\n' phase "syncctl" "restic REST" "restic local" "rclone crypt" "÷ restic REST" "÷ rclone crypt"
for phase in "first push" "pull" "no-change push" "changed push"; do
	python3 - "$phase" "$rounds" "${secs["$phase/syncctl"]}" "${secs["$phase/restic REST"]}" "${secs["$phase/restic local"]}" "${secs["$phase/rclone crypt"]}" <<'PY'
import sys
phase, n, *v = sys.argv[1:]
s, rest, local, rcl = (float(x) / int(n) for x in v)
print(f"{phase:<16} {s:8.2f}s {rest:10.2f}s {local:10.2f}s {rcl:10.2f}s {s/rest:12.2f}× {s/rcl:12.2f}×")
PY
done
