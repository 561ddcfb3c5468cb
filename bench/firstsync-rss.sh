#!/usr/bin/env bash
# A fresh device's first sync of N history records, as a user runs it: `syncctl serve`
# in its own process, one device imports the records, a second logs in and runs
# `syncctl sync history`, whose wall time and peak RSS (/usr/bin/time) are printed, with
# those of `syncctl export history` on a third device (fetch and decrypt, nothing
# stored) for the ratio. Outside the test suite: bench/firstsync-rss.sh [N ...]
# (SYNCCTL=path: that binary instead of one built from this tree, to compare commits).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/syncctl-firstsync.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
(cd "$here" && go build -o "$work/syncctl" ./cmd/syncctl && go build -o "$work/genhistory" ./bench/genhistory)
[ -z "${SYNCCTL:-}" ] || cp "$SYNCCTL" "$work/syncctl"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }

for n in "${@:-100000 1000000}"; do
	r="$work/n$n"; mkdir -p "$r"
	p=$(port)
	"$work/syncctl" serve --listen "127.0.0.1:$p" --data-dir "$r/serve" --user alice:alice-secret --access-log=false >"$r/serve.log" 2>&1 &
	server=$!
	wait_port "$p"
	dev() { XDG_CONFIG_HOME="$r/$1/config" XDG_DATA_HOME="$r/$1/data" "$work/syncctl" "${@:2}"; }
	key=$(dev laptop login --server "http://127.0.0.1:$p" --user alice --secret alice-secret -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["new_key"])')
	"$work/genhistory" -n "$n" | dev laptop import - >/dev/null
	for d in desktop reader; do
		dev $d login --server "http://127.0.0.1:$p" --user alice --secret alice-secret --key "$key" >/dev/null
	done
	/usr/bin/time -f "%e %M" -o "$r/export.time" env XDG_CONFIG_HOME="$r/reader/config" XDG_DATA_HOME="$r/reader/data" \
		"$work/syncctl" export history -f "$r/export.jsonl"
	/usr/bin/time -f "%e %M" -o "$r/sync.time" env XDG_CONFIG_HOME="$r/desktop/config" XDG_DATA_HOME="$r/desktop/data" \
		"$work/syncctl" sync history -o json >"$r/sync.json"
	got=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["engines"]["history"]["applied"])' <"$r/sync.json")
	read -r es em <"$r/export.time"; read -r ss sm <"$r/sync.time"
	printf '%s records: sync %s s, peak RSS %d MB; export %s s, peak RSS %d MB; sync/export %.2f; %s records applied\n' \
		"$n" "$ss" $((sm / 1024)) "$es" $((em / 1024)) "$(python3 -c "print($ss / $es)")" "$got"
	kill "$server"; wait "$server" 2>/dev/null || true
	rm -rf "$r"
done
