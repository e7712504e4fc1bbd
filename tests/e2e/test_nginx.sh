#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# nginx serving TLS straight from the mount (README: Using it): a
# self-signed certificate and its key are two fields of one KV secret,
# nginx's ssl_certificate and ssl_certificate_key name MOUNT/secret/web#cert
# and #key, and curl, trusting only that certificate, gets the page. Another
# uid cannot read the key. A rotated certificate is served after
# `nginx -s reload`, and the old one is no longer trusted.
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "SKIP: nginx missing (package nginx-light)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl missing"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (nginx's master reads the key as root)"; exit 77; }

M=$WORK/mnt
N=$WORK/nginx
mkdir -p "$M" "$N/logs" "$N/tmp"
chmod 755 "$M"
cat > "$WORK/coffer.hcl" <<EOF
storage "sqlite" {
  path = "$WORK/coffer.db"
  init = true
}
disable_mlock = true
mount "$M" {
  allow_other = true
}
EOF
start_store_config "$WORK/coffer.hcl" "$M"
echo 'type=kv-v2' > "$M/sys/mounts/secret"

NGINX_PID=""
stop_nginx() {
  if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
  fi
  NGINX_PID=""
}
trap 'stop_nginx; cleanup' EXIT

# mkcert NAME : a self-signed certificate for localhost in $WORK/NAME.{crt,key}.
mkcert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost" -keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null
}
# store NAME : cert and key as the fields of secret/web.
store() {
  jq -n --rawfile c "$WORK/$1.crt" --rawfile k "$WORK/$1.key" '{cert: $c, key: $k}' > "$M/secret/web"
}
mkcert first
store first
expect_eq "$(cat "$M/secret/web#cert")" "$(cat "$WORK/first.crt")" "the certificate field"
expect_eq "$(cat "$M/secret/web#key")" "$(cat "$WORK/first.key")" "the key field"
expect_err "Permission denied" "another uid reads the key" as_nobody env -i cat "$M/secret/web#key"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Quoted: '#' starts a comment in nginx's configuration.
cat > "$N/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/logs/error.log info;
events { worker_connections 16; }
http {
  access_log $N/logs/access.log;
  client_body_temp_path $N/tmp/body;
  proxy_temp_path $N/tmp/proxy;
  fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi;
  scgi_temp_path $N/tmp/scgi;
  server {
    listen 127.0.0.1:$PORT ssl;
    server_name localhost;
    ssl_certificate     "$M/secret/web#cert";
    ssl_certificate_key "$M/secret/web#key";
    location / { return 200 "hello from coffer\n"; }
  }
}
EOF
expect_ok "nginx -t reads the certificate and key from the mount" \
  nginx -t -p "$N" -e "$N/logs/error.log" -c "$N/nginx.conf"
nginx -p "$N" -e "$N/logs/error.log" -c "$N/nginx.conf" >>"$N/logs/stdout" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null --cacert "$WORK/first.crt" "https://localhost:$PORT/" && break
  kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx exited: $(cat "$N/logs/error.log")"
  sleep 0.1
done

# curl trusts only the certificate that was stored: the TLS handshake proves
# nginx serves it (and holds its key).
expect_eq "$(curl -sS --cacert "$WORK/first.crt" "https://localhost:$PORT/")" "hello from coffer" "curl over TLS"
expect_eq "$(openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
  openssl x509 -noout -fingerprint -sha256)" \
  "$(openssl x509 -in "$WORK/first.crt" -noout -fingerprint -sha256)" "the served certificate is the stored one"
mkcert other
expect_false "a certificate nginx does not serve is not trusted" \
  curl -sS --cacert "$WORK/other.crt" "https://localhost:$PORT/"

# Rotation: a new certificate in the secret, nginx reloads (HUP), the new
# one is served and the old one no longer verifies.
store other
kill -HUP "$NGINX_PID"
ok=0
for _ in $(seq 1 100); do
  if curl -s -o /dev/null --cacert "$WORK/other.crt" "https://localhost:$PORT/"; then ok=1; break; fi
  sleep 0.1
done
CHECKS=$((CHECKS + 1))
[ "$ok" = 1 ] || fail "the rotated certificate is not served after a reload: $(tail -5 "$N/logs/error.log")"
# Old workers finish their connections after a reload and may still take a
# new one with the old certificate for a moment: ask until the new one answers.
body=""
for _ in $(seq 1 100); do
  body=$(curl -sS --cacert "$WORK/other.crt" "https://localhost:$PORT/" 2>/dev/null) && [ -n "$body" ] && break
  sleep 0.1
done
expect_eq "$body" "hello from coffer" "curl after rotation"
expect_false "the old certificate is no longer served" \
  curl -sS --cacert "$WORK/first.crt" "https://localhost:$PORT/"
CHECKS=$((CHECKS + 1))
! grep -q "PRIVATE KEY" "$WORK/cofferd.log" || fail "the key reached cofferd's log"

stop_nginx
stop_cofferd "$M"
pass
