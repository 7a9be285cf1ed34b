/* bad_input: malformed bytes, frames and handshakes sent to the master's and
 * a worker's protocol port, each on its own connection. Every time the daemon
 * must close that connection (with a Reject saying why when it can), keep
 * running, log the error against the connection's peer address, and keep
 * serving the cluster. Frames are built with the common library, except
 * where the point is that they are not valid. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "cluster.h"
#include "frame.h"
#include "handshake.h"
#include "msg.h"
#include "tests.h"

/* One bad input. `send` writes it to a fresh connection (doing a valid
 * handshake first when the case needs one); the daemon must then close the
 * connection and log a line naming our port and one of `log_words`; when
 * reject_words[0] is set a Reject must arrive first, its reason containing
 * every one of them. */
typedef struct {
    const char *name;
    bool (*send)(it_ctx_t *t, int fd);
    const char *log_words[4];
    const char *reject_words[3];
} it_bad_case_t;

/* --- frames ---------------------------------------------------------------- */

static bool it_send_checked(it_ctx_t *t, int fd, const void *buf, size_t len)
{
    if (it_send_all(fd, buf, len))
        return true;
    it_note(t, "send: %s", strerror(errno));
    return false;
}

static bool it_send_env(it_ctx_t *t, int fd, const Sluice__Envelope *env)
{
    uint8_t *frame;
    size_t len;
    sl_status_t st = sl_msg_encode(env, NULL, 0, SL_FRAME_MAX_DEFAULT, &frame, &len);
    if (st != SL_OK) {
        it_note(t, "sl_msg_encode: %s", sl_strerror(st));
        return false;
    }
    bool ok = it_send_all(fd, frame, len);
    free(frame);
    if (!ok)
        it_note(t, "send: %s", strerror(errno));
    return ok;
}

/* Sends a frame whose header is exactly `hdr`. */
static bool it_send_raw_header(it_ctx_t *t, int fd, const uint8_t *hdr, size_t hlen)
{
    uint8_t prefix[SL_FRAME_PREFIX_LEN];
    if (sl_frame_prefix(prefix, hlen, 0, SL_FRAME_MAX_DEFAULT) != SL_OK) {
        it_note(t, "sl_frame_prefix refused %zu bytes", hlen);
        return false;
    }
    return it_send_checked(t, fd, prefix, sizeof prefix) && it_send_checked(t, fd, hdr, hlen);
}

/* Reads one frame and decodes it; caller sl_msg_free()s *out. */
static bool it_recv_env(it_ctx_t *t, int fd, Sluice__Envelope **out)
{
    uint8_t prefix[SL_FRAME_PREFIX_LEN];
    size_t flen;
    char err[SL_ERRMSG_LEN];
    if (!it_read_exact(fd, prefix, sizeof prefix, IT_DEADLINE_MS)) {
        it_note(t, "no frame from the daemon within %d ms", IT_DEADLINE_MS);
        return false;
    }
    if (sl_frame_peek(prefix, sizeof prefix, SL_FRAME_MAX_DEFAULT, &flen, err) != SL_OK) {
        it_note(t, "the daemon sent a bad frame prefix: %s", err);
        return false;
    }
    uint8_t *frame = malloc(flen);
    sl_frame_view_t v;
    bool ok = frame != NULL;
    if (ok) {
        memcpy(frame, prefix, sizeof prefix);
        ok = it_read_exact(fd, frame + sizeof prefix, flen - sizeof prefix, IT_DEADLINE_MS) &&
             sl_frame_split(frame, flen, &v) == SL_OK &&
             sl_msg_decode(v.header, v.header_len, out, err) == SL_OK;
    }
    free(frame);
    if (!ok)
        it_note(t, "could not read a whole valid frame from the daemon");
    return ok;
}

/* A client handshake that must end in Welcome (the daemons run open here). */
static bool it_handshake(it_ctx_t *t, int fd)
{
    sl_handshake_t hs;
    sl_hs_out_t out;
    sl_hs_init(&hs, false, NULL, SLUICE__ROLE__ROLE_CLIENT, "it-badinput");
    if (sl_hs_start(&hs, &out) != SL_OK || !it_send_env(t, fd, &out.env))
        return false;
    while (hs.state != SL_HS_DONE) {
        Sluice__Envelope *env;
        if (!it_recv_env(t, fd, &env))
            return false;
        sl_status_t st = sl_hs_step(&hs, env, &out);
        sl_msg_free(env);
        if (st != SL_OK) {
            it_note(t, "valid handshake refused: %s", hs.error);
            return false;
        }
        if (out.has_msg && !it_send_env(t, fd, &out.env))
            return false;
    }
    return true;
}

/* --- the cases ----------------------------------------------------------- */

/* xorshift32: the same "random" bytes on every machine. */
static void it_random_bytes(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

#define IT_RANDOM_SEED 0x5eed1234u
#define IT_RANDOM_LEN 256

static bool it_send_random(it_ctx_t *t, int fd)
{
    uint8_t buf[IT_RANDOM_LEN];
    it_random_bytes(buf, sizeof buf, IT_RANDOM_SEED);
    return it_send_checked(t, fd, buf, sizeof buf);
}

static bool it_send_huge_length(it_ctx_t *t, int fd)
{
    static const uint8_t prefix[SL_FRAME_PREFIX_LEN] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1 };
    return it_send_checked(t, fd, prefix, sizeof prefix);
}

static bool it_send_truncated(it_ctx_t *t, int fd)
{
    /* Promises 100 bytes after the length, delivers 10, then no more. */
    static const uint8_t part[SL_FRAME_PREFIX_LEN + 2] = { 0, 0, 0, 100, 0, 0, 0, 10, 0x0a, 0x00 };
    if (!it_send_checked(t, fd, part, sizeof part))
        return false;
    if (shutdown(fd, SHUT_WR) != 0) {
        it_note(t, "shutdown: %s", strerror(errno));
        return false;
    }
    return true;
}

/* Field 1 with wire type 7, which does not exist, then junk. */
static const uint8_t it_garbage_header[] = { 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };

static bool it_send_garbage_header(it_ctx_t *t, int fd)
{
    return it_send_raw_header(t, fd, it_garbage_header, sizeof it_garbage_header);
}

/* A well-formed Envelope whose only field is number 99 (length-delimited,
 * empty): what a newer peer's unknown message type looks like. */
static const uint8_t it_unknown_type_header[] = { 0x9a, 0x06, 0x00 };

static bool it_send_unknown_type(it_ctx_t *t, int fd)
{
    return it_handshake(t, fd) &&
           it_send_raw_header(t, fd, it_unknown_type_header, sizeof it_unknown_type_header);
}

static bool it_send_hello_v(it_ctx_t *t, int fd, uint32_t version)
{
    static const uint8_t nonce[SL_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    Sluice__Envelope env = SLUICE__ENVELOPE__INIT;
    Sluice__Hello hello = SLUICE__HELLO__INIT;
    hello.protocol_version = version;
    hello.role = SLUICE__ROLE__ROLE_CLIENT;
    hello.node_name = "it-badinput";
    hello.client_nonce.data = (uint8_t *)nonce;
    hello.client_nonce.len = sizeof nonce;
    env.body_case = SLUICE__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    return it_send_env(t, fd, &env);
}

static bool it_send_version_99(it_ctx_t *t, int fd)
{
    return it_send_hello_v(t, fd, 99);
}

static bool it_send_second_hello(it_ctx_t *t, int fd)
{
    return it_handshake(t, fd) && it_send_hello_v(t, fd, SL_PROTOCOL_VERSION);
}

static const it_bad_case_t it_bad_cases[] = {
    { "random bytes", it_send_random, { NULL }, { NULL } },     /* see it_random_case */
    { "length 2^32-1", it_send_huge_length, { "frame too large" }, { "too large" } },
    { "truncated frame", it_send_truncated,
      { "closed", "truncated", "incomplete", "eof" }, { NULL } },
    { "garbage protobuf header", it_send_garbage_header, { "invalid protobuf" }, { "invalid" } },
    { "unknown message type", it_send_unknown_type, { "unknown message type" }, { "unknown" } },
    { "hello with protocol_version 99", it_send_version_99, { "version" }, { "version", "99" } },
    { "handshake message after the handshake", it_send_second_hello, { "hello", "handshake" },
      { "hello" } },
};

/* What the daemon must log for the random bytes follows from their first
 * eight bytes, read as a frame prefix. */
static void it_random_case(it_bad_case_t *c)
{
    uint8_t buf[IT_RANDOM_LEN];
    size_t flen;
    it_random_bytes(buf, sizeof buf, IT_RANDOM_SEED);
    switch (sl_frame_peek(buf, sizeof buf, SL_FRAME_MAX_DEFAULT, &flen, NULL)) {
    case SL_ERR_FRAME_TOO_LARGE:
        c->log_words[0] = "frame too large";
        c->reject_words[0] = "too large";
        break;
    case SL_ERR_FRAME_MALFORMED:
        c->log_words[0] = "malformed";
        c->reject_words[0] = "malformed";
        break;
    default:
        /* A plausible prefix: then the header bytes are protobuf garbage. */
        c->log_words[0] = "invalid protobuf";
        c->reject_words[0] = "invalid";
        break;
    }
}

/* --- checking one case ------------------------------------------------------- */

/* Finds a Reject among the frames in buf; its reason into reason. */
static bool it_find_reject(const uint8_t *buf, size_t len, char *reason, size_t rlen)
{
    size_t off = 0, flen;
    while (len - off >= SL_FRAME_PREFIX_LEN &&
           sl_frame_peek(buf + off, len - off, SL_FRAME_MAX_DEFAULT, &flen, NULL) == SL_OK &&
           flen <= len - off) {
        sl_frame_view_t v;
        Sluice__Envelope *env = NULL;
        if (sl_frame_split(buf + off, flen, &v) == SL_OK &&
            sl_msg_decode(v.header, v.header_len, &env, NULL) == SL_OK) {
            bool rej = env->body_case == SLUICE__ENVELOPE__BODY_REJECT;
            if (rej)
                snprintf(reason, rlen, "%s", env->reject->reason ? env->reject->reason : "");
            sl_msg_free(env);
            if (rej)
                return true;
        }
        off += flen;
    }
    return false;
}

typedef struct {
    const it_proc_t *proc;
    char port[32];
    const char *const *words;
    const char *found;
} it_log_wait_t;

static bool it_log_line_cond(void *arg)
{
    it_log_wait_t *lw = arg;
    for (size_t i = 0; i < 4 && lw->words[i]; i++)
        if (it_log_has(lw->proc, lw->port, lw->words[i])) {
            lw->found = lw->words[i];
            return true;
        }
    return false;
}

static void it_bad_case(it_ctx_t *t, const it_bad_case_t *c, const char *target, const char *addr,
                        it_proc_t *daemon)
{
    int fd = it_connect(t, addr);
    IT_CHECK(t, fd >= 0, "[%s, %s] connect to %s", c->name, target, addr);
    unsigned port = it_local_port(fd);
    bool sent = c->send(t, fd);
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *how = "";
    bool closed = sent && it_read_until_closed(fd, IT_DEADLINE_MS, &buf, &len, &how);
    close(fd);
    char reason[512] = "";
    bool rejected = closed && it_find_reject(buf, len, reason, sizeof reason);
    free(buf);
    IT_CHECK(t, sent, "[%s, %s] could not send the input", c->name, target);
    IT_CHECK(t, closed, "[%s, %s] connection not closed by the daemon within %d ms (%s)", c->name,
             target, IT_DEADLINE_MS, how);
    IT_CHECK(t, it_proc_alive(daemon), "[%s, %s] the daemon died", c->name, target);
    if (c->reject_words[0])
        IT_CHECK(t, rejected, "[%s, %s] no Reject before the close (%zu bytes received)", c->name,
                 target, len);
    for (size_t i = 0; i < 3 && c->reject_words[i]; i++)
        IT_CHECK(t, strstr(reason, c->reject_words[i]) != NULL,
                 "[%s, %s] Reject reason '%s' does not mention '%s'", c->name, target, reason,
                 c->reject_words[i]);
    it_log_wait_t lw = { daemon, "", c->log_words, NULL };
    snprintf(lw.port, sizeof lw.port, "127.0.0.1:%u", port);
    IT_CHECK(t, it_wait_until(it_log_line_cond, &lw, IT_DEADLINE_MS),
             "[%s, %s] %s's log has no line naming the peer %s and '%s'%s", c->name, target,
             daemon->name, lw.port, c->log_words[0], c->log_words[1] ? " (or similar)" : "");
}

void it_test_bad_input(it_ctx_t *t)
{
    /* The hand-made headers must be what they claim, or the test proves nothing. */
    Sluice__Envelope *env = NULL;
    IT_CHECK(t, sl_msg_decode(it_garbage_header, sizeof it_garbage_header, &env, NULL) ==
                    SL_ERR_DECODE, "the garbage header must not decode");
    IT_CHECK(t, sl_msg_decode(it_unknown_type_header, sizeof it_unknown_type_header, &env, NULL) ==
                    SL_ERR_UNKNOWN_MESSAGE, "the field-99 header must be an unknown message type");

    it_master_t m = { 0 };
    it_worker_t w1 = { .cores = 2, .memory = "512M", .memory_bytes = 512ull << 20 };
    it_worker_t w2 = { .cores = 4, .memory = "1G", .memory_bytes = 1ull << 30 };
    IT_CHECK(t, it_master_start(t, &m), "start master");
    IT_CHECK(t, it_worker_start(t, &w1, "worker1", &m), "start worker1");
    IT_CHECK(t, it_worker_start(t, &w2, "worker2", &m), "start worker2");
    it_worker_t *const ws[] = { &w1, &w2 };
    IT_CHECK(t, it_wait_alive(t, &m, NULL, ws, 2, IT_DEADLINE_MS), "workers alive");
    IT_CHECK(t, it_wait_listening(t, w1.listen, IT_DEADLINE_MS), "worker1 listens");

    struct {
        const char *what;
        const char *addr;
        it_proc_t *proc;
    } targets[] = { { "master", m.listen, m.proc }, { "worker1", w1.listen, w1.proc } };
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof it_bad_cases / sizeof *it_bad_cases; i++) {
            it_bad_case_t c = it_bad_cases[i];
            if (i == 0)
                it_random_case(&c);
            it_bad_case(t, &c, targets[k].what, targets[k].addr, targets[k].proc);
            if (t->failed)
                return;
        }
    }

    /* Nothing of that disturbed the cluster. */
    json_t *st = it_status(t, &m, NULL, NULL);
    IT_CHECK(t, st != NULL, "sluice status --json after the bad input");
    bool alive = it_worker_in_state(st, w1.id, "alive") && it_worker_in_state(st, w2.id, "alive");
    long long r1 = it_jint(it_status_worker(st, w1.id), "registrations");
    long long r2 = it_jint(it_status_worker(st, w2.id), "registrations");
    json_decref(st);
    IT_CHECK(t, alive, "both workers still alive");
    IT_CHECK(t, r1 == 1 && r2 == 1, "workers registered once each, got %lld and %lld", r1, r2);
    IT_CHECK(t, it_proc_alive(m.proc) && it_proc_alive(w1.proc) && it_proc_alive(w2.proc),
             "all daemons running");
}
