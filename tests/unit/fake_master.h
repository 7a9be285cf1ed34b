/* A stand-in master and worker for the client-library tests (test_client.c):
 * a thread with its own event loop behind loopback listeners, speaking the
 * real protocol with canned replies, so client/ can be tested without
 * daemons. It records what it was pushed and asked, and can hold acks back,
 * drop a connection, answer late, refuse as a standby or restart. */
#ifndef SL_FAKE_MASTER_H
#define SL_FAKE_MASTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include "client/sluice.h"
#include "conn.h"
#include "daemon.h"

#define FAKE_MAX_CONNS 64
#define FAKE_MAX_HELD 256
#define FAKE_MAX_SEQ 4096

/* The reason a standby master refuses clients with. */
#define FAKE_STANDBY "this master is a standby; the active master is master-a"

/* A push whose ack is held back (hold_acks). */
typedef struct {
    sl_conn_t *conn;
    uint64_t request_id;
    uint64_t records;
    bool duplicate;
} fake_held_t;

/* Tests set the behaviour fields between fake_start() and fake_run(), and read
 * what the fake saw under `mu` once it runs. The rest is the fake's own. */
typedef struct {
    /* Fixed by fake_start(): the active master, the worker, an address nobody
     * listens on, and a master that is always a standby. */
    char master_addr[64], worker_addr[64], dead_addr[64], standby_addr[64];

    /* behaviour */
    const char *locate_addr;        /* what LocateStream answers (borrowed); worker_addr;
                                       may change under mu while running */
    int drop_after;                 /* close a worker connection at this push (once) */
    bool hold_acks;                 /* ack from a timer, newest first */
    uint64_t release_ms;            /* that timer; 20 */
    uint64_t bounce_down_ms;        /* a bounce keeps the master listener away this long */
    uint64_t standby_ms;            /* after a bounce, refuse clients this long (a standby) */
    uint64_t stop_delay_ms;         /* answer a graceful stop this late; 0: at once */
    /* A test makes this active (event_active) to restart the master: every
     * master connection and the listener go away for bounce_down_ms. */
    struct event *bounce_ev;

    /* what the fake saw, under mu */
    pthread_mutex_t mu;
    bool seen[FAKE_MAX_SEQ];
    uint64_t stored_records, int_sum, pushes, duplicates, locates, bad_order;
    uint64_t last_seq;
    size_t max_held;                /* most pushes waiting for an ack at once */
    uint64_t watches;
    bool last_graceful;
    uint64_t last_stop_timeout_ms;
    char last_submit_name[64];

    /* the fake's own */
    pthread_t th;
    struct event_base *base;
    sl_listener_t *ml, *wl, *sl;
    struct event *release_ev, *stop_ev, *relisten_ev, *activate_ev, *stop_reply_ev;
    bool refusing;                  /* the master listener refuses like a standby */
    sl_conn_t *stop_conn;           /* a graceful stop answered late */
    uint64_t stop_request;
    sl_conn_t *conns[FAKE_MAX_CONNS];
    bool is_master[FAKE_MAX_CONNS];
    fake_held_t held[FAKE_MAX_HELD];
    size_t nheld;
} fake_t;

/* Listens on free loopback ports, failing the test if it cannot; the loop
 * does not run until fake_run(). Free with fake_stop(). */
fake_t *fake_start(void);

/* Runs the loop on the fake's own thread. */
void fake_run(fake_t *f);

/* Stops the thread of a fake that runs, then frees it with its connections,
 * listeners and timers. Close the clients of the fake first. */
void fake_stop(fake_t *f);

/* A client of f's master with timeout_ms for its calls, failing the test if
 * it cannot open. The caller closes it with sl_client_close(). */
sl_client_t *fake_client(fake_t *f, uint64_t timeout_ms);

/* Pushes ints 1..n (key "k") to job "j" stream `stream` through c (borrowed),
 * failing the test on an error. */
void fake_push_ints(sl_client_t *c, const char *stream, uint64_t n);

#endif
