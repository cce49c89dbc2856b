#!/usr/bin/env bash
# targets.sh runs issue 5's load targets side by side, engine and bench/floor, on this
# machine, and prints the table bench/README.md records:
#
#   bash bench/targets.sh            # about 10 minutes; results in ./bench-out/<time>/
#
# Runs, each against a server started fresh on 127.0.0.1 and stopped after it:
#   steady   10,000 clients, 10 alerts/s for 60 s once every client is connected
#   burst    5,000 clients, 200 alerts/s for 10 s once every client is connected
#   stalled  the engine's burst again, with 10 of the clients reading nothing
#   memory   10,000 idle authenticated clients, engine RSS per connection after 3 min
#   go       the Go benchmarks of bench/ (decode, detect, encode, persist, fan-out)
# SKIP="memory go" leaves runs out; OUT=DIR chooses the results directory. It needs
# about 20,000 file descriptors a process (ulimit -Hn) and the ports 18765 and 18766.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${OUT:-./bench-out/$(date -u +%Y%m%dT%H%M%SZ)}
skip=" ${SKIP:-} "
engine_addr=127.0.0.1:18765
floor_addr=127.0.0.1:18766
mkdir -p "$out/bin"
out=$(cd "$out" && pwd)
ulimit -n "$(ulimit -Hn)"

log() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

server_pid=
stop_server() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT

# wait_port waits up to 20 s for a server to answer on addr.
wait_port() {
	local addr=$1
	for _ in $(seq 100); do
		if curl -s -o /dev/null "http://$addr/healthz"; then
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || { echo "the server exited" >&2; return 1; }
		sleep 0.2
	done
	echo "no server on $addr after 20 s" >&2
	return 1
}

# port_free fails when something already listens on addr: the bench would load it.
port_free() {
	if curl -s -o /dev/null --max-time 1 "http://$1/"; then
		echo "something already listens on $1: stop it or edit this script" >&2
		return 1
	fi
}

start_engine() {
	local name=$1
	rm -rf "$out/data-$name"
	WEBSOCKET_SECRET_KEY=$(cat "$out/secret") "$out/bin/engine" serve \
		--addr "$engine_addr" --data "$out/data-$name" --source sim --min-btc 20000000 \
		--max-conns 20000 --max-conns-per-ip 20000 --conn-rate-per-ip 5000 \
		--log-level warn >"$out/$name.server.log" 2>&1 &
	server_pid=$!
	wait_port "$engine_addr"
}

start_floor() {
	local name=$1
	"$out/bin/floor" --addr "$floor_addr" >"$out/$name.server.log" 2>&1 &
	server_pid=$!
	wait_port "$floor_addr"
}

# bench NAME SERVER CLIENTS RAMP_S PUBLISH_S RATE EVERY [flags...] runs one load test: the
# clients ramp at 1,000/s for RAMP_S, then RATE alerts/s are published for PUBLISH_S.
bench() {
	local name=$1 server=$2 clients=$3 ramp_s=$4 publish_s=$5 rate=$6 every=$7
	shift 7
	local auth=(--secret-file "$out/secret") url=ws://$engine_addr/ws
	if [[ $server == floor ]]; then
		auth=(--no-auth)
		url=ws://$floor_addr/ws
		start_floor "$name"
	else
		start_engine "$name"
	fi
	log "$name: $clients clients, $rate alerts/s for ${publish_s}s"
	"$out/bin/engine" bench --url "$url" "${auth[@]}" --clients "$clients" --ramp 1000 \
		--duration "$((ramp_s + publish_s))s" --publish-delay "${ramp_s}s" \
		--publish-rate "$rate" --publish-every "$every" --pid "$server_pid" \
		--out "$out/$name" "$@" 2>&1 | tee "$out/$name.txt"
	stop_server
}

log "build"
go build -o "$out/bin/engine" ./cmd/engine
go build -o "$out/bin/floor" ./bench/floor
go build -o "$out/bin/memprobe" ./bench/memprobe
head -c 32 /dev/urandom | base64 >"$out/secret"
chmod 600 "$out/secret"
port_free "$engine_addr"
port_free "$floor_addr"

if [[ $skip != *" steady "* ]]; then
	bench engine-steady engine 10000 12 60 10 1s
	bench floor-steady floor 10000 12 60 10 1s
fi
if [[ $skip != *" burst "* ]]; then
	bench engine-burst engine 5000 7 10 200 500ms --drain 30s
	bench floor-burst floor 5000 7 10 200 500ms --drain 30s
fi
if [[ $skip != *" stalled "* ]]; then
	bench engine-stalled engine 5000 7 10 200 500ms --drain 30s --stalled 10
fi
if [[ $skip != *" memory "* ]]; then
	log "memory: 10,000 idle clients, 3 minutes"
	rm -rf "$out/data-mem"
	"$out/bin/engine" token --client memprobe --data "$out/data-mem" --ttl 12h >"$out/mem.token"
	"$out/bin/engine" serve --addr "$engine_addr" --data "$out/data-mem" --source sim \
		--min-btc 20000000 --max-conns 20000 --max-conns-per-ip 10000 \
		--conn-rate-per-ip 2000 --log-level warn >"$out/memory.server.log" 2>&1 &
	server_pid=$!
	wait_port "$engine_addr"
	"$out/bin/memprobe" --url "ws://$engine_addr/ws" --token-file "$out/mem.token" \
		--pid "$server_pid" --clients 10000 --ramp 1000 --source-ips 4 --settle 180s \
		--every 15s | tee "$out/memory.txt"
	stop_server
fi
if [[ $skip != *" go "* ]]; then
	log "go benchmarks"
	go test -run '^$' -bench . -benchtime 300x ./bench | tee "$out/go.txt"
fi

log "summary"
go run ./bench/summary "$out" | tee "$out/summary.md"
