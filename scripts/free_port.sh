#!/usr/bin/env bash
# free_port.sh: prints a TCP port free on 127.0.0.1 now, below the kernel's ephemeral range, for a
# throwaway server (PostgreSQL, synkro, crmsim, a proxy) of the tests, benchmarks and demo. Below
# that range, no outgoing connection can hold it as its local port: a server stopped and started
# again on it (an outage test) finds it free. Exit 1 when 50 draws found none.
set -euo pipefail
low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[[ "$low" =~ ^[0-9]+$ && $low -gt 20000 ]] || low=32768
for _ in $(seq 1 50); do
  port=$((15000 + RANDOM % (low - 15000)))
  if ! (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
    echo "$port"
    exit 0
  fi
done
echo "free_port.sh: no free port found" >&2
exit 1
