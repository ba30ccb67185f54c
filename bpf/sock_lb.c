// SPDX-License-Identifier: Apache-2.0
/*
 * Socket-level load balancing for ClusterIP services, IPv4 and IPv6: the VIP is replaced by a
 * backend when the socket connects (TCP, connected UDP) or sends (unconnected UDP), so no packet
 * ever carries the VIP and no per-packet NAT is needed. getpeername() and recvmsg() see the VIP again.
 * A sock_ops program reports each TCP connection to a VIP as it starts, with the source address the
 * kernel chose (the caller's identity for flows), which connect() does not know yet.
 */
#include "lib/sock_lb.h"

SEC("cgroup/connect4")
int tendril_connect4(struct bpf_sock_addr *ctx)
{
	int err = lb4_translate(ctx, 1);

	if (err) {
		bpf_set_retval(err);
		return SYS_REJECT;
	}
	return SYS_PROCEED;
}

SEC("cgroup/sendmsg4")
int tendril_sendmsg4(struct bpf_sock_addr *ctx)
{
	/* A datagram to a VIP without backends is dropped rather than sent to the VIP. Not reported:
	 * one event per datagram would cost more than the datagram. */
	return lb4_translate(ctx, 0) ? SYS_REJECT : SYS_PROCEED;
}

SEC("cgroup/recvmsg4")
int tendril_recvmsg4(struct bpf_sock_addr *ctx)
{
	lb4_reverse(ctx);
	return SYS_PROCEED;
}

SEC("cgroup/getpeername4")
int tendril_getpeername4(struct bpf_sock_addr *ctx)
{
	lb4_reverse(ctx);
	return SYS_PROCEED;
}

SEC("cgroup/connect6")
int tendril_connect6(struct bpf_sock_addr *ctx)
{
	int err = lb6_translate(ctx, 1);

	if (err) {
		bpf_set_retval(err);
		return SYS_REJECT;
	}
	return SYS_PROCEED;
}

SEC("cgroup/sendmsg6")
int tendril_sendmsg6(struct bpf_sock_addr *ctx)
{
	return lb6_translate(ctx, 0) ? SYS_REJECT : SYS_PROCEED;
}

SEC("cgroup/recvmsg6")
int tendril_recvmsg6(struct bpf_sock_addr *ctx)
{
	lb6_reverse(ctx);
	return SYS_PROCEED;
}

SEC("cgroup/getpeername6")
int tendril_getpeername6(struct bpf_sock_addr *ctx)
{
	lb6_reverse(ctx);
	return SYS_PROCEED;
}

/* TCP flows are reported when the connection starts, with the source address the kernel chose. */
SEC("sockops")
int tendril_sockops(struct bpf_sock_ops *skops)
{
	if (skops->op != BPF_SOCK_OPS_TCP_CONNECT_CB)
		return 1;
	if (skops->family == 2 /* AF_INET */)
		lb4_report_connecting(skops);
	else if (skops->family == 10 /* AF_INET6 */)
		lb6_report_connecting(skops);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
