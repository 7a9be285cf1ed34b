/* What the job-file lexer (client/jobfile-lex.c) and parser
 * (client/jobfile.c) share: tokens, the parse state with its cursor, the
 * pool everything is allocated from, positioned errors, and the token
 * stream the parser reads. Private to those two files. */
#ifndef SL_JOBFILE_INTERNAL_H
#define SL_JOBFILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "jobfile.h"

/* --- tokens ------------------------------------------------------------------ */

typedef enum {
    SL_TK_EOF,
    SL_TK_NL,
    SL_TK_IDENT,
    SL_TK_NUMBER,
    SL_TK_STRING,
    SL_TK_LPAREN,
    SL_TK_RPAREN,
    SL_TK_COMMA,
    SL_TK_DOT,
    SL_TK_EQ,
} sl_tk_t;

typedef struct {
    sl_tk_t type;
    char *text;             /* NUL-terminated, in the pool: the name, the number as
                             * written, or the string with quotes and escapes removed */
    unsigned line, col;
} sl_token_t;

/* A block of the pool (client/jobfile-lex.c). */
typedef struct sl_jf_blk sl_jf_blk_t;

/* --- the parse state ---------------------------------------------------------- */

/* One parse: first the lexer's cursor and what both halves use (origin, error
 * slot, pool), then what the parser builds and remembers. */
typedef struct {
    const char *origin;
    const char *p, *end;        /* the cursor and the end of the text */
    const char *bol;            /* beginning of the current line */
    const char *cont;           /* the '.' that continues the statement across lines */
    unsigned line;
    unsigned depth;             /* open parentheses: newlines inside do not count */
    bool have_tok;
    sl_token_t tok;             /* the token looked ahead at, when have_tok */
    char *err;
    sl_status_t nomem;          /* SL_ERR_NOMEM once an allocation failed */
    sl_jf_blk_t *pool;

    Sluice__JobSpec spec;
    Sluice__StreamNode **nodes;
    size_t nnodes, capnodes;
    Sluice__OutputSpec **outs;
    size_t nouts, capouts;

    unsigned job_line, job_col;         /* 0 while no such line was seen */
    unsigned batch_line;
    unsigned block_line, block_col;     /* block_col: of the value */
    unsigned lib_line;
    unsigned wal_line;
    const char *user_fn;                /* first non-built-in function before any `library` */
    unsigned user_fn_line, user_fn_col;
} sl_jf_t;

/* Character classes of the language (ASCII; a name is [A-Za-z_][A-Za-z0-9_]*). */
static inline bool sl_jf_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline bool sl_jf_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool sl_jf_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* --- memory: a pool freed in one go ----------------------------------------- */

/* Zeroed memory that lives until sl_jf_pool_free(); NULL (and jf->nomem set)
 * when out of memory. */
void *sl_jf_alloc(sl_jf_t *jf, size_t n);
/* Frees everything sl_jf_alloc() handed out. */
void sl_jf_pool_free(sl_jf_t *jf);

/* --- errors ------------------------------------------------------------------- */

/* Writes "origin:line:col: message" into jf->err and returns SL_ERR_INVALID,
 * or SL_ERR_NOMEM with "out of memory" when an allocation failed before. */
__attribute__((format(printf, 4, 5)))
sl_status_t sl_jf_fail(sl_jf_t *jf, unsigned line, unsigned col, const char *fmt, ...);
/* Records and reports running out of memory: returns SL_ERR_NOMEM. */
sl_status_t sl_jf_oom(sl_jf_t *jf);

/* --- the token stream --------------------------------------------------------- */

/* The next token without taking it; *t is valid until the next take. */
sl_status_t sl_jf_peek(sl_jf_t *jf, const sl_token_t **t /* OUT */);
/* Takes the next token into *t (its text lives in the pool). */
sl_status_t sl_jf_take(sl_jf_t *jf, sl_token_t *t /* OUT */);
/* Fails with "expected <expected>, got <t>" at t. */
sl_status_t sl_jf_unexpected(sl_jf_t *jf, const sl_token_t *t, const char *expected);
/* Takes the next token, which must be of `type`. */
sl_status_t sl_jf_expect(sl_jf_t *jf, sl_tk_t type, const char *expected,
                         sl_token_t *t /* OUT */);
/* Takes the end of a statement (a newline or the end of the file); `after`
 * says what came last, for the error. */
sl_status_t sl_jf_end_statement(sl_jf_t *jf, const char *after);
/* The value of a header line as one raw word, not lexed ("1.5s",
 * "word-count"); `kw` is the header keyword, named when the value is missing. */
sl_status_t sl_jf_word(sl_jf_t *jf, const char *what, const sl_token_t *kw,
                       sl_token_t *t /* OUT */);

#endif
