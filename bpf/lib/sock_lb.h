/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared logic of the socket-level programs: translate a VIP to a backend, and back, for IPv4 and
 * IPv6. Choosing a slot (affinity, Maglev, weighted random) and counting are family-agnostic; only
 * the address handling differs.
 */
#ifndef TENDRIL_SOCK_LB_H
#define TENDRIL_SOCK_LB_H

#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "lb.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1
#define TENDRIL_ECONNREFUSED 111
#define TENDRIL_LOOPBACK 0x7f000001 /* 127.0.0.1, host order */
#define TENDRIL_NS_PER_SECOND 1000000000ULL

static __always_inline __u32 lb_mix(__u32 hash, __u32 word)
{
	hash ^= word;
	hash *= 0x9e3779b1;
	return hash ^ (hash >> 15);
}

static __always_inline void lb_count(__u32 service_id, __u32 slot)
{
	struct lb4_backend_key key = { .service_id = service_id, .slot = slot };
	struct lb_counter *counter = bpf_map_lookup_elem(&tendril_lb_counters_v1, &key);
	struct lb_counter first = { .connections = 1 };

	if (counter)
		counter->connections++; /* this CPU's copy: no other writer */
	else
		bpf_map_update_elem(&tendril_lb_counters_v1, &key, &first, BPF_NOEXIST);
}

/*
 * The client, as affinity and Maglev see it: the socket's bound source address when it has one
 * (a pod's address), else its network namespace (every unbound socket of one pod alike).
 * flow_hash is what Maglev hashes: the bound source address, else the socket (so unbound sockets
 * spread like random choice).
 */
struct lb_client {
	__u64 id;
	__u32 flow_hash;
};

/* Selection order: a fresh affinity entry (the caller checks that its slot still holds the same
 * backend, since only it knows the family), else Maglev or weighted random (lb_choose_slot). */
static __always_inline struct lb_affinity *lb_affinity_lookup(const struct lb_service *svc, const struct lb_client *client, __u64 now)
{
	struct lb_affinity_key key = { .client = client->id, .service_id = svc->service_id };
	struct lb_affinity *held;

	if (!svc->affinity_timeout)
		return NULL;
	held = bpf_map_lookup_elem(&tendril_lb_affinity_v1, &key);
	if (!held || held->slot >= svc->count)
		return NULL;
	if (now - held->last_used_ns > (__u64)svc->affinity_timeout * TENDRIL_NS_PER_SECOND)
		return NULL;
	return held;
}

static __always_inline void lb_affinity_store(const struct lb_service *svc, const struct lb_client *client, __u64 now, __u32 slot, __u32 backend_hash)
{
	struct lb_affinity_key key = { .client = client->id, .service_id = svc->service_id };
	struct lb_affinity value = { .last_used_ns = now, .slot = slot, .backend_hash = backend_hash };

	if (svc->affinity_timeout)
		bpf_map_update_elem(&tendril_lb_affinity_v1, &key, &value, BPF_ANY);
}

static __always_inline __u32 lb_choose_slot(const struct lb_service *svc, const struct lb_client *client)
{
	if (svc->algorithm == TENDRIL_ALG_MAGLEV && svc->maglev_size) {
		struct lb4_backend_key key = { .service_id = svc->service_id, .slot = client->flow_hash % svc->maglev_size };
		__u32 *slot = bpf_map_lookup_elem(&tendril_lb_maglev_v1, &key);

		if (slot && *slot < svc->count)
			return *slot;
	}
	return bpf_get_prandom_u32() % svc->count;
}

static __always_inline __u32 lb4_backend_hash(const struct lb4_backend *backend)
{
	return lb_mix(lb_mix(0, backend->address), backend->port);
}

static __always_inline __u32 lb6_backend_hash(const struct lb6_backend *backend)
{
	__u32 hash = 0;

	hash = lb_mix(hash, backend->address[0]);
	hash = lb_mix(hash, backend->address[1]);
	hash = lb_mix(hash, backend->address[2]);
	hash = lb_mix(hash, backend->address[3]);
	return lb_mix(hash, backend->port);
}

/* ---------------------------------------------------------------- IPv4 */

static __always_inline struct lb_service *lb4_lookup(struct bpf_sock_addr *ctx, struct lb4_service_key *key)
{
	key->address = ctx->user_ip4;
	key->port = (__be16)ctx->user_port;
	key->protocol = (__u8)ctx->protocol;
	key->pad = 0;
	return bpf_map_lookup_elem(&tendril_lb4_services_v2, key);
}

static __always_inline void lb4_client(struct bpf_sock_addr *ctx, struct lb_client *client)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 source = sk ? sk->src_ip4 : 0;

	if (source) {
		client->id = source;
		client->flow_hash = lb_mix(0, source);
	} else {
		client->id = bpf_get_netns_cookie(ctx);
		client->flow_hash = (__u32)bpf_get_socket_cookie(ctx);
	}
}

static __always_inline void lb4_remember(struct bpf_sock_addr *ctx, const struct lb4_service_key *vip, __u32 service_id)
{
	struct lb4_revnat_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.address = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
	};
	struct lb4_revnat value = { .address = vip->address, .port = vip->port, .service_id = service_id };

	bpf_map_update_elem(&tendril_lb4_revnat_v1, &key, &value, BPF_ANY);
}

static __always_inline void lb4_report(struct bpf_sock_addr *ctx, const struct lb4_service_key *vip, __u32 service_id, __u8 verdict)
{
	struct lb4_flow_event *event = bpf_ringbuf_reserve(&tendril_lb4_flows_v1, sizeof(*event), 0);

	if (!event)
		return;
	event->service_address = vip->address;
	event->service_port = vip->port;
	event->backend_address = verdict == TENDRIL_FLOW_NO_BACKEND ? 0 : ctx->user_ip4;
	event->backend_port = verdict == TENDRIL_FLOW_NO_BACKEND ? 0 : (__be16)ctx->user_port;
	event->service_id = service_id;
	event->protocol = vip->protocol;
	event->verdict = verdict;
	event->pad = 0;
	event->source_address = 0;
	if (ctx->sk)
		event->source_address = ctx->sk->src_ip4;
	bpf_ringbuf_submit(event, 0);
}

/* Rewrites the destination of ctx when it is a VIP. Returns 0, or -ECONNREFUSED when the service
 * has no backend (the caller rejects). */
static __always_inline int lb4_translate(struct bpf_sock_addr *ctx, int report)
{
	struct lb4_service_key vip;
	struct lb_service *svc = lb4_lookup(ctx, &vip);
	struct lb4_backend_key slot_key;
	struct lb4_backend *backend = NULL;
	struct lb_affinity *held;
	struct lb_client client;
	__u64 now;

	if (!svc)
		return 0;
	if (svc->flags & TENDRIL_SVC_L7_REDIRECT) {
		ctx->user_ip4 = bpf_htonl(TENDRIL_LOOPBACK);
		ctx->user_port = (__u32)svc->proxy_port;
		lb4_remember(ctx, &vip, svc->service_id);
		lb_count(svc->service_id, TENDRIL_SLOT_L7);
		if (report && vip.protocol != IPPROTO_TCP)
			lb4_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_L7_REDIRECT);
		return 0;
	}
	if (svc->count == 0) {
		lb_count(svc->service_id, TENDRIL_SLOT_REFUSED);
		if (report)
			lb4_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_NO_BACKEND);
		return -TENDRIL_ECONNREFUSED;
	}
	lb4_client(ctx, &client);
	now = bpf_ktime_get_ns();
	slot_key.service_id = svc->service_id;
	held = lb_affinity_lookup(svc, &client, now);
	if (held) {
		slot_key.slot = held->slot;
		backend = bpf_map_lookup_elem(&tendril_lb4_backends_v1, &slot_key);
		if (backend && lb4_backend_hash(backend) != held->backend_hash)
			backend = NULL;
	}
	if (!backend) {
		slot_key.slot = lb_choose_slot(svc, &client);
		backend = bpf_map_lookup_elem(&tendril_lb4_backends_v1, &slot_key);
	}
	if (!backend)
		return -TENDRIL_ECONNREFUSED;
	lb_affinity_store(svc, &client, now, slot_key.slot, lb4_backend_hash(backend));
	ctx->user_ip4 = backend->address;
	ctx->user_port = (__u32)backend->port;
	lb4_remember(ctx, &vip, svc->service_id);
	lb_count(svc->service_id, slot_key.slot);
	/* TCP is reported by lb4_report_connecting(), once the kernel has chosen the source address */
	if (report && vip.protocol != IPPROTO_TCP)
		lb4_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_TRANSLATED);
	return 0;
}

/* Rewrites the peer address back to the VIP when this socket was translated to it. */
static __always_inline void lb4_reverse(struct bpf_sock_addr *ctx)
{
	struct lb4_revnat_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.address = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
	};
	struct lb4_revnat *vip = bpf_map_lookup_elem(&tendril_lb4_revnat_v1, &key);

	if (!vip)
		return;
	ctx->user_ip4 = vip->address;
	ctx->user_port = (__u32)vip->port;
}

/* ---------------------------------------------------------------- IPv6 */

static __always_inline void lb6_read_destination(struct bpf_sock_addr *ctx, __be32 *address)
{
	address[0] = ctx->user_ip6[0];
	address[1] = ctx->user_ip6[1];
	address[2] = ctx->user_ip6[2];
	address[3] = ctx->user_ip6[3];
}

static __always_inline void lb6_write_destination(struct bpf_sock_addr *ctx, const __be32 *address, __be16 port)
{
	ctx->user_ip6[0] = address[0];
	ctx->user_ip6[1] = address[1];
	ctx->user_ip6[2] = address[2];
	ctx->user_ip6[3] = address[3];
	ctx->user_port = (__u32)port;
}

static __always_inline void lb6_client(struct bpf_sock_addr *ctx, struct lb_client *client)
{
	struct bpf_sock *sk = ctx->sk;
	__u32 hash = 0;

	if (sk) {
		hash = lb_mix(hash, sk->src_ip6[0]);
		hash = lb_mix(hash, sk->src_ip6[1]);
		hash = lb_mix(hash, sk->src_ip6[2]);
		hash = lb_mix(hash, sk->src_ip6[3]);
	}
	if (sk && (sk->src_ip6[0] | sk->src_ip6[1] | sk->src_ip6[2] | sk->src_ip6[3])) {
		client->id = ((__u64)sk->src_ip6[2] << 32 | sk->src_ip6[3]) ^ ((__u64)sk->src_ip6[0] << 32 | sk->src_ip6[1]) ^ hash;
		client->flow_hash = hash;
	} else {
		client->id = bpf_get_netns_cookie(ctx);
		client->flow_hash = (__u32)bpf_get_socket_cookie(ctx);
	}
}

static __always_inline void lb6_remember(struct bpf_sock_addr *ctx, const struct lb6_service_key *vip, __u32 service_id)
{
	struct lb6_revnat_key key = { .cookie = bpf_get_socket_cookie(ctx), .port = (__be16)ctx->user_port };
	struct lb6_revnat value = { .port = vip->port, .service_id = service_id };

	lb6_read_destination(ctx, key.address);
	__builtin_memcpy(value.address, vip->address, sizeof(value.address));
	bpf_map_update_elem(&tendril_lb6_revnat_v1, &key, &value, BPF_ANY);
}

static __always_inline void lb6_report(struct bpf_sock_addr *ctx, const struct lb6_service_key *vip, __u32 service_id, __u8 verdict)
{
	struct lb6_flow_event *event = bpf_ringbuf_reserve(&tendril_lb6_flows_v1, sizeof(*event), 0);

	if (!event)
		return;
	__builtin_memcpy(event->service_address, vip->address, sizeof(event->service_address));
	if (verdict == TENDRIL_FLOW_NO_BACKEND) {
		__builtin_memset(event->backend_address, 0, sizeof(event->backend_address));
		event->backend_port = 0;
	} else {
		lb6_read_destination(ctx, event->backend_address);
		event->backend_port = (__be16)ctx->user_port;
	}
	event->service_port = vip->port;
	event->service_id = service_id;
	event->protocol = vip->protocol;
	event->verdict = verdict;
	event->pad = 0;
	__builtin_memset(event->source_address, 0, sizeof(event->source_address));
	if (ctx->sk) {
		struct bpf_sock *sk = ctx->sk;

		event->source_address[0] = sk->src_ip6[0];
		event->source_address[1] = sk->src_ip6[1];
		event->source_address[2] = sk->src_ip6[2];
		event->source_address[3] = sk->src_ip6[3];
	}
	bpf_ringbuf_submit(event, 0);
}

static __always_inline int lb6_translate(struct bpf_sock_addr *ctx, int report)
{
	struct lb6_service_key vip = { .port = (__be16)ctx->user_port, .protocol = (__u8)ctx->protocol };
	struct lb4_backend_key slot_key;
	struct lb6_backend *backend = NULL;
	struct lb_affinity *held;
	struct lb_client client;
	struct lb_service *svc;
	__u64 now;

	lb6_read_destination(ctx, vip.address);
	svc = bpf_map_lookup_elem(&tendril_lb6_services_v1, &vip);
	if (!svc)
		return 0;
	if (svc->flags & TENDRIL_SVC_L7_REDIRECT) {
		__be32 loopback[4] = { 0, 0, 0, bpf_htonl(1) };

		lb6_write_destination(ctx, loopback, svc->proxy_port);
		lb6_remember(ctx, &vip, svc->service_id);
		lb_count(svc->service_id, TENDRIL_SLOT_L7);
		if (report && vip.protocol != IPPROTO_TCP)
			lb6_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_L7_REDIRECT);
		return 0;
	}
	if (svc->count == 0) {
		lb_count(svc->service_id, TENDRIL_SLOT_REFUSED);
		if (report)
			lb6_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_NO_BACKEND);
		return -TENDRIL_ECONNREFUSED;
	}
	lb6_client(ctx, &client);
	now = bpf_ktime_get_ns();
	slot_key.service_id = svc->service_id;
	held = lb_affinity_lookup(svc, &client, now);
	if (held) {
		slot_key.slot = held->slot;
		backend = bpf_map_lookup_elem(&tendril_lb6_backends_v1, &slot_key);
		if (backend && lb6_backend_hash(backend) != held->backend_hash)
			backend = NULL;
	}
	if (!backend) {
		slot_key.slot = lb_choose_slot(svc, &client);
		backend = bpf_map_lookup_elem(&tendril_lb6_backends_v1, &slot_key);
	}
	if (!backend)
		return -TENDRIL_ECONNREFUSED;
	lb_affinity_store(svc, &client, now, slot_key.slot, lb6_backend_hash(backend));
	lb6_write_destination(ctx, backend->address, backend->port);
	lb6_remember(ctx, &vip, svc->service_id);
	lb_count(svc->service_id, slot_key.slot);
	if (report && vip.protocol != IPPROTO_TCP)
		lb6_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_TRANSLATED);
	return 0;
}

static __always_inline void lb6_reverse(struct bpf_sock_addr *ctx)
{
	struct lb6_revnat_key key = { .cookie = bpf_get_socket_cookie(ctx), .port = (__be16)ctx->user_port };
	struct lb6_revnat *vip;

	lb6_read_destination(ctx, key.address);
	vip = bpf_map_lookup_elem(&tendril_lb6_revnat_v1, &key);
	if (!vip)
		return;
	lb6_write_destination(ctx, vip->address, vip->port);
}

/* ---------------------------------------------------------------- TCP flows with their source */

/* A TCP connect() to a VIP is reported here rather than in connect4/6: at BPF_SOCK_OPS_TCP_CONNECT_CB
 * the kernel has chosen the source address (the caller's identity), which connect4/6 does not know
 * for an unbound socket. The connect hook left the socket's reverse-NAT entry (cookie, backend ->
 * VIP), which says which service it was. sock_ops gives remote_port in network order in the upper
 * 16 bits (little-endian hosts). */
static __always_inline __be16 lb_sockops_remote_port(const struct bpf_sock_ops *skops)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__be16)(skops->remote_port >> 16);
#else
	return (__be16)skops->remote_port;
#endif
}

static __always_inline void lb4_report_connecting(struct bpf_sock_ops *skops)
{
	struct lb4_revnat_key key = { .cookie = bpf_get_socket_cookie(skops), .address = skops->remote_ip4, .port = lb_sockops_remote_port(skops) };
	struct lb4_revnat *vip = bpf_map_lookup_elem(&tendril_lb4_revnat_v1, &key);
	struct lb4_service_key service_key = { .protocol = IPPROTO_TCP };
	struct lb_service *svc;
	struct lb4_flow_event *event;

	if (!vip)
		return;
	service_key.address = vip->address;
	service_key.port = vip->port;
	svc = bpf_map_lookup_elem(&tendril_lb4_services_v2, &service_key);
	event = bpf_ringbuf_reserve(&tendril_lb4_flows_v1, sizeof(*event), 0);
	if (!event)
		return;
	event->service_address = vip->address;
	event->service_port = vip->port;
	event->backend_address = key.address;
	event->backend_port = key.port;
	event->service_id = vip->service_id;
	event->protocol = IPPROTO_TCP;
	event->verdict = svc && (svc->flags & TENDRIL_SVC_L7_REDIRECT) ? TENDRIL_FLOW_L7_REDIRECT : TENDRIL_FLOW_TRANSLATED;
	event->pad = 0;
	event->source_address = skops->local_ip4;
	bpf_ringbuf_submit(event, 0);
}

static __always_inline void lb6_report_connecting(struct bpf_sock_ops *skops)
{
	struct lb6_revnat_key key = { .cookie = bpf_get_socket_cookie(skops), .port = lb_sockops_remote_port(skops) };
	struct lb6_service_key service_key = { .protocol = IPPROTO_TCP };
	struct lb6_revnat *vip;
	struct lb_service *svc;
	struct lb6_flow_event *event;

	key.address[0] = skops->remote_ip6[0];
	key.address[1] = skops->remote_ip6[1];
	key.address[2] = skops->remote_ip6[2];
	key.address[3] = skops->remote_ip6[3];
	vip = bpf_map_lookup_elem(&tendril_lb6_revnat_v1, &key);
	if (!vip)
		return;
	__builtin_memcpy(service_key.address, vip->address, sizeof(service_key.address));
	service_key.port = vip->port;
	svc = bpf_map_lookup_elem(&tendril_lb6_services_v1, &service_key);
	event = bpf_ringbuf_reserve(&tendril_lb6_flows_v1, sizeof(*event), 0);
	if (!event)
		return;
	__builtin_memcpy(event->service_address, vip->address, sizeof(event->service_address));
	__builtin_memcpy(event->backend_address, key.address, sizeof(event->backend_address));
	event->service_port = vip->port;
	event->backend_port = key.port;
	event->service_id = vip->service_id;
	event->protocol = IPPROTO_TCP;
	event->verdict = svc && (svc->flags & TENDRIL_SVC_L7_REDIRECT) ? TENDRIL_FLOW_L7_REDIRECT : TENDRIL_FLOW_TRANSLATED;
	event->pad = 0;
	event->source_address[0] = skops->local_ip6[0];
	event->source_address[1] = skops->local_ip6[1];
	event->source_address[2] = skops->local_ip6[2];
	event->source_address[3] = skops->local_ip6[3];
	bpf_ringbuf_submit(event, 0);
}

#endif
