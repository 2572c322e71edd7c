#!/usr/bin/env bash
# test_proxy.sh: synkro behind the shipped docker/nginx.conf, with TLS (a self-signed certificate),
# as the CRMs reach it. Only the values marked CHANGE (upstream, server_name, certificate paths),
# the listen ports and the log path are substituted. Through https://localhost:<port> (the public
# base URL synkro is told) a HubSpot v3-signed webhook and a Salesforce outbound message are
# accepted and stored (GET /api/events on synkro's private port), a v3 signature made for another
# URL is refused, and /api/*, /metrics, /healthz and GET /webhooks/* are not served publicly.
# Needs nginx (Debian nginx-light or nginx; installed here with apt-get when missing and root) and
# openssl; exits 77 (skipped) saying why when nginx cannot be had. Bounded: every request times
# out after 10 s, every wait after 30 s.
set -euo pipefail
src=${SYNKRO_SOURCE_DIR:?}
bin=${SYNKRO_BIN:?}
cd "$src"
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect() { # expect NAME WANT GOT
  if [[ $3 == "$2" ]]; then ok "$1"; else bad "$1: expected $2, got $3"; fi
}

nginx_bin=$(command -v nginx || true)
[[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
if [[ -z $nginx_bin ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null 2>&1 || true
  fi
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  [[ -x $nginx_bin ]] || { echo "SKIPPED: nginx is not installed and could not be (apt-get install nginx-light)"; exit 77; }
fi

tmp=$(mktemp -d /tmp/synkro-proxy-test.XXXXXX)
chmod 755 "$tmp"
db=""
own_pg=""
synkro_pid=""
nginx_pid=""
psql_bin() {
  local d
  if command -v psql >/dev/null; then command -v psql; return; fi
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/psql" ]] && { echo "$d/psql"; return; }; done
  echo "psql not found" >&2
  exit 1
}
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  [[ -n $nginx_pid ]] && kill -TERM "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  [[ -n $synkro_pid ]] && kill -TERM "$synkro_pid" 2>/dev/null && wait "$synkro_pid" 2>/dev/null
  if [[ -n $db ]]; then
    PGOPTIONS="-c client_min_messages=warning" "$(psql_bin)" "$SYNKRO_TEST_ADMIN_URL" -qtA \
      -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  [[ -n $own_pg ]] && scripts/pg.sh stop "$own_pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { scripts/free_port.sh; }

# ---- a throwaway database ----
if [[ -n ${SYNKRO_TEST_ADMIN_URL:-} ]]; then
  db="synkro_proxy_test_$$"
  "$(psql_bin)" "$SYNKRO_TEST_ADMIN_URL" -qtA -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
  database_url=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\\1/$db#" <<<"$SYNKRO_TEST_ADMIN_URL")
else
  own_pg="$tmp/pg"
  database_url=$(SYNKRO_PG_FSYNC=off scripts/pg.sh start "$own_pg")
fi

# ---- synkro, told its public URL is the proxy's ----
https_port=$(free_port)
http_port=$(free_port)
public="https://localhost:$https_port"
admin=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
hs_secret="proxy-test-client-secret"
sf_token="proxy-test-endpoint-token-0123456789"
env DATABASE_URL="$database_url" SYNKRO_LISTEN=127.0.0.1:0 SYNKRO_PUBLIC_BASE_URL="$public" \
  SYNKRO_ADMIN_TOKEN="$admin" HUBSPOT_CLIENT_SECRET="$hs_secret" SYNKRO_HUBSPOT_REQUIRE_V3=true \
  SALESFORCE_ORG_ID=00D000000000001 SYNKRO_SF_ENDPOINT_TOKEN="$sf_token" SYNKRO_WORKERS=0 \
  SYNKRO_SWEEP_INTERVAL=0 "$bin" serve >"$tmp/synkro.out" 2>"$tmp/synkro.err" &
synkro_pid=$!
port=""
for ((i = 0; i < 300; i++)); do
  port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/synkro.out" | head -1)
  [[ -n $port ]] && break
  kill -0 "$synkro_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $port ]] || { cat "$tmp/synkro.err" >&2; echo "FAIL: synkro did not start" >&2; exit 1; }
private="http://127.0.0.1:$port"

# ---- nginx with the shipped server blocks ----
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost" -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" \
  >/dev/null 2>&1
sed -e "s#server 127.0.0.1:8080; *\# CHANGE.*#server 127.0.0.1:$port;#" \
  -e "s#server_name synkro.example.com; *\# CHANGE.*#server_name localhost;#" \
  -e "s#/etc/nginx/tls/fullchain.pem; *\# CHANGE#$tmp/fullchain.pem;#" \
  -e "s#/etc/nginx/tls/privkey.pem; *\# CHANGE#$tmp/privkey.pem;#" \
  -e "s#listen 80;#listen 127.0.0.1:$http_port;#" \
  -e "s#listen 443 ssl http2;#listen 127.0.0.1:$https_port ssl http2;#" \
  -e "s#/var/log/nginx/synkro-webhooks.log#$tmp/webhooks.log#" \
  docker/nginx.conf >"$tmp/synkro.conf"
if grep -n '^[^#]*CHANGE' "$tmp/synkro.conf" >&2; then
  echo "FAIL: a CHANGE value of docker/nginx.conf was not substituted (above)" >&2
  exit 1
fi
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root root;"
cat >"$tmp/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 64; }
http {
    access_log $tmp/access.log;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/synkro.conf;
}
CONF
"$nginx_bin" -t -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/nginx-t.out" 2>&1 ||
  { cat "$tmp/nginx-t.out" >&2; echo "FAIL: nginx refuses the shipped configuration" >&2; exit 1; }
"$nginx_bin" -p "$tmp" -c "$tmp/nginx.conf" 2>>"$tmp/error.log" &
nginx_pid=$!
for ((i = 0; i < 300; i++)); do
  curl -s -o /dev/null -m 2 --cacert "$tmp/fullchain.pem" "$public/" && break
  sleep 0.1
done

status() { # status METHOD URL [curl args...]: the HTTP status through the proxy (000: none)
  local method=$1 url=$2
  shift 2
  curl -s -o "$tmp/answer" -w '%{http_code}' -m 10 --cacert "$tmp/fullchain.pem" -X "$method" "$@" "$url" || true
}

# ---- HubSpot: v3 signature over the public URL ----
now_ms=$(($(date +%s%N) / 1000000))
body="[{\"eventId\":4711,\"subscriptionId\":4242,\"portalId\":62515,\"appId\":77,\"occurredAt\":$now_ms,\"subscriptionType\":\"object.propertyChange\",\"attemptNumber\":0,\"objectId\":9001,\"objectTypeId\":\"2-123456\",\"propertyName\":\"budget\",\"propertyValue\":\"17\",\"changeSource\":\"CRM_UI\"}]"
sign_v3() { # sign_v3 URL: base64 HMAC-SHA256 of POST + URL + body + timestamp
  printf '%s%s%s%s' POST "$1" "$body" "$now_ms" | openssl dgst -sha256 -hmac "$hs_secret" -binary | base64 -w0
}
good_sig=$(sign_v3 "$public/webhooks/hubspot")
expect "a signed HubSpot webhook through the proxy is accepted" 204 \
  "$(status POST "$public/webhooks/hubspot" -H 'Content-Type: application/json' \
    -H "X-HubSpot-Signature-v3: $good_sig" -H "X-HubSpot-Request-Timestamp: $now_ms" --data-binary "$body")"
bad_sig=$(sign_v3 "http://localhost:$https_port/webhooks/hubspot")
expect "a signature over another URL is refused" 401 \
  "$(status POST "$public/webhooks/hubspot" -H 'Content-Type: application/json' \
    -H "X-HubSpot-Signature-v3: $bad_sig" -H "X-HubSpot-Request-Timestamp: $now_ms" --data-binary "$body")"

# ---- Salesforce: an outbound message with the endpoint token ----
soap='<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000001EAA</OrganizationId><Notification><Id>04l000000000001AAA</Id><sObject xsi:type="sf:Project__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>a01000000000009AAA</sf:Id><sf:Name>X</sf:Name></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>'
expect "an outbound message through the proxy is acknowledged" 200 \
  "$(status POST "$public/webhooks/salesforce?token=$sf_token" -H 'Content-Type: text/xml; charset=utf-8' \
    -H 'SOAPAction: ""' --data-binary "$soap")"
if grep -q '<Ack>true</Ack>' "$tmp/answer"; then ok "the answer is an Ack"; else bad "no Ack in: $(cat "$tmp/answer")"; fi
if grep -q "$sf_token" "$tmp/webhooks.log"; then bad "the endpoint token is in nginx's log"; else ok "the endpoint token stays out of nginx's log"; fi

# ---- both stored (the private side) ----
for source in hubspot salesforce; do
  n=$(curl -s -m 10 -H "Authorization: Bearer $admin" "$private/api/events?source=$source" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))' 2>/dev/null || echo error)
  expect "the $source event is stored" 1 "$n"
done

# ---- nothing else is public ----
expect "/api/* is not served publicly" 404 "$(status GET "$public/api/events" -H "Authorization: Bearer $admin")"
expect "/metrics is not served publicly" 404 "$(status GET "$public/metrics")"
expect "/healthz is not served publicly" 404 "$(status GET "$public/healthz")"
expect "GET /webhooks/hubspot is refused" 403 "$(status GET "$public/webhooks/hubspot")"
expect "plain http redirects to https" 301 "$(curl -s -o /dev/null -w '%{http_code}' -m 10 "http://localhost:$http_port/webhooks/hubspot")"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
