/* Durations, sizes, addresses and integers from text, with errors that quote
 * what was wrong. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "parse.h"

#define SL_ERRF(err, ...) do { if (err) snprintf(err, SL_ERRMSG_LEN, __VA_ARGS__); } while (0)

typedef struct {
    const char *name;
    uint64_t factor;
} sl_unit_t;

static const sl_unit_t sl_duration_units[] = {
    { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

static const sl_unit_t sl_size_units[] = {
    { "", 1 }, { "b", 1 },
    { "k", 1ULL << 10 }, { "kb", 1ULL << 10 }, { "kib", 1ULL << 10 },
    { "m", 1ULL << 20 }, { "mb", 1ULL << 20 }, { "mib", 1ULL << 20 },
    { "g", 1ULL << 30 }, { "gb", 1ULL << 30 }, { "gib", 1ULL << 30 },
    { "t", 1ULL << 40 }, { "tb", 1ULL << 40 }, { "tib", 1ULL << 40 },
};

/* Reads "<digits>[.<digits>]" into an integer part and a fraction expressed
 * in millionths; returns the first character after the number, or NULL. */
static const char *sl_read_decimal(const char *p, uint64_t *whole, uint64_t *micro, bool *inexact)
{
    *inexact = false;
    if (!isdigit((unsigned char)*p))
        return NULL;
    uint64_t w = 0;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p++ - '0');
        if (w > (UINT64_MAX - d) / 10)
            return NULL;
        w = w * 10 + d;
    }
    uint64_t f = 0, scale = 100000;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p)) {
            unsigned d = (unsigned)(*p++ - '0');
            if (scale == 0 && d != 0)
                *inexact = true;   /* finer than a millionth: never whole */
            f += d * scale;
            scale /= 10;
        }
    }
    *whole = w;
    *micro = f;
    return p;
}

/* Shared by durations and sizes: number, then a unit from `units`. */
static sl_status_t sl_parse_scaled(const char *s, const sl_unit_t *units, size_t nunits,
                                   const char *what, const char *hint, uint64_t *out,
                                   char *err)
{
    if (!s || !*s) {
        SL_ERRF(err, "empty %s (expected e.g. %s)", what, hint);
        return SL_ERR_INVALID;
    }
    uint64_t whole, micro;
    bool inexact;
    const char *unit = sl_read_decimal(s, &whole, &micro, &inexact);
    if (!unit) {
        SL_ERRF(err, "invalid %s '%s' (expected e.g. %s)", what, s, hint);
        return SL_ERR_INVALID;
    }
    for (size_t i = 0; i < nunits; i++) {
        if (strcasecmp(unit, units[i].name) != 0)
            continue;
        uint64_t f = units[i].factor;
        if (whole > UINT64_MAX / f) {
            SL_ERRF(err, "%s '%s' is too large", what, s);
            return SL_ERR_INVALID;
        }
        /* micro * f fits: micro < 10^6 and f <= 2^40. */
        uint64_t frac = micro * f;
        if (inexact || frac % 1000000 != 0) {
            SL_ERRF(err, "%s '%s' is not a whole number of %s", what, s,
                    units == sl_duration_units ? "milliseconds" : "bytes");
            return SL_ERR_INVALID;
        }
        uint64_t v = whole * f;
        if (v > UINT64_MAX - frac / 1000000) {
            SL_ERRF(err, "%s '%s' is too large", what, s);
            return SL_ERR_INVALID;
        }
        *out = v + frac / 1000000;
        return SL_OK;
    }
    SL_ERRF(err, "invalid %s '%s': unknown unit '%s' (expected e.g. %s)", what, s, unit, hint);
    return SL_ERR_INVALID;
}

sl_status_t sl_parse_duration_ms(const char *s, uint64_t *out, char *err)
{
    if (s && strcmp(s, "0") == 0) {
        *out = 0;
        return SL_OK;
    }
    return sl_parse_scaled(s, sl_duration_units, sizeof sl_duration_units / sizeof *sl_duration_units,
                           "duration", "500ms, 10s, 2m, 1h", out, err);
}

sl_status_t sl_parse_size(const char *s, uint64_t *out, char *err)
{
    return sl_parse_scaled(s, sl_size_units, sizeof sl_size_units / sizeof *sl_size_units,
                           "size", "4096, 512M, 2G", out, err);
}

sl_status_t sl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err)
{
    uint64_t whole, micro;
    bool inexact;
    const char *end = s ? sl_read_decimal(s, &whole, &micro, &inexact) : NULL;
    if (!end || *end || micro || strchr(s, '.')) {
        SL_ERRF(err, "invalid number '%s'", s ? s : "");
        return SL_ERR_INVALID;
    }
    if (whole < min || whole > max) {
        SL_ERRF(err, "number '%s' out of range [%llu, %llu]", s, (unsigned long long)min,
                (unsigned long long)max);
        return SL_ERR_INVALID;
    }
    *out = whole;
    return SL_OK;
}

sl_status_t sl_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port,
                              char *err)
{
    const char *colon, *hstart = s;
    size_t hlen;
    if (!s || !*s) {
        SL_ERRF(err, "empty address (expected host:port)");
        return SL_ERR_INVALID;
    }
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            SL_ERRF(err, "invalid address '%s' (expected [v6addr]:port)", s);
            return SL_ERR_INVALID;
        }
        hstart = s + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon) {
            SL_ERRF(err, "invalid address '%s' (expected host:port)", s);
            return SL_ERR_INVALID;
        }
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostlen) {
        SL_ERRF(err, "invalid address '%s': bad host part", s);
        return SL_ERR_INVALID;
    }
    uint64_t p;
    if (sl_parse_uint(colon + 1, 0, 65535, &p, NULL) != SL_OK) {
        SL_ERRF(err, "invalid address '%s': port must be 0-65535", s);
        return SL_ERR_INVALID;
    }
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return SL_OK;
}

void sl_addr_list_free(char **list)
{
    if (!list)
        return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

sl_status_t sl_parse_addr_list(const char *s, char ***out, size_t *count, char *err)
{
    if (!s || !*s) {
        SL_ERRF(err, "empty address list (expected host:port[,host:port...])");
        return SL_ERR_INVALID;
    }
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return SL_ERR_NOMEM;
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        list[i] = strndup(p, len);
        if (!list[i]) {
            sl_addr_list_free(list);
            return SL_ERR_NOMEM;
        }
        char host[256];
        uint16_t port;
        if (sl_parse_hostport(list[i], host, sizeof host, &port, err) != SL_OK) {
            sl_addr_list_free(list);
            return SL_ERR_INVALID;
        }
        p = end ? end + 1 : p + len;
    }
    *out = list;
    *count = n;
    return SL_OK;
}

void sl_format_duration_ms(uint64_t ms, char *buf, size_t len)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
}
