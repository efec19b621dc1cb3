/* The watcher load in C (issue 25 #3): raw WebSocket readers that measure the server, not
 * themselves. The same reading as ws_bench.py's RawWatcher, without a Python event loop:
 * one epoll loop, one read per ready socket, frames parsed in place, a state's seq read by a
 * scan of its first 64 bytes, the newest state's bytes kept (its price read at the end), a
 * state not newer than the one before counted as a duplicate.
 *
 *   watcher HOST TARGETS   (TARGETS: one "PORT PATH" line per watcher)
 *
 * Connects every watcher (at most 100 handshakes in flight, as the Python load), waits for
 * each one's first frame (its snapshot), prints "ready N", then reads its standard input:
 * "go" starts the CPU count, "stop" prints, per watcher in TARGETS order,
 *   "W <final price or null> <n>" and n lines "<seq> <epoch seconds>",
 * then "S <cpu seconds since go> <duplicates> <bytes>", and exits. A refused handshake, a
 * socket closed before its snapshot, no new snapshot for 60 s, a frame length RFC 6455 forbids
 * or the end of its standard input stop it with the reason on stderr and exit status 1. Built
 * by ws_bench.py with the machine's C compiler (cc -O2). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_FLIGHT 100
#define HEAD 64
#define ROOM 4096           /* the least free buffer a read is offered */
#define SNAPSHOT_WAIT_S 60  /* a watcher's snapshot must come within this, as raw_watch's */

typedef struct {
    int fd;
    int port;
    char *path;
    int state; /* 0 waiting, 1 connecting, 2 handshake sent, 3 open, 4 snapshot seen, 5 closed */
    unsigned char *buf;
    size_t len, cap;
    long long *seqs;
    double *times;
    size_t n, seq_cap;
    char *last; /* the newest state's bytes */
    size_t last_len;
    long long snapshot_price;
    int snapshot_price_null;
    long long duplicates;
    long long bytes;
} Conn;

static Conn *conns;
static int count;
static const char *host;
static int epfd;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "watcher: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void *grow(void *p, size_t size) {
    void *q = realloc(p, size);
    if (!q) die("out of memory", NULL);
    return q;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

/* The first `"key":<integer>` in [p, p+len): 1 and the value, 0 when absent or not an integer. */
static int scan_int(const unsigned char *p, size_t len, const char *key, long long *out) {
    size_t klen = strlen(key);
    const unsigned char *at = memmem(p, len, key, klen);
    if (!at) return 0;
    const unsigned char *q = at + klen, *end = p + len;
    if (q >= end || *q < '0' || *q > '9') return 0;
    long long v = 0;
    for (int digits = 0; q < end && *q >= '0' && *q <= '9'; digits++) {
        if (digits == 18) return 0; /* not a seq or a price in won */
        v = v * 10 + (*q++ - '0');
    }
    *out = v;
    return 1;
}

static void push_seq(Conn *c, long long seq, double t) {
    if (c->n == c->seq_cap) {
        c->seq_cap = c->seq_cap ? c->seq_cap * 2 : 256;
        c->seqs = grow(c->seqs, c->seq_cap * sizeof *c->seqs);
        c->times = grow(c->times, c->seq_cap * sizeof *c->times);
    }
    c->seqs[c->n] = seq;
    c->times[c->n] = t;
    c->n++;
}

static int ready_count;

static void text_frame(Conn *c, const unsigned char *p, size_t len, double t) {
    long long seq;
    if (c->state == 3) { /* the snapshot: its top-level seq and price come first */
        if (!scan_int(p, len, "\"seq\":", &seq)) die("a snapshot without a seq", c->path);
        c->snapshot_price_null = !scan_int(p, len, "\"current_price\":", &c->snapshot_price);
        push_seq(c, seq, t);
        c->state = 4;
        ready_count++;
        return;
    }
    static const char state[] = "{\"type\":\"state\"";
    size_t head = len < HEAD ? len : HEAD;
    if (head < sizeof state - 1 || memcmp(p, state, sizeof state - 1) != 0) return;
    if (!scan_int(p, head, "\"seq\":", &seq)) return;
    if (c->n && seq <= c->seqs[c->n - 1]) {
        c->duplicates++;
        return;
    }
    push_seq(c, seq, t);
    c->last = grow(c->last, len ? len : 1);
    memcpy(c->last, p, len);
    c->last_len = len;
}

/* Parse the complete frames in c->buf, keep the rest. */
static void frames(Conn *c, double t) {
    size_t pos = 0;
    while (c->len - pos >= 2) {
        const unsigned char *b = c->buf + pos;
        uint64_t length = b[1] & 0x7F;
        size_t start = 2;
        if (length == 126) {
            if (c->len - pos < 4) break;
            length = ((uint64_t)b[2] << 8) | b[3];
            start = 4;
        } else if (length == 127) {
            if (c->len - pos < 10) break;
            length = 0;
            for (int i = 2; i < 10; i++) length = (length << 8) | b[i];
            if (length >> 63) die("a frame length with its top bit set", c->path); /* RFC 6455 5.2 */
            start = 10;
        }
        if (length > c->len - pos - start) break; /* the rest of the frame is still to come */
        if ((b[0] & 0x0F) == 1) text_frame(c, b + start, (size_t)length, t);
        pos += start + length;
    }
    if (pos) {
        memmove(c->buf, c->buf + pos, c->len - pos);
        c->len -= pos;
    }
}

static int next_to_connect;
static int in_flight;

static void start_connect(Conn *c) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("not an IPv4 address", host);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        die("connect", strerror(errno));
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl", strerror(errno));
    c->state = 1;
    in_flight++;
}

static void connect_more(void) {
    while (in_flight < IN_FLIGHT && next_to_connect < count) start_connect(&conns[next_to_connect++]);
}

static void send_handshake(Conn *c) {
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err) die("connect", strerror(err));
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Origin: http://%s:%d\r\n\r\n",
                     c->path, host, c->port, host, c->port);
    if (n <= 0 || n >= (int)sizeof req) die("a path too long", c->path);
    if (send(c->fd, req, n, MSG_NOSIGNAL) != n) die("the handshake did not go out in one write", c->path);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - conns)};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = 2;
}

/* One read per ready socket (the epoll is level-triggered: what is left wakes it again). */
static void readable(Conn *c) {
    if (c->cap - c->len < ROOM) { /* a long frame still coming, or the first read */
        c->cap = c->cap ? c->cap * 2 : 4 * ROOM;
        c->buf = grow(c->buf, c->cap);
    }
    ssize_t got = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (got <= 0) { /* closed, or reset */
        if (c->state < 4) die("closed before the snapshot", c->path);
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->state = 5;
        return;
    }
    double t = now_s();
    c->bytes += got;
    c->len += (size_t)got;
    if (c->state == 2) {
        unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return;
        if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0) {
            *end = 0;
            die("refused", (char *)c->buf);
        }
        size_t used = (size_t)(end - c->buf) + 4;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        c->state = 3;
    }
    int was = c->state;
    frames(c, t);
    if (was == 3 && c->state == 4) {
        in_flight--;
        connect_more();
    }
}

static void report(double cpu) {
    long long duplicates = 0, bytes = 0;
    for (int i = 0; i < count; i++) {
        Conn *c = &conns[i];
        long long price;
        int has = c->last ? scan_int((unsigned char *)c->last, c->last_len, "\"current_price\":", &price)
                          : !c->snapshot_price_null;
        if (!c->last) price = c->snapshot_price;
        if (has)
            printf("W %lld %zu\n", price, c->n);
        else
            printf("W null %zu\n", c->n);
        for (size_t k = 0; k < c->n; k++) printf("%lld %.6f\n", c->seqs[k], c->times[k]);
        duplicates += c->duplicates;
        bytes += c->bytes;
    }
    printf("S %.3f %lld %lld\n", cpu, duplicates, bytes);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage: watcher HOST TARGETS", NULL);
    host = argv[1];
    FILE *f = fopen(argv[2], "r");
    if (!f) die("cannot open", argv[2]);
    int cap = 0, port;
    char path[900];
    while (fscanf(f, "%d %899s", &port, path) == 2) {
        if (count == cap) {
            cap = cap ? cap * 2 : 1024;
            conns = grow(conns, cap * sizeof *conns);
        }
        conns[count] = (Conn){.fd = -1, .port = port, .path = strdup(path)};
        count++;
    }
    fclose(f);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1", strerror(errno));
    signal(SIGPIPE, SIG_IGN); /* a peer gone: its write fails, the watcher goes on */
    struct epoll_event in = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in);
    connect_more();
    int announced = 0, last_ready = -1;
    double cpu0 = 0, progress_at = now_s();
    char control[256];
    size_t control_len = 0;
    struct epoll_event events[512];
    for (;;) {
        if (!announced && ready_count == count) {
            printf("ready %d\n", count);
            fflush(stdout);
            announced = 1;
        }
        int n = epoll_wait(epfd, events, 512, announced ? -1 : 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait", strerror(errno));
        }
        if (!announced) { /* every snapshot within SNAPSHOT_WAIT_S of the last one that came */
            double now = now_s();
            if (ready_count != last_ready) last_ready = ready_count, progress_at = now;
            if (now - progress_at > SNAPSHOT_WAIT_S) {
                for (int i = 0; i < count; i++)
                    if (conns[i].state < 4) die("no snapshot within 60 s", conns[i].path);
            }
        }
        for (int i = 0; i < n; i++) {
            uint32_t id = events[i].data.u32;
            if (id == UINT32_MAX) {
                if (control_len == sizeof control - 1) control_len = 0; /* no command is this long */
                ssize_t got = read(0, control + control_len, sizeof control - 1 - control_len);
                if (got == 0) die("the parent went away (end of the standard input)", NULL);
                if (got < 0) continue;
                control_len += (size_t)got;
                control[control_len] = 0;
                char *line;
                while ((line = memchr(control, '\n', control_len))) {
                    *line = 0;
                    if (strcmp(control, "go") == 0) cpu0 = cpu_s();
                    if (strcmp(control, "stop") == 0) {
                        report(cpu_s() - cpu0);
                        return 0;
                    }
                    size_t used = (size_t)(line - control) + 1;
                    memmove(control, control + used, control_len - used);
                    control_len -= used;
                }
                continue;
            }
            Conn *c = &conns[id];
            if (c->state == 1)
                send_handshake(c);
            else if (c->state >= 2 && c->state < 5)
                readable(c);
        }
    }
}
