#!/usr/bin/env bash
# Runs parley-bench's scenarios against parley and, when they are installed from Debian,
# Prosody and ejabberd, each started with a comparable configuration under one temporary
# directory, on loopback only; then writes docs/benchmarks.md.
#
#   contrib/bench/run.sh [--quick] [--install] [--build DIR] [--out FILE]
#                        [--servers "parley prosody ejabberd"] [--scenarios "login idle ..."]
#                        [--mechanism SCRAM-SHA-1|SCRAM-SHA-256|PLAIN] [--keep]
#
#   --quick      small sizes (a few minutes in all)
#   --install    apt-get install prosody and ejabberd if missing (services are not started:
#                the script runs its own instances); without it they are "not installed"
#   --build DIR  the build tree with parley and contrib/bench/parley-bench
#                (default: $PARLEY_BUILD, build, build-bench: the first that has both)
#   --mechanism  SASL mechanism for every server (default SCRAM-SHA-1: Prosody 0.12 offers
#                no SCRAM-SHA-256, and the same hash means the same work for every server)
#   --keep       keep the temporary directory (logs, configurations, JSON results)
#
# Every server process is started by this script and stopped by its PID at the end;
# everything lives under one mktemp directory, removed at the end.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
quick=0 install=0 keep=0 build="" out="$repo/docs/benchmarks.md" mechanism=SCRAM-SHA-1
servers="parley prosody ejabberd"
scenarios="login idle chat presence mam reconnect"

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --install) install=1 ;;
    --keep) keep=1 ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --mechanism) mechanism=$2; shift ;;
    --servers) servers=$2; shift ;;
    --scenarios) scenarios=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

# --- tools
for d in "$build" "${PARLEY_BUILD:-}" "$repo/build" "$repo/build-bench"; do
  if [ -n "$d" ] && [ -x "$d/parley" ] && [ -x "$d/contrib/bench/parley-bench" ]; then build=$(cd "$d" && pwd); break; fi
done
[ -x "$build/parley" ] && [ -x "$build/contrib/bench/parley-bench" ] ||
  die "no build tree with parley and contrib/bench/parley-bench (build with: ninja -C BUILD parley parley-bench; then --build BUILD)"
parley=$build/parley
bench=$build/contrib/bench/parley-bench
command -v python3 >/dev/null || die "python3 is needed to write the report"
command -v ss >/dev/null || die "ss (iproute2) is needed to check ports"

# --- sizes
if [ $quick = 1 ]; then
  mode=quick users=40 login_n=1000 concurrency=50 idle_n=300 hold=3 pairs=10 messages=400
  accounts=20 contacts=4 rounds=3 mam_pairs=5 mam_messages=200 reconnect_n=30 run_timeout=120 budget=900
else
  mode=full users=400 login_n=3000 concurrency=50 idle_n=3000 hold=10 pairs=50 messages=2000
  accounts=100 contacts=10 rounds=5 mam_pairs=20 mam_messages=1000 reconnect_n=200 run_timeout=600 budget=5400
fi

# --- the temporary directory and cleanup (servers by PID, then the database cluster)
tmp=$(mktemp -d /tmp/parley-bench.XXXXXX)
chmod 755 "$tmp"  # the postgres and ejabberd users must reach their directories
declare -A server_pid=()   # server -> PID to stop (the process started by this script)
declare -A cpu_roots=()    # server -> the processes whose CPU is the server's (tree_cpu_ticks)
declare -A rss_pid=()      # server -> PID whose RSS is read (ejabberd: beam.smp)
pg_started=0
cleanup() {
  local s
  for s in "${!server_pid[@]}"; do
    local p=${server_pid[$s]}
    local r=${rss_pid[$s]:-$p}
    if kill -0 "$r" 2>/dev/null; then kill -TERM "$r" 2>/dev/null || true; fi
    if [ "$r" != "$p" ] && kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || kill -0 "$r" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$r" 2>/dev/null && kill -KILL "$r" 2>/dev/null || true
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  done
  if [ $pg_started = 1 ]; then "$repo/tests/support/test_postgres.sh" stop "$tmp/pg" >/dev/null 2>&1 || true; fi
  if [ $keep = 1 ]; then note "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # thousands of connections, on both sides
mkdir -p "$tmp/results"
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$password" >"$tmp/password"
chmod 600 "$tmp/password"
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)

# Sets variable $1 to a free loopback port at or above $2, not yet handed out by this script
# (no command substitution: the list of ports handed out must survive the call).
used_ports=""
pick_port() {
  local p=$2
  while ss -Htan "sport = :$p" | grep -q . || [[ " $used_ports " == *" $p "* ]]; do p=$((p + 1)); done
  used_ports="$used_ports $p"
  printf -v "$1" '%s' "$p"
}

wait_port() {  # port seconds
  local i
  for i in $(seq 1 $(($2 * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

startup_failed() {  # server logs...: the reason goes to stderr (the directory is removed at the end)
  local s=$1
  shift
  status[$s]="did not start"
  note "$s did not start; the end of its logs:"
  tail -n 8 "$@" >&2 2>/dev/null || true
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

install_pkg() {  # without starting the Debian service: this script runs its own instance
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$1" >"$tmp/apt-$1.log" 2>&1 ||
    note "apt-get install $1 failed (see $tmp/apt-$1.log)"
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

declare -A status=()   # server -> "ok" or why it is not measured
declare -A version=()
declare -A port=()
declare -A setup=()    # server -> one line describing its configuration

# The certificates all servers use: a development CA and a certificate for localhost. Every
# server sends the same chain: the leaf alone. `parley cert dev` appends the CA to the leaf,
# but a trust anchor need not be sent (RFC 8446 §4.4.2) and a client that gets it decodes
# it for nothing; with OpenSSL 3.0 that decoding is a good part of the load generator's
# CPU per login, on the cores the server needs.
"$parley" cert dev --out "$tmp/certs" --domain localhost >/dev/null
ca=$tmp/certs/ca.pem
sed '/-----END CERTIFICATE-----/q' "$tmp/certs/localhost.pem" >"$tmp/certs/leaf.pem"

# ------------------------------------------------------------------------------------------
start_parley() {
  local dir=$tmp/parley
  mkdir -p "$dir"
  "$repo/tests/support/test_postgres.sh" start "$tmp/pg" >/dev/null
  pg_started=1
  local tls_port pp
  pick_port pp 25222
  port[parley]=$pp
  pick_port tls_port 25223
  # The RFC 6121 and XEP modules comparable to the others' configuration; those this build
  # does not have yet are dropped (parley check names them).
  local modules="message disco ping roster presence offline mam stream_management"
  local i
  for i in 1 2 3 4 5 6 7 8; do
    local list="" m
    for m in $modules; do list="$list${list:+, }\"$m\""; done
    cat >"$dir/parley.toml" <<EOF
# parley for parley-bench (generated by contrib/bench/run.sh)
[server]
threads = 0
data_dir = "var"
log_level = "warning"

[database]
url = "host=$tmp/pg user=postgres dbname=postgres"
pool_size = 16

[security]
scram_iterations = 4096
failed_login_delay = 0

[tls]
certificate = "$tmp/certs/leaf.pem"
private_key = "$tmp/certs/localhost.key"
ca_file = "$ca"

[limits]
negotiation_timeout = 120
idle_timeout = 3600
write_queue_bytes = 67108864
auth_attempts = 100
# Every benchmark client comes from 127.0.0.1, fast: raise the per-address and rate bounds
# like the other servers' rate limits (see setup notes).
max_connections = 1000000
max_connections_per_address = 1000000
max_sessions_per_account = 100000
read_bytes_per_second = 1073741824
read_burst_bytes = 1073741824

[[listen]]
type = "c2s"
address = "127.0.0.1"
port = ${port[parley]}

[[listen]]
type = "c2s-tls"
address = "127.0.0.1"
port = $tls_port

[[host]]
domain = "localhost"
modules = [$list]

[federation]
enabled = false
EOF
    if [ "$i" = 1 ]; then
      "$parley" migrate --config "$dir/parley.toml" >"$dir/migrate.log" 2>&1 || { status[parley]="migrate failed"; return; }
    fi
    local check unknown
    check=$("$parley" check --config "$dir/parley.toml" 2>&1) && break
    unknown=$(printf '%s\n' "$check" | sed -n "s/.*unknown module '\([^']*\)'.*/\1/p" | head -n 1)
    if [ -z "$unknown" ]; then
      note "parley check: $(printf '%s\n' "$check" | grep -v '^ok' | tr '\n' ' ')"
      break
    fi
    note "parley: module '$unknown' not in this build, left out"
    modules=$(printf '%s\n' $modules | grep -vx "$unknown" | tr '\n' ' ')
  done
  local n
  for n in $(seq 0 $((users - 1))); do
    "$parley" user add "bench$n@localhost" --config "$dir/parley.toml" <"$tmp/password" >/dev/null 2>>"$dir/users.log" ||
      { status[parley]="user add failed"; return; }
  done
  "$parley" serve --config "$dir/parley.toml" 2>"$dir/parley.log" &
  server_pid[parley]=$!
  cpu_roots[parley]="$! $(head -n 1 "$tmp/pg/data/postmaster.pid")"
  wait_port "${port[parley]}" 60 || { startup_failed parley "$dir/parley.log"; return; }
  version[parley]="parley $(sed -n 's/^project(parley VERSION \([^ ]*\).*/\1/p' "$repo/CMakeLists.txt")"
  version[parley]+=" (git $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt"))"
  setup[parley]="threads = 0 ($(nproc) network threads), PostgreSQL $(pkg_version postgresql-15) private cluster (fsync off), scram_iterations 4096, modules: $modules"
  status[parley]=ok
}

# ------------------------------------------------------------------------------------------
start_prosody() {
  if ! installed prosody; then
    if [ $install = 1 ]; then install_pkg prosody; fi
    installed prosody || { status[prosody]="not installed, skipped"; note "prosody not installed, skipped"; return; }
  fi
  local dir=$tmp/prosody
  mkdir -p "$dir/data"
  local tls_port pp
  pick_port pp 25322
  port[prosody]=$pp
  pick_port tls_port 25323
  cat >"$dir/prosody.cfg.lua" <<EOF
-- Prosody for parley-bench (generated by contrib/bench/run.sh)
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
run_as_root = true
log = { { levels = { min = "warn" }, to = "file", filename = "$dir/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${port[prosody]} }
c2s_direct_tls_ports = { $tls_port }
http_ports = { }
https_ports = { }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "register", "mam", "smacks" }
modules_disabled = { "s2s", "admin_socket" }
c2s_require_encryption = true
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
allow_registration = true
min_seconds_between_registrations = 0
registration_whitelist = { "127.0.0.1", "::1" }
default_archive_policy = true
archive_expires_after = "1d"
c2s_stanza_size_limit = 262144
network_settings = { tcp_backlog = 1024 }
smacks_hibernation_time = 300
ssl = { certificate = "$tmp/certs/leaf.pem"; key = "$tmp/certs/localhost.key"; }
VirtualHost "localhost"
EOF
  prosody --config "$dir/prosody.cfg.lua" -F >"$dir/stdout.log" 2>&1 &
  server_pid[prosody]=$!
  wait_port "${port[prosody]}" 60 || { startup_failed prosody "$dir/prosody.log" "$dir/stdout.log"; return; }
  version[prosody]="Prosody $(pkg_version prosody) ($(readlink -f "$(command -v lua5.4 || echo lua)" | xargs basename 2>/dev/null))"
  setup[prosody]="one process (Lua, event loop, one core), storage internal (files), default_iteration_count 4096, tcp_backlog 1024, mod_limits not loaded, smacks, mam (archive policy: always)"
  register_accounts prosody
}

# ------------------------------------------------------------------------------------------
start_ejabberd() {
  if ! installed ejabberd; then
    if [ $install = 1 ]; then install_pkg ejabberd; fi
    installed ejabberd || { status[ejabberd]="not installed, skipped"; note "ejabberd not installed, skipped"; return; }
  fi
  local dir=$tmp/ejabberd
  mkdir -p "$dir/db" "$dir/log"
  local tls_port dist_port pp
  pick_port pp 25422
  port[ejabberd]=$pp
  pick_port tls_port 25423
  pick_port dist_port 25499
  cat "$tmp/certs/leaf.pem" "$tmp/certs/localhost.key" >"$dir/localhost.pem"
  cat >"$dir/ejabberd.yml" <<EOF
# ejabberd for parley-bench (generated by contrib/bench/run.sh)
hosts:
  - localhost
loglevel: warning
certfiles:
  - "$dir/localhost.pem"
listen:
  -
    port: ${port[ejabberd]}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    starttls_required: true
    max_stanza_size: 262144
    shaper: none
    access: c2s
  -
    port: $tls_port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    tls: true
    max_stanza_size: 262144
    shaper: none
    access: c2s
auth_method: internal
auth_password_format: scram
auth_scram_hash: $([ "$mechanism" = SCRAM-SHA-256 ] && echo sha256 || echo sha)
registration_timeout: infinity
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  register:
    allow: all
shaper:
  normal:
    rate: 1000000000
  fast:
    rate: 1000000000
shaper_rules:
  max_user_sessions: 100000
  max_user_offline_messages: 5000
  c2s_shaper: none
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_offline: {}
  mod_register:
    access: register
  mod_mam:
    default: always
  mod_stream_mgmt:
    resume_timeout: 300
EOF
  cat >"$dir/ejabberdctl.cfg" <<EOF
ERLANG_NODE=parleybench@localhost
ERL_DIST_PORT=$dist_port
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
ERL_OPTIONS="-setcookie parleybench$$"
ERL_MAX_PORTS=65536
EJABBERD_BYPASS_WARNINGS=true
EOF
  chown -R ejabberd: "$dir" 2>/dev/null || true
  # As the ejabberd user directly: ejabberdctl would switch with su, whose PAM session
  # drops the open-files limit back to 1024 (the idle scenario holds thousands).
  (cd "$dir" && exec setpriv --reuid=ejabberd --regid=ejabberd --init-groups env HOME="$dir" ejabberdctl --config-dir "$dir" --config "$dir/ejabberd.yml" --ctl-config "$dir/ejabberdctl.cfg" \
    --logs "$dir/log" --spool "$dir/db" foreground >"$dir/stdout.log" 2>&1) &
  server_pid[ejabberd]=$!
  if ! wait_port "${port[ejabberd]}" 120; then startup_failed ejabberd "$dir/stdout.log" "$dir/log/error.log"; return; fi
  # The Erlang VM under ejabberdctl -> su -> erl: its RSS is the server's.
  rss_pid[ejabberd]=$(find_descendant "${server_pid[ejabberd]}" beam.smp)
  version[ejabberd]="ejabberd $(pkg_version ejabberd) (Erlang/OTP $(pkg_version erlang-base | sed 's/^[0-9]*://; s/+.*//'))"
  setup[ejabberd]="Erlang VM ($(nproc) schedulers), Mnesia, SCRAM stored ($mechanism), listener backlog 1024, shaper none, mod_stream_mgmt, mod_mam (default: always)"
  register_accounts ejabberd
}

find_descendant() {  # pid name: the first process named `name` in the tree under pid
  local root=$1 name=$2 i
  for i in $(seq 1 50); do
    local found
    found=$(ps -e -o pid=,ppid=,comm= | awk -v root="$root" -v name="$name" '
      { parent[$1] = $2; comm[$1] = $3 }
      END { for (p in comm) if (comm[p] == name) { q = p; while (q in parent && q != root && q > 1) q = parent[q]; if (q == root) { print p; exit } } }')
    [ -n "$found" ] && { echo "$found"; return; }
    sleep 0.1
  done
  echo "$root"
}

register_accounts() {  # server: XEP-0077 in-band registration of bench0..bench<users-1>
  local s=$1
  "$bench" register --port "${port[$s]}" --ca-file "$ca" --password-file "$tmp/password" --users "$users" \
    --count "$users" --concurrency 4 --timeout 300 --quiet --json "$tmp/results/$s-register.json" \
    >"$tmp/results/$s-register.txt" 2>&1 || true
  if python3 - "$tmp/results/$s-register.json" "$users" <<'EOF'; then status[$s]=ok; else status[$s]="account registration failed (see $tmp/results/$s-register.txt)"; fi
import json, sys
r = json.load(open(sys.argv[1]))["results"]
sys.exit(0 if r["created"] + r["existed"] == int(sys.argv[2]) else 1)
EOF
}

# ------------------------------------------------------------------------------------------
# The connection scenarios do a TLS handshake per login on the client side too, which costs
# the tool about as much CPU as a lean server spends: they use one client thread per core, so
# that the load generator is not what sets the rate.
client_threads=$(nproc)
args_for() {  # scenario -> its size arguments
  case $1 in
    login) echo "--count $login_n --concurrency $concurrency --threads $client_threads" ;;
    idle) echo "--count $idle_n --concurrency $concurrency --hold $hold --threads $client_threads" ;;
    chat) echo "--pairs $pairs --messages $messages --window 16 --sm" ;;
    presence) echo "--accounts $accounts --contacts $contacts --rounds $rounds" ;;
    mam) echo "--pairs $mam_pairs --messages $mam_messages --page-size 50" ;;
    reconnect) echo "--count $reconnect_n --concurrency 5 --threads $client_threads" ;;
  esac
}

# CPU time (clock ticks, utime + stime) of processes and all their descendants: a server's
# own CPU over a scenario, its database's included (parley's PostgreSQL cluster; Prosody's
# and ejabberd's storage run inside their own process).
tree_cpu_ticks() {  # pid...
  local f
  for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null && echo; done | awk -v roots="$*" '
    $0 != "" { pid = $1 + 0; line = $0; sub(/^.*\) /, "", line); split(line, a, " ")
               ppid[pid] = a[2]; ticks[pid] = a[12] + a[13] }
    END { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1
          for (p in ticks) { q = p; while (q > 1 && !(q in root) && (q in ppid)) q = ppid[q]; if (q in root) sum += ticks[p] }
          print sum + 0 }'
}

: >"$tmp/commands.txt"
run_scenarios() {  # server
  local s=$1 sc
  for sc in $scenarios; do
    if [ "$SECONDS" -gt "$budget" ]; then
      note "$s $sc: skipped (time budget of ${budget}s spent)"
      echo "{\"scenario\":\"$sc\",\"status\":\"skipped\",\"message\":\"time budget spent\"}" >"$tmp/results/$s-$sc.json"
      continue
    fi
    local pid=${rss_pid[$s]:-${server_pid[$s]}}
    local cmd=("$bench" "$sc" --host 127.0.0.1 --port "${port[$s]}" --domain localhost --ca-file "$ca" --mechanism "$mechanism"
               --password-file "$tmp/password" --users "$users" --timeout "$run_timeout"
               --server-pid "$pid" --json "$tmp/results/$s-$sc.json" $(args_for "$sc"))
    echo "${cmd[*]}" | sed "s#$tmp#\$TMP#g; s#$build#\$BUILD#g" >>"$tmp/commands.txt"
    note "$s: $sc"
    local rc=0 cpu_before cpu_after
    cpu_before=$(tree_cpu_ticks ${cpu_roots[$s]:-$pid})
    timeout $((run_timeout + 60)) "${cmd[@]}" >"$tmp/results/$s-$sc.txt" 2>"$tmp/results/$s-$sc.log" || rc=$?
    cpu_after=$(tree_cpu_ticks ${cpu_roots[$s]:-$pid})
    awk -v a="$cpu_before" -v b="$cpu_after" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "{\"server_cpu_seconds\": %.3f}\n", (b - a) / hz }' >"$tmp/results/$s-$sc-cpu.json"
    note "  $(cat "$tmp/results/$s-$sc.txt") (exit $rc)"
    [ -s "$tmp/results/$s-$sc.json" ] ||
      echo "{\"scenario\":\"$sc\",\"status\":\"failed\",\"message\":\"no summary (exit $rc)\"}" >"$tmp/results/$s-$sc.json"
    sleep 1  # let the server settle between scenarios
  done
}

stop_server() {  # server
  local s=$1 p=${server_pid[$1]:-} r=${rss_pid[$1]:-}
  [ -n "$p" ] || return 0
  [ -n "$r" ] || r=$p
  kill -TERM "$r" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$r" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$r" 2>/dev/null; then kill -KILL "$r" 2>/dev/null || true; fi
  if [ "$r" != "$p" ]; then kill -TERM "$p" 2>/dev/null || true; fi
  wait "$p" 2>/dev/null || true
  unset "server_pid[$s]"
  unset "rss_pid[$s]"
}

# One server at a time: the others do not compete for the two cores.
for s in $servers; do
  case $s in
    parley) start_parley ;;
    prosody) start_prosody ;;
    ejabberd) start_ejabberd ;;
    *) die "unknown server $s" ;;
  esac
  if [ "${status[$s]:-}" = ok ]; then run_scenarios "$s"; else note "$s: ${status[$s]:-not started}"; fi
  stop_server "$s"
done

# ------------------------------------------------------------------------------------------
# The report.
meta=$tmp/meta.json
{
  echo "{"
  echo "\"mode\": \"$mode\", \"started_at\": \"$started_at\", \"finished_at\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "\"nproc\": $(nproc), \"loadavg_at_start\": \"$loadavg\", \"mechanism\": \"$mechanism\","
  echo "\"cpu\": \"$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1 | sed 's/"/\\"/g')\","
  echo "\"memory\": \"$(sed -n 's/^MemTotal: *//p' /proc/meminfo)\","
  echo "\"kernel\": \"$(uname -r)\","
  echo "\"os\": \"$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}")\","
  echo "\"servers\": ["
  first=1
  for s in $servers; do
    [ $first = 1 ] || echo ","
    first=0
    printf '{"name": "%s", "status": "%s", "version": "%s", "setup": "%s"}' "$s" "${status[$s]:-not started}" \
      "${version[$s]:-$(installed "$s" && pkg_version "$s" || echo -)}" "${setup[$s]:-}"
  done
  echo "],"
  echo "\"sizes\": \"users $users; login $login_n at concurrency $concurrency ($client_threads client threads for login, idle and reconnect); idle $idle_n held ${hold}s; chat $pairs pairs x $messages messages (window 16, --sm); presence $accounts accounts x $contacts contacts, $rounds rounds; mam $mam_pairs pairs x $mam_messages messages, pages of 50; reconnect $reconnect_n cycles\""
  echo "}"
} >"$meta"
mkdir -p "$(dirname "$out")"
python3 "$repo/contrib/bench/report.py" "$meta" "$tmp/results" "$tmp/commands.txt" "$servers" "$scenarios" >"$out"
note "wrote $out"
