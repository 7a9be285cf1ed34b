/* The sluice-worker instance: its link to the (active) master, the listener
 * for peers and clients, and the executor pool. One struct, passed down. */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stdint.h>
#include "status.h"

typedef struct {
    const char *masters;        /* "host:port[,host:port...]" */
    const char *listen;         /* host:port */
    const char *advertise;      /* address told to the master; NULL: listen */
    const char *id;             /* NULL: worker-<host>-<port> of advertise */
    const char *work_dir;       /* may be NULL */
    const char *secret_file;    /* may be NULL */
    uint64_t cores;
    uint64_t memory_bytes;
} sl_worker_opts_t;

typedef struct sl_worker sl_worker_t;

/* Strings in opts are borrowed for the worker's life. */
sl_worker_t *sl_worker_new(const sl_worker_opts_t *opts, char *err);
sl_status_t sl_worker_run(sl_worker_t *w);   /* until SIGTERM/SIGINT */
void sl_worker_free(sl_worker_t *w);         /* accepts NULL and half-built */

#endif
