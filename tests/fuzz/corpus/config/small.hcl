storage "sqlite" { path = "/tmp/x.db" }
mount "/run/c" { chroot_namespace = "a/b" token_file = "/t" allow_other = true }
disable_mlock = true
log_level = "debug"
