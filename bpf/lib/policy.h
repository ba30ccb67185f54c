/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network policy maps, mirrored byte for byte by libs/datapath/src/policy-maps.ts. Names carry a
 * version: a layout change is a new name, never an in-place change (maps are pinned and outlive the
 * agent, so a restarted agent adopts them with their entries: no allow-all window).
 *
 * Byte order: addresses and ports in network byte order (as the kernel hands them over, and as an
 * LPM trie needs them: prefixes match from the first byte); identities and flags in host order.
 */
#ifndef TENDRIL_POLICY_H
#define TENDRIL_POLICY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TENDRIL_POLICY_ENDPOINTS_MAX 65536
#define TENDRIL_POLICY_IPCACHE_MAX 524288
#define TENDRIL_POLICY_RULES_MAX 1048576

#define TENDRIL_IDENTITY_WORLD 2
#define TENDRIL_DIR_INGRESS 0
#define TENDRIL_DIR_EGRESS 1

/* policy_endpoint.flags */
#define TENDRIL_EP_INGRESS_ENFORCED 0x01 /* traffic no rule allows is dropped */
#define TENDRIL_EP_EGRESS_ENFORCED 0x02
#define TENDRIL_EP_INGRESS_CLOSED 0x04 /* a policy that cannot be enforced: everything is dropped */
#define TENDRIL_EP_EGRESS_CLOSED 0x08

/* A workload on this node, by the id of the cgroup its processes run in. */
struct policy_endpoint {
	__u32 identity;
	__u32 flags;
};

/* Address -> identity: the longest prefix holding the address (a workload's /32, a node, a range). */
struct policy_ipcache_key {
	__u32 prefixlen; /* 0-32, of `address` */
	__be32 address;
};

struct policy_ipcache_value {
	__u32 identity;
};

/*
 * A rule: (local identity, direction, protocol, peer identity) exactly, then the port as a prefix.
 * prefixlen = 80 + the port's prefix length (0-16). Peer 0 is any peer, protocol 0 any protocol.
 * Allow and deny rules are two tries, so a deny is found even where an allow is more specific.
 */
struct policy_rule_key {
	__u32 prefixlen;
	__u32 identity;  /* big-endian: part of the prefix */
	__u32 peer;      /* big-endian */
	__u8 direction;  /* TENDRIL_DIR_* */
	__u8 protocol;   /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, 0: any */
	__be16 port;
};

struct policy_rule_value {
	__u32 hits;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TENDRIL_POLICY_ENDPOINTS_MAX);
	__type(key, __u64);
	__type(value, struct policy_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_policy_endpoints_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TENDRIL_POLICY_IPCACHE_MAX);
	__type(key, struct policy_ipcache_key);
	__type(value, struct policy_ipcache_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_policy_ipcache4_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TENDRIL_POLICY_RULES_MAX);
	__type(key, struct policy_rule_key);
	__type(value, struct policy_rule_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_policy_allow_v1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TENDRIL_POLICY_RULES_MAX);
	__type(key, struct policy_rule_key);
	__type(value, struct policy_rule_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tendril_policy_deny_v1 SEC(".maps");

static __always_inline __u32 policy_peer_identity(__be32 address)
{
	struct policy_ipcache_key key = { .prefixlen = 32, .address = address };
	struct policy_ipcache_value *value = bpf_map_lookup_elem(&tendril_policy_ipcache4_v1, &key);

	return value ? value->identity : TENDRIL_IDENTITY_WORLD;
}

static __always_inline int policy_rule_hit(void *rules, __u32 identity, __u8 direction, __u32 peer, __u8 protocol, __be16 port)
{
	struct policy_rule_key key = {
		.prefixlen = 96,
		.identity = bpf_htonl(identity),
		.peer = bpf_htonl(peer),
		.direction = direction,
		.protocol = protocol,
		.port = port,
	};

	return bpf_map_lookup_elem(rules, &key) != NULL;
}

/* Any rule of these tries for (peer or any peer) x (protocol or any protocol) on the port. */
static __always_inline int policy_match(void *rules, __u32 identity, __u8 direction, __u32 peer, __u8 protocol, __be16 port)
{
	return policy_rule_hit(rules, identity, direction, peer, protocol, port) ||
	       policy_rule_hit(rules, identity, direction, 0, protocol, port) ||
	       policy_rule_hit(rules, identity, direction, peer, 0, port) ||
	       policy_rule_hit(rules, identity, direction, 0, 0, port);
}

/*
 * 1: allowed, 0: denied. A workload no policy selects (no entry) is allowed, as before any policy;
 * a deny rule wins over an allow; an enforced direction drops what no rule allows; a closed one
 * (a policy that cannot be enforced) drops everything.
 */
static __always_inline int policy_allows(__u64 cgroup_id, __u8 direction, __be32 peer_address, __u8 protocol, __be16 port)
{
	struct policy_endpoint *endpoint = bpf_map_lookup_elem(&tendril_policy_endpoints_v1, &cgroup_id);
	__u32 closed = direction == TENDRIL_DIR_INGRESS ? TENDRIL_EP_INGRESS_CLOSED : TENDRIL_EP_EGRESS_CLOSED;
	__u32 enforced = direction == TENDRIL_DIR_INGRESS ? TENDRIL_EP_INGRESS_ENFORCED : TENDRIL_EP_EGRESS_ENFORCED;
	__u32 peer;

	if (!endpoint)
		return 1;
	if (endpoint->flags & closed)
		return 0;
	peer = policy_peer_identity(peer_address);
	if (policy_match(&tendril_policy_deny_v1, endpoint->identity, direction, peer, protocol, port))
		return 0;
	if (!(endpoint->flags & enforced))
		return 1;
	return policy_match(&tendril_policy_allow_v1, endpoint->identity, direction, peer, protocol, port);
}

#endif
