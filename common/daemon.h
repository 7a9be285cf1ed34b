/* What every Sluice daemon needs around its event loop: a TCP listener that
 * hands over accepted sockets with a printable peer address, and SIGTERM /
 * SIGINT turned into events. */
#ifndef SL_DAEMON_H
#define SL_DAEMON_H

#include <event2/event.h>
#include "status.h"

typedef struct sl_listener sl_listener_t;
typedef void (*sl_accept_cb)(evutil_socket_t fd, const char *peer, void *arg);

/* Listens on `hostport` (SO_REUSEADDR, so a restarted daemon rebinds at once).
 * `cb` owns each accepted fd. NULL with `err` naming the address on failure.
 * Free with sl_listener_free() (accepts NULL). */
sl_listener_t *sl_listener_new(struct event_base *base, const char *hostport, sl_accept_cb cb,
                               void *arg, char *err);
void sl_listener_free(sl_listener_t *l);

typedef void (*sl_signal_cb)(int signo, void *arg);

typedef struct {
    struct event *term, *intr;
} sl_signals_t;

/* Calls cb on SIGTERM and SIGINT (from the loop, not from a signal handler)
 * and ignores SIGPIPE. */
sl_status_t sl_signals_init(sl_signals_t *s, struct event_base *base, sl_signal_cb cb, void *arg);
void sl_signals_free(sl_signals_t *s);

/* Creates an event base with pthread locking enabled. */
struct event_base *sl_event_base_new(void);

#endif
