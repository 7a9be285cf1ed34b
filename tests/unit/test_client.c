/* Tests for client/client.c and client/push.c against the fake master and
 * worker of fake_master.h (a thread with its own event loop speaking the real
 * protocol on loopback): pushes arrive complete and in order, acks out of
 * order are fine, at most 16 blocks wait for an ack, a worker that drops the
 * connection gets the unacknowledged blocks again under the same sequence
 * numbers, an unknown stream fails at once, an unreachable receiver times
 * out; watch hands out batch outputs with their records; job control calls
 * carry their requests and replies; a standby master is skipped, and pushes
 * ride out a master restart. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <jansson.h>
#include "client/sluice.h"
#include "fake_master.h"
#include "log.h"
#include "timeutil.h"
#include "unit.h"
#include "view.h"

Suite *sl_test_client_suite(void);

/* --- pushing ----------------------------------------------------------------------- */

START_TEST(test_push_all_acked_in_order)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    const uint64_t n = 200000;
    fake_push_ints(c, "s", n);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "flush: %s", err);
    uint64_t acked, pending, resent;
    sl_push_stats(c, &acked, &pending, &resent);
    ck_assert_uint_eq(acked, n);
    ck_assert_uint_eq(pending, 0);
    ck_assert_uint_eq(resent, 0);
    /* A second flush with nothing buffered is a no-op. */
    ck_assert_int_eq(sl_flush(c, err), SL_OK);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, n);
    ck_assert_uint_eq(f->int_sum, n * (n + 1) / 2);
    ck_assert_uint_eq(f->duplicates, 0);
    ck_assert_uint_eq(f->bad_order, 0);
    ck_assert_uint_gt(f->pushes, 4);        /* cut into blocks of ~256 KiB */
    ck_assert_uint_eq(f->locates, 1);
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_acks_out_of_order_and_window)
{
    fake_t *f = fake_start();
    f->hold_acks = true;
    f->release_ms = 100;
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    static char value[1000];
    memset(value, 'v', sizeof value);
    const uint64_t n = 12000;   /* ~12 MB: about 46 blocks */
    for (uint64_t i = 0; i < n; i++)
        ck_assert_int_eq(sl_push_bytes(c, "j", "s", NULL, 0, value, sizeof value, err), SL_OK);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "flush: %s", err);
    uint64_t acked;
    sl_push_stats(c, &acked, NULL, NULL);
    ck_assert_uint_eq(acked, n);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, n);
    ck_assert_uint_gt(f->pushes, 32);
    ck_assert_msg(f->max_held <= 16, "%zu pushes waited for an ack at once (window 16)",
                  f->max_held);
    ck_assert_uint_ge(f->max_held, 8);
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_resend_after_drop)
{
    fake_t *f = fake_start();
    f->drop_after = 3;
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    const uint64_t n = 300000;
    fake_push_ints(c, "s", n);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "flush: %s", err);
    uint64_t acked, pending, resent;
    sl_push_stats(c, &acked, &pending, &resent);
    ck_assert_uint_eq(acked, n);
    ck_assert_uint_eq(pending, 0);
    ck_assert_uint_ge(resent, 1);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, n);           /* each block stored once */
    ck_assert_uint_eq(f->int_sum, n * (n + 1) / 2);
    ck_assert_uint_ge(f->duplicates, 1);               /* block 3 came again, same seq */
    ck_assert_uint_eq(f->bad_order, 0);
    ck_assert_uint_eq(f->locates, 2);                  /* located again after the drop */
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_unknown_stream_fails)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    fake_push_ints(c, "nope", 10);
    ck_assert_int_eq(sl_flush(c, err), SL_ERR_NOT_FOUND);
    SL_CK_CONTAINS(err, "stream 'nope'");
    SL_CK_CONTAINS(err, "job 'j' has no stream 'nope'");
    /* The records were dropped: the next flush has nothing to do. */
    uint64_t pending;
    sl_push_stats(c, NULL, &pending, NULL);
    ck_assert_uint_eq(pending, 0);
    ck_assert_int_eq(sl_flush(c, err), SL_OK);
    /* Other streams are not affected. */
    fake_push_ints(c, "s", 10);
    ck_assert_msg(sl_flush(c, err) == SL_OK, "%s", err);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_unreachable_times_out)
{
    fake_t *f = fake_start();
    f->locate_addr = f->dead_addr;
    fake_run(f);
    sl_client_t *c = fake_client(f, 600);
    char err[SL_ERRMSG_LEN] = "";
    fake_push_ints(c, "s", 10);
    uint64_t t0 = sl_time_mono_ms();
    ck_assert_int_eq(sl_flush(c, err), SL_ERR_TIMEOUT);
    uint64_t took = sl_time_mono_ms() - t0;
    ck_assert_msg(took >= 500 && took < 3000, "flush gave up after %llu ms",
                  (unsigned long long)took);
    SL_CK_CONTAINS(err, "no acknowledgement");
    SL_CK_CONTAINS(err, f->dead_addr);
    uint64_t pending;
    sl_push_stats(c, NULL, &pending, NULL);
    ck_assert_uint_eq(pending, 10);         /* kept for a later try */
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_ge(f->locates, 3);       /* retried with backoff */
    f->locate_addr = f->worker_addr;
    pthread_mutex_unlock(&f->mu);
    /* Once the receiver is reachable, a later flush delivers them. */
    ck_assert_msg(sl_flush(c, err) == SL_OK, "%s", err);
    sl_push_stats(c, NULL, &pending, NULL);
    ck_assert_uint_eq(pending, 0);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_push_bad_args)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    ck_assert_int_eq(sl_push_null(c, "", "s", NULL, 0, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "no job id");
    ck_assert_int_eq(sl_push_double(c, "j", NULL, NULL, 0, 1.0, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "no stream");
    static char big[17 * 1024 * 1024];
    ck_assert_int_eq(sl_push_bytes(c, "j", "s", NULL, 0, big, sizeof big, err), SL_ERR_INVALID);
    SL_CK_CONTAINS(err, "16 MiB");
    sl_client_close(c);     /* unflushed records are dropped, nothing leaks */
    fake_stop(f);
}
END_TEST

START_TEST(test_push_survives_master_restart)
{
    fake_t *f = fake_start();
    f->bounce_down_ms = 300;
    f->standby_ms = 300;
    fake_run(f);
    sl_client_t *c = fake_client(f, 3000);
    char err[SL_ERRMSG_LEN] = "";
    /* The master goes away before the stream is located: the pusher keeps
     * asking (connection lost, refused, then a standby's refusal) until a
     * master answers, and nothing fails in between. */
    sl_log_set_level(SL_LOG_OFF);       /* the refusals are logged as warnings */
    event_active(f->bounce_ev, EV_TIMEOUT, 0);
    usleep(50 * 1000);
    uint64_t t0 = sl_time_mono_ms();
    fake_push_ints(c, "s", 1000);
    sl_status_t st = sl_flush(c, err);
    uint64_t took = sl_time_mono_ms() - t0;
    sl_log_set_level(SL_LOG_INFO);
    ck_assert_msg(st == SL_OK, "flush: %s", err);
    ck_assert_msg(took >= 400, "flushed after %llu ms, before the master was back",
                  (unsigned long long)took);
    uint64_t acked, pending;
    sl_push_stats(c, &acked, &pending, NULL);
    ck_assert_uint_eq(acked, 1000);
    ck_assert_uint_eq(pending, 0);
    sl_client_close(c);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->stored_records, 1000);
    ck_assert_uint_eq(f->int_sum, 1000 * 1001 / 2);
    pthread_mutex_unlock(&f->mu);
    fake_stop(f);
}
END_TEST

/* --- connecting ---------------------------------------------------------------------- */

START_TEST(test_connect_skips_standby)
{
    fake_t *f = fake_start();
    fake_run(f);
    char err[SL_ERRMSG_LEN] = "", list[200];
    sl_client_t *c = NULL;
    sl_log_set_level(SL_LOG_OFF);       /* the refusals are logged as warnings */
    /* The standby refuses; the next master of the list is the active one. */
    snprintf(list, sizeof list, "%s,%s", f->standby_addr, f->master_addr);
    sl_status_t st = sl_client_open(list, NULL, 2000, &c, err);
    ck_assert_msg(st == SL_OK, "%s", err);
    ck_assert_str_eq(sl_client_master(c), f->master_addr);
    sl_client_close(c);
    /* Only a standby answers: its refusal is the error, as unavailable (which
     * callers retry), not as an authentication failure. */
    c = NULL;
    snprintf(list, sizeof list, "%s,%s", f->dead_addr, f->standby_addr);
    st = sl_client_open(list, NULL, 2000, &c, err);
    sl_log_set_level(SL_LOG_INFO);
    ck_assert_int_eq(st, SL_ERR_UNAVAILABLE);
    ck_assert_ptr_null(c);
    SL_CK_CONTAINS(err, FAKE_STANDBY);
    fake_stop(f);
}
END_TEST

/* --- watching ------------------------------------------------------------------------ */

START_TEST(test_watch_outputs)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    sl_batch_output_t *o = NULL;
    ck_assert_int_eq(sl_watch_next(c, 0, &o, err), SL_ERR_TIMEOUT);
    ck_assert_int_eq(sl_job_watch(c, "wc-1", "counts", err), SL_OK);
    ck_assert_msg(sl_watch_next(c, 2000, &o, err) == SL_OK, "%s", err);
    ck_assert_str_eq(sl_batch_output_job(o), "wc-1");
    ck_assert_str_eq(sl_batch_output_stream(o), "counts");
    ck_assert_str_eq(sl_batch_output_kind(o), "print");
    ck_assert_int_eq(sl_batch_output_time_ms(o), 1000);
    ck_assert_uint_eq(sl_batch_output_total_records(o), 10);
    ck_assert_uint_eq(sl_batch_output_count(o), 4);

    size_t len;
    ck_assert_int_eq(sl_batch_output_next(o), 1);
    const uint8_t *k = sl_batch_output_key(o, &len);
    ck_assert_uint_eq(len, 1);
    ck_assert_int_eq(k[0], 'a');
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_INT);
    ck_assert_int_eq(sl_batch_output_int(o), 3);
    char *line = sl_batch_output_line(o);
    ck_assert_str_eq(line, "a\t3");
    free(line);

    ck_assert_int_eq(sl_batch_output_next(o), 1);
    sl_batch_output_key(o, &len);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_BYTES);
    const uint8_t *v = sl_batch_output_bytes(o, &len);
    ck_assert_uint_eq(len, 11);
    ck_assert_int_eq(memcmp(v, "hello\tworld", 11), 0);
    line = sl_batch_output_line(o);
    ck_assert_str_eq(line, "hello\\tworld");
    free(line);

    ck_assert_int_eq(sl_batch_output_next(o), 1);
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_DOUBLE);
    ck_assert(sl_batch_output_double(o) == 1.5);
    ck_assert_ptr_null(sl_batch_output_bytes(o, &len));
    ck_assert_int_eq(sl_batch_output_next(o), 1);
    ck_assert_int_eq(sl_batch_output_type(o), SL_TYPE_NULL);
    line = sl_batch_output_line(o);
    ck_assert_str_eq(line, "n\tnull");
    free(line);
    ck_assert_int_eq(sl_batch_output_next(o), 0);
    sl_batch_output_rewind(o);
    ck_assert_int_eq(sl_batch_output_next(o), 1);
    ck_assert_int_eq(sl_batch_output_int(o), 3);

    char *json = sl_batch_output_json(o);
    ck_assert_ptr_nonnull(json);
    SL_CK_CONTAINS(json, "\"batch_time_ms\":1000");
    SL_CK_CONTAINS(json, "\"total_records\":10");
    SL_CK_CONTAINS(json, "{\"key\":\"a\",\"value\":3}");
    SL_CK_CONTAINS(json, "{\"key\":\"\",\"value\":\"hello\\tworld\"}");
    SL_CK_CONTAINS(json, "{\"key\":\"k\",\"value\":1.5}");
    SL_CK_CONTAINS(json, "{\"key\":\"n\",\"value\":null}");
    free(json);
    sl_batch_output_free(o);

    ck_assert_int_eq(sl_watch_next(c, 2000, &o, err), SL_OK);
    ck_assert_int_eq(sl_batch_output_time_ms(o), 2000);
    sl_batch_output_free(o);
    uint64_t t0 = sl_time_mono_ms();
    ck_assert_int_eq(sl_watch_next(c, 200, &o, err), SL_ERR_TIMEOUT);
    ck_assert_uint_ge(sl_time_mono_ms() - t0, 190);
    SL_CK_CONTAINS(err, "no batch output within 200ms");
    ck_assert_uint_eq(sl_watch_dropped(c), 0);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_watch_survives_master_restart)
{
    fake_t *f = fake_start();
    f->bounce_down_ms = 400;
    fake_run(f);
    sl_client_t *c = fake_client(f, 3000);
    char err[SL_ERRMSG_LEN] = "";
    sl_batch_output_t *o = NULL;
    ck_assert_int_eq(sl_job_watch(c, "wc-1", "", err), SL_OK);
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(sl_watch_next(c, 2000, &o, err) == SL_OK, "%s", err);
        sl_batch_output_free(o);
    }
    event_active(f->bounce_ev, EV_TIMEOUT, 0);
    /* The client comes back, renews its subscription, and gets its outputs. */
    ck_assert_msg(sl_watch_next(c, 5000, &o, err) == SL_OK, "%s", err);
    ck_assert_int_eq(sl_batch_output_time_ms(o), 1000);
    sl_batch_output_free(o);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->watches, 2);
    pthread_mutex_unlock(&f->mu);
    /* Other calls reconnect as well. */
    int64_t *times = NULL;
    size_t n = 0;
    ck_assert_msg(sl_job_tick(c, "wc-1", 1, false, &times, &n, err) == SL_OK, "%s", err);
    free(times);

    /* A master that stays away: watch gives up after the client timeout. */
    sl_client_t *c2 = fake_client(f, 500);
    ck_assert_int_eq(sl_job_watch(c2, "wc-1", "", err), SL_OK);
    f->bounce_down_ms = 5000;
    event_active(f->bounce_ev, EV_TIMEOUT, 0);
    uint64_t t0 = sl_time_mono_ms();
    sl_status_t st;
    while ((st = sl_watch_next(c2, SL_WAIT_FOREVER, &o, err)) == SL_OK)
        sl_batch_output_free(o);
    uint64_t took = sl_time_mono_ms() - t0;
    ck_assert_int_eq(st, SL_ERR_UNAVAILABLE);
    ck_assert_msg(took >= 400 && took < 3000, "gave up after %llu ms", (unsigned long long)took);
    SL_CK_CONTAINS(err, "cannot reconnect");
    sl_client_close(c2);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

/* --- job control ------------------------------------------------------------------------ */

START_TEST(test_job_control)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "", id[SL_JOB_ID_LEN] = "";

    sl_job_t *j = sl_job_new("wc", 1000);
    sl_print(j, sl_map(j, sl_push_stream(j, "lines", 1), "lower", NULL, 0), 5);
    ck_assert_msg(sl_job_submit(c, j, id, err) == SL_OK, "%s", err);
    ck_assert_str_eq(id, "wc-2");
    sl_job_free(j);

    /* The master's verdict keeps its text; a job file's gets its name. */
    j = sl_job_new("bad", 1000);
    sl_print(j, sl_push_stream(j, "lines", 1), 5);
    ck_assert_int_eq(sl_job_submit(c, j, id, err), SL_ERR_INVALID);
    ck_assert_str_eq(err, "line 4, col 12: unknown function 'splitt'");
    sl_job_free(j);
    char dir[] = "/tmp/sl-client-XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/bad.job", dir);
    FILE *fp = fopen(path, "w");
    fputs("job bad\nbatch 1s\na = push(\"a\")\na.print()\n", fp);
    fclose(fp);
    ck_assert_int_eq(sl_job_submit_file(c, path, id, err), SL_ERR_INVALID);
    char want[160];
    snprintf(want, sizeof want, "%s:4:12: unknown function 'splitt'", path);
    ck_assert_str_eq(err, want);
    unlink(path);
    rmdir(dir);

    int64_t *times = NULL;
    size_t n = 0;
    ck_assert_int_eq(sl_job_tick(c, "wc-1", 3, true, &times, &n, err), SL_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(times[0], 1007);
    ck_assert_int_eq(times[2], 3007);
    free(times);
    ck_assert_int_eq(sl_job_tick(c, "wc-1", 0, false, NULL, NULL, err), SL_OK);
    ck_assert_int_eq(sl_job_tick(c, "", 0, false, NULL, NULL, err), SL_ERR_INVALID);

    ck_assert_int_eq(sl_job_stop(c, "wc-1", err), SL_OK);
    ck_assert_int_eq(sl_job_stop(c, "ghost", err), SL_ERR_NOT_FOUND);
    SL_CK_CONTAINS(err, "no job 'ghost'");

    sl_job_info_t *ji = NULL;
    ck_assert_int_eq(sl_job_list(c, &ji, err), SL_OK);
    ck_assert_uint_eq(sl_job_info_count(ji), 1);
    ck_assert_str_eq(sl_job_info_id(ji, 0), "wc-1");
    ck_assert_str_eq(sl_job_info_state(ji, 0), "running");
    ck_assert_uint_eq(sl_job_info_batches_done(ji, 0), 5);
    ck_assert_int_eq(sl_job_info_last_batch_ms(ji, 0), 5000);
    ck_assert_uint_eq(sl_job_info_receiver_count(ji, 0), 1);
    ck_assert_str_eq(sl_job_info_receiver_address(ji, 0, 0), "127.0.0.1:7101");
    ck_assert_uint_eq(sl_job_info_receiver_epoch(ji, 0, 0), 2);
    ck_assert_ptr_null(sl_job_info_id(ji, 1));
    char *json = sl_job_info_json(ji);
    SL_CK_CONTAINS(json, "\"id\": \"wc-1\"");
    SL_CK_CONTAINS(json, "\"stream\": \"lines\"");
    free(json);
    sl_job_info_free(ji);

    sl_batch_info_t *bi = NULL;
    ck_assert_int_eq(sl_job_batches(c, "wc-1", &bi, err), SL_OK);
    ck_assert_uint_eq(sl_batch_info_count(bi), 2);
    ck_assert_int_eq(sl_batch_info_time_ms(bi, 0), 1000);
    ck_assert_str_eq(sl_batch_info_state(bi, 0), "done");
    ck_assert_uint_eq(sl_batch_info_input_records(bi, 0), 42);
    ck_assert_uint_eq(sl_batch_info_total_delay_ms(bi, 0), 15);
    ck_assert_str_eq(sl_batch_info_state(bi, 1), "failed");
    ck_assert_str_eq(sl_batch_info_error(bi, 1), "task 3 failed");
    json = sl_batch_info_json(bi);
    SL_CK_CONTAINS(json, "\"job\": \"wc-1\"");
    SL_CK_CONTAINS(json, "\"scheduling_delay_ms\": 3");
    free(json);
    sl_batch_info_free(bi);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

START_TEST(test_job_stop_graceful)
{
    fake_t *f = fake_start();
    f->stop_delay_ms = 700;
    fake_run(f);
    sl_client_t *c = fake_client(f, 300);
    char err[SL_ERRMSG_LEN] = "";
    /* The master answers once the job is over, long after the client timeout:
     * the call waits for the job's timeout instead. */
    uint64_t t0 = sl_time_mono_ms();
    ck_assert_msg(sl_job_stop_graceful(c, "wc-1", 1000, err) == SL_OK, "%s", err);
    ck_assert_uint_ge(sl_time_mono_ms() - t0, 650);
    pthread_mutex_lock(&f->mu);
    ck_assert(f->last_graceful);
    ck_assert_uint_eq(f->last_stop_timeout_ms, 1000);
    pthread_mutex_unlock(&f->mu);
    /* 0 leaves the timeout to the master (60 s). */
    ck_assert_msg(sl_job_stop_graceful(c, "wc-1", 0, err) == SL_OK, "%s", err);
    pthread_mutex_lock(&f->mu);
    ck_assert_uint_eq(f->last_stop_timeout_ms, 0);
    pthread_mutex_unlock(&f->mu);
    /* The master's timeout comes back as such, with its count of batches. */
    ck_assert_int_eq(sl_job_stop_graceful(c, "slow", 1000, err), SL_ERR_TIMEOUT);
    SL_CK_CONTAINS(err, "2 batches unfinished");
    ck_assert_int_eq(sl_job_stop_graceful(c, "ghost", 1000, err), SL_ERR_NOT_FOUND);
    ck_assert_int_eq(sl_job_stop_graceful(c, "", 0, err), SL_ERR_INVALID);
    /* A plain stop is not graceful. */
    ck_assert_int_eq(sl_job_stop(c, "wc-1", err), SL_OK);
    pthread_mutex_lock(&f->mu);
    ck_assert(!f->last_graceful);
    pthread_mutex_unlock(&f->mu);
    sl_client_close(c);
    fake_stop(f);
}
END_TEST

/* --- cluster status -------------------------------------------------------------------- */

START_TEST(test_cluster_master_info)
{
    fake_t *f = fake_start();
    fake_run(f);
    sl_client_t *c = fake_client(f, 5000);
    char err[SL_ERRMSG_LEN] = "";
    sl_cluster_info_t *ci = NULL;
    ck_assert_msg(sl_cluster_status(c, &ci, err) == SL_OK, "%s", err);
    ck_assert(sl_cluster_master_active(ci));
    ck_assert_str_eq(sl_cluster_checkpoint(ci), "/ck/sluice.db");
    ck_assert_uint_eq(sl_cluster_lease_epoch(ci), 7);
    ck_assert_str_eq(sl_cluster_lease_holder(ci), "master-a");
    ck_assert_str_eq(sl_cluster_lease_address(ci), f->master_addr);
    ck_assert_int_eq(sl_cluster_lease_expires_ms(ci), 1700000005000);
    ck_assert(sl_cluster_recovering(ci));
    ck_assert_uint_eq(sl_cluster_workers_expected(ci), 3);
    ck_assert_uint_eq(sl_cluster_workers_back(ci), 2);
    ck_assert_uint_eq(sl_cluster_batches_to_rerun(ci), 4);
    ck_assert_uint_eq(sl_cluster_jobs_recovered(ci), 1);
    char *text = sl_cluster_info_json(ci);
    ck_assert_ptr_nonnull(text);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "master")), f->master_addr);
    json_t *mi = json_object_get(j, "master_info");
    ck_assert(json_is_true(json_object_get(mi, "active")));
    ck_assert_str_eq(json_string_value(json_object_get(mi, "checkpoint")), "/ck/sluice.db");
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "epoch")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(mi, "lease_holder")), "master-a");
    ck_assert_str_eq(json_string_value(json_object_get(mi, "lease_address")), f->master_addr);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "lease_expires_ms")), 1700000005000);
    ck_assert(json_is_true(json_object_get(mi, "recovering")));
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "workers_expected")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "workers_back")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "batches_to_rerun")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(mi, "jobs_recovered")), 1);
    json_decref(j);
    sl_cluster_info_free(ci);
    sl_client_close(c);
    fake_stop(f);

    /* A status without MasterInfo: null in JSON. */
    Sluice__ClusterStatus cs = SLUICE__CLUSTER_STATUS__INIT;
    cs.master_address = "127.0.0.1:7077";
    j = sl_view_cluster_json(&cs);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_null(json_object_get(j, "master_info")));
    json_decref(j);
}
END_TEST

Suite *sl_test_client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_push_all_acked_in_order);
    tcase_add_test(tc, test_push_acks_out_of_order_and_window);
    tcase_add_test(tc, test_push_resend_after_drop);
    tcase_add_test(tc, test_push_unknown_stream_fails);
    tcase_add_test(tc, test_push_unreachable_times_out);
    tcase_add_test(tc, test_push_bad_args);
    tcase_add_test(tc, test_push_survives_master_restart);
    tcase_add_test(tc, test_connect_skips_standby);
    tcase_add_test(tc, test_watch_outputs);
    tcase_add_test(tc, test_watch_survives_master_restart);
    tcase_add_test(tc, test_job_control);
    tcase_add_test(tc, test_job_stop_graceful);
    tcase_add_test(tc, test_cluster_master_info);
    suite_add_tcase(s, tc);
    return s;
}
