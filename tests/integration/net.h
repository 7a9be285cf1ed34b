/* Loopback socket helpers for tests: free ports, connects, and reads and
 * writes with deadlines. */
#ifndef SL_IT_NET_H
#define SL_IT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness.h"

/* --- sockets ---------------------------------------------------------------- */

/* A loopback port nobody listens on right now, never the same twice in a run. */
bool it_free_addr(it_ctx_t *t, char out[IT_ADDR_LEN]);
/* Blocking connect to "host:port"; -1 (with a note) on failure. */
int it_connect(it_ctx_t *t, const char *addr);
/* True once something accepts connections on addr. */
bool it_wait_listening(it_ctx_t *t, const char *addr, int deadline_ms);
bool it_send_all(int fd, const void *buf, size_t len);
/* Reads until the peer closes (EOF or ECONNRESET) or the deadline passes.
 * Everything received is appended to *buf (malloc'ed, NUL-terminated; caller
 * frees). Returns true when the peer closed; *how says "eof" or "reset". */
bool it_read_until_closed(int fd, int deadline_ms, uint8_t **buf /* OUT */,
                          size_t *len /* OUT */, const char **how /* OUT */);
/* Reads exactly n bytes before the deadline; false on EOF/error/timeout. */
bool it_read_exact(int fd, void *buf, size_t n, int deadline_ms);
/* Port of the local end of a connected socket, 0 on error. */
unsigned it_local_port(int fd);

#endif
