/*
 * fake-criu: a stand-in for `criu swrk <fd>` that misbehaves on purpose.
 *
 * libcriu starts its service binary as `<path> swrk <fd>` and passes nothing
 * else, so the behaviour is chosen by the name the fake runs under (the last
 * part of argv[0]); the runners make one symlink per mode. It speaks just
 * enough of criu's RPC to be believable, with protobuf encoded by hand so it
 * needs no library and starts in about a millisecond (the hygiene test runs
 * it a thousand times).
 *
 * Modes (all but "exit-early" first read one request):
 *   ok, criu     answer every request as a successful criu 3.19.7 would
 *                (so its version, 31907, is told apart from a real criu's)
 *   fail         success = false, cr_errno 95, cr_errmsg "fake failure"
 *   garbage      bytes that are no protobuf
 *   truncated    a valid answer cut in half
 *   oversized    a packet of 1 MiB + 1 byte (over the library's limit)
 *   at-limit     a valid failure answer of exactly 1 MiB (still accepted)
 *   wrong-type   a DUMP answer, whatever was asked
 *   unsupported  type EMPTY with success = false: criu's "unknown request"
 *   bare         success, but without the payload the request needs
 *   empty-packet a zero-length packet
 *   silent       never answers, and ignores the socket closing
 *   slow         answers after 300 ms
 *   die          SIGKILLs itself after reading the request
 *   exit-early   exits before reading anything
 *   notify-die   sends a pre-dump notification, reads the ack, SIGKILLs itself
 *   fds          the answer carries a descriptor (SCM_RIGHTS)
 *   many-fds     the answer carries 3 descriptors (criu never sends more than 1)
 *   stray-fd     a pre-dump notification carrying a descriptor, then the answer
 *   linger       answers, then never exits (ignores the socket closing)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { EMPTY = 0, DUMP = 1, RESTORE = 2, NOTIFY = 6, FEATURE_CHECK = 9, VERSION = 10 };
#define MIB (1 << 20)

static int sk;
static unsigned char out[MIB + 64];
static size_t len;

static void byte(unsigned v) { out[len++] = v; }

static void varint(unsigned long v)
{
	while (v >= 0x80) {
		byte((v & 0x7f) | 0x80);
		v >>= 7;
	}
	byte(v);
}

static void field_varint(int field, unsigned long v) { varint(field << 3); varint(v); }

static void field_bytes(int field, const void *data, size_t n)
{
	varint(field << 3 | 2);
	varint(n);
	memcpy(out + len, data, n);
	len += n;
}

static void head(int type, int success)
{
	len = 0;
	field_varint(1, type);
	field_varint(2, success);
}

/* The successful answer to `type`, with the payload criu would add. */
static void answer(int type)
{
	unsigned char inner[16];
	size_t n = 0;

	head(type, 1);
	switch (type) {
	case VERSION: /* major 3, minor 19, sublevel 7 */
		memcpy(inner, "\x08\x03\x10\x13\x20\x07", n = 6);
		field_bytes(10, inner, n);
		break;
	case FEATURE_CHECK: /* every feature available */
		memcpy(inner, "\x08\x01\x10\x01\x18\x01", n = 6);
		field_bytes(8, inner, n);
		break;
	case RESTORE: /* restored pid 4242 */
		memcpy(inner, "\x08\x92\x21", n = 3);
		field_bytes(4, inner, n);
		break;
	}
}

static void failure(int type, size_t total)
{
	static char msg[MIB];

	head(type, 0);
	field_varint(7, 95);
	if (!total) {
		field_bytes(9, "fake failure", 12);
		return;
	}
	/* Pad the message so that the whole answer is exactly `total` bytes
	 * (field 9 costs a 1-byte tag and a 3-byte length on top). */
	memset(msg, 'x', sizeof(msg));
	field_bytes(9, msg, total - len - 1 - 3);
}

static void notification(const char *script)
{
	unsigned char inner[64];
	size_t n = strlen(script);

	head(NOTIFY, 1);
	inner[0] = 0x0a;
	inner[1] = n;
	memcpy(inner + 2, script, n);
	memcpy(inner + 2 + n, "\x10\x92\x21", 3); /* pid 4242 */
	field_bytes(5, inner, n + 5);
}

/* Send out[0..len), with `nfds` descriptors of /dev/null attached. */
static void send_out(int nfds)
{
	struct iovec iov = { out, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	char control[CMSG_SPACE(sizeof(int) * 8)];
	int i;

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = control;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		for (i = 0; i < nfds; i++) {
			int fd = open("/dev/null", O_RDONLY);
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
		}
	}
	if (sendmsg(sk, &mh, MSG_NOSIGNAL) < 0)
		perror("fake-criu: sendmsg");
}

/* Read one request; its type, or -1 at EOF. */
static int request(void)
{
	static unsigned char in[4 * MIB];
	ssize_t n = recv(sk, in, sizeof(in), 0);

	if (n <= 0)
		return -1;
	return n >= 2 && in[0] == 0x08 ? in[1] : EMPTY;
}

static void forever(void)
{
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	const char *mode = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int type;

	if (argc != 3 || strcmp(argv[1], "swrk")) {
		fprintf(stderr, "usage: %s swrk <fd>\n", argv[0]);
		return 2;
	}
	sk = atoi(argv[2]);
	/* A library that hung up must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "exit-early"))
		return 0;

	while ((type = request()) >= 0) {
		if (!strcmp(mode, "ok") || !strcmp(mode, "criu")) {
			answer(type);
		} else if (!strcmp(mode, "fail")) {
			failure(type, 0);
		} else if (!strcmp(mode, "garbage")) {
			memset(out, 0xff, len = 64);
		} else if (!strcmp(mode, "truncated")) {
			answer(VERSION);
			len /= 2;
		} else if (!strcmp(mode, "oversized")) {
			int size = 8 * MIB;

			/* Root may raise the send buffer past the sysctl limit, which a
			 * packet this big needs. */
			setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
			memset(out, 0, len = MIB + 1);
		} else if (!strcmp(mode, "at-limit")) {
			int size = 8 * MIB;

			setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
			failure(type, MIB);
		} else if (!strcmp(mode, "wrong-type")) {
			answer(DUMP);
		} else if (!strcmp(mode, "unsupported")) {
			head(EMPTY, 0);
		} else if (!strcmp(mode, "bare")) {
			head(type, 1);
		} else if (!strcmp(mode, "empty-packet")) {
			len = 0;
		} else if (!strcmp(mode, "silent")) {
			forever();
		} else if (!strcmp(mode, "slow")) {
			usleep(300 * 1000);
			answer(type);
		} else if (!strcmp(mode, "die")) {
			raise(SIGKILL);
		} else if (!strcmp(mode, "notify-die")) {
			notification("pre-dump");
			send_out(0);
			request();
			raise(SIGKILL);
		} else if (!strcmp(mode, "fds")) {
			answer(type);
			send_out(1);
			continue;
		} else if (!strcmp(mode, "many-fds")) {
			answer(type);
			send_out(3);
			continue;
		} else if (!strcmp(mode, "stray-fd")) {
			notification("pre-dump");
			send_out(1);
			if (request() < 0)
				return 0;
			answer(type);
		} else if (!strcmp(mode, "linger")) {
			answer(type);
			send_out(0);
			forever();
		} else {
			fprintf(stderr, "fake-criu: unknown mode %s\n", mode);
			return 2;
		}
		send_out(0);
	}
	return 0;
}
