// SPDX-License-Identifier: Apache-2.0
/*
 * Network policy per workload, on the workload's cgroup (CNI-agnostic: no interface of ours in the
 * path). Egress is judged when a socket connects (TCP, connected UDP) or sends (unconnected UDP), after
 * the socket load balancer has put the chosen backend in place (these programs are attached after
 * it), and refused at once with EPERM. Ingress is judged on the packets that open a connection to the
 * workload (a TCP SYN without ACK) and on every UDP datagram, which are dropped unseen by the socket.
 * The workload is found by the cgroup its socket belongs to; peers by their address.
 */
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "lib/policy.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1

static __always_inline __u8 sock_protocol(struct bpf_sock_addr *ctx)
{
	return ctx->type == 1 /* SOCK_STREAM */ ? IPPROTO_TCP : IPPROTO_UDP;
}

SEC("cgroup/connect4")
int tendril_policy_connect4(struct bpf_sock_addr *ctx)
{
	__u8 protocol = ctx->protocol ? ctx->protocol : sock_protocol(ctx);

	if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)
		return SYS_PROCEED;
	if (!policy_allows(bpf_get_current_cgroup_id(), TENDRIL_DIR_EGRESS, ctx->user_ip4, protocol, (__be16)ctx->user_port))
		return SYS_REJECT; /* connect() fails with EPERM */
	return SYS_PROCEED;
}

SEC("cgroup/sendmsg4")
int tendril_policy_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (!policy_allows(bpf_get_current_cgroup_id(), TENDRIL_DIR_EGRESS, ctx->user_ip4, IPPROTO_UDP, (__be16)ctx->user_port))
		return SYS_REJECT; /* sendmsg() fails with EPERM */
	return SYS_PROCEED;
}

SEC("cgroup_skb/ingress")
int tendril_policy_ingress(struct __sk_buff *skb)
{
	struct iphdr ip;
	__be16 port;
	__u32 offset;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 1;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
		return 1;
	offset = ip.ihl * 4;
	if (ip.protocol == IPPROTO_TCP) {
		struct tcphdr tcp;

		if (bpf_skb_load_bytes(skb, offset, &tcp, sizeof(tcp)))
			return 1;
		/* only what opens a connection: replies and established traffic pass */
		if (!tcp.syn || tcp.ack)
			return 1;
		port = tcp.dest;
	} else if (ip.protocol == IPPROTO_UDP) {
		struct udphdr udp;

		if (bpf_skb_load_bytes(skb, offset, &udp, sizeof(udp)))
			return 1;
		port = udp.dest;
	} else {
		return 1;
	}
	return policy_allows(bpf_skb_cgroup_id(skb), TENDRIL_DIR_INGRESS, ip.saddr, ip.protocol, port);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
