/* Shared server harness: listening socket, client process, mallinfo2 deltas.
 * A library program implements:
 *   void *lib_accept(int fd)        handshake (non-blocking fd, poll-driven),
 *                                   read "ping", write "pong", one more read
 *                                   that must report would-block; return the
 *                                   session handle.
 *   void lib_idle_tricks(void *s)   post-handshake shrinking (may be empty)
 *   void lib_pingpong2(void *s)     read "ping2", write "pong2",
 * read->wouldblock
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void hdie(const char *m) {
  fprintf(stderr, "server: %s (errno %d)\n", m, errno);
  exit(1);
}

static void wait_fd(int fd, short ev) {
  struct pollfd p = {.fd = fd, .events = ev};
  if (poll(&p, 1, 10000) != 1) hdie("poll timeout");
}

static size_t heap_in_use(void) {
  malloc_trim(0);
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd; /* hblkhd: mmapped chunks, normally 0 */
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char l[256];
  long v = -1;
  while (f && fgets(l, sizeof l, f))
    if (!strncmp(l, "VmRSS:", 6)) v = atol(l + 6);
  if (f) fclose(f);
  return v;
}

static int g_ver = 13;            /* 12 or 13 */
static const char *g_tricks = ""; /* library-specific, comma separated */
static int has_trick(const char *t) {
  const char *p = g_tricks;
  size_t l = strlen(t);
  while ((p = strstr(p, t))) {
    if ((p == g_tricks || p[-1] == ',') && (p[l] == 0 || p[l] == ',')) return 1;
    p += l;
  }
  return 0;
}

void *lib_accept(int fd);
void lib_idle_tricks(void *s);
void lib_pingpong2(void *s);
void lib_init(void);
/* writes all of buf with the library's non-blocking retry rules; returns how
 * many calls reported would-block and how many returned a short count */
void lib_bigwrite(void *s, const unsigned char *buf, size_t len,
                  int *wouldblock, int *partial);
const char *lib_name(void);

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  g_ver = argc > 2 ? atoi(argv[2]) : 13;
  g_tricks = argc > 3 ? argv[3] : "";
  const int warm = 20;
  struct rlimit rl = {8192, 8192};
  setrlimit(RLIMIT_NOFILE, &rl);
  signal(SIGPIPE, SIG_IGN);
  lib_init();

  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096))
    hdie("listen");
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);

  int to_client[2], from_client[2];
  if (pipe(to_client) || pipe(from_client)) hdie("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to_client[0], 0);
    dup2(from_client[1], 1);
    close(from_client[0]);
    close(to_client[1]);
    close(ls);
    char port[16], cnt[16], ver[8];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    snprintf(cnt, sizeof cnt, "%d", warm + n);
    snprintf(ver, sizeof ver, "%d", g_ver);
    const char *cl = getenv("TLSCLIENT") ? getenv("TLSCLIENT") : "./tlsclient";
    execl(cl, cl, port, cnt, ver, (char *)0);
    _exit(127);
  }
  close(to_client[0]);
  close(from_client[1]);

  void **ss = calloc(warm + n, sizeof *ss);
  long rss_before = 0;
  size_t before = 0, after_hs = 0, after_tricks = 0, after_reuse = 0;
  for (int i = 0; i < warm + n; i++) {
    if (i == warm) {
      for (int j = 0; j < warm; j++) lib_idle_tricks(ss[j]);
      before = heap_in_use();
      rss_before = rss_kib();
    }
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) hdie("accept");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (i == 0) { /* small kernel buffer so the 1 MiB write must block */
      int sb = 8192;
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
    }
    ss[i] = lib_accept(fd);
  }
  after_hs = heap_in_use();
  for (int i = warm; i < warm + n; i++) lib_idle_tricks(ss[i]);
  after_tricks = heap_in_use();
  long rss_after = rss_kib();
  /* usability: one more record each way on every session */
  if (write(to_client[1], "P\n", 2) != 2) hdie("ctl");
  for (int i = 0; i < warm + n; i++) lib_pingpong2(ss[i]);
  after_reuse = heap_in_use();
  /* partial writes on a non-blocking socket: 1 MiB to a client that waits */
  int wb = 0, pw = 0;
  {
    static unsigned char big[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
      big[i] = (unsigned char)(i * 7 + (i >> 12));
    if (write(to_client[1], "B\n", 2) != 2) hdie("ctl");
    lib_bigwrite(ss[0], big, sizeof big, &wb, &pw);
    char ok[8] = {0};
    if (read(from_client[0], ok, 3) != 3 || memcmp(ok, "ok\n", 3))
      hdie("big write not received intact");
  }
  close(to_client[1]);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) hdie("client failed");
  printf(
      "%-8s TLS1.%d N=%d tricks=%-40s idle=%7.0f  after_tricks=%7.0f  "
      "after_reuse=%7.0f B/session  rss_delta=%6.0f B/session  bigwrite: "
      "wouldblock=%d short=%d ok\n",
      lib_name(), g_ver == 12 ? 2 : 3, n, *g_tricks ? g_tricks : "-",
      (double)(after_hs - before) / n, (double)(after_tricks - before) / n,
      (double)(after_reuse - before) / n, (rss_after - rss_before) * 1024.0 / n,
      wb, pw);
  return 0;
}
