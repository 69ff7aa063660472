#define _GNU_SOURCE 1
#include "cunwind.h"

#include <errno.h>
#include <libunwind-ptrace.h>
#include <sys/wait.h>

unw_addr_space_t cunwind_remote_space_create(void) {
    unw_addr_space_t space = unw_create_addr_space(&_UPT_accessors, 0);
    if (space != NULL) unw_set_caching_policy(space, UNW_CACHE_GLOBAL);
    return space;
}

void cunwind_remote_space_destroy(unw_addr_space_t space) { unw_destroy_addr_space(space); }

void *cunwind_upt_create(pid_t tid) { return _UPT_create(tid); }

void cunwind_upt_destroy(void *upt) { _UPT_destroy(upt); }

int cunwind_init_remote(unw_cursor_t *cursor, unw_addr_space_t space, void *upt) {
    return unw_init_remote(cursor, space, upt);
}

int cunwind_step(unw_cursor_t *cursor) { return unw_step(cursor); }

int cunwind_get_ip_sp(unw_cursor_t *cursor, uint64_t *ip, uint64_t *sp) {
    unw_word_t ip_word, sp_word;
    int rc = unw_get_reg(cursor, UNW_REG_IP, &ip_word);
    if (rc < 0) return rc;
    rc = unw_get_reg(cursor, UNW_REG_SP, &sp_word);
    if (rc < 0) return rc;
    *ip = ip_word;
    *sp = sp_word;
    return 0;
}

int cunwind_get_proc_name(unw_cursor_t *cursor, char *name, size_t len, uint64_t *offset) {
    unw_word_t off = 0;
    int rc = unw_get_proc_name(cursor, name, len, &off);
    *offset = off;
    return rc;
}

// Copies frames from an initialised cursor into ips/sps; shared by the remote and local walks.
static int cunwind_walk(unw_cursor_t *cursor, uint64_t *ips, uint64_t *sps, int max) {
    int count = 0;
    while (count < max) {
        uint64_t ip, sp;
        int rc = cunwind_get_ip_sp(cursor, &ip, &sp);
        if (rc < 0) return count > 0 ? count : rc;
        ips[count] = ip;
        if (sps != NULL) sps[count] = sp;
        count++;
        // Stop at the end of the stack, or at a frame libunwind cannot step past.
        if (count == max || unw_step(cursor) <= 0) break;
    }
    return count;
}

int cunwind_remote_backtrace(unw_addr_space_t space, void *upt, uint64_t *ips, uint64_t *sps, int max) {
    unw_cursor_t cursor;
    int rc = unw_init_remote(&cursor, space, upt);
    if (rc < 0) return rc;
    return cunwind_walk(&cursor, ips, sps, max);
}

int cunwind_local_backtrace(uint64_t *ips, int max) {
    unw_context_t context;
    unw_cursor_t cursor;
    int rc = unw_getcontext(&context);
    if (rc < 0) return -UNW_EUNSPEC;
    rc = unw_init_local(&cursor, &context);
    if (rc < 0) return rc;
    rc = unw_step(&cursor);  // skip this function's own frame
    if (rc <= 0) return rc;
    return cunwind_walk(&cursor, ips, NULL, max);
}

const char *cunwind_strerror(int err) { return unw_strerror(err < 0 ? err : -err); }

// Runs one ptrace request and maps its result to 0 / -errno.
static int cunwind_ptrace(enum __ptrace_request request, pid_t tid, void *addr, void *data) {
    return ptrace(request, tid, addr, data) == -1 ? -errno : 0;
}

int cunwind_ptrace_seize(pid_t tid, unsigned long options) {
    return cunwind_ptrace(PTRACE_SEIZE, tid, NULL, (void *)options);
}

int cunwind_ptrace_interrupt(pid_t tid) { return cunwind_ptrace(PTRACE_INTERRUPT, tid, NULL, NULL); }

int cunwind_ptrace_cont(pid_t tid, int sig) {
    return cunwind_ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig);
}

int cunwind_ptrace_detach(pid_t tid, int sig) {
    return cunwind_ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
}

int cunwind_ptrace_getsiginfo(pid_t tid, siginfo_t *info) {
    return cunwind_ptrace(PTRACE_GETSIGINFO, tid, NULL, info);
}

int cunwind_ptrace_peekdata(pid_t tid, uint64_t addr, uint64_t *word) {
    errno = 0;  // PEEKDATA returns the word itself, so -1 is only an error when errno says so
    long value = ptrace(PTRACE_PEEKDATA, tid, (void *)addr, NULL);
    if (value == -1 && errno != 0) return -errno;
    *word = (uint64_t)value;
    return 0;
}

pid_t cunwind_waitpid(pid_t pid, int options, cunwind_wait_status *out) {
    int status = 0;
    pid_t got;
    do {
        got = waitpid(pid, &status, options | __WALL);
    } while (got == -1 && errno == EINTR);
    if (got == -1) return -errno;
    out->pid = got;
    out->value = 0;
    out->event = 0;
    if (got == 0) {
        out->kind = CUNWIND_WAIT_NONE;
    } else if (WIFEXITED(status)) {
        out->kind = CUNWIND_WAIT_EXITED;
        out->value = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        out->kind = CUNWIND_WAIT_KILLED;
        out->value = WTERMSIG(status);
    } else if (WIFSTOPPED(status)) {
        out->kind = CUNWIND_WAIT_STOPPED;
        out->value = WSTOPSIG(status);
        out->event = (status >> 16) & 0xff;
    } else {
        out->kind = CUNWIND_WAIT_CONTINUED;
    }
    return got;
}

long cunwind_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal,
                      const struct iovec *remote, unsigned long nremote) {
    ssize_t n = process_vm_readv(pid, local, nlocal, remote, nremote, 0);
    return n < 0 ? -errno : (long)n;
}
