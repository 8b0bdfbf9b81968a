/* A process tree that holds one of many kinds of kernel objects, so that
 * its dump has many kinds of images: pipes with data, a FIFO, socket pairs
 * with queued data, a listening unix socket, a pty, a deleted (ghost) file,
 * a memfd, eventfd, signalfd, timerfd, inotify, epoll, a file lock,
 * interval and POSIX timers, SysV shared memory, semaphores and a message
 * queue (in its own IPC namespace when started under unshare), a child,
 * a thread and a queued signal.
 *
 * With --tcp (run it in a new network namespace): loopback TCP and UDP
 * sockets over IPv4 and IPv6 instead, with data queued both ways.
 *
 * With --zombie: a child that has exited and is never waited for (a
 * zombie in the dump), then a live child after it in the tree.
 *
 * Usage: workload [--tcp|--zombie] DIR  (scratch files go to DIR; prints
 * "ready PID" and sleeps until killed or dumped). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_ether.h>

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* Loopback up, then a connected TCP pair with unread data each way, and a
 * bound UDP socket, for AF (AF_INET or AF_INET6). */
static void tcp(int af)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	int l = socket(af, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)&ss, &len) < 0)
		die("tcp listen");
	int c = socket(af, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, len) < 0)
		die("tcp connect");
	int a = accept(l, NULL, NULL);
	if (a < 0 || write(c, "to server", 9) != 9 || write(a, "to client!", 10) != 10)
		die("tcp data");
	int u = socket(af, SOCK_DGRAM, 0);
	if (af == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	if (u < 0 || bind(u, (struct sockaddr *)&ss, len) < 0)
		die("udp");
}

/* Tells the test the tree is complete, then waits to be dumped. */
static void __attribute__((noreturn)) ready(void)
{
	printf("ready %d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	char path[4096];
	int p[2], sp[2], dg[2];

	if (argc == 3 && strcmp(argv[1], "--tcp") == 0) {
		setsid();
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct ifreq ifr = { 0 };
		strcpy(ifr.ifr_name, "lo");
		if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			die("lo flags");
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			die("lo up");
		close(s);
		tcp(AF_INET);
		tcp(AF_INET6);
		/* A bound netlink socket and a raw packet socket. */
		int nl = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
		struct sockaddr_nl nla = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
		if (nl < 0 || bind(nl, (struct sockaddr *)&nla, sizeof(nla)) < 0)
			die("netlink");
		if (socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) < 0)
			die("packet");
		ready();
	}
	if (argc == 3 && strcmp(argv[1], "--zombie") == 0) {
		setsid();
		pid_t dead = fork();
		if (dead < 0)
			die("fork");
		if (dead == 0)
			_exit(7);
		/* Ready only once it is a zombie; WNOWAIT leaves it one. */
		siginfo_t si;
		if (waitid(P_PID, dead, &si, WEXITED | WNOWAIT) < 0)
			die("waitid");
		pid_t live = fork();
		if (live < 0)
			die("fork");
		if (live == 0)
			for (;;)
				pause();
		ready();
	}
	if (argc != 2)
		return 2;
	setsid();

	if (pipe(p) < 0 || write(p[1], "pipe data", 9) != 9)
		die("pipe");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || write(sp[0], "stream", 6) != 6)
		die("socketpair");
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0 || write(dg[0], "datagram", 8) != 8)
		die("socketpair dgram");

	int lsk = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/listen.sock", argv[1]);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lsk, 4) < 0)
		die("listen");
	int abstract = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un abs_addr = { .sun_family = AF_UNIX };
	memcpy(abs_addr.sun_path, "\0criu-image-test", 16);
	if (abstract < 0 || bind(abstract, (struct sockaddr *)&abs_addr, offsetof(struct sockaddr_un, sun_path) + 16) < 0)
		die("abstract");

	int master, slave;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0 || write(master, "typed\n", 6) != 6)
		die("openpty");

	snprintf(path, sizeof(path), "%s/ghost", argv[1]);
	int ghost = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (ghost < 0 || write(ghost, "ghost contents\n", 15) != 15 || unlink(path) < 0)
		die("ghost");

	snprintf(path, sizeof(path), "%s/fifo", argv[1]);
	if (mkfifo(path, 0600) < 0)
		die("mkfifo");
	int fifo = open(path, O_RDWR);
	if (fifo < 0 || write(fifo, "fifo data", 9) != 9)
		die("fifo");

	snprintf(path, sizeof(path), "%s/locked", argv[1]);
	int locked = open(path, O_RDWR | O_CREAT, 0600);
	if (locked < 0 || flock(locked, LOCK_EX) < 0)
		die("flock");

	int mfd = memfd_create("criu-image-memfd", MFD_ALLOW_SEALING);
	if (mfd < 0 || ftruncate(mfd, 4096) < 0 || fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		die("memfd");
	char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (shared == MAP_FAILED)
		die("mmap memfd");
	strcpy(shared, "memfd page");

	char *anon = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		die("mmap anon");
	for (int i = 0; i < 8; i += 2)
		anon[i * 4096] = 'a' + i;
	char *shanon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shanon == MAP_FAILED)
		die("mmap shared anon");
	shanon[0] = 's';

	int efd = eventfd(5, EFD_NONBLOCK);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { .it_interval = { 100, 0 }, .it_value = { 100, 0 } };
	int ifd = inotify_init1(IN_NONBLOCK);
	int epfd = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
	if (efd < 0 || sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 || ifd < 0 ||
	    inotify_add_watch(ifd, argv[1], IN_CREATE | IN_DELETE) < 0 || epfd < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, p[0], &ev) < 0)
		die("fd kinds");

	struct itimerval itv = { .it_interval = { 200, 0 }, .it_value = { 200, 0 } };
	if (setitimer(ITIMER_REAL, &itv, NULL) < 0)
		die("setitimer");
	signal(SIGALRM, SIG_IGN);
	timer_t timer;
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	signal(SIGUSR1, SIG_IGN);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0 || timer_settime(timer, 0, &its, NULL) < 0)
		die("timer_create");
	/* Blocked: they stay queued, one for the process, one for the thread. */
	kill(getpid(), SIGUSR2);
	raise(SIGUSR2);

	/* SysV IPC: in a private IPC namespace these are dumped with it. */
	int shmid = shmget(IPC_PRIVATE, 5000, IPC_CREAT | 0600);
	char *shm = shmid < 0 ? NULL : shmat(shmid, NULL, 0);
	if (shm == NULL || shm == (void *)-1)
		die("shm");
	strcpy(shm, "sysv shm");
	int semid = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	unsigned short vals[3] = { 1, 2, 3 };
	if (semid < 0 || semctl(semid, 0, SETALL, vals) < 0)
		die("sem");
	int msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	struct {
		long mtype;
		char mtext[16];
	} msg = { 7, "queued message" };
	if (msqid < 0 || msgsnd(msqid, &msg, 15, 0) < 0 || msgsnd(msqid, &msg, 5, 0) < 0)
		die("msg");

	pthread_t th;
	if (pthread_create(&th, NULL, idle, NULL) != 0)
		die("pthread");

	pid_t kid = fork();
	if (kid < 0)
		die("fork");
	if (kid == 0) {
		close(p[1]);
		for (;;)
			pause();
	}

	ready();
}
