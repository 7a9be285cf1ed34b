/* Shared by engine.c (jobs, receivers, cuts, client requests) and batch.c
 * (running a batch's tasks and delivering its outputs). */
#ifndef SL_ENGINE_INTERNAL_H
#define SL_ENGINE_INTERNAL_H

#include <stdint.h>
#include "buf.h"
#include "engine.h"
#include "hmap.h"
#include "plan.h"
#include "seqset.h"

#define SL_MAX_ATTEMPTS 4
#define SL_BATCH_HISTORY 1000
#define SL_SETUP_TIMEOUT_MS 30000   /* deploys, receiver starts, replica listings */
#define SL_CUT_TIMEOUT_MS 30000
#define SL_MAX_WORKERS 1024         /* live workers one scheduling pass looks at */
#define SL_MAX_CATCHUP 100          /* wall-clock batches made up at once after a stall */

typedef enum { SL_TASK_IDLE, SL_TASK_RUNNING, SL_TASK_DONE } sl_task_state_t;

/* A receiver epoch that ended (its worker died, or the master before it):
 * its blocks above `seq` still have to be collected from the workers that
 * hold them (or its write-ahead log). refresh_only: it was closed already,
 * only the locations of its blocks in unfinished batches are wanted. */
typedef struct {
    uint32_t receiver;
    uint32_t epoch;
    uint64_t seq;
    bool refresh_only;
} sl_dead_epoch_t;

typedef struct {
    uint32_t pipeline, partition;
    sl_task_state_t state;
    uint32_t attempts;
    char worker[262];           /* address it runs / ran on */
    char last_error[SL_ERRMSG_LEN];
} sl_mtask_t;

typedef struct {
    uint8_t *data;              /* one collected block, owned */
    size_t len;
    uint64_t total;
    bool present;
} sl_collected_t;

typedef struct sl_mbatch {
    int64_t time;
    Sluice__BatchState state;
    uint32_t attempt;           /* 1-based */
    uint64_t created_wall, started_wall, ended_wall;
    /* inputs: blocks per receiver, filled by cuts */
    Sluice__BlockInfo **blocks; /* owned copies */
    char **block_streams;       /* stream of each block (borrowed from the job) */
    size_t nblocks, capblocks;
    bool *cut_done;             /* per receiver */
    uint64_t input_records;
    /* execution */
    sl_mtask_t *tasks;          /* plan->ntasks, pipeline by pipeline */
    bool *pipeline_started;
    char **shuffle_loc;         /* [node][slot][map_part] flattened; worker address */
    size_t nshuffle_loc;
    size_t *shuffle_base;       /* per node: index of (slot 0, part 0) */
    sl_collected_t *collected;  /* [output][node part] flattened */
    size_t ncollected;
    size_t *collected_base;     /* per output */
    uint32_t failed_tasks;
    char error[SL_ERRMSG_LEN];
    /* durability */
    bool persisted;             /* the allocation is in the checkpoint */
    bool recovered;             /* loaded from the checkpoint at a takeover */
    uint32_t *cut_epoch;        /* per receiver: the epoch this batch's cut came from... */
    uint64_t *cut_seq;          /* ...and the highest sequence allocated up to it */
    sl_dead_epoch_t *closing;   /* dead receiver epochs this batch closes */
    size_t nclosing;
    struct sl_mbatch *next;
} sl_mbatch_t;

typedef struct {
    uint32_t node;              /* the push node */
    const char *stream;         /* borrowed from the spec */
    uint32_t partitions;
    char worker[262];           /* address; empty while (re)placing */
    char worker_id[160];
    uint32_t epoch;
    bool ready;                 /* started and reachable */
    bool moving;
    bool cut_inflight;
    uint64_t reported_seq;      /* highest sequence reported for this epoch */
    sl_seqset_t *producers;     /* pushes stored by any epoch: carried to the next one */
    Sluice__BlockInfo **orphans;  /* blocks of a dead epoch found on replica holders */
    size_t norphans;
    sl_dead_epoch_t *dead;      /* ended epochs still to collect */
    size_t ndead;
    sl_dead_epoch_t *closing;   /* collected: closed by the batch that takes the orphans */
    size_t nclosing;
    uint64_t done_seq;          /* this epoch's blocks up to here are in finished batches */
    bool last_cut;              /* draining: the cut that stops the receiver was answered */
} sl_mreceiver_t;

typedef struct sl_waiter {
    sl_conn_t *conn;
    uint64_t request_id;
    int64_t first_time;         /* tick --wait: the batches this tick made... */
    int64_t last_time;          /* ...reply when the last of them is over */
    struct sl_waiter *next;
} sl_waiter_t;

typedef struct sl_watcher {
    sl_conn_t *conn;
    char stream[65];            /* node name; empty: every print/publish */
    struct sl_watcher *next;
} sl_watcher_t;

typedef struct sl_mjob {
    char id[65];
    Sluice__JobSpec *spec;      /* owned */
    sl_plan_t *plan;
    Sluice__JobState state;
    bool admitted;              /* the submitter got its reply */
    char error[SL_ERRMSG_LEN];
    sl_mreceiver_t *receivers;
    uint32_t nreceivers;
    sl_hmap_t *undeployed;      /* addresses of workers that failed to deploy the job:
                                   no tasks go there until it registers again */

    sl_mbatch_t *batches;       /* not yet over, oldest first */
    Sluice__BatchInfo **history;  /* finished, oldest first */
    size_t nhistory;
    uint64_t batches_done;
    int64_t last_time;          /* latest batch time cut (-1: none) */
    int64_t manual_now;         /* manual clock */
    struct event *timer;
    struct event *cut_retry;    /* asks failed cuts again */
    sl_waiter_t *tick_waiters;
    sl_watcher_t *watchers;
    /* submission in progress */
    sl_conn_t *submitter;
    uint64_t submit_request;
    uint32_t pending_setup;     /* deploys + receiver starts outstanding */
    uint64_t generation;        /* tells stale callbacks apart after a resubmit; the
                                   submission's wall ms, kept in the checkpoint */
    uint32_t collecting;        /* dead-epoch listings in flight: batches wait */
    bool wal;                   /* receivers write the write-ahead log */
    /* graceful stop */
    bool draining;
    int64_t drain_time;         /* the last batch */
    bool drain_keep;            /* the master drains (SIGTERM): the job stays */
    sl_conn_t *drain_conn;
    uint64_t drain_request;
    struct event *drain_timer;
    struct sl_engine *engine;
} sl_mjob_t;

struct sl_engine {
    sl_engine_opts_t opts;
    sl_hmap_t *jobs;            /* id -> sl_mjob_t* */
    sl_hmap_t *busy;            /* worker address -> (uintptr) cores in use by tasks */
    uint64_t generations;
    uint32_t epochs;            /* receiver epochs without a checkpoint */
    struct event *schedule_ev;  /* deferred scheduling pass */
    struct event *retry_ev;     /* persisting again after a checkpoint error */
    /* after a takeover */
    bool recovering;            /* waiting for the workers the checkpoint knows */
    sl_hmap_t *expected;        /* worker id -> 1 (0 once back) */
    uint32_t nexpected, nback;
    uint32_t jobs_recovered;
    struct event *recovery_ev;  /* deadline of the wait */
    /* SIGTERM */
    bool draining;
    void (*drained)(void *arg);
    void *drained_arg;
    struct event *drain_ev;     /* deadline */
};

/* engine.c */
/* Request contexts: what a reply callback needs to find its job again. */
/* Context of a request the engine sent to a worker. */
typedef struct {
    sl_engine_t *e;
    char job[65];
    uint64_t generation;
    uint32_t receiver;
    uint32_t epoch;
    int64_t batch;
} sl_req_ctx_t;

void sl_ctx_fill(sl_req_ctx_t *x, sl_mjob_t *j, uint32_t receiver);
sl_req_ctx_t *sl_ctx_new(sl_mjob_t *j, uint32_t receiver);
/* The job a reply belongs to, or NULL when it is gone or was resubmitted. */
sl_mjob_t *sl_ctx_job(const sl_req_ctx_t *x);
void sl_log_reply(sl_conn_t *c, sl_status_t st, const sl_envelope_t *reply,
                  const uint8_t *payload, size_t len, const char *msg, void *arg);
void sl_job_setup_step(sl_mjob_t *j);
/* Answers request `request_id` on c (NULL: nobody to answer). */
void sl_reply_body(sl_conn_t *c, uint64_t request_id, Sluice__Envelope *reply);
void sl_reply_err(sl_conn_t *c, uint64_t request_id, sl_status_t st, const char *msg);
void sl_job_setup_failed(sl_mjob_t *j, sl_status_t st, const char *msg);
void sl_job_arm_timer(sl_mjob_t *j);

/* receivers.c */
void sl_receiver_start(sl_mjob_t *j, uint32_t ri, const sl_worker_view_t *w, bool refresh);
void sl_receiver_place(sl_mjob_t *j, uint32_t ri);
void sl_receiver_move(sl_mjob_t *j, uint32_t ri, uint32_t dead_epoch);
/* Collects the receiver's dead epochs (if any) from the live workers, then
 * places it. */
void sl_receiver_collect(sl_mjob_t *j, uint32_t ri);
/* Fills ps/pp (room for sl_seqset_entries(s)) with the set's triples; returns
 * how many. */
size_t sl_producers_export(const sl_seqset_t *s, Sluice__ProducerSeq *ps, Sluice__ProducerSeq **pp);
sl_status_t sl_job_new_batch(sl_mjob_t *j, int64_t time);
/* Batches for every boundary after the job's last one up to `t` (a bounded
 * number after a long stall, the skipped times logged). */
void sl_job_batches_upto(sl_mjob_t *j, int64_t t);
void sl_job_timer_cb(evutil_socket_t fd, short what, void *arg);
void sl_cut_retry_cb(evutil_socket_t fd, short what, void *arg);

sl_mjob_t *sl_engine_job(sl_engine_t *e, const char *id);
uint32_t sl_engine_receivers_on(sl_engine_t *e, const char *address);
void sl_engine_kick(sl_engine_t *e);          /* schedule soon, from the loop */
void sl_job_advance_cuts(sl_mjob_t *j);
void sl_job_reply_waiters(sl_mjob_t *j);

/* recovery.c: the checkpoint side of the engine */
/* Each returns SL_OK without a checkpoint. A refusal of the lease calls the
 * engine's fenced callback. */
sl_status_t sl_persist_job(sl_mjob_t *j, char *err);
void sl_persist_job_delete(sl_mjob_t *j);
sl_status_t sl_persist_epoch(sl_mjob_t *j, uint32_t ri, uint32_t *epoch /* OUT */);
sl_status_t sl_persist_batch(sl_mjob_t *j, sl_mbatch_t *b);
void sl_persist_batch_finish(sl_mjob_t *j, sl_mbatch_t *b);
void sl_persist_worker(sl_engine_t *e, const char *id, const char *address, bool alive);
void sl_recovery_worker_back(sl_engine_t *e, const char *id);
/* Whether the job's batches may run now. */
bool sl_job_may_run(const sl_mjob_t *j);
/* Builds a job from its spec (submission and takeover share it). */
sl_status_t sl_job_build(sl_engine_t *e, const Sluice__JobSpec *spec, uint64_t generation,
                         sl_mjob_t **out /* OUT */, char *err);
void sl_job_free(sl_mjob_t *j);
void sl_job_end(sl_mjob_t *j, Sluice__JobState state, const char *why);
/* drain.c */
/* Graceful stop: one last batch whose cuts stop the receivers; `keep`: the
 * job stays (the master drains), else it ends STOPPED when that batch is over. */
void sl_job_drain(sl_mjob_t *j, bool keep, uint64_t timeout_ms);
/* A batch finished: ends a draining job whose last batch it was. */
void sl_job_drain_step(sl_mjob_t *j);
/* The deadline of the master's drain (the engine's drain_ev). */
void sl_engine_drain_timeout_cb(evutil_socket_t fd, short what, void *arg);

/* batch.c */
sl_mbatch_t *sl_batch_new(sl_mjob_t *j, int64_t time);
void sl_batch_free(sl_mbatch_t *b);
sl_status_t sl_batch_add_blocks(sl_mbatch_t *b, sl_mreceiver_t *r, Sluice__BlockInfo **blocks,
                                 size_t n);
void sl_batch_schedule(sl_engine_t *e);       /* start what can start, everywhere */
void sl_batch_worker_lost(sl_mjob_t *j, const char *address);
Sluice__BatchInfo *sl_batch_info_new(const sl_mbatch_t *b, uint32_t ntasks);
uint64_t sl_engine_busy(sl_engine_t *e, const char *address);
void sl_engine_busy_add(sl_engine_t *e, const char *address, int delta);

#endif
