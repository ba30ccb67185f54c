/* SPDX-License-Identifier: Apache-2.0 */
/* Shared logic of the socket-level programs: translate a VIP to a backend, and back. */
#ifndef TENDRIL_SOCK_LB_H
#define TENDRIL_SOCK_LB_H

#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include "lb.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1
#define TENDRIL_EHOSTUNREACH 113
#define TENDRIL_LOOPBACK 0x7f000001 /* 127.0.0.1, host order */

static __always_inline struct lb4_service *lb4_lookup(struct bpf_sock_addr *ctx, struct lb4_service_key *key)
{
	key->address = ctx->user_ip4;
	key->port = (__be16)ctx->user_port;
	key->protocol = (__u8)ctx->protocol;
	key->pad = 0;
	return bpf_map_lookup_elem(&tendril_lb4_services_v1, key);
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
	bpf_ringbuf_submit(event, 0);
}

/* Rewrites the destination of ctx when it is a VIP. Returns 0, or -EHOSTUNREACH when the service
 * has no backend (the caller rejects). */
static __always_inline int lb4_translate(struct bpf_sock_addr *ctx, int report)
{
	struct lb4_service_key vip;
	struct lb4_service *svc = lb4_lookup(ctx, &vip);
	struct lb4_backend_key slot_key;
	struct lb4_backend *backend;

	if (!svc)
		return 0;
	if (svc->flags & TENDRIL_SVC_L7_REDIRECT) {
		ctx->user_ip4 = bpf_htonl(TENDRIL_LOOPBACK);
		ctx->user_port = (__u32)svc->proxy_port;
		lb4_remember(ctx, &vip, svc->service_id);
		if (report)
			lb4_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_L7_REDIRECT);
		return 0;
	}
	if (svc->count == 0) {
		if (report)
			lb4_report(ctx, &vip, svc->service_id, TENDRIL_FLOW_NO_BACKEND);
		return -TENDRIL_EHOSTUNREACH;
	}
	slot_key.service_id = svc->service_id;
	slot_key.slot = bpf_get_prandom_u32() % svc->count;
	backend = bpf_map_lookup_elem(&tendril_lb4_backends_v1, &slot_key);
	if (!backend)
		return -TENDRIL_EHOSTUNREACH;
	ctx->user_ip4 = backend->address;
	ctx->user_port = (__u32)backend->port;
	lb4_remember(ctx, &vip, svc->service_id);
	if (report)
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

#endif
