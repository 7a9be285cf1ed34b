/* Table-driven flag parsing shared by sluice-master, sluice-worker and sluice. */
#include <stdio.h>
#include <string.h>
#include "flags.h"
#include "log.h"
#include "parse.h"

static const sl_flag_t *sl_flag_find(const sl_flag_t *flags, size_t n, const char *name,
                                     size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

/* Stores `val` into the flag's destination, checking type and range. */
static sl_status_t sl_flag_set(const sl_flag_t *f, const char *val, char *err)
{
    char why[SL_ERRMSG_LEN];
    uint64_t max = f->max ? f->max : UINT64_MAX, v;
    sl_status_t st = SL_OK;
    switch (f->kind) {
    case SL_FLAG_STRING:
        if (!*val) {
            snprintf(err, SL_ERRMSG_LEN, "--%s: empty value", f->name);
            return SL_ERR_INVALID;
        }
        *(const char **)f->dest = val;
        return SL_OK;
    case SL_FLAG_BOOL:
        *(bool *)f->dest = true;
        return SL_OK;
    case SL_FLAG_UINT:
        st = sl_parse_uint(val, f->min, max, &v, why);
        break;
    case SL_FLAG_DURATION:
        st = sl_parse_duration_ms(val, &v, why);
        break;
    case SL_FLAG_SIZE:
        st = sl_parse_size(val, &v, why);
        break;
    case SL_FLAG_ADDR: {
        char host[256];
        uint16_t port;
        st = sl_parse_hostport(val, host, sizeof host, &port, why);
        if (st == SL_OK)
            *(const char **)f->dest = val;
        break;
    }
    case SL_FLAG_ADDR_LIST: {
        char **list;
        size_t n;
        st = sl_parse_addr_list(val, &list, &n, why);
        if (st == SL_OK) {
            sl_addr_list_free(list);
            *(const char **)f->dest = val;
        }
        break;
    }
    case SL_FLAG_LOG_LEVEL:
        st = sl_log_parse_level(val, (sl_log_level_t *)f->dest);
        if (st != SL_OK)
            snprintf(why, sizeof why, "invalid log level '%.64s' (debug, info, warn, error, off)",
                     val);
        break;
    }
    if (st == SL_OK && (f->kind == SL_FLAG_DURATION || f->kind == SL_FLAG_SIZE)) {
        if (v < f->min || v > max) {
            snprintf(why, sizeof why, "'%.64s' is out of range", val);
            st = SL_ERR_INVALID;
        } else {
            *(uint64_t *)f->dest = v;
        }
    } else if (st == SL_OK && f->kind == SL_FLAG_UINT) {
        *(uint64_t *)f->dest = v;
    }
    if (st != SL_OK)
        snprintf(err, SL_ERRMSG_LEN, "--%.32s: %.200s", f->name, why);
    return st;
}

sl_status_t sl_flags_parse(const sl_flag_t *flags, size_t nflags, int argc, char **argv,
                           int *next, bool *help, char *err)
{
    *help = false;
    int i = *next;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            break;
        }
        if (a[0] != '-')
            break;
        if (a[1] != '-') {
            snprintf(err, SL_ERRMSG_LEN, "unknown flag '%.64s'", a);
            return SL_ERR_INVALID;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const sl_flag_t *f = sl_flag_find(flags, nflags, name, len);
        if (!f) {
            snprintf(err, SL_ERRMSG_LEN, "unknown flag '--%.*s'", (int)(len > 64 ? 64 : len), name);
            return SL_ERR_INVALID;
        }
        const char *val;
        if (f->kind == SL_FLAG_BOOL) {
            if (eq) {
                snprintf(err, SL_ERRMSG_LEN, "--%s takes no value", f->name);
                return SL_ERR_INVALID;
            }
            val = "";
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, SL_ERRMSG_LEN, "--%s needs a value (%s)", f->name,
                     f->metavar ? f->metavar : "VALUE");
            return SL_ERR_INVALID;
        }
        sl_status_t st = sl_flag_set(f, val, err);
        if (st != SL_OK)
            return st;
    }
    *next = i;
    return SL_OK;
}

void sl_flags_usage(FILE *out, const char *usage, const char *summary, const sl_flag_t *flags,
                    size_t nflags)
{
    fprintf(out, "Usage: %s\n\n%s\n", usage, summary);
    if (nflags)
        fprintf(out, "\nFlags:\n");
    for (size_t i = 0; i < nflags; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, flags[i].metavar ? " " : "",
                 flags[i].metavar ? flags[i].metavar : "");
        fprintf(out, "  %-28s %s\n", left, flags[i].help);
    }
    fprintf(out, "  %-28s %s\n", "--help", "show this help and exit");
}
