#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The writers real programs use (SPEC §2): each applies its request once and
# reports success, however its bytes are cut into write(2)s (Python's print
# and json.dump, jq, cp, tee, dd bs=1, printf in pieces): whitespace after a
# whole request on the same fd is part of it. And an error certain before
# close (a bad policy from echo, a heredoc or printf; a body broken before
# its end; a policy the caller may not write) fails write(2), which shells
# report, rather than close(2), which they ignore; nothing is applied.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

M=$WORK/mnt
start_cofferd "$M" --dev
S=$M/secret/app
mkdir "$S"

# version NAME : the current version of secret/app/NAME.
version() { jqr .current_version "$S/$1@metadata"; }

# A few hundred bytes, as a private key is.
KEY=$(head -c 300 /dev/urandom | base64 -w 64)
export KEY

# --- one request, however it is cut --------------------------------------------------
expect_ok "python print(json.dumps(obj))" bash -c \
  "python3 -c 'import json, os; print(json.dumps({\"key\": os.environ[\"KEY\"]}))' > '$S/print'"
expect_eq "$(cat "$S/print#key")" "$KEY" "print's secret"
expect_eq "$(version print)" "1" "print: one version"

# The object and its newline in two write(2)s, for sure.
expect_ok "the newline in a write of its own" bash -c \
  "python3 -c 'import os; os.write(1, b\"{\\\"a\\\": \\\"b\\\"}\"); os.write(1, b\"\\n\")' > '$S/two'"
expect_eq "$(cat "$S/two#a")" "b" "two writes: the secret"
expect_eq "$(version two)" "1" "two writes: one version"
expect_ok "newlines and blanks in several writes" bash -c \
  "python3 -c 'import os; os.write(1, b\"a=1\\n\"); os.write(1, b\"\\n\"); os.write(1, b\" \\t\\n\")' > '$S/blanks'"
expect_eq "$(version blanks)" "1" "blank writes: one version"

expect_ok "python json.dump to a file" python3 -c \
  "import json, os
with open('$S/dump', 'w') as f:
    json.dump({'key': os.environ['KEY'], 'n': list(range(50))}, f)
    f.write('\n')"
expect_eq "$(cat "$S/dump#key")" "$KEY" "json.dump's secret"
expect_eq "$(version dump)" "1" "json.dump: one version"

expect_ok "jq > file" bash -c "jq -n --arg k \"\$KEY\" '{key: \$k, list: [range(200)]}' > '$S/jq'"
expect_eq "$(cat "$S/jq#key")" "$KEY" "jq's secret"
expect_eq "$(version jq)" "1" "jq: one version"

jq -n --arg k "$KEY" '{key: $k}' > "$WORK/body.json"
expect_ok "cp" cp "$WORK/body.json" "$S/cp"
expect_eq "$(version cp)" "1" "cp: one version"
expect_ok "tee" bash -c "tee '$S/tee' < '$WORK/body.json' > /dev/null"
expect_eq "$(version tee)" "1" "tee: one version"
expect_ok "dd bs=1" dd if="$WORK/body.json" of="$S/dd" bs=1 status=none
expect_eq "$(cat "$S/dd#key")" "$KEY" "dd's secret"
expect_eq "$(version dd)" "1" "dd: one version"
expect_ok "dd bs=1 of key=value" bash -c "printf 'user=bob pass=x\\n' | dd of='$S/ddkv' bs=1 status=none"
expect_eq "$(cat "$S/ddkv#pass")" "x" "dd key=value"
expect_ok "printf in pieces" bash -c "{ printf '{\"a\":'; printf '\"b\"}'; printf '\\n'; } > '$S/pieces'"
expect_eq "$(cat "$S/pieces#a")" "b" "pieces: the secret"
expect_eq "$(version pieces)" "1" "pieces: one version"
# A bare newline is a request when it is all the fd wrote: still refused.
expect_err "Invalid argument" "an empty body" bash -c "echo > '$S/pieces'"
expect_eq "$(version pieces)" "1" "the empty body changed nothing"

# --- errors certain before close fail write(2) ---------------------------------------
P=$M/sys/policies/acl
expect_err "Invalid argument" "echo of a bad policy" bash -c \
  "echo 'path \"secret/*\" { capabilities = [\"banana\"] }' > '$P/bad'"
expect_err "Invalid argument" "a heredoc of a bad policy" bash -c "cat > '$P/bad' <<'EOF'
path \"secret/*\" {
  capabilities = [\"read\"]
}
colour = \"red\"
EOF"
expect_err "Invalid argument" "a policy that is not UTF-8" bash -c "printf 'path \"a\\377\" {}\\n' > '$P/bad'"
expect_err "Invalid argument" "printf of a bad policy, no newline" bash -c \
  "printf 'path \"a\" { policy = \"reed\" }' > '$P/bad'"
expect_err "No such file" "no bad policy was written" cat "$P/bad"
# A valid text is applied whole at close, however it arrives.
expect_ok "a policy in pieces" bash -c \
  "{ printf 'path \"secret/data/a/*\" {\\n'; printf '  capabilities = [\"read\"]\\n'; printf '}\\n'; } > '$P/pieces'"
expect_eq "$(cat "$P/pieces")" "$(printf 'path "secret/data/a/*" {\n  capabilities = ["read"]\n}')" "the whole policy"
expect_ok "a policy by dd bs=1" bash -c "printf 'path \"x/*\" { capabilities = [\"list\"] }\\n' | dd of='$P/dd' bs=1 status=none"
expect_eq "$(cat "$P/dd")" 'path "x/*" { capabilities = ["list"] }' "the policy from dd"
expect_ok "a heredoc of a good policy" bash -c "cat > '$P/heredoc' <<'EOF'
path \"secret/data/h/*\" {
  capabilities = [\"create\", \"update\"]
}
EOF"
expect_eq "$(cat "$P/heredoc" | head -1)" 'path "secret/data/h/*" {' "the heredoc policy"

# A body broken before its end, with no newline to apply it at once.
echo a=1 > "$S/s"
expect_err "Invalid argument" "printf of broken JSON" bash -c "printf '{\"a\":1}}' > '$S/s'"
expect_err "Invalid argument" "printf of a word with no =" bash -c "printf 'a=2 oops b=3' > '$S/s'"
expect_eq "$(version s)" "1" "nothing was applied"

# A caller who may read policies but not write them hears it from write(2).
cat > "$P/reader" <<'EOF'
path "sys/policies/acl/*" { capabilities = ["read", "list"] }
EOF
READER=$(exec 3<>"$M/auth/token/create"; echo '{"policies":["reader"]}' >&3; cat <&3 | jq -r .auth.client_token)
expect_err "Permission denied" "a heredoc by a policy reader" env VAULT_TOKEN="$READER" bash -c "cat > '$P/team' <<'EOF'
path \"secret/*\" { capabilities = [\"read\"] }
EOF"
expect_err "No such file" "nothing was written" cat "$P/team"
grep -q 'invalid capability' "$WORK/cofferd.log" || fail "the refusal is logged with its reason"

stop_cofferd "$M"
pass
