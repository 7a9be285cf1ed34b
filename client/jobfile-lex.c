/* The job-file lexer: tokens (names, numbers as written, quoted strings with
 * their escapes, punctuation, significant newlines) with their line and
 * column, read one ahead for the parser in client/jobfile.c. Also the pool
 * and the positioned errors that lexer and parser share. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jobfile.h"
#include "jobfile-internal.h"

struct sl_jf_blk {
    struct sl_jf_blk *next;
    max_align_t data[];
};

/* --- memory: a pool freed in one go ---------------------------------------- */

/* Zeroed memory that lives until the parse ends; NULL (and jf->nomem set)
 * when out of memory. */
void *sl_jf_alloc(sl_jf_t *jf, size_t n)
{
    sl_jf_blk_t *b = calloc(1, sizeof *b + n);
    if (!b) {
        jf->nomem = SL_ERR_NOMEM;
        return NULL;
    }
    b->next = jf->pool;
    jf->pool = b;
    return b->data;
}

/* A NUL-terminated copy of n bytes of s in the pool; NULL when out of memory. */
static char *sl_jf_strndup(sl_jf_t *jf, const char *s, size_t n)
{
    char *d = sl_jf_alloc(jf, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

void sl_jf_pool_free(sl_jf_t *jf)
{
    while (jf->pool) {
        sl_jf_blk_t *next = jf->pool->next;
        free(jf->pool);
        jf->pool = next;
    }
}

/* --- errors ------------------------------------------------------------------- */

/* Writes "origin:line:col: message" and returns SL_ERR_INVALID, or
 * SL_ERR_NOMEM with "out of memory" when an allocation failed before. */
__attribute__((format(printf, 4, 5)))
sl_status_t sl_jf_fail(sl_jf_t *jf, unsigned line, unsigned col, const char *fmt, ...)
{
    if (jf->nomem) {
        snprintf(jf->err, SL_ERRMSG_LEN, "%s: out of memory", jf->origin);
        return SL_ERR_NOMEM;
    }
    int n = snprintf(jf->err, SL_ERRMSG_LEN, "%s:%u:%u: ", jf->origin, line, col);
    if (n >= 0 && n < SL_ERRMSG_LEN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(jf->err + n, SL_ERRMSG_LEN - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return SL_ERR_INVALID;
}

sl_status_t sl_jf_oom(sl_jf_t *jf)
{
    jf->nomem = SL_ERR_NOMEM;
    sl_jf_fail(jf, 0, 0, "out of memory");
    return SL_ERR_NOMEM;
}

/* --- lexer -------------------------------------------------------------------- */

/* The 1-based column of `at`, a position on the current line. */
static unsigned sl_jf_col(const sl_jf_t *jf, const char *at)
{
    return (unsigned)(at - jf->bol) + 1;
}

static void sl_jf_newline(sl_jf_t *jf)
{
    jf->p++;                    /* the '\n' */
    jf->line++;
    jf->bol = jf->p;
}

/* Is the first thing after the newline at jf->p (past blank and comment
 * lines) a '.'? Then the statement goes on. Remembers the answer so that a
 * run of blank lines is scanned once. */
static bool sl_jf_continues(sl_jf_t *jf)
{
    if (jf->cont > jf->p)
        return true;
    const char *q = jf->p;
    while (q < jf->end) {
        if (*q == '#') {
            while (q < jf->end && *q != '\n')
                q++;
        } else if (*q == '\n' || sl_jf_is_space(*q)) {
            q++;
        } else {
            break;
        }
    }
    if (q < jf->end && *q == '.') {
        jf->cont = q;
        return true;
    }
    return false;
}

/* A quoted string at jf->p, escapes \" \\ \n \t; it may not span lines. */
static sl_status_t sl_jf_lex_string(sl_jf_t *jf, sl_token_t *t)
{
    jf->p++;                    /* the opening quote */
    size_t cap = 16, n = 0;
    char *buf = sl_jf_alloc(jf, cap);
    if (!buf)
        return sl_jf_oom(jf);
    for (;;) {
        if (jf->p >= jf->end || *jf->p == '\n')
            return sl_jf_fail(jf, t->line, t->col, "unterminated string");
        char c = *jf->p;
        if (c == '"') {
            jf->p++;
            break;
        }
        if (c == '\0')
            return sl_jf_fail(jf, jf->line, sl_jf_col(jf, jf->p), "NUL byte in string");
        if (c == '\\') {
            char e = jf->p + 1 < jf->end ? jf->p[1] : '\0';
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            default:
                if (e == '\0' || e == '\n')
                    return sl_jf_fail(jf, t->line, t->col, "unterminated string");
                return sl_jf_fail(jf, jf->line, sl_jf_col(jf, jf->p),
                                  "unknown escape '\\%c' in string (use \\\" \\\\ \\n \\t)", e);
            }
            jf->p++;
        }
        jf->p++;
        if (n + 1 == cap) {
            char *nb = sl_jf_alloc(jf, cap * 2);
            if (!nb)
                return sl_jf_oom(jf);
            memcpy(nb, buf, n);
            buf = nb;
            cap *= 2;
        }
        buf[n++] = c;
    }
    t->type = SL_TK_STRING;
    t->text = buf;
    return SL_OK;
}

/* Reads the next token into *t. Comments and blank space are skipped;
 * newlines are tokens except inside parentheses and before a line that
 * starts with '.'. */
static sl_status_t sl_jf_lex(sl_jf_t *jf, sl_token_t *t)
{
    memset(t, 0, sizeof *t);
    for (;;) {
        while (jf->p < jf->end && sl_jf_is_space(*jf->p))
            jf->p++;
        if (jf->p < jf->end && *jf->p == '#') {
            while (jf->p < jf->end && *jf->p != '\n')
                jf->p++;
            continue;
        }
        if (jf->p < jf->end && *jf->p == '\n' && (jf->depth > 0 || sl_jf_continues(jf))) {
            sl_jf_newline(jf);
            continue;
        }
        break;
    }
    t->line = jf->line;
    t->col = sl_jf_col(jf, jf->p);
    if (jf->p >= jf->end) {
        t->type = SL_TK_EOF;
        t->text = (char *)"end of file";
        return SL_OK;
    }
    const char *s = jf->p;
    char c = *s;
    if (c == '\n') {
        sl_jf_newline(jf);
        t->type = SL_TK_NL;
        t->text = (char *)"end of line";
        return SL_OK;
    }
    if (c == '"')
        return sl_jf_lex_string(jf, t);
    if (sl_jf_is_alpha(c) || sl_jf_is_digit(c) ||
        (c == '-' && s + 1 < jf->end && sl_jf_is_digit(s[1]))) {
        /* A name, or a number as written ("2", "-1", "1.5", "2x": checked later). */
        t->type = sl_jf_is_alpha(c) ? SL_TK_IDENT : SL_TK_NUMBER;
        jf->p++;
        while (jf->p < jf->end && (sl_jf_is_alpha(*jf->p) || sl_jf_is_digit(*jf->p) ||
                                   (t->type == SL_TK_NUMBER && *jf->p == '.')))
            jf->p++;
        t->text = sl_jf_strndup(jf, s, (size_t)(jf->p - s));
        return t->text ? SL_OK : sl_jf_oom(jf);
    }
    static const struct { char c; sl_tk_t type; const char *text; } punct[] = {
        { '(', SL_TK_LPAREN, "'('" }, { ')', SL_TK_RPAREN, "')'" }, { ',', SL_TK_COMMA, "','" },
        { '.', SL_TK_DOT, "'.'" }, { '=', SL_TK_EQ, "'='" },
    };
    for (size_t i = 0; i < sizeof punct / sizeof *punct; i++) {
        if (c != punct[i].c)
            continue;
        jf->p++;
        t->type = punct[i].type;
        t->text = (char *)punct[i].text;
        if (c == '(')
            jf->depth++;
        else if (c == ')' && jf->depth > 0)
            jf->depth--;
        return SL_OK;
    }
    if (c >= 0x21 && c <= 0x7e)
        return sl_jf_fail(jf, t->line, t->col, "unexpected character '%c'", c);
    return sl_jf_fail(jf, t->line, t->col, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
}

sl_status_t sl_jf_peek(sl_jf_t *jf, const sl_token_t **t)
{
    if (!jf->have_tok) {
        sl_status_t st = sl_jf_lex(jf, &jf->tok);
        if (st != SL_OK)
            return st;
        jf->have_tok = true;
    }
    *t = &jf->tok;
    return SL_OK;
}

sl_status_t sl_jf_take(sl_jf_t *jf, sl_token_t *t)
{
    const sl_token_t *p;
    sl_status_t st = sl_jf_peek(jf, &p);
    if (st != SL_OK)
        return st;
    *t = *p;
    jf->have_tok = false;
    return SL_OK;
}

/* How a token reads in "expected X, got Y". */
static void sl_tk_describe(const sl_token_t *t, char *buf, size_t len)
{
    switch (t->type) {
    case SL_TK_EOF:
    case SL_TK_NL:
    case SL_TK_LPAREN:
    case SL_TK_RPAREN:
    case SL_TK_COMMA:
    case SL_TK_DOT:
    case SL_TK_EQ:
        snprintf(buf, len, "%s", t->text);
        break;
    case SL_TK_STRING:
        snprintf(buf, len, "string \"%.40s\"", t->text);
        break;
    case SL_TK_IDENT:
    case SL_TK_NUMBER:
        snprintf(buf, len, "'%.60s'", t->text);
        break;
    }
}

sl_status_t sl_jf_unexpected(sl_jf_t *jf, const sl_token_t *t, const char *expected)
{
    char got[80];
    sl_tk_describe(t, got, sizeof got);
    return sl_jf_fail(jf, t->line, t->col, "expected %s, got %s", expected, got);
}

/* Takes the next token, which must be of `type`. */
sl_status_t sl_jf_expect(sl_jf_t *jf, sl_tk_t type, const char *expected, sl_token_t *t)
{
    sl_status_t st = sl_jf_take(jf, t);
    if (st != SL_OK)
        return st;
    return t->type == type ? SL_OK : sl_jf_unexpected(jf, t, expected);
}

/* The end of a statement: a newline or the end of the file. */
sl_status_t sl_jf_end_statement(sl_jf_t *jf, const char *after)
{
    sl_token_t t;
    sl_status_t st = sl_jf_take(jf, &t);
    if (st != SL_OK || t.type == SL_TK_NL || t.type == SL_TK_EOF)
        return st;
    char got[80];
    sl_tk_describe(&t, got, sizeof got);
    return sl_jf_fail(jf, t.line, t.col, "unexpected %s after %s", got, after);
}

/* The value of a header line read as one raw word: everything up to blank
 * space, a comment or the end of the line ("1.5s", "word-count"). */
sl_status_t sl_jf_word(sl_jf_t *jf, const char *what, const sl_token_t *kw, sl_token_t *t)
{
    while (jf->p < jf->end && sl_jf_is_space(*jf->p))
        jf->p++;
    const char *s = jf->p;
    while (jf->p < jf->end && !sl_jf_is_space(*jf->p) && *jf->p != '\n' && *jf->p != '#')
        jf->p++;
    t->line = jf->line;
    t->col = sl_jf_col(jf, s);
    if (jf->p == s)
        return sl_jf_fail(jf, t->line, t->col, "expected %s after '%s'", what, kw->text);
    t->type = SL_TK_IDENT;
    t->text = sl_jf_strndup(jf, s, (size_t)(jf->p - s));
    return t->text ? SL_OK : sl_jf_oom(jf);
}
