/*
 * The few bpf() operations the datapath agent needs, as a Node-API addon: load an object with
 * libbpf (maps pinned by name under a pin root), pin and open objects, attach programs to a cgroup
 * with the legacy BPF_PROG_ATTACH (the cgroup keeps the program after we exit), and map access by
 * fd with Buffers. Everything else lives in TypeScript.
 */
#define _GNU_SOURCE /* setns */
#define NAPI_VERSION 8
#include <node_api.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11
#define PATH_MAX_LEN 4096
/* the kernel's ENOTSUPP (524), which userspace headers do not name */
#define ENOTSUPP_ERRNO 524

static napi_value throw_errno(napi_env env, const char *what, int err)
{
	char message[512];
	char code[32];
	napi_value error, msg, code_value, errno_value;

	if (err < 0)
		err = -err;
	snprintf(message, sizeof(message), "%s: %s", what, strerror(err));
	snprintf(code, sizeof(code), "E%d", err);
	napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
	napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
	napi_create_error(env, NULL, msg, &error);
	napi_create_int32(env, err, &errno_value);
	napi_set_named_property(env, error, "errno", errno_value);
	napi_throw(env, error);
	return NULL;
}

static napi_value throw_type(napi_env env, const char *message)
{
	napi_throw_type_error(env, NULL, message);
	return NULL;
}

static int arg_string(napi_env env, napi_value value, char *out, size_t size)
{
	size_t length;
	return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok && length < size - 1;
}

static int arg_int(napi_env env, napi_value value, int32_t *out)
{
	return napi_get_value_int32(env, value, out) == napi_ok;
}

static int arg_buffer(napi_env env, napi_value value, void **data, size_t *length)
{
	return napi_get_buffer_info(env, value, data, length) == napi_ok;
}

static napi_value make_int(napi_env env, int64_t value)
{
	napi_value out;
	napi_create_int64(env, value, &out);
	return out;
}

static napi_value make_string(napi_env env, const char *value)
{
	napi_value out;
	napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &out);
	return out;
}

#define ARGS(n)                                                                 \
	size_t argc = n;                                                        \
	napi_value argv[n];                                                     \
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) \
		return throw_type(env, "missing arguments");

/* loadObject(path, pinRoot) -> [{ name, section, attachType, fd }]: maps declared with
 * LIBBPF_PIN_BY_NAME are reused from pinRoot when present (same definition) or pinned there. The
 * returned program fds are duplicates owned by the caller; the object itself is closed. */
static napi_value load_object(napi_env env, napi_callback_info info)
{
	char path[PATH_MAX_LEN], pin_root[PATH_MAX_LEN];
	struct bpf_object *obj;
	struct bpf_program *prog;
	napi_value list;
	uint32_t index = 0;
	int err;
	ARGS(2);

	if (!arg_string(env, argv[0], path, sizeof(path)) || !arg_string(env, argv[1], pin_root, sizeof(pin_root)))
		return throw_type(env, "loadObject(path, pinRoot)");
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	obj = bpf_object__open_file(path, &opts);
	if (!obj)
		return throw_errno(env, path, errno);
	err = bpf_object__load(obj);
	if (err) {
		bpf_object__close(obj);
		return throw_errno(env, "loading BPF object (see the verifier log above)", err);
	}
	napi_create_array(env, &list);
	bpf_object__for_each_program(prog, obj)
	{
		napi_value entry;
		int fd = dup(bpf_program__fd(prog));

		if (fd < 0) {
			bpf_object__close(obj);
			return throw_errno(env, "dup", errno);
		}
		napi_create_object(env, &entry);
		napi_set_named_property(env, entry, "name", make_string(env, bpf_program__name(prog)));
		napi_set_named_property(env, entry, "section", make_string(env, bpf_program__section_name(prog)));
		napi_set_named_property(env, entry, "attachType", make_int(env, bpf_program__expected_attach_type(prog)));
		napi_set_named_property(env, entry, "fd", make_int(env, fd));
		napi_set_element(env, list, index++, entry);
	}
	bpf_object__close(obj);
	return list;
}

/* objGet(path) -> fd of a pinned map or program. */
static napi_value obj_get(napi_env env, napi_callback_info info)
{
	char path[PATH_MAX_LEN];
	int fd;
	ARGS(1);

	if (!arg_string(env, argv[0], path, sizeof(path)))
		return throw_type(env, "objGet(path)");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return throw_errno(env, path, errno);
	return make_int(env, fd);
}

static napi_value obj_pin(napi_env env, napi_callback_info info)
{
	char path[PATH_MAX_LEN];
	int32_t fd;
	ARGS(2);

	if (!arg_int(env, argv[0], &fd) || !arg_string(env, argv[1], path, sizeof(path)))
		return throw_type(env, "objPin(fd, path)");
	if (bpf_obj_pin(fd, path))
		return throw_errno(env, path, errno);
	return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info)
{
	int32_t fd;
	ARGS(1);

	if (!arg_int(env, argv[0], &fd))
		return throw_type(env, "closeFd(fd)");
	close(fd);
	return NULL;
}

/* progAttach(progFd, cgroupPath, attachType, replaceFd): BPF_F_ALLOW_MULTI so other tools' programs
 * keep working; with replaceFd >= 0 the old program is swapped atomically (no window without one). */
static napi_value prog_attach(napi_env env, napi_callback_info info)
{
	char cgroup[PATH_MAX_LEN];
	int32_t prog_fd, type, replace_fd;
	int cgroup_fd, err;
	ARGS(4);

	if (!arg_int(env, argv[0], &prog_fd) || !arg_string(env, argv[1], cgroup, sizeof(cgroup)) || !arg_int(env, argv[2], &type) ||
	    !arg_int(env, argv[3], &replace_fd))
		return throw_type(env, "progAttach(progFd, cgroupPath, attachType, replaceFd)");
	cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	if (cgroup_fd < 0)
		return throw_errno(env, cgroup, errno);
	LIBBPF_OPTS(bpf_prog_attach_opts, opts, .flags = BPF_F_ALLOW_MULTI);
	if (replace_fd >= 0) {
		opts.flags |= BPF_F_REPLACE;
		opts.replace_prog_fd = replace_fd;
	}
	err = bpf_prog_attach_opts(prog_fd, cgroup_fd, type, &opts);
	err = err ? errno : 0;
	close(cgroup_fd);
	if (err)
		return throw_errno(env, "attaching to cgroup", err);
	return NULL;
}

static napi_value prog_detach(napi_env env, napi_callback_info info)
{
	char cgroup[PATH_MAX_LEN];
	int32_t prog_fd, type;
	int cgroup_fd, err;
	ARGS(3);

	if (!arg_int(env, argv[0], &prog_fd) || !arg_string(env, argv[1], cgroup, sizeof(cgroup)) || !arg_int(env, argv[2], &type))
		return throw_type(env, "progDetach(progFd, cgroupPath, attachType)");
	cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	if (cgroup_fd < 0)
		return throw_errno(env, cgroup, errno);
	err = bpf_prog_detach2(prog_fd, cgroup_fd, type) ? errno : 0;
	close(cgroup_fd);
	if (err)
		return throw_errno(env, "detaching from cgroup", err);
	return NULL;
}

/* progQuery(cgroupPath, attachType) -> ids of the programs attached there (this cgroup only). */
static napi_value prog_query(napi_env env, napi_callback_info info)
{
	char cgroup[PATH_MAX_LEN];
	int32_t type;
	__u32 ids[64], count = 64, flags = 0;
	int cgroup_fd, err;
	napi_value list;
	ARGS(2);

	if (!arg_string(env, argv[0], cgroup, sizeof(cgroup)) || !arg_int(env, argv[1], &type))
		return throw_type(env, "progQuery(cgroupPath, attachType)");
	cgroup_fd = open(cgroup, O_RDONLY | O_DIRECTORY);
	if (cgroup_fd < 0)
		return throw_errno(env, cgroup, errno);
	err = bpf_prog_query(cgroup_fd, type, 0, &flags, ids, &count) ? errno : 0;
	close(cgroup_fd);
	if (err)
		return throw_errno(env, "querying cgroup programs", err);
	napi_create_array(env, &list);
	for (__u32 i = 0; i < count; i++)
		napi_set_element(env, list, i, make_int(env, ids[i]));
	return list;
}

/* objInfo(fd) -> { id, name, type, keySize, valueSize, maxEntries } (map fields 0 for programs). */
static napi_value obj_info(napi_env env, napi_callback_info info)
{
	int32_t fd;
	napi_value out;
	ARGS(1);

	if (!arg_int(env, argv[0], &fd))
		return throw_type(env, "objInfo(fd)");
	napi_create_object(env, &out);
	struct bpf_map_info map = { 0 };
	__u32 length = sizeof(map);
	if (bpf_obj_get_info_by_fd(fd, &map, &length) == 0 && map.key_size != 0) {
		napi_set_named_property(env, out, "kind", make_string(env, "map"));
		napi_set_named_property(env, out, "id", make_int(env, map.id));
		napi_set_named_property(env, out, "name", make_string(env, map.name));
		napi_set_named_property(env, out, "type", make_int(env, map.type));
		napi_set_named_property(env, out, "keySize", make_int(env, map.key_size));
		napi_set_named_property(env, out, "valueSize", make_int(env, map.value_size));
		napi_set_named_property(env, out, "maxEntries", make_int(env, map.max_entries));
		return out;
	}
	struct bpf_prog_info prog = { 0 };
	length = sizeof(prog);
	if (bpf_obj_get_info_by_fd(fd, &prog, &length))
		return throw_errno(env, "bpf object info", errno);
	napi_set_named_property(env, out, "kind", make_string(env, "program"));
	napi_set_named_property(env, out, "id", make_int(env, prog.id));
	napi_set_named_property(env, out, "name", make_string(env, prog.name));
	napi_set_named_property(env, out, "type", make_int(env, prog.type));
	return out;
}

/* mapLookup(fd, key, valueSize) -> Buffer | null */
static napi_value map_lookup(napi_env env, napi_callback_info info)
{
	int32_t fd, value_size;
	void *key, *value;
	size_t key_length;
	napi_value out;
	ARGS(3);

	if (!arg_int(env, argv[0], &fd) || !arg_buffer(env, argv[1], &key, &key_length) || !arg_int(env, argv[2], &value_size) || value_size <= 0)
		return throw_type(env, "mapLookup(fd, key, valueSize)");
	if (napi_create_buffer(env, value_size, &value, &out) != napi_ok)
		return throw_type(env, "out of memory");
	if (bpf_map_lookup_elem(fd, key, value)) {
		if (errno == ENOENT) {
			napi_get_null(env, &out);
			return out;
		}
		return throw_errno(env, "map lookup", errno);
	}
	return out;
}

/* mapUpdate(fd, key, value, flags): flags BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
static napi_value map_update(napi_env env, napi_callback_info info)
{
	int32_t fd, flags;
	void *key, *value;
	size_t key_length, value_length;
	ARGS(4);

	if (!arg_int(env, argv[0], &fd) || !arg_buffer(env, argv[1], &key, &key_length) || !arg_buffer(env, argv[2], &value, &value_length) ||
	    !arg_int(env, argv[3], &flags))
		return throw_type(env, "mapUpdate(fd, key, value, flags)");
	if (bpf_map_update_elem(fd, key, value, flags))
		return throw_errno(env, "map update", errno);
	return NULL;
}

/* mapDelete(fd, key) -> true when an entry was removed, false when there was none. */
static napi_value map_delete(napi_env env, napi_callback_info info)
{
	int32_t fd;
	void *key;
	size_t key_length;
	napi_value out;
	ARGS(2);

	if (!arg_int(env, argv[0], &fd) || !arg_buffer(env, argv[1], &key, &key_length))
		return throw_type(env, "mapDelete(fd, key)");
	if (bpf_map_delete_elem(fd, key)) {
		if (errno != ENOENT)
			return throw_errno(env, "map delete", errno);
		napi_get_boolean(env, false, &out);
		return out;
	}
	napi_get_boolean(env, true, &out);
	return out;
}

/* mapKeys(fd, keySize) -> Buffer[] */
static napi_value map_keys(napi_env env, napi_callback_info info)
{
	int32_t fd, key_size;
	napi_value list;
	uint32_t index = 0;
	void *previous = NULL;
	ARGS(2);

	if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &key_size) || key_size <= 0)
		return throw_type(env, "mapKeys(fd, keySize)");
	napi_create_array(env, &list);
	for (;;) {
		void *next;
		napi_value buffer;

		if (napi_create_buffer(env, key_size, &next, &buffer) != napi_ok)
			return throw_type(env, "out of memory");
		if (bpf_map_get_next_key(fd, previous, next)) {
			if (errno == ENOENT)
				break;
			return throw_errno(env, "map iteration", errno);
		}
		napi_set_element(env, list, index++, buffer);
		previous = next;
	}
	return list;
}

/* mapUpdateBatch(fd, keys, values, count, flags) -> count: `count` keys and values laid end to end,
 * written with one BPF_MAP_UPDATE_BATCH (the kernel writes them in order and stops at the first
 * failure). A failure throws an error whose `done` says how many were written before it. */
static napi_value map_update_batch(napi_env env, napi_callback_info info)
{
	int32_t fd, count, flags;
	void *keys, *values;
	size_t keys_length, values_length;
	__u32 done;
	ARGS(5);

	if (!arg_int(env, argv[0], &fd) || !arg_buffer(env, argv[1], &keys, &keys_length) || !arg_buffer(env, argv[2], &values, &values_length) ||
	    !arg_int(env, argv[3], &count) || !arg_int(env, argv[4], &flags) || count < 0)
		return throw_type(env, "mapUpdateBatch(fd, keys, values, count, flags)");
	if (count == 0)
		return make_int(env, 0);
	if (keys_length % count || values_length % count)
		return throw_type(env, "mapUpdateBatch: keys and values must hold `count` entries each");
	done = count;
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = flags);
	if (bpf_map_update_batch(fd, keys, values, &done, &opts)) {
		int err = errno;
		napi_value error;

		throw_errno(env, "map update batch", err);
		if (napi_get_and_clear_last_exception(env, &error) == napi_ok) {
			napi_set_named_property(env, error, "done", make_int(env, done));
			napi_throw(env, error);
		}
		return NULL;
	}
	return make_int(env, done);
}

/* mapDump(fd, keySize, valueSize) -> { keys, values, count } | null: every entry with
 * BPF_MAP_LOOKUP_BATCH, keys and values laid end to end; null when the map type has no batch
 * lookup (the caller walks the keys instead). */
static napi_value map_dump(napi_env env, napi_callback_info info)
{
	int32_t fd, key_size, value_size;
	size_t capacity = 1024, total = 0;
	__u32 chunk = 256;
	char *keys = NULL, *values = NULL;
	__u64 in_batch = 0, out_batch = 0;
	int first = 1;
	napi_value out, keys_buffer, values_buffer;
	void *data;
	ARGS(3);

	if (!arg_int(env, argv[0], &fd) || !arg_int(env, argv[1], &key_size) || !arg_int(env, argv[2], &value_size) || key_size <= 0 || value_size <= 0)
		return throw_type(env, "mapDump(fd, keySize, valueSize)");
	keys = malloc(capacity * key_size);
	values = malloc(capacity * value_size);
	for (;;) {
		__u32 count = chunk;
		int failed, err;

		while (total + chunk > capacity) {
			char *more_keys, *more_values;

			capacity *= 2;
			more_keys = realloc(keys, capacity * key_size);
			more_values = realloc(values, capacity * value_size);
			if (more_keys)
				keys = more_keys;
			if (more_values)
				values = more_values;
			if (!more_keys || !more_values) {
				free(keys);
				free(values);
				return throw_type(env, "out of memory");
			}
		}
		if (!keys || !values) {
			free(keys);
			free(values);
			return throw_type(env, "out of memory");
		}
		/* hash maps use a bucket index as the batch token (u32), arrays a key: 8 bytes hold both */
		failed = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys + total * key_size, values + total * value_size, &count, NULL);
		err = errno;
		if (failed && err != ENOENT) {
			if (err == ENOSPC && chunk < (1u << 20)) {
				chunk *= 2; /* a bucket holds more entries than the chunk */
				continue;
			}
			free(keys);
			free(values);
			if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == ENOTSUPP_ERRNO)) {
				napi_get_null(env, &out);
				return out;
			}
			return throw_errno(env, "map lookup batch", err);
		}
		total += count;
		first = 0;
		in_batch = out_batch;
		if (failed) /* ENOENT: the last batch */
			break;
	}
	napi_create_object(env, &out);
	napi_create_buffer_copy(env, total * key_size, keys, &data, &keys_buffer);
	napi_create_buffer_copy(env, total * value_size, values, &data, &values_buffer);
	free(keys);
	free(values);
	napi_set_named_property(env, out, "keys", keys_buffer);
	napi_set_named_property(env, out, "values", values_buffer);
	napi_set_named_property(env, out, "count", make_int(env, total));
	return out;
}

/* mountBpffs(path) -> true when it mounted, false when a bpffs was already there. */
static napi_value mount_bpffs(napi_env env, napi_callback_info info)
{
	char path[PATH_MAX_LEN];
	struct statfs fs;
	napi_value out;
	ARGS(1);

	if (!arg_string(env, argv[0], path, sizeof(path)))
		return throw_type(env, "mountBpffs(path)");
	if (statfs(path, &fs) == 0 && (unsigned long)fs.f_type == BPF_FS_MAGIC_NUMBER) {
		napi_get_boolean(env, false, &out);
		return out;
	}
	if (mount("bpf", path, "bpf", 0, "mode=0700"))
		return throw_errno(env, path, errno);
	napi_get_boolean(env, true, &out);
	return out;
}

/* Ring buffers are drained by polling from JavaScript (ringConsume on a timer), not by a thread:
 * the samples are copied out during the call, so no callback crosses threads. */
struct ring {
	struct ring_buffer *rb;
	napi_env env;
	napi_value list;
	uint32_t count;
	uint32_t limit;
};

static int ring_sample(void *context, void *data, size_t size)
{
	struct ring *ring = context;
	napi_value buffer;
	void *copy;

	if (napi_create_buffer_copy(ring->env, size, data, &copy, &buffer) != napi_ok)
		return -ENOMEM;
	napi_set_element(ring->env, ring->list, ring->count++, buffer);
	return ring->count >= ring->limit ? 1 : 0;
}

static void ring_finalize(napi_env env, void *data, void *hint)
{
	struct ring *ring = data;

	(void)env;
	(void)hint;
	if (ring->rb)
		ring_buffer__free(ring->rb);
	free(ring);
}

/* ringOpen(mapFd) -> handle; keep the map fd open while the handle is in use. */
static napi_value ring_open(napi_env env, napi_callback_info info)
{
	int32_t fd;
	struct ring *ring;
	napi_value handle;
	ARGS(1);

	if (!arg_int(env, argv[0], &fd))
		return throw_type(env, "ringOpen(mapFd)");
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return throw_errno(env, "ringOpen", ENOMEM);
	ring->rb = ring_buffer__new(fd, ring_sample, ring, NULL);
	if (!ring->rb) {
		int err = errno;
		free(ring);
		return throw_errno(env, "opening ring buffer", err);
	}
	napi_create_external(env, ring, ring_finalize, NULL, &handle);
	return handle;
}

/* ringConsume(handle, limit) -> Buffer[]: the samples waiting now, at most limit. */
static napi_value ring_consume(napi_env env, napi_callback_info info)
{
	struct ring *ring;
	int32_t limit;
	napi_value list;
	int err;
	ARGS(2);

	if (napi_get_value_external(env, argv[0], (void **)&ring) != napi_ok || !ring->rb || !arg_int(env, argv[1], &limit) || limit <= 0)
		return throw_type(env, "ringConsume(handle, limit)");
	napi_create_array(env, &list);
	ring->env = env;
	ring->list = list;
	ring->count = 0;
	ring->limit = (uint32_t)limit;
	err = ring_buffer__consume(ring->rb);
	if (err < 0 && err != -EINTR)
		return throw_errno(env, "consuming ring buffer", err);
	return list;
}

static napi_value ring_close(napi_env env, napi_callback_info info)
{
	struct ring *ring;
	ARGS(1);

	if (napi_get_value_external(env, argv[0], (void **)&ring) != napi_ok)
		return throw_type(env, "ringClose(handle)");
	if (ring->rb)
		ring_buffer__free(ring->rb);
	ring->rb = NULL;
	return NULL;
}

/* The tcx attach types (kernel 6.6+), which this libbpf's headers do not name yet. */
#define TENDRIL_BPF_TCX_INGRESS 46
#define TENDRIL_BPF_TCX_EGRESS 47

/*
 * Moves this thread (only) into the network namespace at path ("" : stay); *saved is the one to
 * return to. Interfaces are named and sockets made in the namespace of the calling thread.
 */
static int enter_netns(const char *path, int *saved)
{
	int target, err;

	*saved = -1;
	if (!path[0])
		return 0;
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return errno;
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0) {
		err = errno;
		close(target);
		return err;
	}
	if (setns(target, CLONE_NEWNET)) {
		err = errno;
		close(target);
		close(*saved);
		*saved = -1;
		return err;
	}
	close(target);
	return 0;
}

static void leave_netns(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET)) {
		/* the thread would stay in the other namespace: nothing sane can follow */
		perror("tendril_ebpf: returning to the original network namespace");
		abort();
	}
	close(saved);
}

/*
 * tcxAttach(progFd, netnsPath, ifname, egress, linkPin) -> { ifindex, replaced }: attaches a tc
 * program to an interface with a tcx link pinned at linkPin, so it stays attached after the process
 * exits. When linkPin holds a link that is still attached, its program is swapped atomically
 * (bpf_link_update): no packet goes without a program.
 */
static napi_value tcx_attach(napi_env env, napi_callback_info info)
{
	char netns[PATH_MAX_LEN], ifname[IF_NAMESIZE + 1], pin[PATH_MAX_LEN], what[PATH_MAX_LEN + 64];
	int32_t prog_fd;
	bool egress;
	int saved, err, link_fd;
	unsigned int ifindex;
	napi_value out;
	ARGS(5);

	if (!arg_int(env, argv[0], &prog_fd) || !arg_string(env, argv[1], netns, sizeof(netns)) || !arg_string(env, argv[2], ifname, sizeof(ifname)) ||
	    napi_get_value_bool(env, argv[3], &egress) != napi_ok || !arg_string(env, argv[4], pin, sizeof(pin)))
		return throw_type(env, "tcxAttach(progFd, netnsPath, ifname, egress, linkPin)");
	napi_create_object(env, &out);
	link_fd = bpf_obj_get(pin);
	if (link_fd >= 0) {
		err = bpf_link_update(link_fd, prog_fd, NULL) ? errno : 0;
		close(link_fd);
		if (!err) {
			napi_set_named_property(env, out, "replaced", make_int(env, 1));
			return out;
		}
		unlink(pin); /* the interface went away (link defunct): attach afresh */
	}
	err = enter_netns(netns, &saved);
	if (err)
		return throw_errno(env, netns, err);
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		err = errno;
		leave_netns(saved);
		snprintf(what, sizeof(what), "interface %s", ifname);
		return throw_errno(env, what, err);
	}
	link_fd = bpf_link_create(prog_fd, ifindex, egress ? TENDRIL_BPF_TCX_EGRESS : TENDRIL_BPF_TCX_INGRESS, NULL);
	err = link_fd < 0 ? errno : 0;
	leave_netns(saved);
	snprintf(what, sizeof(what), "tcx %s on %s", egress ? "egress" : "ingress", ifname);
	if (err)
		return throw_errno(env, what, err);
	if (bpf_obj_pin(link_fd, pin)) {
		err = errno;
		bpf_link_detach(link_fd);
		close(link_fd);
		return throw_errno(env, pin, err);
	}
	close(link_fd);
	napi_set_named_property(env, out, "ifindex", make_int(env, ifindex));
	napi_set_named_property(env, out, "replaced", make_int(env, 0));
	return out;
}

/* tcxDetach(linkPin): detaches the pinned link's program and removes the pin. */
static napi_value tcx_detach(napi_env env, napi_callback_info info)
{
	char pin[PATH_MAX_LEN];
	int link_fd;
	ARGS(1);

	if (!arg_string(env, argv[0], pin, sizeof(pin)))
		return throw_type(env, "tcxDetach(linkPin)");
	link_fd = bpf_obj_get(pin);
	if (link_fd < 0)
		return throw_errno(env, pin, errno);
	bpf_link_detach(link_fd);
	close(link_fd);
	unlink(pin);
	return NULL;
}

/* netnsAddresses(netnsPath) -> [{ name, address }]: the IPv4 addresses of the namespace's interfaces. */
static napi_value netns_addresses(napi_env env, napi_callback_info info)
{
	char netns[PATH_MAX_LEN];
	struct ifaddrs *list, *item;
	int saved, err;
	uint32_t index = 0;
	napi_value out;
	ARGS(1);

	if (!arg_string(env, argv[0], netns, sizeof(netns)))
		return throw_type(env, "netnsAddresses(netnsPath)");
	err = enter_netns(netns, &saved);
	if (err)
		return throw_errno(env, netns, err);
	err = getifaddrs(&list) ? errno : 0;
	leave_netns(saved);
	if (err)
		return throw_errno(env, "getifaddrs", err);
	napi_create_array(env, &out);
	for (item = list; item; item = item->ifa_next) {
		char text[INET_ADDRSTRLEN];
		napi_value entry;

		if (!item->ifa_addr || item->ifa_addr->sa_family != AF_INET)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)item->ifa_addr)->sin_addr, text, sizeof(text));
		napi_create_object(env, &entry);
		napi_set_named_property(env, entry, "name", make_string(env, item->ifa_name));
		napi_set_named_property(env, entry, "address", make_string(env, text));
		napi_set_element(env, out, index++, entry);
	}
	freeifaddrs(list);
	return out;
}

/* listenInNetns(netnsPath, address, port) -> fd of a listening TCP socket made in that namespace. */
static napi_value listen_in_netns(napi_env env, napi_callback_info info)
{
	char netns[PATH_MAX_LEN], address[INET_ADDRSTRLEN + 1];
	int32_t port;
	int saved, err, fd, one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	ARGS(3);

	if (!arg_string(env, argv[0], netns, sizeof(netns)) || !arg_string(env, argv[1], address, sizeof(address)) || !arg_int(env, argv[2], &port) || port < 0 ||
	    port > 65535 || inet_pton(AF_INET, address, &sin.sin_addr) != 1)
		return throw_type(env, "listenInNetns(netnsPath, ipv4Address, port)");
	sin.sin_port = htons(port);
	err = enter_netns(netns, &saved);
	if (err)
		return throw_errno(env, netns, err);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	err = fd < 0 ? errno : 0;
	leave_netns(saved);
	if (err)
		return throw_errno(env, "socket", err);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 511)) {
		err = errno;
		close(fd);
		return throw_errno(env, "listening", err);
	}
	return make_int(env, fd);
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor functions[] = {
		{ "loadObject", NULL, load_object, NULL, NULL, NULL, napi_default, NULL },
		{ "objGet", NULL, obj_get, NULL, NULL, NULL, napi_default, NULL },
		{ "objPin", NULL, obj_pin, NULL, NULL, NULL, napi_default, NULL },
		{ "objInfo", NULL, obj_info, NULL, NULL, NULL, napi_default, NULL },
		{ "closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL },
		{ "progAttach", NULL, prog_attach, NULL, NULL, NULL, napi_default, NULL },
		{ "progDetach", NULL, prog_detach, NULL, NULL, NULL, napi_default, NULL },
		{ "progQuery", NULL, prog_query, NULL, NULL, NULL, napi_default, NULL },
		{ "mapLookup", NULL, map_lookup, NULL, NULL, NULL, napi_default, NULL },
		{ "mapUpdate", NULL, map_update, NULL, NULL, NULL, napi_default, NULL },
		{ "mapDelete", NULL, map_delete, NULL, NULL, NULL, napi_default, NULL },
		{ "mapKeys", NULL, map_keys, NULL, NULL, NULL, napi_default, NULL },
		{ "mapUpdateBatch", NULL, map_update_batch, NULL, NULL, NULL, napi_default, NULL },
		{ "mapDump", NULL, map_dump, NULL, NULL, NULL, napi_default, NULL },
		{ "mountBpffs", NULL, mount_bpffs, NULL, NULL, NULL, napi_default, NULL },
		{ "ringOpen", NULL, ring_open, NULL, NULL, NULL, napi_default, NULL },
		{ "ringConsume", NULL, ring_consume, NULL, NULL, NULL, napi_default, NULL },
		{ "ringClose", NULL, ring_close, NULL, NULL, NULL, napi_default, NULL },
		{ "tcxAttach", NULL, tcx_attach, NULL, NULL, NULL, napi_default, NULL },
		{ "tcxDetach", NULL, tcx_detach, NULL, NULL, NULL, napi_default, NULL },
		{ "netnsAddresses", NULL, netns_addresses, NULL, NULL, NULL, napi_default, NULL },
		{ "listenInNetns", NULL, listen_in_netns, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
