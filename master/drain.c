/* Graceful stops. A draining job gets one last batch (every boundary up to
 * now, the last of them cutting with `last`, after which its receivers take
 * no pushes), runs every batch up to it, and then ends STOPPED (sluice stop
 * --graceful) or stays as it is in the checkpoint (SIGTERM drains every job
 * of the master, which then exits). A deadline bounds both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine-internal.h"
#include "log.h"
#include "timeutil.h"

static void sl_engine_drain_check(sl_engine_t *e);

static void sl_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_mjob_t *j = arg;
    size_t left = 0;
    for (sl_mbatch_t *b = j->batches; b; b = b->next)
        left++;
    char why[SL_ERRMSG_LEN];
    snprintf(why, sizeof why, "the graceful stop timed out with %zu batch%s unfinished; stopped",
             left, left == 1 ? "" : "es");
    sl_warn("engine", "job %s: %s", j->id, why);
    if (j->drain_keep) {
        j->draining = false;
        sl_job_drain_step(j);
        return;
    }
    if (j->drain_conn) {
        sl_reply_err(j->drain_conn, j->drain_request, SL_ERR_TIMEOUT, why);
        j->drain_conn = NULL;
    }
    sl_job_end(j, SLUICE__JOB_STATE__JOB_STOPPED, why);
}

void sl_job_drain(sl_mjob_t *j, bool keep, uint64_t timeout_ms)
{
    if (j->draining)
        return;
    j->draining = true;
    j->drain_keep = keep;
    evtimer_del(j->timer);
    /* Every boundary up to now gets its batch, the last of them stops the
     * receivers; with nothing due, the next boundary does. */
    int64_t iv = (int64_t)j->spec->batch_ms;
    int64_t upto = j->engine->opts.manual_clock ? j->manual_now + iv
                                                : (int64_t)(sl_time_wall_ms() / (uint64_t)iv) * iv;
    if (j->last_time >= 0 && upto <= j->last_time)
        upto = j->last_time + iv;
    sl_job_batches_upto(j, upto);
    if (j->engine->opts.manual_clock)
        j->manual_now = j->last_time;
    j->drain_time = j->last_time;
    if (!j->drain_timer)
        j->drain_timer = evtimer_new(j->engine->opts.base, sl_drain_timeout_cb, j);
    if (j->drain_timer) {
        struct timeval tv = sl_time_tv(timeout_ms);
        evtimer_add(j->drain_timer, &tv);
    }
    sl_info("engine", "job %s: draining: batch %lld is the last", j->id, (long long)j->drain_time);
    sl_job_advance_cuts(j);
    sl_engine_kick(j->engine);
}

void sl_job_drain_step(sl_mjob_t *j)
{
    if (j->draining && j->batches)
        return;
    if (j->drain_timer)
        evtimer_del(j->drain_timer);
    if (j->draining && !j->drain_keep) {
        sl_info("engine", "job %s: every acked record is processed; stopped", j->id);
        sl_job_end(j, SLUICE__JOB_STATE__JOB_STOPPED, NULL);
        return;
    }
    if (j->drain_keep)
        sl_engine_drain_check(j->engine);
}

/* --- the whole master (SIGTERM) ---------------------------------------------------------- */

static void sl_engine_drain_check(sl_engine_t *e)
{
    if (!e->draining || !e->drained)
        return;
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        if (j->state == SLUICE__JOB_STATE__JOB_RUNNING && j->draining && j->batches)
            return;
    }
    void (*done)(void *) = e->drained;
    e->drained = NULL;
    evtimer_del(e->drain_ev);
    sl_info("engine", "drained: every acked record is processed");
    done(e->drained_arg);
}

void sl_engine_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    sl_engine_t *e = arg;
    sl_warn("engine", "the drain timed out; stopping with batches unfinished (they run again "
            "after a restart)");
    void (*done)(void *) = e->drained;
    e->drained = NULL;
    if (done)
        done(e->drained_arg);
}

void sl_engine_drain(sl_engine_t *e, uint64_t timeout_ms, void (*done)(void *arg), void *arg)
{
    e->draining = true;
    e->drained = done;
    e->drained_arg = arg;
    sl_worker_view_t ws[1];
    if (sl_cluster_alive(e->opts.cluster, ws, 1) == 0) {
        sl_info("engine", "drain: no worker is alive; nothing can run");
        e->drained = NULL;
        done(arg);
        return;
    }
    struct timeval tv = sl_time_tv(timeout_ms);
    evtimer_add(e->drain_ev, &tv);
    size_t pos = 0, klen;
    const void *k;
    void *v;
    while (sl_hmap_next(e->jobs, &pos, &k, &klen, &v)) {
        sl_mjob_t *j = v;
        if (j->state == SLUICE__JOB_STATE__JOB_RUNNING && j->admitted && !e->recovering)
            sl_job_drain(j, true, timeout_ms);
    }
    sl_engine_drain_check(e);
}
