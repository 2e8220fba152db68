#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# 50-provision: doppel serve with managed instances (pools with `run:`), on real child
# processes: primaries and a shadow started from the config and ready before traffic,
# placeholders, a killed instance restarted and back in its pool, the admin endpoints
# (list, start shadows with overrides, stop one), an instance over its memory limit killed
# and reported, a sealed shadow that cannot reach outside its namespace while doppel
# reaches it (and its egress bridge works), SIGTERM stopping every instance, and the
# orphans of a doppel killed with SIGKILL removed by the next one. Root-only parts skip
# with the reason when not root.
. tests/lib/e2e.sh

if ! have_doppel_serve; then
    skip "provision e2e" "this build has no doppel serve"
    exit 0
fi
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
DEMO="$(cd "$E2E_BUILD" && pwd)/demo-app"
TOKEN=e2e-provision-token
printf '%s\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$E2E_TMP/tokens"
doppel_child() { pgrep -P "$DOPPEL_PID" | head -1; }
instances() { curl -s -m 5 "http://127.0.0.1:$A/v1/instances${1:-}"; }

# write_config FILE ISOLATION EXTRA_SHADOW_KEYS
write_config() {
    cat >"$1" <<YAML
workers: 1
admin: { listen: 127.0.0.1:$A, tokens_file: $E2E_TMP/tokens }
provision: { state_dir: $E2E_TMP/state, sample_interval: 200ms }
services:
  - name: api
    listen: 127.0.0.1:$L
    primary:
      run:
        command: $DEMO
        args: [--port, "{port}", --version, v1, --latency-ms, "1"]
        env: ["MARK={instance}@{port}"]
        instances: 2
        ready: { path: / }
        restart: { backoff: 50ms }
    shadows:
      - name: v2
        run:
          args: [--port, "{port}", --version, v2, --latency-ms, "1"]
          scale: 0.5
          isolation: $2
          change: c1
$3
    mirror: { percent: 100 }
YAML
}

L="$(free_port)"; A="$(free_port)"
C="$E2E_TMP/doppel.yaml"
iso=none
[ "$ROOT" = 1 ] && iso=netns
write_config "$C" "$iso" ""
if ! start_doppel "$C" "http://127.0.0.1:$A/readyz"; then
    not_ok "doppel starts managed instances"
    exit 0
fi
ok "doppel starts managed instances"
D="$(doppel_child)"
list="$(instances)"
expect_eq "three instances: two primaries, one shadow (scale 0.5)" \
    "$(jq -r '[.instances[] | .labels.role] | sort | join(",")' <<<"$list")" "primary,primary,shadow"
expect_eq "the primaries are ready before the gateway opens" \
    "$(jq -r '[.instances[] | select(.labels.role == "primary") | .state] | join(",")' <<<"$list")" "ready,ready"
expect_eq "the shadow carries its labels" \
    "$(jq -r '.instances[] | select(.labels.role == "shadow") | [.labels.service, .labels.pool, .labels.shadow_of, .labels.change_id] | join(",")' <<<"$list")" \
    "api,v2,api,c1"
p1="$(jq -r '.instances[] | select(.id == "api-primary-1") | .pid' <<<"$list")"
port1="$(jq -r '.instances[] | select(.id == "api-primary-1") | .port' <<<"$list")"
expect_eq "placeholders reach the environment" \
    "$(tr '\0' '\n' </proc/"$p1"/environ | grep '^MARK=')" "MARK=api-primary-1@$port1"
expect_eq "placeholders reach the arguments" \
    "$(tr '\0' ' ' </proc/"$p1"/cmdline | grep -o -- "--port $port1 ")" "--port $port1 "
for ((i = 0; i < 50; i++)); do
    [ "$(instances | jq -r '.instances[] | select(.labels.role == "shadow") | .state')" = ready ] && break
    sleep 0.1
done
codes="$(for i in 1 2 3 4 5 6; do curl -s -o /dev/null -m 5 -w '%{http_code} ' "http://127.0.0.1:$L/api/items/$i"; done)"
expect_eq "clients are served by the managed primaries" "$codes" "200 200 200 200 200 200 "
sleep 0.5
m="$(curl -s -m 5 "http://127.0.0.1:$A/metrics")"
v2="$(awk '/^doppel_requests_total\{service="api",pool="v2".*class="2xx"/ { n += $NF } END { print n + 0 }' <<<"$m")"
check "the shadow (sealed when root) answered mirrored copies ($v2)" test "$v2" -ge 5
check "/metrics has instance resource samples" grep -q '^doppel_instance_rss_bytes{service="api",pool="primary",role="primary",shadow_of="",change_id="",instance="api-primary-1"} [1-9]' <<<"$m"
expect_eq "instance_up is 1 for the three" "$(grep -c '^doppel_instance_up{.*} 1$' <<<"$m")" "3"

# A killed primary is restarted (on-failure) and back in the pool; no client error.
kill -KILL "$p1"
for ((i = 0; i < 50; i++)); do
    st="$(instances | jq -r '.instances[] | select(.id == "api-primary-1") | "\(.state) \(.restarts) \(.last_exit)"')"
    [ "$st" = "ready 1 -9" ] && break
    sleep 0.1
done
expect_eq "a killed primary is restarted and ready again" "$st" "ready 1 -9"
codes="$(for i in 1 2 3 4; do curl -s -o /dev/null -m 5 -w '%{http_code} ' "http://127.0.0.1:$L/api/items/$i"; done)"
expect_eq "the pool serves after the restart" "$codes" "200 200 200 200 "

# The API: start a shadow with overrides, stop it; auth is required.
expect_eq "POST shadows without a token is 401" \
    "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST -d '{}' "http://127.0.0.1:$A/v1/services/api/shadows")" "401"
resp="$(curl -s -m 10 -X POST -H "Authorization: Bearer $TOKEN" \
    -d '{"pool":"v2","env":["EXTRA=1"],"change":"c2"}' "http://127.0.0.1:$A/v1/services/api/shadows")"
new_id="$(jq -r '.instances[0].id' <<<"$resp")"
expect_eq "POST shadows starts one labelled with the change" \
    "$new_id $(jq -r '.instances[0].labels.change_id' <<<"$resp")" "api-v2-2 c2"
np="$(jq -r '.instances[0].pid' <<<"$resp")"
check "the new shadow has the overridden env" grep -q '^EXTRA=1$' < <(tr '\0' '\n' </proc/"$np"/environ)
expect_eq "POST shadows to an unknown service is 404" \
    "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST -H "Authorization: Bearer $TOKEN" -d '{}' "http://127.0.0.1:$A/v1/services/nope/shadows")" "404"
expect_eq "a bad body is 400 with the error envelope" \
    "$(curl -s -m 5 -X POST -H "Authorization: Bearer $TOKEN" -d '{"instances":0}' "http://127.0.0.1:$A/v1/services/api/shadows" | jq -r .error.code)" "invalid_argument"
expect_eq "DELETE a shadow is 202" \
    "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X DELETE -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$A/v1/shadows/$new_id")" "202"
for ((i = 0; i < 50; i++)); do pid_alive "$np" || break; sleep 0.1; done
check "the deleted shadow's process is gone" bash -c "! kill -0 $np 2>/dev/null"
expect_eq "DELETE of a primary is 404" \
    "$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X DELETE -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$A/v1/shadows/api-primary-2")" "404"
expect_eq "GET /v1 lists the instance endpoints" \
    "$(curl -s -m 5 "http://127.0.0.1:$A/v1" | jq -r '[.endpoints[].path | select(test("instances|shadows"))] | length')" "3"

# doppel status reads the same API.
if "$E2E_BUILD/doppel" status --help >/dev/null 2>&1; then
    st="$("$E2E_BUILD/doppel" status --admin "127.0.0.1:$A")"
    check "doppel status lists the instances" grep -q '^api-primary-1 .*primary.*ready' <<<"$st"
    check "doppel status --json is the API's list" bash -c "jq -e '.instances | length >= 3' >/dev/null" <<<"$("$E2E_BUILD/doppel" status --admin "127.0.0.1:$A" --json)"
fi

# SIGTERM: every instance is stopped, records removed.
pids="$(instances | jq -r '.instances[].pid')"
stop_pid "$DOPPEL_PID"
expect_eq "doppel exits 0 after SIGTERM" "$?" "0"
check "no sanitizer report in doppel's log" bash -c "! grep -q 'Sanitizer\|runtime error' '$DOPPEL_LOG'"
alive=0
for p in $pids; do pid_alive "$p" && alive=$((alive + 1)); done
expect_eq "SIGTERM stops every instance" "$alive" "0"
expect_eq "no instance records are left" "$(ls "$E2E_TMP/state" | grep -c '\.instance$')" "0"

# kill -9 of doppel leaves the instances; the next doppel on the same state dir removes them.
start_doppel "$C" "http://127.0.0.1:$A/readyz" || not_ok "doppel starts again"
pids="$(instances | jq -r '.instances[].pid')"
kill -KILL "$(doppel_child)"
e2e_reap "$DOPPEL_PID"
alive=0
for p in $pids; do pid_alive "$p" && alive=$((alive + 1)); done
expect_eq "after kill -9 the instances are orphans" "$alive" "3"
start_doppel "$C" "http://127.0.0.1:$A/readyz" || not_ok "doppel starts after a crash"
alive=0
for p in $pids; do pid_alive "$p" && alive=$((alive + 1)); done
expect_eq "the next doppel removed the orphans" "$alive" "0"
check "it says so in its log" grep -q "removed orphan instance 'api-primary-1'" "$DOPPEL_LOG"
stop_pid "$DOPPEL_PID"

# A sealed shadow cannot connect outside its namespace; doppel reaches it; egress bridges.
if [ "$ROOT" = 1 ]; then
    outside="$(free_port)"
    start_demo_app OUT
    probe='for p in '"$OUT"' '"$outside"'; do if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "reach $p"; else echo "blocked $p"; fi; done; exec '"$DEMO"' --port {port}'
    cat >"$E2E_TMP/sealed.yaml" <<YAML
workers: 1
admin: { listen: 127.0.0.1:$A }
provision: { state_dir: $E2E_TMP/state2 }
services:
  - name: s
    listen: 127.0.0.1:$L
    primary: { upstreams: [127.0.0.1:$OUT] }
    shadows:
      - name: sealed
        run: { command: bash, args: [-c, '$probe'], isolation: netns, logs: { dir: $E2E_TMP/slogs } }
      - name: bridged
        run: { command: bash, args: [-c, '$probe'], isolation: netns, egress: ["127.0.0.1:$OUT"], logs: { dir: $E2E_TMP/blogs } }
    mirror: { percent: 100, methods: [GET, POST] }
YAML
    if start_doppel "$E2E_TMP/sealed.yaml" "http://127.0.0.1:$A/readyz"; then
        for ((i = 0; i < 50; i++)); do
            [ "$(instances | jq -r '[.instances[] | select(.state == "ready")] | length')" = 2 ] && break
            sleep 0.1
        done
        expect_eq "a sealed shadow cannot reach a port outside its namespace" \
            "$(cat "$E2E_TMP/slogs/s-sealed-1.stdout.log" | head -1)" "blocked $OUT"
        expect_eq "an egress bridge reaches exactly its target" \
            "$(head -2 "$E2E_TMP/blogs/s-bridged-1.stdout.log" | tr '\n' ' ')" "reach $OUT blocked $outside "
        curl -s -o /dev/null -m 5 "http://127.0.0.1:$L/api/items/1"
        curl -s -o /dev/null -m 5 -d '{"name":"x"}' "http://127.0.0.1:$L/api/items"
        sleep 0.5
        m="$(curl -s -m 5 "http://127.0.0.1:$A/metrics")"
        got="$(awk '/^doppel_requests_total\{service="s",pool="sealed".*class="2xx"/ { n += $NF } END { print n + 0 }' <<<"$m")"
        expect_eq "doppel reaches the sealed shadow (GET and a mirrored POST)" "$got" "2"
        stop_pid "$DOPPEL_PID"
    else
        not_ok "doppel starts sealed shadows"
    fi
else
    skip "sealed shadows" "network namespaces need root (uid $(id -u))"
fi

# Over its memory limit an instance is killed by the OOM killer and reported.
if [ "$ROOT" = 1 ]; then
    cat >"$E2E_TMP/oom.yaml" <<YAML
workers: 1
admin: { listen: 127.0.0.1:$A }
provision: { state_dir: $E2E_TMP/state3 }
services:
  - name: m
    listen: 127.0.0.1:$L
    primary: { upstreams: [127.0.0.1:$OUT] }
    shadows:
      - name: hog
        run: { command: bash, args: [-c, 'exec $DEMO --port {port} & sleep 0.5; exec dd if=/dev/zero of=/dev/null bs=256M count=2'], limits: { memory: 32MiB }, restart: { policy: never } }
YAML
    if start_doppel "$E2E_TMP/oom.yaml" "http://127.0.0.1:$A/readyz"; then
        for ((i = 0; i < 50; i++)); do
            st="$(instances | jq -r '.instances[0] | "\(.state) \(.oom_killed) \(.oom_kills)"')"
            [ "${st%% *}" = exited ] && break
            sleep 0.1
        done
        if [ "$(instances | jq -r '.instances[0].cgroup')" = "" ]; then
            skip "memory limit kill" "no writable cgroup on this machine"
        else
            expect_eq "an instance over its memory limit is OOM-killed and reported" "$st" "exited true 1"
            check "the OOM kill is logged" grep -q "killed by the OOM killer" "$DOPPEL_LOG"
            check "and counted in /metrics" grep -q '^doppel_instance_oom_kills_total{.*instance="m-hog-1"} 1$' < <(curl -s -m 5 "http://127.0.0.1:$A/metrics")
        fi
        stop_pid "$DOPPEL_PID"
    else
        not_ok "doppel starts the memory hog"
    fi
else
    skip "memory limit kill" "cgroup limits need root (uid $(id -u))"
fi
exit 0
