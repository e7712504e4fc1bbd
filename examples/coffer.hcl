# /etc/coffer/coffer.hcl: a sample cofferd configuration (cofferd --config FILE),
# for one host of a fleet sharing a PostgreSQL store and unsealing itself.
# Syntax as Vault's server config (HCL; the JSON form works too). Unknown keys
# and bad values are refused with the line they are on.

# A fleet host: the store is one PostgreSQL database that every host of the
# fleet shares (README: "A fleet of hosts on one PostgreSQL store"). The
# password is not here: it is in ~/.pgpass of the daemon's user (or
# PGPASSFILE). libpq tries db1, then db2 (the standby, once promoted);
# target_session_attrs keeps it off a read-only one. init = true on the
# first host's first start only: it makes the tables.
storage "postgresql" {
  connection_url = "postgres://coffer@db1.example.com,db2.example.com/coffer?target_session_attrs=read-write&sslmode=verify-full"
  table          = "coffer"
  # init = true
}

# A single host instead: one SQLite file (WAL). A missing file is an error
# unless cofferd runs with --init (or init = true here): the first start
# creates it, sealed and uninitialised; init and unseal it through a root
# (not chrooted) mount. Keep init out once the store exists, so that a store
# deleted or moved away is never replaced by an empty one.
# storage "sqlite" {
#   path = "/var/lib/coffer/coffer.db"
# }

# Auto-unseal at start from a key file holding enough unseal shares to reach
# the threshold (one per line, hex or base64, or sys/init's JSON). A relative
# path is under $CREDENTIALS_DIRECTORY: examples/cofferd.service hands it in
# with LoadCredentialEncrypted=, so on disk it is encrypted (with the host's
# TPM, with systemd-creds encrypt --with-key=tpm2). The file must be owned by
# cofferd's user, mode 0600 or 0400, at most 64 KiB; cofferd refuses to start
# otherwise, and also when the shares are too few, repeated or wrong. Make it
# with `cofferd unseal-file --config /etc/coffer/coffer.hcl OUT` (shares on
# stdin). Leave the block out to unseal by hand through a root mount.
seal "file" {
  path = "coffer-unseal"
}

# Every mount block is one FUSE mount served by this process, like a Vault
# listener. Callers bring their own tokens (VAULT_TOKEN, logins) unless the
# mount is bound to one with token_file.
mount "/run/coffer" {
  allow_other = true      # let every user in; the ACL decides what each may do
}

# The namespace usa-hq shown as the mount root: usa-hq/team_1/... is
# /run/coffer-hq/team_1/..., nothing outside usa-hq is reachable, and
# policies keep their absolute paths.
mount "/run/coffer-hq" {
  chroot_namespace = "usa-hq"
  allow_other      = true
}

# A sidecar mount for one application: every request is made with the token
# in token_file (re-read when the file changes), and the kernel may cache
# what it reads; Coffer invalidates that cache when a secret, policy or
# identity changes. Its files belong to the application's user, mode 0600,
# as ssh and libpq want a private key or password file (the defaults are
# cofferd's own uid and gid, 0640 and 0750; nothing is ever executable).
# mount "/run/app/secrets" {
#   chroot_namespace = "usa-hq"
#   token_file       = "/etc/app/coffer-token"
#   cache            = true
#   uid              = 1000
#   gid              = 1000
#   file_mode        = "0600"
#   dir_mode         = "0700"
# }

# Services with no secret zero: a caller with no token of its own is logged
# in through the peer auth method at peer_login on its first request, by the
# first role (ordered by name) whose bindings (uid, gid, systemd unit,
# cgroup, executable) admit it.
# mount "/run/coffer-services" {
#   allow_other = true
#   peer_login  = "services/auth/peer"
# }

# The namespace whose tokens may use the privileged endpoints Vault grants it.
administrative_namespace_path = "admin/"

# error, warn, info or debug. `systemctl reload cofferd` (SIGHUP) re-reads it.
log_level = "info"

# cofferd locks its memory (mlockall) so secrets never reach swap; this needs
# CAP_IPC_LOCK (root has it). Set to true only if swap is off or encrypted.
disable_mlock = false
