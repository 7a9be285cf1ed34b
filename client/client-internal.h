/* Private to libsluice: the client's instance struct and the calls that
 * client.c (connection, requests, job control), watch.c (outputs), push.c
 * (pushers) and builder.c (JobSpec construction, job files) share. Not
 * installed. */
#ifndef SL_CLIENT_INTERNAL_H
#define SL_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <jansson.h>
#include "auth.h"
#include "conn.h"
#include "msg.h"
#include "sluice.h"

typedef struct sl_pusher sl_pusher_t;
typedef struct sl_watch_sub sl_watch_sub_t;

struct sl_client {
    struct event_base *base;
    sl_conn_t *conn;            /* to the master; NULL once it closed */
    sl_secret_t *secret;
    uint64_t timeout_ms;
    char *masters;              /* the address list as given, for reconnecting */
    char master[262];           /* the one connected to (last) */
    uint64_t conn_lost_ms;      /* monotonic time the master connection closed */
    struct event *wake;         /* bounds one pass of the loop */
    /* state of the master call in progress (one at a time) */
    bool done;
    sl_status_t st;
    char msg[SL_ERRMSG_LEN];
    sl_envelope_t *reply;       /* copy of the reply, owned */
    /* watch: subscriptions (re-sent after a reconnect) and the output queue */
    sl_watch_sub_t *subs;
    sl_batch_output_t *outq_head, *outq_tail;
    size_t outq_len;
    uint64_t outq_dropped;
    /* push (push.c) */
    uint64_t producer;          /* random id of this client's pushes */
    sl_pusher_t *pushers;
    sl_pusher_t *last_pusher;   /* lookup cache */
};

/* Writes a formatted message into err (SL_ERRMSG_LEN bytes) unless it is
 * NULL; long messages are cut. */
void sl_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends `env` (borrowed) with `payload` to the master and waits up to
 * `timeout_ms` (0: the client's timeout) for the reply. Reconnects first when
 * the master connection was lost. On SL_OK the caller owns *reply (free with
 * sl_msg_free()); on failure err names the master and the reason, and
 * cl->msg holds the bare reason. Runs the event loop: never call it from a
 * callback. */
sl_status_t sl_client_call(sl_client_t *cl, sl_envelope_t *env, const void *payload,
                           size_t payload_len, uint64_t timeout_ms, sl_envelope_t **reply /* OUT */,
                           char *err);

/* sl_client_call() without reconnecting first. */
sl_status_t sl_client_call_once(sl_client_t *cl, sl_envelope_t *env, const void *payload,
                                size_t payload_len, uint64_t timeout_ms, sl_envelope_t **reply,
                                char *err);

/* After the master connection was lost: connects again (to any master of the
 * list) and renews the watch subscriptions. */
sl_status_t sl_client_reconnect(sl_client_t *cl, char *err);

/* Checks that the master answered with `want`; frees the reply otherwise. */
sl_status_t sl_client_expect(sl_client_t *cl, sl_envelope_t *reply, Sluice__Envelope__BodyCase want,
                             const char *what, char *err);

/* sl_client_call() (no payload) followed by sl_client_expect(): the one
 * round trip most requests make. On SL_OK the caller owns *reply (free with
 * sl_msg_free()); on failure *reply is NULL. */
sl_status_t sl_client_request(sl_client_t *cl, sl_envelope_t *env, uint64_t timeout_ms,
                              Sluice__Envelope__BodyCase want, const char *what,
                              sl_envelope_t **reply /* OUT */, char *err);

/* False (with err set) for a NULL or empty job id. */
bool sl_client_check_id(const char *job_id, char *err);


/* Renders a JSON document (reference taken) as text for the caller to
 * free(); NULL for a NULL document or out of memory. */
char *sl_json_text(json_t *j, size_t flags);

/* Runs one pass of the client's event loop, waiting at most `max_wait_ms`
 * for something to happen. Never call it from a callback. */
void sl_client_run_once(sl_client_t *cl, uint64_t max_wait_ms);

/* Sends SubmitJob{spec} (borrowed) and copies the job id out. `origin` names
 * the job file the spec came from (NULL for the builder): the master's
 * "line L, col C: ..." errors are then shown as "origin:L:C: ...". */
sl_status_t sl_client_submit_spec(sl_client_t *cl, const Sluice__JobSpec *spec, const char *origin,
                                  char *job_id_out /* OUT: SL_JOB_ID_LEN */, char *err);

/* watch.c: queues a BatchOutput (copied) for sl_watch_next(); drops the
 * oldest past the queue bound. Called from the connection's callback. */
void sl_watch_enqueue(sl_client_t *cl, const sl_envelope_t *env, const uint8_t *payload,
                      size_t len);
/* watch.c: sends Watch again for every subscription (after a reconnect). */
sl_status_t sl_watch_renew(sl_client_t *cl, char *err);
/* watch.c: frees the subscriptions and the queued outputs. */
void sl_watch_free_all(sl_client_t *cl);

/* push.c: frees every pusher (unflushed records are dropped). */
void sl_push_free_all(sl_client_t *cl);

/* builder.c: the JobSpec a builder holds (borrowed, valid until
 * sl_job_free()), or NULL when a constructor failed (sl_job_error() says
 * why). For tests and for sl_job_submit(). */
const Sluice__JobSpec *sl_job_spec(const sl_job_t *j);

/* builder.c: reads and parses a job file, loads its library (relative to the
 * job file's directory) and makes output and transform paths absolute
 * against the current directory. Caller frees *out with
 * sluice__job_spec__free_unpacked(*out, NULL). */
sl_status_t sl_jobfile_load(const char *path, Sluice__JobSpec **out /* OUT */, char *err);

/* builder.c: makes the paths of save_as_text_files and sqlite outputs and of
 * transform nodes absolute against the current directory. */
sl_status_t sl_jobspec_absolutize(Sluice__JobSpec *spec, char *err);

#endif
