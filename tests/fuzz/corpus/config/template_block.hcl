storage "sqlite" { path = "/tmp/c.db" }
mount "/run/app" {
  file_mode = "0600"
  template "app.env" {
    contents = "{{ with secret \"kv/data/app\" }}P={{ .Data.data.p }}{{ end }}"
    perms = "0400"
  }
}
