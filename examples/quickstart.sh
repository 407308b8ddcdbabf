#!/usr/bin/env bash
# Create an account, deposit, place and cancel a signed order, and read the book: curl + openssl.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
TOKEN=${PERPX_ADMIN_TOKEN:-$(cat data/admin.token)}
# On an error, print the API's {"error":{"code","message"}} and stop.
curl() { command curl --fail-with-body -sS "$@"; }

# 0. The current mark price, pushed as the index (admin route): the shipped "demo" markets
#    need no feed, but an operator-fed "oracle" market refuses orders once its index is stale.
MARK=$(curl "$BASE/api/v1/markets/BTC-PERP" | sed -E 's/.*"mark_price":"([0-9.]+)".*/\1/')
curl -X POST "$BASE/api/v1/admin/markets/BTC-PERP/index-price" -H "Authorization: Bearer $TOKEN" -d "{\"price\":\"$MARK\"}"
echo
PRICE=$(awk -v m="$MARK" 'BEGIN { printf "%d", m * 0.98 }') # a resting bid 2 % below the mark

# 1. An account (admin route). The secret is shown once.
acct=$(curl -X POST "$BASE/api/v1/admin/accounts" -H "Authorization: Bearer $TOKEN" -d '{"label":"me"}')
ID=$(echo "$acct" | sed -E 's/.*"account_id":([0-9]+).*/\1/')
KEY=$(echo "$acct" | sed -E 's/.*"api_key":"([^"]+)".*/\1/')
SECRET=$(echo "$acct" | sed -E 's/.*"api_secret":"([^"]+)".*/\1/')
echo "account $ID"

# 2. A deposit (admin route).
curl -X POST "$BASE/api/v1/admin/accounts/$ID/deposits" -H "Authorization: Bearer $TOKEN" -d '{"amount":"10000"}'
echo

# 3. Signed requests: hex(HMAC-SHA256(secret, timestamp + METHOD + path_with_query + body)).
signed() {
  local method=$1 path=$2 body=${3:-}
  local ts sig
  ts=$(($(date +%s%N) / 1000000))
  sig=$(printf '%s' "$ts$method$path$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
  curl -X "$method" "$BASE$path" -H "X-API-Key: $KEY" -H "X-API-Timestamp: $ts" \
    -H "X-API-Signature: $sig" -H 'Content-Type: application/json' ${body:+--data-raw "$body"}
}

# 4. Place a resting buy order, read the book, cancel the order, read the account.
order=$(signed POST /api/v1/markets/BTC-PERP/orders '{"side":"buy","type":"limit","quantity":"0.01","price":"'"$PRICE"'"}')
echo "$order"
OID=$(echo "$order" | sed -E 's/.*"order_id":([0-9]+).*/\1/')
curl "$BASE/api/v1/markets/BTC-PERP/book?depth=5"
echo
signed DELETE "/api/v1/markets/BTC-PERP/orders/$OID"
echo
signed GET /api/v1/account
echo
