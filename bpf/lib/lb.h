/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every map of Tendril's socket-level load balancer, in one place. libs/datapath/src/maps.ts mirrors
 * these structs byte for byte (a test compares it with this object's BTF). Names carry a version: a
 * layout change is a new name (…_v2) plus a migration in the agent, never an in-place change, because
 * maps are pinned by name and outlive the agent.
 *
 * Byte order: addresses and ports are in network byte order (as the kernel hands them to the
 * programs); ids, counts and slots are in host byte order.
 *
 * Versions: tendril_lb4_services_v1 (value struct lb4_service) was replaced by
 * tendril_lb4_services_v2 (value struct lb_service: algorithm, affinity, Maglev table size). The
 * agent migrates: it adopts the service ids found in v1, fills v2 before the new programs attach,
 * then unpins v1. struct lb4_service stays here so the agent can still read a v1 map.
 *
 * Service ids are one space for both families; struct lb4_backend_key (service id, slot) keys the
 * IPv4 and IPv6 backend maps, the Maglev tables and the counters alike.
 */
#ifndef TENDRIL_LB_H
#define TENDRIL_LB_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TENDRIL_LB_SERVICES_MAX 262144 /* v2 / lb6 v1; tendril_lb4_services_v1 had 65536 */
#define TENDRIL_LB4_BACKENDS_MAX 262144
#define TENDRIL_LB4_REVNAT_MAX 262144
#define TENDRIL_LB_MAGLEV_MAX (16 * 1024 * 1024)
#define TENDRIL_LB_AFFINITY_MAX 262144
#define TENDRIL_LB_COUNTERS_MAX 262144
#define TENDRIL_LB_EXTERNAL_MAX 262144
#define TENDRIL_LB_NAT_MAX 524288
#define TENDRIL_LB_NODE_ADDRESSES_MAX 1024
/* Entries of every external frontend's Maglev table (a prime; struct lb_ext_maglev). */
#define TENDRIL_EXT_MAGLEV_SIZE 1021

/* lb_service.algorithm */
#define TENDRIL_ALG_RANDOM 0
#define TENDRIL_ALG_MAGLEV 1

/* lb_counter_key.slot for connections that reached no backend slot */
#define TENDRIL_SLOT_REFUSED 0xffffffff
#define TENDRIL_SLOT_L7 0xfffffffe

/* lb4_service.flags */
#define TENDRIL_SVC_L7_REDIRECT 0x01 /* send to 127.0.0.1:proxy_port (the node's Envoy) */
/* External frontends only (tendril_lb4_external_v1): externalTrafficPolicy Local, so the slots hold
 * this node's backends only and the client's source address is kept (no SNAT). */
#define TENDRIL_SVC_LOCAL 0x02

/* A frontend: what a client dials. */
struct lb4_service_key {
	__be32 address;
	__be16 port;
	__u8 protocol; /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 pad;
};

/* v1 (read only, to migrate). count == 0 without L7 redirect: the service exists but has no
 * backend; connect() fails instead of leaking to the VIP. */
struct lb4_service {
	__u32 service_id;
	__u16 count;      /* backend slots 0..count-1; a backend appears in as many slots as its weight */
	__u8 flags;
	__u8 pad;
	__be16 proxy_port;
	__u16 pad2;
};

/* v2 (and IPv6): what a frontend leads to. count == 0 without L7 redirect: the service has no
 * backend, and connect() fails at once with ECONNREFUSED (as a closed port would), never hangs. */
struct lb_service {
	__u32 service_id;
	__u16 count;      /* backend slots 0..count-1 (random: a backend in as many slots as its weight) */
	__u8 flags;
	__u8 algorithm;   /* TENDRIL_ALG_* */
	__be16 proxy_port;
	__u16 pad;
	__u32 affinity_timeout; /* seconds a client keeps its backend; 0: no affinity */
	__u32 maglev_size;      /* entries of this service's Maglev table (a prime); 0 unless Maglev */
};

struct lb6_service_key {
	__be32 address[4];
	__be16 port;
	__u8 protocol;
	__u8 pad;
};

struct lb6_backend {
	__be32 address[4];
	__be16 port;
	__u8 protocol;
	__u8 pad;
};

struct lb6_revnat_key {
	__u64 cookie;
	__be32 address[4];
	__be16 port;
	__u16 pad;
	__u32 pad2;
};

struct lb6_revnat {
	__be32 address[4];
	__be16 port;
	__u16 pad;
	__u32 service_id;
};

/* Session affinity: a client (its bound source address, else its network namespace) and service
 * -> the slot it was given and a fold of that slot's backend, so a slot that now holds another
 * backend is not followed. */
struct lb_affinity_key {
	__u64 client;
	__u32 service_id;
	__u32 pad;
};

struct lb_affinity {
	__u64 last_used_ns;
	__u32 slot;
	__u32 backend_hash;
};

/* Per-CPU connection counters per (service id, slot); slot TENDRIL_SLOT_REFUSED / _L7 for the
 * connections that got no backend or went to the proxy. */
struct lb_counter {
	__u64 connections;
};

struct lb4_backend_key {
	__u32 service_id;
	__u32 slot;
};

struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8 protocol;
	__u8 pad;
};

/* Written by the programs only: which VIP a socket dialled, so getpeername() and recvmsg() report
 * the VIP rather than the backend. Keyed per socket (cookie) and backend, LRU so it never fills. */
struct lb4_revnat_key {
	__u64 cookie;
	__be32 address;
	__be16 port;
	__u16 pad;
};

struct lb4_revnat {
	__be32 address;
	__be16 port;
	__u16 pad;
	__u32 service_id;
};

/* lb4_flow_event.verdict */
#define TENDRIL_FLOW_TRANSLATED 0
#define TENDRIL_FLOW_NO_BACKEND 1
#define TENDRIL_FLOW_L7_REDIRECT 2

/* One connection to a VIP, sent to the agent through a ring buffer (dropped when it is full): TCP
 * from sock_ops as the connection starts, other protocols and refusals from connect4/6.
 * source_address: the caller's address (TCP: the one the kernel chose; otherwise the socket's bound
 * source, 0 when unbound); appended after the first layout, so a reader also takes the 20-byte
 * records of older programs. */
struct lb4_flow_event {
	__be32 service_address;
	__be32 backend_address;
	__be16 service_port;
	__be16 backend_port;
	__u32 service_id;
	__u8 protocol;
	__u8 verdict;
	__u16 pad;
	__be32 source_address;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_service_key);
	__type(value, struct lb_service);
	__uint(max_entries, TENDRIL_LB_SERVICES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_services_v2 SEC(".maps");

/* Kept in the object for its BTF only (the agent reads a v1 map it migrates from). */
struct lb4_service *tendril_lb4_service_v1_btf __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_backend_key);
	__type(value, struct lb4_backend);
	__uint(max_entries, TENDRIL_LB4_BACKENDS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_backends_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_revnat_key);
	__type(value, struct lb4_revnat);
	__uint(max_entries, TENDRIL_LB4_REVNAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_revnat_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb6_service_key);
	__type(value, struct lb_service);
	__uint(max_entries, TENDRIL_LB_SERVICES_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb6_services_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_backend_key);
	__type(value, struct lb6_backend);
	__uint(max_entries, TENDRIL_LB4_BACKENDS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb6_backends_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb6_revnat_key);
	__type(value, struct lb6_revnat);
	__uint(max_entries, TENDRIL_LB4_REVNAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb6_revnat_v1 SEC(".maps");

/* Maglev lookup tables, both families: (service id, index) -> backend slot. Written by the agent,
 * which computes each service's table (libs/datapath/src/maglev.ts). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_backend_key);
	__type(value, __u32);
	__uint(max_entries, TENDRIL_LB_MAGLEV_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb_maglev_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_affinity_key);
	__type(value, struct lb_affinity);
	__uint(max_entries, TENDRIL_LB_AFFINITY_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb_affinity_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__type(key, struct lb4_backend_key);
	__type(value, struct lb_counter);
	__uint(max_entries, TENDRIL_LB_COUNTERS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb_counters_v1 SEC(".maps");

/*
 * North-south (bpf/nodeport.c): frontends reached from outside the node, kept apart from the
 * socket-level ones because they differ: a NodePort (key address 0.0.0.0) answers on every node
 * address of tendril_lb4_node_addresses_v1, and with externalTrafficPolicy Local the backends are
 * this node's only. Same key and value structs as tendril_lb4_services_v2; an external frontend has
 * a service id of its own, so its slots (tendril_lb4_backends_v1) and counters are its own.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_service_key);
	__type(value, struct lb_service);
	__uint(max_entries, TENDRIL_LB_EXTERNAL_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_external_v1 SEC(".maps");

/* An external frontend's Maglev table in one value (entry -> slot): the same on every node that has
 * the same backends, so a flow that moves to another node keeps its backend. */
struct lb_ext_maglev {
	__u16 slot[TENDRIL_EXT_MAGLEV_SIZE];
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32); /* service id */
	__type(value, struct lb_ext_maglev);
	__uint(max_entries, TENDRIL_LB_EXTERNAL_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_ext_maglev_v1 SEC(".maps");

/* The addresses NodePorts answer on (written by the agent; value unused). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, __u32);
	__uint(max_entries, TENDRIL_LB_NODE_ADDRESSES_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_node_addresses_v1 SEC(".maps");

/* Connection tracking and NAT of external flows, written by the programs only. A flow has two
 * entries: TENDRIL_NAT_FORWARD keyed by the packet as the client sends it (client -> frontend),
 * TENDRIL_NAT_REVERSE keyed by the reply as the backend sends it (backend -> source it saw). */
#define TENDRIL_NAT_FORWARD 0
#define TENDRIL_NAT_REVERSE 1

struct lb4_nat_key {
	__be32 source;
	__be32 destination;
	__be16 source_port;
	__be16 destination_port;
	__u8 protocol;
	__u8 direction; /* TENDRIL_NAT_* */
	__u16 pad;
};

/* lb4_nat.flags */
#define TENDRIL_NAT_SNAT 0x01    /* the source was rewritten to the node (externalTrafficPolicy Cluster) */
#define TENDRIL_NAT_CLOSING 0x02 /* a FIN or RST was seen: a new SYN on the tuple chooses again */

struct lb4_nat {
	__u64 last_seen_ns;
	__be32 address;     /* forward: the backend; reverse: the frontend (source of translated replies) */
	__be32 nat_address; /* forward: the source toward the backend (node or client); reverse: the client */
	__be16 port;        /* forward: the backend port; reverse: the frontend port */
	__be16 nat_port;    /* forward: the source port toward the backend; reverse: the client port */
	__u32 service_id;
	__u32 slot;
	__u8 flags;         /* TENDRIL_NAT_* */
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_nat_key);
	__type(value, struct lb4_nat);
	__uint(max_entries, TENDRIL_LB_NAT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_nat_v1 SEC(".maps");

/* One connect() to an IPv6 VIP (ring buffer tendril_lb6_flows_v1). */
struct lb6_flow_event {
	__be32 service_address[4];
	__be32 backend_address[4];
	__be16 service_port;
	__be16 backend_port;
	__u32 service_id;
	__u8 protocol;
	__u8 verdict;
	__u16 pad;
	__be32 source_address[4];
};

/* A ring buffer map has no value type, so this puts lb4_flow_event into the object's BTF for the
 * agent's layout test. */
struct lb4_flow_event *tendril_lb4_flow_event_btf __attribute__((unused));
struct lb6_flow_event *tendril_lb6_flow_event_btf __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb4_flows_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_lb6_flows_v1 SEC(".maps");

#endif
