/* Executor thread pool: a mutex-protected FIFO and a condition variable. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include "executor.h"

typedef struct sl_exec_item {
    sl_exec_fn fn;
    void *arg;
    struct sl_exec_item *next;
} sl_exec_item_t;

struct sl_executor {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    sl_exec_item_t *head, *tail;
    bool stopping;
    size_t nthreads;
    pthread_t *threads;
};

static void *sl_executor_main(void *arg)
{
    sl_executor_t *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        while (!ex->head && !ex->stopping)
            pthread_cond_wait(&ex->cond, &ex->lock);
        sl_exec_item_t *it = ex->head;
        if (!it)
            break;   /* stopping and drained */
        ex->head = it->next;
        if (!ex->head)
            ex->tail = NULL;
        pthread_mutex_unlock(&ex->lock);
        it->fn(it->arg);
        free(it);
        pthread_mutex_lock(&ex->lock);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

sl_executor_t *sl_executor_new(size_t nthreads)
{
    sl_executor_t *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    ex->threads = calloc(nthreads ? nthreads : 1, sizeof *ex->threads);
    if (!ex->threads) {
        free(ex);
        return NULL;
    }
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->cond, NULL);
    for (size_t i = 0; i < nthreads; i++) {
        if (pthread_create(&ex->threads[i], NULL, sl_executor_main, ex) != 0) {
            sl_executor_free(ex);
            return NULL;
        }
        ex->nthreads++;
    }
    return ex;
}

sl_status_t sl_executor_submit(sl_executor_t *ex, sl_exec_fn fn, void *arg)
{
    sl_exec_item_t *it = malloc(sizeof *it);
    if (!it)
        return SL_ERR_NOMEM;
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&ex->lock);
    if (ex->stopping) {
        pthread_mutex_unlock(&ex->lock);
        free(it);
        return SL_ERR_CLOSED;
    }
    if (ex->tail)
        ex->tail->next = it;
    else
        ex->head = it;
    ex->tail = it;
    pthread_cond_signal(&ex->cond);
    pthread_mutex_unlock(&ex->lock);
    return SL_OK;
}

void sl_executor_free(sl_executor_t *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
    ex->stopping = true;
    pthread_cond_broadcast(&ex->cond);
    pthread_mutex_unlock(&ex->lock);
    for (size_t i = 0; i < ex->nthreads; i++)
        pthread_join(ex->threads[i], NULL);
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->cond);
    free(ex->threads);
    free(ex);
}

size_t sl_executor_threads(const sl_executor_t *ex)
{
    return ex->nthreads;
}
