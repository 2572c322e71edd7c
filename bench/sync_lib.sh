#!/usr/bin/env bash
# sync_lib.sh: shell functions shared by the sync benchmarks (bench/e2e.sh, bench/scale.sh), sourced
# after they define log/die and source bench_lib.sh: crmsim's control API and synkro's admin API,
# CPU time of processes, crmsim's call counters, and the Bench_Project fixture and mapping both
# measure.
# Must not: start or stop anything by itself, or set anything but functions.

simcall() { # METHOD PATH [BODY]: crmsim ($sim) control call; the answer on stdout, non-2xx is fatal
  local code
  code=$(curl -s -o "$tmp/sim.ans" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} "$sim$2") || true
  [[ $code == 2* ]] || die "crmsim $1 $2 answered $code: $(head -c 400 "$tmp/sim.ans")"
  cat "$tmp/sim.ans"
}

api() { # METHOD PATH [BODY]: synkro ($base) admin API with $admin; prints "status body"
  local code
  code=$(curl -s -o "$tmp/api.ans" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$base$2") || true
  echo "$code $(cat "$tmp/api.ans")"
}

now_ms() { date +%s%3N; }

# CPU ms used so far by processes (synkro, crmsim) and by PostgreSQL (pg_pids: the postmaster
# of $tmp/pg and its children; the pools' backends live through a run), from /proc: less noisy
# than records/s on a shared machine
cpu_ms() { # PID...: summed utime+stime in ms
  local t=0 p v
  for p in "$@"; do
    v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    t=$((t + v))
  done
  echo $((t * 1000 / $(getconf CLK_TCK)))
}
pg_pids() {
  local pm
  pm=$(head -1 "$tmp/pg/data/postmaster.pid" 2>/dev/null || true)
  [[ -n $pm ]] && echo "$pm $(pgrep -P "$pm" | tr '\n' ' ')"
}

# "hubspot salesforce hubspot_429 hubspot_non2xx salesforce_non2xx" API calls so far ($load, $sim)
calls_snapshot() {
  "$load" calls --sim "$sim" |
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
           print v["hubspot"], v["salesforce"], v["hubspot_429"], v["hubspot_non2xx"], v["salesforce_non2xx"] }'
}

# bench_fixture N OUTBOUND_URL SF_OBJECT HS_OBJECT [SKIP_USER]: crmsim's fixture on stdout: a HubSpot
# custom object and a Salesforce object with identity fields, N Salesforce records (history: they
# start no outbound message) and the outbound rule pointing at OUTBOUND_URL; with SKIP_USER, the
# rule's flow has docs/DEPLOY.md 5.5's entry condition (LastModifiedById does not equal SKIP_USER)
bench_fixture() {
  awk -v n="$1" -v url="$2" -v sf="$3" -v hs="$4" -v skip="${5:-}" 'BEGIN {
  printf "{\"hubspot\":{\"schemas\":[{\"name\":\"bench_projects\",\"objectTypeId\":\"%s\",", hs
  printf "\"primaryDisplayProperty\":\"name\",\"requiredProperties\":[\"name\"],\"properties\":["
  printf "{\"name\":\"name\",\"type\":\"string\"},"
  printf "{\"name\":\"salesforce_id\",\"type\":\"string\",\"hasUniqueValue\":true},"
  printf "{\"name\":\"stamp\",\"type\":\"string\"},{\"name\":\"budget\",\"type\":\"number\"}]}]},"
  printf "\"salesforce\":{\"describes\":[{\"name\":\"%s\",\"label\":\"Bench Project\",", sf
  printf "\"keyPrefix\":\"a0B\",\"fields\":["
  printf "{\"name\":\"Name\",\"type\":\"string\",\"length\":80,\"nillable\":false},"
  printf "{\"name\":\"HubSpot_Id__c\",\"type\":\"string\",\"length\":30,\"externalId\":true,\"unique\":true},"
  printf "{\"name\":\"Stamp__c\",\"type\":\"string\",\"length\":80},"
  printf "{\"name\":\"Budget__c\",\"type\":\"double\"}]}],"
  printf "\"outbound_rules\":[{\"object\":\"%s\",\"url\":\"%s\",", sf, url
  printf "\"fields\":[\"Name\",\"Stamp__c\",\"Budget__c\",\"HubSpot_Id__c\"]"
  if (skip != "") printf ",\"skipWhenLastModifiedBy\":\"%s\"", skip
  printf "}],"
  printf "\"records\":{\"%s\":[", sf
  for (i = 0; i < n; i++)
    printf "%s{\"Name\":\"Bench %d\",\"Stamp__c\":\"seed\",\"Budget__c\":%d}", i ? "," : "", i, 1000 + i
  printf "]}}}\n" }'
}

# bench_flow_skip_user ECHOES: the user the outbound message's flow leaves out, on stdout: the
# integration user synkro writes with (crmsim's salesforce_user_id, whose token synkro gets) unless
# ECHOES is 1 (a flow without the entry condition: every synkro write comes back as a message)
bench_flow_skip_user() { [[ ${1:-0} == 1 ]] || echo 005000000000001; }

# bench_mapping SF_OBJECT HS_OBJECT: the mapping document (three two-way fields) on stdout
bench_mapping() {
  echo "{\"name\":\"Bench\",\"salesforce_object\":\"$1\",\"hubspot_object\":\"$2\",
 \"rules\":{\"salesforce_to_hubspot\":{\"create\":true,\"update\":true,\"delete\":\"none\"},
           \"hubspot_to_salesforce\":{\"create\":true,\"update\":true,\"delete\":\"none\"},
           \"conflict_winner\":\"salesforce\"},
 \"identity\":{\"hubspot_property\":\"salesforce_id\",\"salesforce_field\":\"HubSpot_Id__c\"},
 \"fields\":[{\"salesforce\":\"Name\",\"hubspot\":\"name\",\"rule\":\"two_way\"},
             {\"salesforce\":\"Stamp__c\",\"hubspot\":\"stamp\",\"rule\":\"two_way\"},
             {\"salesforce\":\"Budget__c\",\"hubspot\":\"budget\",\"rule\":\"two_way\"}]}"
}
