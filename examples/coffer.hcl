# /etc/coffer/coffer.hcl: a sample cofferd configuration (cofferd --config FILE).
# Syntax as Vault's server config (HCL; the JSON form works too). Unknown keys
# and bad values are refused with the line they are on.

# The store: one SQLite file (WAL). A missing file is an error unless
# cofferd runs with --init (or init = true here): the first start creates
# it, sealed and uninitialised; init and unseal it through a root (not
# chrooted) mount. Keep init out once the store exists, so that a store
# deleted or moved away is never replaced by an empty one.
storage "sqlite" {
  path = "/var/lib/coffer/coffer.db"
  # init = true
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
