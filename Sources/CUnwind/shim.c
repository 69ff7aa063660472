#define _GNU_SOURCE 1
#include "cunwind.h"

#include <errno.h>
#include <libunwind-ptrace.h>
#include <stdlib.h>
#include <string.h>
#include <sys/user.h>
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

#define CUNWIND_SNAPSHOT_MAGIC 0x746f687370616e73ULL

struct cunwind_snapshot {
    uint64_t magic;        // tells a snapshot from a _UPT context in the accessors' arg
    void *upt;
    pid_t tid;
    struct user_regs_struct regs;
    uint64_t stack_base;   // address of stack[0]
    size_t stack_len;      // bytes captured
    size_t capacity;
    unsigned char *stack;
};

cunwind_snapshot *cunwind_snapshot_create(void *upt, size_t stack_bytes) {
    cunwind_snapshot *snap = calloc(1, sizeof *snap);
    if (snap == NULL) return NULL;
    snap->capacity = (stack_bytes + 4095) & ~(size_t)4095;
    snap->stack = malloc(snap->capacity);
    if (snap->stack == NULL) { free(snap); return NULL; }
    snap->upt = upt;
    snap->magic = CUNWIND_SNAPSHOT_MAGIC;
    return snap;
}

void cunwind_snapshot_destroy(cunwind_snapshot *snap) {
    if (snap == NULL) return;
    free(snap->stack);
    free(snap);
}

int cunwind_snapshot_capture(cunwind_snapshot *snap, pid_t tid) {
    snap->tid = tid;
    snap->stack_len = 0;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &snap->regs) == -1) return -errno;
    // From the red zone below the stack pointer, page by page: the kernel stops at the first
    // page that is not mapped (the end of the stack) and reports what it read before.
    uint64_t start = (snap->regs.rsp - 128) & ~(uint64_t)7;
    uint64_t first_page_end = (start + 4096) & ~(uint64_t)4095;
    size_t n = 0;
    struct iovec remote[1024];
    uint64_t at = start;
    while (at < start + snap->capacity && n < 1024) {
        uint64_t end = n == 0 ? first_page_end : at + 4096;
        if (end > start + snap->capacity) end = start + snap->capacity;
        remote[n].iov_base = (void *)at;
        remote[n].iov_len = end - at;
        at = end;
        n++;
    }
    struct iovec local = { snap->stack, (size_t)(at - start) };
    ssize_t got = process_vm_readv(tid, &local, 1, remote, n, 0);
    if (got < 0) return -errno;
    snap->stack_base = start;
    snap->stack_len = (size_t)got;
    return 0;
}

static int snapshot_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg) {
    (void)as;
    if (write) return -UNW_EINVAL;
    pid_t pid;
    cunwind_snapshot *snap = arg;
    if (snap->magic == CUNWIND_SNAPSHOT_MAGIC) {
        if (addr >= snap->stack_base && addr + sizeof *val <= snap->stack_base + snap->stack_len) {
            memcpy(val, snap->stack + (addr - snap->stack_base), sizeof *val);
            return 0;
        }
        pid = snap->tid;
    } else {
        pid = *(pid_t *)arg;  // _UPT_find_proc_info passes its own context on: struct UPT begins with the pid
    }
    struct iovec local = { val, sizeof *val }, remote = { (void *)addr, sizeof *val };
    return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof *val ? 0 : -UNW_EINVAL;
}

static int snapshot_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg) {
    (void)as;
    cunwind_snapshot *snap = arg;
    if (write) return -UNW_EINVAL;
    const struct user_regs_struct *r = &snap->regs;
    switch (reg) {
    case UNW_X86_64_RAX: *val = r->rax; break;
    case UNW_X86_64_RDX: *val = r->rdx; break;
    case UNW_X86_64_RCX: *val = r->rcx; break;
    case UNW_X86_64_RBX: *val = r->rbx; break;
    case UNW_X86_64_RSI: *val = r->rsi; break;
    case UNW_X86_64_RDI: *val = r->rdi; break;
    case UNW_X86_64_RBP: *val = r->rbp; break;
    case UNW_X86_64_RSP: *val = r->rsp; break;
    case UNW_X86_64_R8: *val = r->r8; break;
    case UNW_X86_64_R9: *val = r->r9; break;
    case UNW_X86_64_R10: *val = r->r10; break;
    case UNW_X86_64_R11: *val = r->r11; break;
    case UNW_X86_64_R12: *val = r->r12; break;
    case UNW_X86_64_R13: *val = r->r13; break;
    case UNW_X86_64_R14: *val = r->r14; break;
    case UNW_X86_64_R15: *val = r->r15; break;
    case UNW_X86_64_RIP: *val = r->rip; break;
    default: return -UNW_EBADREG;
    }
    return 0;
}

static int snapshot_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg) {
    (void)as; (void)reg; (void)val; (void)write; (void)arg;
    return -UNW_EBADREG;
}

static int snapshot_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need, void *arg) {
    return _UPT_find_proc_info(as, ip, pi, need, ((cunwind_snapshot *)arg)->upt);
}

static void snapshot_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg) {
    _UPT_put_unwind_info(as, pi, ((cunwind_snapshot *)arg)->upt);
}

static int snapshot_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg) {
    return _UPT_get_dyn_info_list_addr(as, addr, ((cunwind_snapshot *)arg)->upt);
}

static int snapshot_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg) {
    (void)as; (void)c; (void)arg;
    return -UNW_EINVAL;
}

static int snapshot_get_proc_name(unw_addr_space_t as, unw_word_t ip, char *buf, size_t len, unw_word_t *off, void *arg) {
    return _UPT_get_proc_name(as, ip, buf, len, off, ((cunwind_snapshot *)arg)->upt);
}

static unw_accessors_t snapshot_accessors = {
    .find_proc_info = snapshot_find_proc_info,
    .put_unwind_info = snapshot_put_unwind_info,
    .get_dyn_info_list_addr = snapshot_get_dyn_info_list_addr,
    .access_mem = snapshot_access_mem,
    .access_reg = snapshot_access_reg,
    .access_fpreg = snapshot_access_fpreg,
    .resume = snapshot_resume,
    .get_proc_name = snapshot_get_proc_name,
};

unw_addr_space_t cunwind_snapshot_space_create(void) {
    unw_addr_space_t space = unw_create_addr_space(&snapshot_accessors, 0);
    if (space != NULL) unw_set_caching_policy(space, UNW_CACHE_GLOBAL);
    return space;
}

int cunwind_snapshot_backtrace(unw_addr_space_t space, cunwind_snapshot *snap, uint64_t *ips, int max) {
    return cunwind_remote_backtrace(space, snap, ips, NULL, max);
}
