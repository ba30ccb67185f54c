// SPDX-License-Identifier: Apache-2.0
/*
 * North-south load balancing on the node's external interfaces (tc, attached with tcx links):
 * packets from outside for a NodePort, a LoadBalancer address or an external IP
 * (tendril_lb4_external_v1) are sent to a backend chosen with the frontend's Maglev table, with
 * per-packet NAT and connection tracking (tendril_lb4_nat_v1), so a flow keeps its backend while
 * the backends change. docs/north-south.md has the design.
 *
 * ingress: replies of tracked flows are translated back and sent to the client; packets of tracked
 *          flows go to their backend; a new flow to an external frontend gets a backend (or, for an
 *          L7 frontend, the node proxy's listening socket with bpf_sk_assign); ICMP errors about a
 *          tracked flow are translated back to the client.
 * egress:  replies of flows without SNAT (externalTrafficPolicy Local) that the kernel routed
 *          itself (their backend's interface has no program) get the frontend as their source.
 *
 * IPv4 only; fragments and packets with IP options pass untouched.
 */
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include "lib/sock_lb.h"

#define TENDRIL_AF_INET 2
/* <linux/icmp.h> pulls in libc headers that a BPF build cannot use */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u32 rest;
};
#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define IP_TTL_OFF (ETH_HLEN + offsetof(struct iphdr, ttl))
#define IP_SRC_OFF (ETH_HLEN + offsetof(struct iphdr, saddr))
#define IP_DST_OFF (ETH_HLEN + offsetof(struct iphdr, daddr))
#define L4_OFF (ETH_HLEN + sizeof(struct iphdr))

/* Source ports of SNATed flows: above Linux's default ephemeral range (32768-60999), so replies
 * to the node's own connections are never taken for a translated flow's. */
#define NAT_PORT_MIN 61000
#define NAT_PORT_SPAN 4536
#define NAT_PORT_TRIES 16

#define TCP_TIMEOUT_NS (6 * 3600ULL * TENDRIL_NS_PER_SECOND)
#define TCP_CLOSING_TIMEOUT_NS (10 * TENDRIL_NS_PER_SECOND)
#define UDP_TIMEOUT_NS (120 * TENDRIL_NS_PER_SECOND)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 tcp_flags;
	__u8 ttl;
	__u8 icmp;
};

/* 0: TCP/UDP parsed; 1: ICMP (ports unset); -1: not ours. */
static __always_inline int parse(struct __sk_buff *skb, struct flow *f)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
		return -1;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->protocol = ip->protocol;
	f->ttl = ip->ttl;
	f->tcp_flags = 0;
	f->icmp = 0;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);

		if ((void *)(tcp + 1) > end)
			return -1;
		f->sport = tcp->source;
		f->dport = tcp->dest;
		f->tcp_flags = ((__u8 *)tcp)[13];
		return 0;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > end)
			return -1;
		f->sport = udp->source;
		f->dport = udp->dest;
		return 0;
	}
	if (ip->protocol == IPPROTO_ICMP) {
		f->icmp = 1;
		return 1;
	}
	return -1;
}

static __always_inline __u32 flow_hash(const struct flow *f)
{
	__u32 hash = lb_mix(0, f->saddr);

	hash = lb_mix(hash, f->daddr);
	hash = lb_mix(hash, ((__u32)f->sport << 16) | f->dport);
	return lb_mix(hash, f->protocol);
}

static __always_inline __u64 nat_timeout(const struct flow *f, const struct lb4_nat *nat)
{
	if (f->protocol != IPPROTO_TCP)
		return UDP_TIMEOUT_NS;
	return (nat->flags & TENDRIL_NAT_CLOSING) ? TCP_CLOSING_TIMEOUT_NS : TCP_TIMEOUT_NS;
}

/* Rewrites addresses and ports, keeping the IP and L4 checksums right. */
static __always_inline void rewrite(struct __sk_buff *skb, const struct flow *f, __be32 saddr, __be16 sport, __be32 daddr, __be16 dport)
{
	__u32 csum_off = L4_OFF + (f->protocol == IPPROTO_TCP ? offsetof(struct tcphdr, check) : offsetof(struct udphdr, check));
	__u64 mangled = f->protocol == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (saddr != f->saddr) {
		bpf_l4_csum_replace(skb, csum_off, f->saddr, saddr, BPF_F_PSEUDO_HDR | mangled | sizeof(saddr));
		bpf_l3_csum_replace(skb, IP_CSUM_OFF, f->saddr, saddr, sizeof(saddr));
		bpf_skb_store_bytes(skb, IP_SRC_OFF, &saddr, sizeof(saddr), 0);
	}
	if (daddr != f->daddr) {
		bpf_l4_csum_replace(skb, csum_off, f->daddr, daddr, BPF_F_PSEUDO_HDR | mangled | sizeof(daddr));
		bpf_l3_csum_replace(skb, IP_CSUM_OFF, f->daddr, daddr, sizeof(daddr));
		bpf_skb_store_bytes(skb, IP_DST_OFF, &daddr, sizeof(daddr), 0);
	}
	if (sport != f->sport) {
		bpf_l4_csum_replace(skb, csum_off, f->sport, sport, mangled | sizeof(sport));
		bpf_skb_store_bytes(skb, L4_OFF, &sport, sizeof(sport), 0);
	}
	if (dport != f->dport) {
		bpf_l4_csum_replace(skb, csum_off, f->dport, dport, mangled | sizeof(dport));
		bpf_skb_store_bytes(skb, L4_OFF + 2, &dport, sizeof(dport), 0);
	}
}

/*
 * Sends a translated packet on its way without the stack (which would drop a packet whose source
 * is a node address as a martian): route lookup, TTL decrement, neighbour, redirect.
 */
static __always_inline int send(struct __sk_buff *skb, __be32 saddr, __be32 daddr, __u8 protocol, __u8 ttl)
{
	struct bpf_fib_lookup params = {};
	__u16 old_word, new_word;
	int rc;

	if (ttl <= 1)
		return TC_ACT_OK; /* the stack answers with ICMP time exceeded */
	params.family = TENDRIL_AF_INET;
	params.l4_protocol = protocol;
	params.ipv4_src = saddr;
	params.ipv4_dst = daddr;
	params.ifindex = skb->ingress_ifindex;
	rc = bpf_fib_lookup(skb, &params, sizeof(params), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_SHOT;
	old_word = bpf_htons(((__u16)ttl << 8) | protocol);
	new_word = bpf_htons(((__u16)(ttl - 1) << 8) | protocol);
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_word, new_word, sizeof(__u16));
	ttl--;
	bpf_skb_store_bytes(skb, IP_TTL_OFF, &ttl, 1, 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh neigh = { .nh_family = TENDRIL_AF_INET, .ipv4_nh = params.ipv4_dst };

		return bpf_redirect_neigh(params.ifindex, &neigh, sizeof(neigh), 0);
	}
	bpf_skb_store_bytes(skb, 0, params.dmac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_ALEN, params.smac, ETH_ALEN, 0);
	return bpf_redirect(params.ifindex, 0);
}

static __always_inline void report(const struct flow *f, __u32 service_id, __be32 backend, __be16 backend_port, __u8 verdict)
{
	struct lb4_flow_event *event = bpf_ringbuf_reserve(&tendril_lb4_flows_v1, sizeof(*event), 0);

	if (!event)
		return;
	event->service_address = f->daddr;
	event->service_port = f->dport;
	event->backend_address = backend;
	event->backend_port = backend_port;
	event->service_id = service_id;
	event->protocol = f->protocol;
	event->verdict = verdict;
	event->pad = 0;
	event->source_address = f->saddr;
	bpf_ringbuf_submit(event, 0);
}

static __always_inline void track_closing(struct lb4_nat *nat, const struct flow *f, __u64 now)
{
	nat->last_seen_ns = now;
	if (f->tcp_flags & (TCP_FIN | TCP_RST))
		nat->flags |= TENDRIL_NAT_CLOSING;
}

/* A reply of a tracked flow (backend -> the source it saw): back to the client, from the frontend. */
static __always_inline int reply(struct __sk_buff *skb, const struct flow *f, struct lb4_nat *rev, __u64 now, int egress)
{
	__be32 saddr = rev->address, daddr = rev->nat_address;
	__be16 sport = rev->port, dport = rev->nat_port;

	track_closing(rev, f, now);
	if (egress) {
		/* already routed to the client: only the source changes */
		if (rev->flags & TENDRIL_NAT_SNAT)
			return TC_ACT_OK;
		rewrite(skb, f, saddr, sport, f->daddr, f->dport);
		return TC_ACT_OK;
	}
	rewrite(skb, f, saddr, sport, daddr, dport);
	return send(skb, saddr, daddr, f->protocol, f->ttl);
}

/* An L7 frontend: the connection goes to the node proxy's listener, destination unchanged. */
static __always_inline int to_proxy(struct __sk_buff *skb, const struct flow *f, const struct lb_service *svc)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *sk;
	int err;

	if (f->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	tuple.ipv4.saddr = f->saddr;
	tuple.ipv4.daddr = f->daddr;
	tuple.ipv4.sport = f->sport;
	tuple.ipv4.dport = f->dport;
	sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (sk) {
		if (sk->state != BPF_TCP_LISTEN) {
			/* an accepted connection: its packets go to it */
			err = bpf_sk_assign(skb, sk, 0);
			bpf_sk_release(sk);
			return err ? TC_ACT_SHOT : TC_ACT_OK;
		}
		bpf_sk_release(sk);
	}
	tuple.ipv4.daddr = bpf_htonl(TENDRIL_LOOPBACK);
	tuple.ipv4.dport = svc->proxy_port;
	sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk) {
		if ((f->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
			lb_count(svc->service_id, TENDRIL_SLOT_REFUSED);
			report(f, svc->service_id, 0, 0, TENDRIL_FLOW_NO_BACKEND);
		}
		return TC_ACT_SHOT;
	}
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		return TC_ACT_SHOT;
	}
	err = bpf_sk_assign(skb, sk, 0);
	bpf_sk_release(sk);
	if (err)
		return TC_ACT_SHOT;
	if ((f->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		lb_count(svc->service_id, TENDRIL_SLOT_L7);
		report(f, svc->service_id, bpf_htonl(TENDRIL_LOOPBACK), svc->proxy_port, TENDRIL_FLOW_L7_REDIRECT);
	}
	return TC_ACT_OK;
}

/* The node's address toward the backend (the SNAT source). 0 when there is no route. */
static __always_inline __be32 source_toward(struct __sk_buff *skb, __be32 backend, __u8 protocol)
{
	struct bpf_fib_lookup params = {};

	params.family = TENDRIL_AF_INET;
	params.l4_protocol = protocol;
	params.ipv4_dst = backend;
	params.ifindex = skb->ingress_ifindex;
	if (bpf_fib_lookup(skb, &params, sizeof(params), BPF_FIB_LOOKUP_SRC | BPF_FIB_LOOKUP_SKIP_NEIGH) != BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	return params.ipv4_src;
}

/* A new flow to an external frontend: choose a backend, track both directions, send. */
static __always_inline int new_flow(struct __sk_buff *skb, const struct flow *f, const struct lb_service *svc, __u64 now)
{
	struct lb4_nat_key fkey = { .source = f->saddr, .destination = f->daddr, .source_port = f->sport, .destination_port = f->dport, .protocol = f->protocol, .direction = TENDRIL_NAT_FORWARD };
	struct lb4_nat fwd = { .last_seen_ns = now, .service_id = svc->service_id };
	struct lb4_nat rev = { .last_seen_ns = now, .address = f->daddr, .port = f->dport, .nat_address = f->saddr, .nat_port = f->sport, .service_id = svc->service_id };
	struct lb4_nat_key rkey = { .protocol = f->protocol, .direction = TENDRIL_NAT_REVERSE };
	struct lb4_backend_key bkey = { .service_id = svc->service_id };
	struct lb_ext_maglev *table;
	struct lb4_backend *backend;
	__u32 hash = flow_hash(f), slot;
	__be32 nat_address = f->saddr;
	__be16 nat_port = f->sport;
	int placed = 0;

	if (f->protocol == IPPROTO_TCP && (f->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
		return TC_ACT_OK; /* mid-stream and untracked (not ours, or tracked state lost): the stack decides */
	if (svc->count == 0) {
		lb_count(svc->service_id, TENDRIL_SLOT_REFUSED);
		report(f, svc->service_id, 0, 0, TENDRIL_FLOW_NO_BACKEND);
		return TC_ACT_SHOT;
	}
	slot = hash % svc->count;
	table = bpf_map_lookup_elem(&tendril_lb4_ext_maglev_v1, &svc->service_id);
	if (table) {
		__u32 entry = hash % TENDRIL_EXT_MAGLEV_SIZE;

		asm volatile("" : "+r"(entry)); /* keep the bound check below for the verifier */
		if (entry < TENDRIL_EXT_MAGLEV_SIZE && table->slot[entry] < svc->count)
			slot = table->slot[entry];
	}
	bkey.slot = slot;
	backend = bpf_map_lookup_elem(&tendril_lb4_backends_v1, &bkey);
	if (!backend)
		return TC_ACT_SHOT;

	rkey.source = backend->address;
	rkey.source_port = backend->port;
	if (!(svc->flags & TENDRIL_SVC_LOCAL)) {
		nat_address = source_toward(skb, backend->address, f->protocol);
		if (!nat_address)
			return TC_ACT_SHOT;
		rev.flags = fwd.flags = TENDRIL_NAT_SNAT;
		rkey.destination = nat_address;
		for (int i = 0; i < NAT_PORT_TRIES; i++) {
			struct lb4_nat *held;

			nat_port = bpf_htons(NAT_PORT_MIN + (lb_mix(hash, i) % NAT_PORT_SPAN));
			rkey.destination_port = nat_port;
			if (!bpf_map_update_elem(&tendril_lb4_nat_v1, &rkey, &rev, BPF_NOEXIST)) {
				placed = 1;
				break;
			}
			/* a port whose flow is over can be taken again */
			held = bpf_map_lookup_elem(&tendril_lb4_nat_v1, &rkey);
			if (held && now - held->last_seen_ns > nat_timeout(f, held)) {
				bpf_map_update_elem(&tendril_lb4_nat_v1, &rkey, &rev, BPF_ANY);
				placed = 1;
				break;
			}
		}
		if (!placed)
			return TC_ACT_SHOT;
	} else {
		rkey.destination = f->saddr;
		rkey.destination_port = f->sport;
		bpf_map_update_elem(&tendril_lb4_nat_v1, &rkey, &rev, BPF_ANY);
	}
	fwd.address = backend->address;
	fwd.port = backend->port;
	fwd.nat_address = nat_address;
	fwd.nat_port = nat_port;
	fwd.slot = slot;
	bpf_map_update_elem(&tendril_lb4_nat_v1, &fkey, &fwd, BPF_ANY);
	lb_count(svc->service_id, slot);
	report(f, svc->service_id, backend->address, backend->port, TENDRIL_FLOW_TRANSLATED);
	rewrite(skb, f, nat_address, nat_port, fwd.address, fwd.port);
	return send(skb, nat_address, fwd.address, f->protocol, f->ttl);
}

static __always_inline struct lb_service *external_lookup(const struct flow *f)
{
	struct lb4_service_key key = { .address = f->daddr, .port = f->dport, .protocol = f->protocol };
	struct lb_service *svc = bpf_map_lookup_elem(&tendril_lb4_external_v1, &key);

	if (svc)
		return svc;
	if (!bpf_map_lookup_elem(&tendril_lb4_node_addresses_v1, &f->daddr))
		return NULL;
	key.address = 0; /* a NodePort */
	return bpf_map_lookup_elem(&tendril_lb4_external_v1, &key);
}

/*
 * An ICMP error (destination unreachable, time exceeded, parameter problem) about a tracked flow,
 * sent by the backend or a router toward it: the quoted header is put back as the client sent it,
 * and the error goes to the client from the frontend.
 */
struct quoted {
	struct iphdr ip;
	__be16 sport;
	__be16 dport;
	__u32 rest;
};

static __always_inline int icmp_error(struct __sk_buff *skb, const struct flow *f, __u64 now)
{
	struct icmphdr icmp;
	struct quoted old, new;
	struct lb4_nat_key key = { .direction = TENDRIL_NAT_REVERSE };
	struct lb4_nat *rev;
	__u32 icmp_off = L4_OFF, quoted_off = L4_OFF + sizeof(struct icmphdr);
	__s64 diff;
	__be32 saddr, daddr;

	if (bpf_skb_load_bytes(skb, icmp_off, &icmp, sizeof(icmp)))
		return TC_ACT_OK;
	if (icmp.type != ICMP_DEST_UNREACH && icmp.type != ICMP_TIME_EXCEEDED && icmp.type != ICMP_PARAMETERPROB)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, quoted_off, &old, sizeof(old)))
		return TC_ACT_OK;
	if (old.ip.ihl != 5 || (old.ip.protocol != IPPROTO_TCP && old.ip.protocol != IPPROTO_UDP))
		return TC_ACT_OK;
	/* the quoted packet went node -> backend: its reply would come backend -> node */
	key.source = old.ip.daddr;
	key.destination = old.ip.saddr;
	key.source_port = old.dport;
	key.destination_port = old.sport;
	key.protocol = old.ip.protocol;
	rev = bpf_map_lookup_elem(&tendril_lb4_nat_v1, &key);
	if (!rev)
		return TC_ACT_OK;
	rev->last_seen_ns = now;
	new = old;
	new.ip.saddr = rev->nat_address;
	new.sport = rev->nat_port;
	new.ip.daddr = rev->address;
	new.dport = rev->port;
	new.ip.check = 0;
	{
		/* fold the 32-bit sum */
		__u32 sum = bpf_csum_diff(0, 0, (__be32 *)&new.ip, sizeof(new.ip), 0);

		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		new.ip.check = (__u16)~sum;
	}
	diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)&new, sizeof(new), 0);
	if (diff < 0)
		return TC_ACT_OK;
	bpf_skb_store_bytes(skb, quoted_off, &new, sizeof(new), 0);
	bpf_l4_csum_replace(skb, icmp_off + offsetof(struct icmphdr, checksum), 0, diff, 0);
	saddr = rev->address;
	daddr = rev->nat_address;
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, f->saddr, saddr, sizeof(saddr));
	bpf_skb_store_bytes(skb, IP_SRC_OFF, &saddr, sizeof(saddr), 0);
	bpf_l3_csum_replace(skb, IP_CSUM_OFF, f->daddr, daddr, sizeof(daddr));
	bpf_skb_store_bytes(skb, IP_DST_OFF, &daddr, sizeof(daddr), 0);
	return send(skb, saddr, daddr, IPPROTO_ICMP, f->ttl);
}

SEC("tc")
int tendril_nodeport_ingress(struct __sk_buff *skb)
{
	struct lb4_nat_key key = {};
	struct lb4_nat *nat;
	struct lb_service *svc;
	struct flow f;
	__u64 now;
	int kind = parse(skb, &f);

	if (kind < 0)
		return TC_ACT_OK;
	now = bpf_ktime_get_ns();
	if (kind == 1)
		return icmp_error(skb, &f, now);

	key.source = f.saddr;
	key.destination = f.daddr;
	key.source_port = f.sport;
	key.destination_port = f.dport;
	key.protocol = f.protocol;
	key.direction = TENDRIL_NAT_REVERSE;
	nat = bpf_map_lookup_elem(&tendril_lb4_nat_v1, &key);
	if (nat)
		return reply(skb, &f, nat, now, 0);

	key.direction = TENDRIL_NAT_FORWARD;
	nat = bpf_map_lookup_elem(&tendril_lb4_nat_v1, &key);
	if (nat) {
		int fresh = now - nat->last_seen_ns <= nat_timeout(&f, nat);
		int restart = f.protocol == IPPROTO_TCP && (f.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && (nat->flags & TENDRIL_NAT_CLOSING);

		if (fresh && !restart) {
			track_closing(nat, &f, now);
			rewrite(skb, &f, nat->nat_address, nat->nat_port, nat->address, nat->port);
			return send(skb, nat->nat_address, nat->address, f.protocol, f.ttl);
		}
	}

	svc = external_lookup(&f);
	if (!svc)
		return TC_ACT_OK;
	if (svc->flags & TENDRIL_SVC_L7_REDIRECT)
		return to_proxy(skb, &f, svc);
	return new_flow(skb, &f, svc, now);
}

SEC("tc")
int tendril_nodeport_egress(struct __sk_buff *skb)
{
	struct lb4_nat_key key = {};
	struct lb4_nat *nat;
	struct flow f;

	if (parse(skb, &f) != 0)
		return TC_ACT_OK;
	key.source = f.saddr;
	key.destination = f.daddr;
	key.source_port = f.sport;
	key.destination_port = f.dport;
	key.protocol = f.protocol;
	key.direction = TENDRIL_NAT_REVERSE;
	nat = bpf_map_lookup_elem(&tendril_lb4_nat_v1, &key);
	if (!nat)
		return TC_ACT_OK;
	return reply(skb, &f, nat, bpf_ktime_get_ns(), 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
