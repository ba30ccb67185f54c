{
  "targets": [
    {
      "target_name": "tendril_ebpf",
      "sources": ["native/ebpf.c"],
      "cflags": ["-Wall", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf"]
    }
  ]
}
