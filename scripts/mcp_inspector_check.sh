#!/usr/bin/env bash
# Interop check with a real MCP client: MCP Inspector (pinned below, installed from the npm registry into a temp dir)
# connects, unchanged, to the plain MCP server behind the gateway: it finds the authorization server from the gateway's
# 401 and RFC 9728 metadata, registers itself by Dynamic Client Registration (RFC 7591), sends bob through the
# development login and the consent page (authorization code + PKCE, RFC 8707 `resource`), then lists and calls tools
# with the delegation token it gets.
#
#   scripts/mcp_inspector_check.sh          the Inspector's CLI, by registration and then by a Client ID Metadata
#                                           Document (scripts/cimd_doc_server.ts, HTTPS); its "browser" is a curl
#                                           script that signs in as bob and answers "allow", as a person would;
#                                           then mcp-remote (the stdio bridge of desktop clients), driven over stdio
#                                           by scripts/mcp_remote_drive.mjs
#   scripts/mcp_inspector_check.sh --web    also its web UI, in headless Chromium driven by Playwright
#                                           (scripts/mcp_inspector_web.mjs; needs Debian's chromium, or CHROMIUM=path;
#                                           SCREENSHOTS=dir keeps a PNG per step), once by the development login and
#                                           once through a company OpenID provider (scripts/dev_oidc_provider.mjs)
#
# Needs Node.js 22 on PATH, `npm ci` done, curl, jq and openssl, and ports 3000, 4100, 4200, 6274-6276 free. Prints
# one line per check and exits 1 on the first that fails. Not part of `npm test` (it downloads the clients);
# everything it starts runs in a temp dir (generated keys and secrets included) and is stopped and removed at the end.
set -euo pipefail

INSPECTOR='@modelcontextprotocol/inspector@2.12.0'
PLAYWRIGHT='playwright-core@1.65.1'
MCP_REMOTE='mcp-remote@0.15.1'
web=false
[ "${1:-}" = --web ] && web=true
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dts-inspector.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $1" >&2
  for log in service gateway inspector; do
    [ -f "$work/$log.log" ] && { echo "--- last lines of $log.log" >&2; tail -n 5 "$work/$log.log" >&2; }
  done
  exit 1
}
pass() { echo "ok: $1"; }

wait_for() { # url
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  fail "nothing answered at $1"
}

if $web && [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then fail "--web needs Chromium at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium, or CHROMIUM=path)"; fi
for tool in curl jq openssl; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done
for port in 3000 3001 4100 4200 6274 6275 6276; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "port $port is in use"; fi
done

tsx="$root/node_modules/tsx/dist/esm/index.mjs"

# A Client ID Metadata Document for the Inspector's second run (Claude Code and VS Code name themselves this way),
# served over HTTPS with a throw-away certificate the service is told to trust.
node --import "$tsx" "$root/scripts/cimd_doc_server.ts" http://127.0.0.1:6276/oauth/callback 'MCP Inspector (CIMD)' >"$work/docs.json" 2>"$work/docs.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/docs.json" ] && break; sleep 0.2; done
[ -s "$work/docs.json" ] || fail "the document server did not start ($(tail -n 1 "$work/docs.log"))"
cimd_id=$(jq -r .clientId "$work/docs.json")

# A stand-in for the company's OpenID Connect provider (scripts/dev_oidc_provider.mjs: oidc-provider's development
# pages), for the web UI's second sign-in, through "Sign in with your company account".
openssl rand -hex 24 | tr -d '\n' >"$work/upstream.secret"
node "$root/scripts/dev_oidc_provider.mjs" 3001 "$(cat "$work/upstream.secret")" http://localhost:3000/login/upstream/callback >"$work/idp.out" 2>"$work/idp.log" &
pids+=($!)
wait_for http://127.0.0.1:3001/.well-known/openid-configuration

# The demo configuration, plus what an MCP client that is not in `clients` needs: Dynamic Client Registration, Client
# ID Metadata Documents (from that server only), and a rule for such clients (lookups only, through the gateway).
# The route's delegation tokens live 20 s (not 300), so that mcp-remote's second run below must refresh.
sed '/resource: "http:\/\/localhost:4100\/plain\/mcp"/,/maxTtlSeconds/ s/maxTtlSeconds: 300/maxTtlSeconds: 20/' "$root/config/default.yaml" >"$work/config.yaml"
grep -q 'maxTtlSeconds: 20' "$work/config.yaml" || fail "could not shorten the plain route's maxTtlSeconds in config/default.yaml"
cat >>"$work/config.yaml" <<EOF

onboarding:
  registration: { enabled: true }
  clientIdMetadataDocument: { enabled: true, allowedHosts: ["$(jq -r .host "$work/docs.json")"], caFile: "$(jq -r .caFile "$work/docs.json")" }
onboardedClients:
  - dynamicallyRegistered: true
    clientIdHosts: ["$(jq -r .host "$work/docs.json")"]
    toolServers:
      - resource: "http://localhost:4100/plain/mcp"
        scopes: [lookup_customer]
upstreamLogin:
  issuer: http://127.0.0.1:3001
  clientId: dts
  clientSecret: { file: upstream.secret }
  scopes: [openid, profile, groups]
EOF
cat >"$work/gateway.yaml" <<'EOF'
port: 4100
host: 127.0.0.1
publicUrl: http://localhost:4100
issuer: http://localhost:3000
client:
  clientId: mcp-gateway
  clientSecret: { file: keys/secrets/mcp-gateway }
keys:
  file: keys/gateway-jwks.json
audit:
  argumentsKey: { file: keys/gateway-arguments.key, generate: true }
routes:
  - resource: http://localhost:4100/plain/mcp
    upstream: http://127.0.0.1:4200/mcp
    scopesSupported: [lookup_customer, issue_refund, export_customers]
EOF

# The "browser": follows the authorization URL through the development login (bob) and the consent page (allow) to
# the Inspector's loopback callback. Nothing it sees is printed (the callback URL carries the code).
cat >"$work/browser" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
jar=$(mktemp); trap 'rm -f "$jar"' EXIT
c() { curl -sS -c "$jar" -b "$jar" "$@"; }
# The URL is the last argument (`gio open <url>` passes two).
interaction=$(c -o /dev/null -w '%{redirect_url}' "${!#}")
resume=$(c -o /dev/null -w '%{redirect_url}' -X POST "$interaction/login" -d username=bob)
consent=$(c -o /dev/null -w '%{redirect_url}' "$resume")
page=$(c "$consent")
action=$(grep -o 'action="[^"]*/consent"' <<<"$page" | cut -d'"' -f2)
csrf=$(grep -o 'name="csrf" value="[^"]*"' <<<"$page" | cut -d'"' -f4)
# The tools the page asks bob to allow, as a list: <code>name</code> per tool.
grep -o 'tools:<ul>.*' <<<"$page" | sed 's|</ul>.*||' | grep -o '<code>[^<]*</code>' | sed 's|</*code>||g' | paste -sd, >>"${0%/*}/consent.txt"
resume=$(c -o /dev/null -w '%{redirect_url}' -X POST "${consent%%/interaction/*}$action" -d "csrf=$csrf&decision=allow")
callback=$(c -o /dev/null -w '%{redirect_url}' "$resume")
# A client may open the browser before its callback listener is up (mcp-remote's step-up sign-in does): retry the
# connection until it is.
c -o /dev/null --retry 30 --retry-delay 1 --retry-connrefused "$callback"
EOF
chmod +x "$work/browser"
# mcp-remote honours $BROWSER for its first sign-in but, for a step-up sign-in, tries xdg-open and its fallbacks
# directly (its `open` dependency): on a machine without xdg-utils it then prints the URL and waits forever. The same
# "browser" answers under those names, first on mcp-remote's PATH.
mkdir -p "$work/opener"
for name in xdg-open gio x-www-browser sensible-browser; do ln -s "$work/browser" "$work/opener/$name"; done

cd "$work"
CONFIG_FILE=config.yaml node --conditions=source --import "$tsx" "$root/src/main.ts" >service.log 2>&1 &
pids+=($!)
node --conditions=source --import "$tsx" "$root/examples/plain_mcp_server.ts" 4200 >plain.log 2>&1 &
pids+=($!)
wait_for http://localhost:3000/.well-known/oauth-authorization-server
node --conditions=source --import "$tsx" "$root/src/gateway/main.ts" --config gateway.yaml >gateway.log 2>&1 &
pids+=($!)
wait_for http://localhost:4100/healthz

packages=("$INSPECTOR" "$MCP_REMOTE")
$web && packages+=("$PLAYWRIGHT")
echo "installing ${packages[*]} into $work/npm; service, gateway and plain MCP server running from $root"
mkdir -p npm
npm install --prefix npm --no-save --no-audit --no-fund --no-update-notifier "${packages[@]}" >npm.log 2>&1 || fail "npm could not install ${packages[*]} (npm.log: $(tail -n 1 npm.log))"
bin="$work/npm/node_modules/.bin/mcp-inspector"

# The Inspector's state (its registered client) lives under HOME (home/ unless INSPECTOR_HOME says); its tokens only in
# memory, per run.
inspector() {
  HOME="$work/${INSPECTOR_HOME:-home}" MCP_INSPECTOR_SECRET_STORE=memory MCP_AUTO_OPEN_ENABLED=true BROWSER="$work/browser" \
    "$bin" --cli http://localhost:4100/plain/mcp "$@" 2>>inspector.log
}

# The gateway's last audit event for a tools/call with this decision (allow or deny), as one JSON line.
last_call() { grep '"method":"tools/call"' gateway.log | grep "\"decision\":\"$1\"" | tail -n 1; }

# mcp-remote driven over stdio (scripts/mcp_remote_drive.mjs), its tokens kept under remote-home/ between runs.
remote() {
  HOME="$work/remote-home" BROWSER="$work/browser" PATH="$work/opener:$PATH" node "$root/scripts/mcp_remote_drive.mjs" "$work/npm/node_modules/mcp-remote/dist/proxy.js" http://localhost:4100/plain/mcp "$@" 2>>inspector.log
}

list=$(inspector --method tools/list) || fail "tools/list exited $?"
names=$(jq -c '[.tools[].name]' <<<"$list")
[ "$names" = '["lookup_customer"]' ] || fail "tools/list gave $names, expected [\"lookup_customer\"] (the route offers three)"
pass "tools/list through the gateway: $names (the token's scope filters the route's three tools)"

grep -q '"route":"/reg","status":201' service.log || fail "no Dynamic Client Registration (POST /reg 201) in the service log"
client=$(grep -o '"route":"/reg","status":201,[^}]*"clientId":"[^"]*"' service.log | head -n 1 | grep -o 'dcr_[A-Za-z0-9_-]*')
pass "the Inspector registered itself (RFC 7591): client_id $client"
[ "$(head -n 1 consent.txt)" = lookup_customer ] || fail "the consent page asked for tools '$(head -n 1 consent.txt)', expected lookup_customer"
pass "bob saw the consent page for the tool server with tools: lookup_customer"

call=$(inspector --method tools/call --tool-name lookup_customer --tool-arg customerId=c-42) || fail "tools/call exited $?"
text=$(jq -r '.content[0].text' <<<"$call")
[ "$(jq -r '.customerId' <<<"$text")" = c-42 ] || fail "tools/call lookup_customer gave $call"
pass "tools/call lookup_customer through the gateway: $text"

event=$(last_call allow)
[ -n "$event" ] || fail "no allowed tools/call in the gateway's audit"
[ "$(jq -r '.event.sub' <<<"$event")" = user-bob ] || fail "the gateway's audit event names sub $(jq -r '.event.sub' <<<"$event")"
[ "$(jq -r '.event.act.sub' <<<"$event")" = "$client" ] || fail "the gateway's audit event names actor $(jq -r '.event.act.sub' <<<"$event")"
pass "the gateway's audit event: sub user-bob, act.sub $client, decision allow"

# The CLI reports a failed call as one JSON line on stderr and a non-zero exit.
if inspector --method tools/call --tool-name issue_refund --tool-arg customerId=c-42 amount=10 >/dev/null; then fail "tools/call issue_refund succeeded"; fi
refused=$(grep '^{"error"' inspector.log | tail -n 1)
[ "$(jq -r '.error.code' <<<"$refused")" = tool_not_found ] || fail "tools/call issue_refund gave $refused"
pass "tools/call issue_refund: the Inspector finds no such tool (the filtered list and the decision agree)"

# Again as a new client that names itself by its Client ID Metadata Document instead of registering.
registrations=$(grep -c '"route":"/reg","status":201' service.log)
mkdir -p cimd-home
call=$(INSPECTOR_HOME=cimd-home inspector --client-metadata-url "$cimd_id" --method tools/call --tool-name lookup_customer --tool-arg customerId=c-42) || fail "tools/call by metadata document exited $?"
[ "$(jq -r '.content[0].text | fromjson | .customerId' <<<"$call")" = c-42 ] || fail "tools/call lookup_customer by metadata document gave $call"
[ "$(grep -c '"route":"/reg","status":201' service.log)" = "$registrations" ] || fail "the Inspector registered instead of using its metadata document"
event=$(last_call allow)
[ "$(jq -r '.event.act.sub' <<<"$event")" = "$cimd_id" ] || fail "the gateway's audit event names actor $(jq -r '.event.act.sub' <<<"$event"), expected $cimd_id"
pass "by Client ID Metadata Document, no registration: tools/call lookup_customer went through, audited with act.sub $cimd_id"

# mcp-remote, the bridge desktop clients (Claude Desktop, ...) launch for a remote server, as yet another new client: it
# registers, signs in through the same "browser", and serves the remote tools on stdio.
echo "$MCP_REMOTE (stdio bridge)"
mkdir -p remote-home
inspector_logins=$(wc -l <consent.txt)
answers=$(remote) || fail "mcp-remote did not answer"
[ "$(jq -c .tools <<<"$answers")" = '["lookup_customer"]' ] || fail "mcp-remote's tools/list gave $(jq -c .tools <<<"$answers")"
[ "$(jq -r '.lookup | fromjson | .customerId' <<<"$answers")" = c-42 ] || fail "mcp-remote's tools/call lookup_customer gave $(jq -c .lookup <<<"$answers")"
pass "mcp-remote: initialize ($(jq -r .server <<<"$answers")), tools/list [\"lookup_customer\"], tools/call lookup_customer went through"
event=$(last_call deny)
[ "$(jq -c '[.event.status, .event.reasons, .event.tool]' <<<"$event")" = '[403,["insufficient_scope"],"issue_refund"]' ] || fail "the gateway's last refusal was $(jq -c .event <<<"$event")"
[ "$(jq -r .refund.code <<<"$answers")" != null ] || fail "mcp-remote's tools/call issue_refund was not refused: $(jq -c .refund <<<"$answers")"
pass "mcp-remote: tools/call issue_refund refused by the gateway (403 insufficient_scope, audited); mcp-remote answered $(jq -c .refund <<<"$answers")"

# mcp-remote answers that 403 with step-up authorization (MCP "Scope Challenge Handling"): it sends the user through
# the consent page again for the scope in the challenge, which policy never grants this client, until its own retry
# limit. Counted here once those sign-ins are over (consent.txt has a line per consent page).
first_jti=$(last_call allow | jq -r .event.jti)
sleep 21
logins=$(wc -l <consent.txt)
echo "note: mcp-remote's sign-ins so far: $((logins - inspector_logins)) (the first, then its step-ups after the 403)"

# mcp-remote keeps its tokens under HOME: once its delegation token has expired (20 s, slept above), a new run must
# refresh it (rotation), not send the user through the browser again.
answers=$(remote lookup-only) || fail "mcp-remote did not answer after its token expired"
[ "$(jq -r '.lookup | fromjson | .customerId' <<<"$answers")" = c-42 ] || fail "after expiry, mcp-remote's tools/call gave $(jq -c .lookup <<<"$answers")"
[ "$(wc -l <consent.txt)" = "$logins" ] || fail "after expiry, mcp-remote sent the user through the login and consent pages again instead of refreshing"
second_jti=$(last_call allow | jq -r .event.jti)
[ "$second_jti" != "$first_jti" ] || fail "after expiry, the call was made with the same delegation token"
pass "mcp-remote after its token expired (20 s): refreshed without the browser, called again with a new delegation token"

if $web; then
  # The web UI, as a new client (its own HOME: it registers again) in a real browser: the login and consent pages'
  # forms and redirects run under the browser's rules (CSP form-action, cookies), which the curl "browser" never checks.
  # Twice: bob by the development login, then a user of the company's provider (a new Inspector, a new browser).
  for login in demo upstream; do
    echo "MCP Inspector web UI in headless Chromium, $login login"
    mkdir -p "web-home-$login"
    HOME="$work/web-home-$login" MCP_INSPECTOR_SECRET_STORE=memory BROWSER=true "$bin" --web --transport http --server-url http://localhost:4100/plain/mcp >"web-$login.log" 2>&1 &
    web_pid=$!
    pids+=("$web_pid")
    url=''
    for _ in $(seq 1 100); do
      url=$(grep -o 'http://127.0.0.1:6274?MCP_INSPECTOR_API_TOKEN=[0-9a-f]*' "web-$login.log" | head -n 1 || true)
      [ -n "$url" ] && break
      sleep 0.2
    done
    [ -n "$url" ] || fail "the Inspector's web UI did not start (web-$login.log: $(tail -n 1 "web-$login.log"))"
    node "$root/scripts/mcp_inspector_web.mjs" "$url" "$work/npm" "$login" || fail "the web UI check ($login login) failed"
    kill "$web_pid"
    wait "$web_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/6274) 2>/dev/null || break; sleep 0.2; done
  done
  # The company's user is the delegation token's subject: the upstream account, namespaced by its issuer.
  sub=$(last_call allow | jq -r .event.sub)
  [[ "$sub" == *'|carol' ]] || fail "the last call's subject is $sub, expected the company provider's carol"
  pass "the call after the company login was made for $sub (the upstream account carol, namespaced by its issuer)"
fi
echo "all checks passed"
