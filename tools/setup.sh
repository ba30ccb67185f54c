#!/usr/bin/env bash
# Installs what Tendril needs when it is missing, and nothing when it is all there:
# Debian packages (nats-server, clang, llvm, libbpf-dev, bpftool; make and g++ for the native addon),
# chromium for the metrics page test, then the npm packages (npm ci) when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

need=()
command -v nats-server >/dev/null || need+=(nats-server)
command -v clang >/dev/null || need+=(clang)
command -v llc >/dev/null || need+=(llvm)
[ -f /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev)
command -v bpftool >/dev/null || need+=(bpftool)
command -v make >/dev/null || need+=(make)
command -v g++ >/dev/null || need+=(g++)
command -v openssl >/dev/null || need+=(openssl)
command -v chromium >/dev/null || need+=(chromium)
command -v iptables-restore >/dev/null || need+=(iptables) # bench/datapath.mjs: the kube-proxy side
if [ ${#need[@]} -gt 0 ]; then
  echo "tendril setup: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "tendril setup: npm ci"
  npm ci --no-audit --no-fund
fi
