/* Loopback sockets for tests: free ports, blocking connects, and reads with
 * deadlines that tell a closed connection from a silent one. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net.h"
#include "parse.h"

/* Ports handed out in this run, so that two daemons never get the same one
 * even when the kernel offers a just-closed port again. */
static uint16_t it_used_ports[1024];
static size_t it_nused_ports;

/* --- sockets -------------------------------------------------------------- */

bool it_free_addr(it_ctx_t *t, char out[IT_ADDR_LEN])
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
            close(fd);
            break;
        }
        close(fd);
        uint16_t port = ntohs(sa.sin_port);
        bool used = false;
        for (size_t i = 0; i < it_nused_ports; i++)
            used = used || it_used_ports[i] == port;
        if (used)
            continue;
        if (it_nused_ports < sizeof it_used_ports / sizeof *it_used_ports)
            it_used_ports[it_nused_ports++] = port;
        snprintf(out, IT_ADDR_LEN, "127.0.0.1:%u", (unsigned)port);
        return true;
    }
    it_note(t, "cannot find a free loopback port: %s", strerror(errno));
    return false;
}

static bool it_sockaddr(it_ctx_t *t, const char *addr, struct sockaddr_in *sa)
{
    char host[64], err[SL_ERRMSG_LEN];
    uint16_t port;
    if (sl_parse_hostport(addr, host, sizeof host, &port, err) != SL_OK) {
        it_note(t, "%s", err);
        return false;
    }
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        it_note(t, "not an IPv4 address: '%s'", host);
        return false;
    }
    return true;
}

int it_connect(it_ctx_t *t, const char *addr)
{
    struct sockaddr_in sa;
    if (!it_sockaddr(t, addr, &sa))
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        it_note(t, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        it_note(t, "connect to %s: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct {
    it_ctx_t *t;
    const char *addr;
} it_listen_probe_t;

static bool it_listening_cond(void *arg)
{
    it_listen_probe_t *lp = arg;
    int fd = it_connect(lp->t, lp->addr);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

bool it_wait_listening(it_ctx_t *t, const char *addr, int deadline_ms)
{
    it_listen_probe_t lp = { t, addr };
    if (it_wait_until(it_listening_cond, &lp, deadline_ms))
        return true;
    char last[IT_MSG_LEN];
    snprintf(last, sizeof last, "%s", t->note);
    it_note(t, "nothing listens on %s after %d ms (%s)", addr, deadline_ms, last);
    return false;
}

bool it_send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* Waits until fd is readable or the absolute deadline passes. */
static bool it_wait_readable(int fd, uint64_t end)
{
    for (;;) {
        uint64_t now = it_now_ms();
        if (now >= end)
            return false;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = poll(&pfd, 1, (int)(end - now));
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return true;    /* let read() report the error */
    }
}

bool it_read_until_closed(int fd, int deadline_ms, uint8_t **buf, size_t *len, const char **how)
{
    const size_t limit = 1u << 20;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap + 1);
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    bool closed = false;
    *how = "deadline passed";
    while (b && it_wait_readable(fd, end)) {
        if (n == cap) {
            if (cap >= limit) {
                *how = "peer keeps sending";
                break;
            }
            uint8_t *nb = realloc(b, cap * 2 + 1);
            if (!nb)
                break;
            b = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, b + n, cap - n, 0);
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            *how = "eof";
            closed = true;
        } else if (errno == ECONNRESET) {
            *how = "reset";
            closed = true;
        } else {
            *how = strerror(errno);
        }
        break;
    }
    if (b)
        b[n] = 0;
    *buf = b;
    *len = n;
    return closed;
}

bool it_read_exact(int fd, void *buf, size_t n, int deadline_ms)
{
    uint8_t *p = buf;
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    while (n) {
        if (!it_wait_readable(fd, end))
            return false;
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

unsigned it_local_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    return ntohs(sa.sin_port);
}

