/* User functions: loading a user library (dlopen, then its ABI version and
 * function table checked against common/sluice_udf.h) and the adapters that
 * call its functions as sl_func_t call steps, turning Sluice records into ABI
 * records and back. sl_func_compile (common/funcs.c) finds them through
 * sl_udf_find(). */
#include <dlfcn.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "funcs.h"
#include "funcs-internal.h"
#include "sluice_udf.h"

#define SL_UDF_MAX 4096                /* entries of a library's table, as a sanity bound */

struct sl_udf_lib {
    void *dl;
    const sl_udf_def_t *defs;     /* inside the library */
    size_t ndefs;
    char *file;                   /* base name, for messages */
};

/* --- user functions: calls ------------------------------------------------ */

/* One call of a user function; ctx.internal points back here. */
typedef struct {
    sl_udf_ctx_t ctx;
    const sl_func_t *f;
    sl_arena_t *a;
    sl_emit_t *emit;              /* flat_map only */
    sl_status_t emit_st;          /* first failure of an emit */
    const char *bad;              /* why an emitted record was refused */
    char msg[192];                /* from ctx->error, room left for the prefix */
} sl_udf_call_t;

static const sl_fn_kind_t sl_udf_kinds[] = {
    [SL_UDF_MAP] = SL_FN_MAP, [SL_UDF_FLAT_MAP] = SL_FN_FLAT_MAP, [SL_UDF_FILTER] = SL_FN_FILTER,
    [SL_UDF_REDUCE] = SL_FN_REDUCE, [SL_UDF_KEY] = SL_FN_KEY,
};

/* A Sluice value as the ABI sees it. Lists and tuples become their text
 * rendering: in the arena when there is one, else in scratch slot 0. */
static sl_status_t sl_udf_value_in(const sl_value_t *v, sl_arena_t *a, sl_udf_record_t *u /* OUT */)
{
    sl_text_t t;
    sl_status_t st;
    switch (v->type) {
    case SL_VAL_NULL:
        u->type = SL_UDF_NULL;
        return SL_OK;
    case SL_VAL_INT:
        u->type = SL_UDF_INT;
        u->i = v->u.i;
        return SL_OK;
    case SL_VAL_DOUBLE:
        u->type = SL_UDF_DOUBLE;
        u->d = v->u.d;
        return SL_OK;
    default:
        st = a ? sl_funcs_text_keep(v, a, &t) : sl_funcs_text_of(v, 0, &t);
        if (st != SL_OK)
            return st;
        u->type = SL_UDF_BYTES;
        u->bytes = t.p;
        u->len = t.len;
        return SL_OK;
    }
}

static sl_status_t sl_udf_record_in(const sl_record_t *in, sl_arena_t *a,
                                    sl_udf_record_t *u /* OUT */)
{
    *u = (sl_udf_record_t){ .key = in->key_len ? in->key : sl_funcs_empty, .key_len = in->key_len };
    return sl_udf_value_in(&in->val, a, u);
}

/* The value of an ABI record; NULL, or why it is not acceptable. */
static const char *sl_udf_value_out(const sl_udf_record_t *u, sl_value_t *v /* OUT */)
{
    switch (u->type) {
    case SL_UDF_NULL:
        *v = sl_val_null();
        return NULL;
    case SL_UDF_INT:
        *v = sl_val_int(u->i);
        return NULL;
    case SL_UDF_DOUBLE:
        *v = sl_val_double(u->d);
        return NULL;
    case SL_UDF_BYTES:
        if (!u->bytes && u->len)
            return "bytes is NULL but len is not 0";
        *v = sl_funcs_bytes_value(u->bytes, u->len);
        return NULL;
    }
    return "unknown value type";
}

static const char *sl_udf_record_out(const sl_udf_record_t *u, sl_record_t *r /* OUT */)
{
    if (!u->key && u->key_len)
        return "key is NULL but key_len is not 0";
    r->key = u->key_len ? u->key : sl_funcs_empty;
    r->key_len = u->key_len;
    return sl_udf_value_out(u, &r->val);
}

static void *sl_udf_alloc(sl_udf_ctx_t *ctx, size_t n)
{
    sl_udf_call_t *c = ctx->internal;
    return sl_arena_alloc(c->a, n ? n : 1);
}

static void sl_udf_error(sl_udf_ctx_t *ctx, const char *msg)
{
    sl_udf_call_t *c = ctx->internal;
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "");
}

static int sl_udf_emit(sl_udf_ctx_t *ctx, const sl_udf_record_t *u)
{
    sl_udf_call_t *c = ctx->internal;
    sl_record_t r;
    if (c->emit_st != SL_OK)
        return -1;
    if (!c->emit)
        c->bad = "emit is only for flat_map functions";
    else if (!u)
        c->bad = "the record is NULL";
    else
        c->bad = sl_udf_record_out(u, &r);
    if (c->bad) {
        c->emit_st = SL_ERR_INTERNAL;
        return -1;
    }
    c->emit_st = c->emit->fn(c->emit, &r);
    return c->emit_st == SL_OK ? 0 : -1;
}

static void sl_udf_begin(sl_udf_call_t *c, const sl_func_t *f, sl_arena_t *a, sl_emit_t *emit)
{
    c->ctx.alloc = sl_udf_alloc;
    c->ctx.emit = sl_udf_emit;
    c->ctx.error = sl_udf_error;
    c->ctx.internal = c;
    c->f = f;
    c->a = a;
    c->emit = emit;
    c->emit_st = SL_OK;
    c->bad = NULL;
    c->msg[0] = '\0';
}

/* The status of a call that returned rc, with its message in err. */
static sl_status_t sl_udf_end(const sl_udf_call_t *c, int rc, char *err)
{
    if (c->emit_st != SL_OK && c->bad) {
        SL_ERRF(err, "user function '%s' emitted a bad record: %s", c->f->name, c->bad);
        return c->emit_st;
    }
    if (c->emit_st != SL_OK) {
        SL_ERRF(err, "user function '%s': passing a record on failed: %s", c->f->name,
                sl_strerror(c->emit_st));
        return c->emit_st;
    }
    if (rc == 0)
        return SL_OK;
    if (c->msg[0])
        SL_ERRF(err, "user function '%s' failed: %s", c->f->name, c->msg);
    else
        SL_ERRF(err, "user function '%s' failed: returned %d", c->f->name, rc);
    return SL_ERR_INTERNAL;
}

static sl_status_t sl_udf_refused(const sl_func_t *f, const char *why, char *err)
{
    SL_ERRF(err, "user function '%s' returned a bad record: %s", f->name, why);
    return SL_ERR_INTERNAL;
}

static sl_status_t sl_udf_map(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                              sl_arena_t *a, char *err)
{
    sl_udf_call_t c;
    sl_udf_record_t u, r;
    sl_record_t rec;
    sl_status_t st = sl_udf_record_in(in, a, &u);
    if (st != SL_OK)
        return st;
    r = u;                        /* what the function does not set stays as it was */
    sl_udf_begin(&c, f, a, NULL);
    int rc = ((sl_udf_map_fn)f->ufn)(&c.ctx, &u, &r);
    if ((st = sl_udf_end(&c, rc, err)) != SL_OK)
        return st;
    const char *why = sl_udf_record_out(&r, &rec);
    if (why)
        return sl_udf_refused(f, why, err);
    *out = rec;
    return SL_OK;
}

static sl_status_t sl_udf_key(const sl_func_t *f, const sl_record_t *in, sl_record_t *out,
                              sl_arena_t *a, char *err)
{
    sl_udf_call_t c;
    sl_udf_record_t u;
    sl_status_t st = sl_udf_record_in(in, a, &u);
    if (st != SL_OK)
        return st;
    const void *key = u.key;
    size_t key_len = u.key_len;
    sl_udf_begin(&c, f, a, NULL);
    int rc = ((sl_udf_key_fn)f->ufn)(&c.ctx, &u, &key, &key_len);
    if ((st = sl_udf_end(&c, rc, err)) != SL_OK)
        return st;
    if (!key && key_len)
        return sl_udf_refused(f, "key is NULL but key_len is not 0", err);
    out->key = key_len ? key : sl_funcs_empty;
    out->key_len = key_len;
    out->val = in->val;           /* the value as it was, lists included */
    return SL_OK;
}

static sl_status_t sl_udf_flat_map(const sl_func_t *f, const sl_record_t *in, sl_emit_t *emit,
                                   sl_arena_t *a, char *err)
{
    sl_udf_call_t c;
    sl_udf_record_t u;
    sl_status_t st = sl_udf_record_in(in, a, &u);
    if (st != SL_OK)
        return st;
    sl_udf_begin(&c, f, a, emit);
    int rc = ((sl_udf_flat_map_fn)f->ufn)(&c.ctx, &u);
    return sl_udf_end(&c, rc, err);
}

static bool sl_udf_filter(const sl_func_t *f, const sl_record_t *in)
{
    sl_udf_record_t u;
    return sl_udf_record_in(in, NULL, &u) == SL_OK && ((sl_udf_filter_fn)f->ufn)(&u) != 0;
}

static sl_status_t sl_udf_fold(const sl_func_t *f, const sl_value_t *x, const sl_value_t *y,
                               bool y_input, sl_value_t *out, sl_arena_t *a, char *err)
{
    sl_udf_call_t c;
    sl_udf_record_t ux = { 0 }, uy = { 0 }, r;
    sl_value_t v;
    sl_status_t st = sl_udf_value_in(x, a, &ux);
    if (st != SL_OK || (st = sl_udf_value_in(y, a, &uy)) != SL_OK)
        return st;
    r = ux;
    sl_udf_begin(&c, f, a, NULL);
    int rc = ((sl_udf_reduce_fn)f->ufn)(&c.ctx, &ux, &uy, &r);
    if ((st = sl_udf_end(&c, rc, err)) != SL_OK)
        return st;
    const char *why = sl_udf_value_out(&r, &v);
    if (why)
        return sl_udf_refused(f, why, err);
    /* An accumulator must not borrow from an input record. */
    bool from_y = y_input && y->type == SL_VAL_BYTES && v.type == SL_VAL_BYTES && v.u.b.len &&
                  (uintptr_t)v.u.b.p + v.u.b.len > (uintptr_t)y->u.b.p &&
                  (uintptr_t)v.u.b.p < (uintptr_t)y->u.b.p + y->u.b.len;
    return sl_funcs_keep(&v, from_y, a, out);
}

static const sl_calls_t sl_udf_calls[] = {
    [SL_UDF_MAP] = SL_MAP(sl_udf_map),
    [SL_UDF_FLAT_MAP] = SL_FLAT(sl_udf_flat_map),
    [SL_UDF_FILTER] = SL_FILTER(sl_udf_filter),
    [SL_UDF_REDUCE] = SL_REDUCE(sl_reduce_init_keep, sl_udf_fold, sl_udf_fold),
    [SL_UDF_KEY] = SL_MAP(sl_udf_key),
};

/* --- user functions: the library ------------------------------------------ */

void sl_udf_lib_free(sl_udf_lib_t *lib)
{
    if (!lib)
        return;
    if (lib->dl)
        dlclose(lib->dl);
    free(lib->file);
    free(lib);
}

bool sl_udf_find(const sl_udf_lib_t *lib, const char *name, sl_udf_entry_t *out)
{
    for (size_t i = 0; i < lib->ndefs; i++) {
        const sl_udf_def_t *d = &lib->defs[i];
        if (strcmp(d->name, name) == 0) {
            out->name = d->name;
            out->kind = sl_udf_kinds[d->kind];
            out->calls = &sl_udf_calls[d->kind];
            out->fn = d->fn;
            return true;
        }
    }
    return false;
}

const char *sl_udf_lib_file(const sl_udf_lib_t *lib)
{
    return lib->file;
}

/* Checks every entry of the table and counts them. */
static sl_status_t sl_udf_check_table(sl_udf_lib_t *lib, char *err)
{
    size_t i;
    for (i = 0; lib->defs[i].name; i++) {
        const sl_udf_def_t *d = &lib->defs[i];
        if (i == SL_UDF_MAX) {
            SL_ERRF(err, "'%s': sluice_udfs has more than %d entries (is the {0} end missing?)",
                    lib->file, SL_UDF_MAX);
            return SL_ERR_INVALID;
        }
        if (!*d->name) {
            SL_ERRF(err, "'%s': sluice_udfs entry %zu has an empty name", lib->file, i);
            return SL_ERR_INVALID;
        }
        if ((unsigned)d->kind >= SL_NELEM(sl_udf_kinds) || !sl_udf_kinds[d->kind]) {
            SL_ERRF(err, "'%s': function '%s' has unknown kind %d", lib->file, d->name,
                    (int)d->kind);
            return SL_ERR_INVALID;
        }
        if (!d->fn) {
            SL_ERRF(err, "'%s': function '%s' has no code (fn is NULL)", lib->file, d->name);
            return SL_ERR_INVALID;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(lib->defs[j].name, d->name) == 0) {
                SL_ERRF(err, "'%s' defines function '%s' twice", lib->file, d->name);
                return SL_ERR_INVALID;
            }
        }
    }
    lib->ndefs = i;
    return SL_OK;
}

sl_status_t sl_udf_lib_load(const char *path, sl_udf_lib_t **out, char *err)
{
    sl_status_t st = SL_ERR_INVALID;
    sl_udf_lib_t *lib = NULL;
    char *local = NULL;
    if (!path || !*path) {
        SL_ERRF(err, "empty user library path");
        goto fail;
    }
    const char *slash = strrchr(path, '/');
    const char *file = slash && slash[1] ? slash + 1 : path;
    st = SL_ERR_NOMEM;
    if (!(lib = calloc(1, sizeof *lib)) || !(lib->file = strdup(file)))
        goto fail;
    /* dlopen searches the system's library path for a bare name; a job's
     * library is a file, so a bare name means one in the current directory. */
    if (!slash) {
        if (!(local = malloc(strlen(path) + 3)))
            goto fail;
        sprintf(local, "./%s", path);
    }
    st = SL_ERR_INVALID;
    if (!(lib->dl = dlopen(local ? local : path, RTLD_NOW | RTLD_LOCAL))) {
        const char *why = dlerror();
        SL_ERRF(err, "cannot load user library '%s': %s", lib->file, why ? why : "unknown error");
        goto fail;
    }
    if (!(lib->defs = dlsym(lib->dl, "sluice_udfs"))) {
        SL_ERRF(err, "'%s' has no sluice_udfs table (see sluice_udf.h)", lib->file);
        goto fail;
    }
    const unsigned *abi = dlsym(lib->dl, "sluice_udf_abi");
    if (!abi) {
        SL_ERRF(err, "'%s' has no sluice_udf_abi version (see sluice_udf.h)", lib->file);
        goto fail;
    }
    if (*abi != SLUICE_UDF_ABI) {
        SL_ERRF(err, "'%s' was built for UDF ABI %u, this Sluice speaks %u", lib->file, *abi,
                (unsigned)SLUICE_UDF_ABI);
        goto fail;
    }
    if ((st = sl_udf_check_table(lib, err)) != SL_OK)
        goto fail;
    free(local);
    *out = lib;
    return SL_OK;

fail:
    free(local);
    sl_udf_lib_free(lib);
    return st;
}

sl_status_t sl_udf_lib_load_bytes(const void *data, size_t len, const char *name, const char *dir,
                                  sl_udf_lib_t **out, char *err)
{
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : (name && *name ? name : "library.so");
    if (!dir)
        dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmpdir[512], path[1024];
    snprintf(tmpdir, sizeof tmpdir, "%.400s/sluice-lib-XXXXXX", dir);
    if (!mkdtemp(tmpdir)) {
        SL_ERRF(err, "cannot create a directory under %.100s for library '%.80s': %s", dir, base,
                strerror(errno));
        return SL_ERR_IO;
    }
    snprintf(path, sizeof path, "%.500s/%.200s", tmpdir, base);
    sl_status_t st = SL_ERR_IO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (fd < 0) {
        SL_ERRF(err, "cannot write library '%.80s' to %.100s: %s", base, tmpdir, strerror(errno));
        goto rmdir;
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            SL_ERRF(err, "cannot write library '%s': %s", base, strerror(errno));
            close(fd);
            goto unlink;
        }
        p += w;
        left -= (size_t)w;
    }
    close(fd);
    st = sl_udf_lib_load(path, out, err);
unlink:
    unlink(path);
rmdir:
    rmdir(tmpdir);
    return st;
}
