/* Processes of a test: daemons started with fork+exec and logging to a file
 * each, one-shot commands with captured output, and the end-of-test
 * stop-and-check of everything that was started. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "proc.h"

static const char *const it_sanitizer_markers[] = {
    "AddressSanitizer", "LeakSanitizer", "runtime error:",
};

/* --- processes ----------------------------------------------------------- */

/* In the child, before exec: die with the runner, default signal handling,
 * and the requested environment. */
static void it_child_setup(const char *const env[])
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    unsetenv("SLUICE_MASTER");
    for (size_t i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (!eq) {
            unsetenv(env[i]);
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(eq - env[i]), env[i]);
        setenv(name, eq + 1, 1);
    }
}

static bool it_bin_path(it_ctx_t *t, const char *prog, char *out)
{
    snprintf(out, IT_PATH_LEN, "%s/%s", it_bin_dir(), prog);
    if (access(out, X_OK) != 0) {
        it_note(t, "%s is not an executable (%s): is it built?", out, strerror(errno));
        return false;
    }
    return true;
}

static bool it_name_used(const it_ctx_t *t, const char *name)
{
    for (size_t i = 0; i < t->nprocs; i++)
        if (!strcmp(t->procs[i].name, name))
            return true;
    return false;
}

static void it_proc_free_argv(it_proc_t *p)
{
    for (size_t i = 0; i < IT_MAX_ARGS && p->argv[i]; i++) {
        free(p->argv[i]);
        p->argv[i] = NULL;
    }
}

it_proc_t *it_spawn(it_ctx_t *t, const char *name, const char *prog, const char *const args[])
{
    char bin[IT_PATH_LEN];
    if (t->nprocs == IT_MAX_PROCS) {
        it_note(t, "too many processes in one test");
        return NULL;
    }
    if (!it_bin_path(t, prog, bin))
        return NULL;
    it_proc_t *p = &t->procs[t->nprocs];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    for (int k = 2; it_name_used(t, p->name); k++)
        snprintf(p->name, sizeof p->name, "%s.%d", name, k);
    snprintf(p->prog, sizeof p->prog, "%s", prog);
    it_path(t, p->log_path, p->name);
    strncat(p->log_path, ".log", IT_PATH_LEN - strlen(p->log_path) - 1);

    size_t n = 0;
    p->argv[n++] = strdup(prog);
    for (size_t i = 0; args && args[i]; i++) {
        if (n + 1 >= IT_MAX_ARGS) {
            it_note(t, "too many arguments for %s", prog);
            it_proc_free_argv(p);
            return NULL;
        }
        p->argv[n++] = strdup(args[i]);
    }
    p->argv[n] = NULL;

    int logfd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        it_note(t, "cannot open %s: %s", p->log_path, strerror(errno));
        it_proc_free_argv(p);
        return NULL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        it_note(t, "fork: %s", strerror(errno));
        close(logfd);
        it_proc_free_argv(p);
        return NULL;
    }
    if (pid == 0) {
        it_child_setup(NULL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execv(bin, p->argv);
        dprintf(2, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(logfd);
    p->pid = pid;
    t->nprocs++;
    return p;
}

it_proc_t *it_respawn(it_ctx_t *t, const it_proc_t *old)
{
    char base[sizeof old->name];
    snprintf(base, sizeof base, "%s", old->name);
    char *dot = strchr(base, '.');
    if (dot)
        *dot = '\0';
    return it_spawn(t, base, old->prog, (const char *const *)old->argv + 1);
}

bool it_proc_alive(it_proc_t *p)
{
    if (p->reaped)
        return false;
    int st = 0;
    pid_t r;
    while ((r = waitpid(p->pid, &st, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == 0)
        return true;
    p->reaped = true;
    p->wstatus = r == p->pid ? st : 0;
    return false;
}

bool it_proc_signal(it_ctx_t *t, it_proc_t *p, int sig)
{
    if (p->reaped) {
        it_note(t, "%s already exited", p->name);
        return false;
    }
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT)
        p->may_die = true;
    if (sig == SIGSTOP)
        p->stopped = true;
    if (sig == SIGCONT)
        p->stopped = false;
    if (kill(p->pid, sig) != 0) {
        it_note(t, "kill(%s, %d): %s", p->name, sig, strerror(errno));
        return false;
    }
    return true;
}

bool it_proc_wait_exit(it_ctx_t *t, it_proc_t *p, int deadline_ms)
{
    p->may_die = true;
    uint64_t end = it_now_ms() + (uint64_t)deadline_ms;
    while (it_proc_alive(p)) {
        if (it_now_ms() >= end) {
            it_note(t, "%s still running after %d ms", p->name, deadline_ms);
            return false;
        }
        it_sleep_ms(20);
    }
    return true;
}

bool it_proc_kill9(it_ctx_t *t, it_proc_t *p)
{
    return it_proc_signal(t, p, SIGKILL) && it_proc_wait_exit(t, p, IT_DEADLINE_MS);
}

int it_proc_exit_code(const it_proc_t *p)
{
    if (!p->reaped || !WIFEXITED(p->wstatus))
        return -1;
    return WEXITSTATUS(p->wstatus);
}

const char *it_proc_describe(const it_proc_t *p, char *buf, size_t len)
{
    if (!p->reaped)
        snprintf(buf, len, "running");
    else if (WIFEXITED(p->wstatus))
        snprintf(buf, len, "exit %d", WEXITSTATUS(p->wstatus));
    else if (WIFSIGNALED(p->wstatus))
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(p->wstatus), strsignal(WTERMSIG(p->wstatus)));
    else
        snprintf(buf, len, "status 0x%x", (unsigned)p->wstatus);
    return buf;
}

/* Calls fn on each line of `text` until it returns true. */
static bool it_any_line(const char *text, bool (*fn)(const char *line, size_t len, void *arg),
                        void *arg)
{
    for (const char *s = text; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (fn(s, len, arg))
            return true;
        s = nl ? nl + 1 : s + len;
    }
    return false;
}

/* memmem over one line. */
static bool it_line_has(const char *line, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n > len)
        return false;
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(line + i, needle, n))
            return true;
    return false;
}

typedef struct {
    const char *a, *b;
    size_t count;
} it_line_match_t;

static bool it_line_match_cb(const char *line, size_t len, void *arg)
{
    it_line_match_t *m = arg;
    if (it_line_has(line, len, m->a) && (!m->b || it_line_has(line, len, m->b)))
        m->count++;
    return false;   /* keep counting */
}

static size_t it_count_matching(const char *path, const char *needle, const char *also)
{
    char *text = it_read_file(path, NULL);
    it_line_match_t m = { needle, also, 0 };
    it_any_line(text, it_line_match_cb, &m);
    free(text);
    return m.count;
}

bool it_log_has(const it_proc_t *p, const char *needle, const char *also)
{
    return it_count_matching(p->log_path, needle, also) > 0;
}

size_t it_log_count(const it_proc_t *p, const char *needle)
{
    return it_count_matching(p->log_path, needle, NULL);
}

typedef struct {
    const it_proc_t *p;
    const char *needle;
    size_t count, seen;
} it_log_wait_arg_t;

static bool it_log_wait_cond(void *arg)
{
    it_log_wait_arg_t *a = arg;
    a->seen = it_log_count(a->p, a->needle);
    return a->seen >= a->count;
}

bool it_wait_log(it_ctx_t *t, const it_proc_t *p, const char *needle, size_t count,
                 int deadline_ms)
{
    it_log_wait_arg_t a = { p, needle, count, 0 };
    if (it_wait_until(it_log_wait_cond, &a, deadline_ms))
        return true;
    it_note(t, "%s's log has %zu line(s) with '%s' after %d ms, want %zu", p->name, a.seen,
            needle, deadline_ms, count);
    return false;
}

/* Fails the test if `text` holds a sanitizer report (sanitized runs only). */
static void it_scan_sanitizer(it_ctx_t *t, const char *what, const char *text)
{
    if (!it_sanitized() || !text)
        return;
    for (size_t i = 0; i < sizeof it_sanitizer_markers / sizeof *it_sanitizer_markers; i++)
        if (strstr(text, it_sanitizer_markers[i]))
            it_fail_at(t, __FILE__, __LINE__, "%s contains a sanitizer report ('%s')", what,
                       it_sanitizer_markers[i]);
}

/* --- one-shot commands --------------------------------------------------- */

bool it_run(it_ctx_t *t, it_run_t *r, const char *const env[], int deadline_ms, const char *prog,
            const char *const args[])
{
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    char bin[IT_PATH_LEN], out_path[IT_PATH_LEN], err_path[IT_PATH_LEN], name[96];
    if (!it_bin_path(t, prog, bin))
        return false;
    unsigned id = ++t->runs;
    snprintf(name, sizeof name, "run%03u-%s.out", id, prog);
    it_path(t, out_path, name);
    snprintf(name, sizeof name, "run%03u-%s.err", id, prog);
    it_path(t, err_path, name);

    const char *argv[IT_MAX_ARGS];
    size_t n = 0;
    argv[n++] = prog;
    for (size_t i = 0; args && args[i] && n + 1 < IT_MAX_ARGS; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int ofd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int efd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (ofd < 0 || efd < 0) {
        it_note(t, "cannot create output files in %s: %s", t->dir, strerror(errno));
        if (ofd >= 0)
            close(ofd);
        if (efd >= 0)
            close(efd);
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    uint64_t start = it_now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        it_note(t, "fork: %s", strerror(errno));
        close(ofd);
        close(efd);
        return false;
    }
    if (pid == 0) {
        it_child_setup(env);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        execv(bin, (char *const *)argv);
        dprintf(2, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(ofd);
    close(efd);

    int st = 0;
    uint64_t end = start + (uint64_t)deadline_ms;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            st = 0;
            break;
        }
        if (it_now_ms() >= end) {
            r->timed_out = true;
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        it_sleep_ms(5);
    }
    r->elapsed_ms = it_now_ms() - start;
    if (!r->timed_out && WIFEXITED(st))
        r->exit_code = WEXITSTATUS(st);
    r->out = it_read_file(out_path, NULL);
    r->err = it_read_file(err_path, NULL);
    if (!r->out)
        r->out = strdup("");
    if (!r->err)
        r->err = strdup("");
    char what[128];
    snprintf(what, sizeof what, "stderr of '%s' (run %u)", prog, id);
    it_scan_sanitizer(t, what, r->err);
    return true;
}

void it_run_free(it_run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

size_t it_count_lines(const char *s)
{
    size_t n = 0;
    for (const char *p = s; p && *p; p++)
        if (*p == '\n')
            n++;
    if (s && *s && s[strlen(s) - 1] != '\n')
        n++;
    return n;
}

/* Stops every process the test left behind and checks how they ended:
 * an unexpected exit fails the test; in sanitized runs each must exit 0 on
 * SIGTERM and no log may hold a sanitizer report. */
void it_procs_finish(it_ctx_t *t)
{
    char desc[96];
    for (size_t i = 0; i < t->nprocs; i++) {
        it_proc_t *p = &t->procs[i];
        if (!p->reaped && !it_proc_alive(p) && !p->may_die)
            it_fail_at(t, __FILE__, __LINE__, "%s exited during the test (%s)", p->name,
                       it_proc_describe(p, desc, sizeof desc));
    }
    if (it_sanitized()) {
        for (size_t i = 0; i < t->nprocs; i++) {
            it_proc_t *p = &t->procs[i];
            if (p->reaped)
                continue;
            kill(p->pid, SIGTERM);
            /* Only a stopped process needs SIGCONT: sent to one that is
             * exiting, it can cancel the SIGSTOP with which LeakSanitizer's
             * tracer stops it, and the exit then hangs forever. */
            if (p->stopped)
                kill(p->pid, SIGCONT);
        }
        uint64_t end = it_now_ms() + IT_DEADLINE_MS;
        for (size_t i = 0; i < t->nprocs; i++) {
            it_proc_t *p = &t->procs[i];
            if (p->reaped)
                continue;
            while (it_proc_alive(p) && it_now_ms() < end)
                it_sleep_ms(20);
            if (!p->reaped) {
                it_fail_at(t, __FILE__, __LINE__, "%s still running %d ms after SIGTERM",
                           p->name, IT_DEADLINE_MS);
                kill(p->pid, SIGKILL);
                waitpid(p->pid, &p->wstatus, 0);
                p->reaped = true;
            } else if (it_proc_exit_code(p) != 0) {
                it_fail_at(t, __FILE__, __LINE__, "%s ended with %s after SIGTERM, want exit 0",
                           p->name, it_proc_describe(p, desc, sizeof desc));
            }
        }
    } else {
        for (size_t i = 0; i < t->nprocs; i++) {
            it_proc_t *p = &t->procs[i];
            if (p->reaped)
                continue;
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &p->wstatus, 0) < 0 && errno == EINTR)
                ;
            p->reaped = true;
        }
    }
    for (size_t i = 0; i < t->nprocs; i++) {
        char *log = it_read_file(t->procs[i].log_path, NULL);
        char what[128];
        snprintf(what, sizeof what, "log of %s", t->procs[i].name);
        it_scan_sanitizer(t, what, log);
        free(log);
    }
}

void it_procs_release(it_ctx_t *t)
{
    for (size_t i = 0; i < t->nprocs; i++)
        it_proc_free_argv(&t->procs[i]);
}
