// CUnwind: libunwind (remote unwinding over ptrace, and local unwinding) and the ptrace/waitpid
// calls a sampler needs, as plain functions. libunwind's unw_* names are macros over _Ux86_64_*,
// _UPT_accessors is a mutable global and ptrace is variadic: none of them is usable from Swift.
//
// Error conventions: libunwind wrappers return 0 (or a count) on success and a negative UNW_E*
// code on failure (the unw_error_t values of <libunwind.h>, negated; see cunwind_strerror).
// ptrace/waitpid wrappers return 0 (or a pid) on success and -errno on failure.
// All ptrace calls on one tracee must come from the thread that seized it, and so must the
// cursor calls, which read the tracee's memory and registers with ptrace.
#ifndef CUNWIND_H
#define CUNWIND_H

#include <libunwind.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

// How a waited-for thread changed state.
typedef enum cunwind_wait_kind {
    CUNWIND_WAIT_NONE,     // WNOHANG and nothing changed
    CUNWIND_WAIT_EXITED,   // value: exit status
    CUNWIND_WAIT_KILLED,   // value: terminating signal
    CUNWIND_WAIT_STOPPED,  // value: stop signal; event: PTRACE_EVENT_* (PTRACE_EVENT_STOP after interrupt)
    CUNWIND_WAIT_CONTINUED,
} cunwind_wait_kind;

// A decoded waitpid status (WIFEXITED, WSTOPSIG and friends are macros).
typedef struct cunwind_wait_status {
    pid_t pid;
    cunwind_wait_kind kind;
    int value;
    int event;
} cunwind_wait_status;

// Address space for remote unwinding with the _UPT accessors and UNW_CACHE_GLOBAL; NULL on failure.
unw_addr_space_t cunwind_remote_space_create(void);
// Destroys an address space from cunwind_remote_space_create.
void cunwind_remote_space_destroy(unw_addr_space_t space);
// _UPT_create: per-thread ptrace context for remote unwinding of tid; keep and reuse; NULL on failure.
void *cunwind_upt_create(pid_t tid);
// _UPT_destroy: frees a context from cunwind_upt_create.
void cunwind_upt_destroy(void *upt);
// unw_init_remote: points cursor at the innermost frame of the stopped thread behind upt.
int cunwind_init_remote(unw_cursor_t *cursor, unw_addr_space_t space, void *upt);
// unw_step: > 0 moved to the caller's frame, 0 no more frames, < 0 -UNW_E*.
int cunwind_step(unw_cursor_t *cursor);
// unw_get_reg of the instruction and stack pointers of the cursor's frame.
int cunwind_get_ip_sp(unw_cursor_t *cursor, uint64_t *ip, uint64_t *sp);
// unw_get_proc_name: NUL-terminated name of the cursor's function and ip's offset in it (slow).
int cunwind_get_proc_name(unw_cursor_t *cursor, char *name, size_t len, uint64_t *offset);
// Unwinds the stopped thread behind upt into ips/sps (sps may be NULL), innermost first; frame
// count, cut short where a step fails, or -UNW_E* when not even the first frame can be read.
int cunwind_remote_backtrace(unw_addr_space_t space, void *upt, uint64_t *ips, uint64_t *sps, int max);
// Unwinds the calling thread (from this function's caller outwards) into ips; frame count or -UNW_E*.
int cunwind_local_backtrace(uint64_t *ips, int max);
// unw_strerror for a (negative or positive) UNW_E* code.
const char *cunwind_strerror(int err);

// PTRACE_SEIZE tid with PTRACE_O_* options (0 for plain sampling); the thread keeps running.
int cunwind_ptrace_seize(pid_t tid, unsigned long options);
// PTRACE_INTERRUPT: stops a seized thread; wait for it with cunwind_waitpid.
int cunwind_ptrace_interrupt(pid_t tid);
// PTRACE_CONT: resumes a stopped tracee, delivering sig (0 for none).
int cunwind_ptrace_cont(pid_t tid, int sig);
// PTRACE_DETACH: resumes a stopped tracee and stops tracing it, delivering sig (0 for none).
int cunwind_ptrace_detach(pid_t tid, int sig);
// PTRACE_GETSIGINFO: the signal that caused the current stop (fails with -EINVAL for group-stops).
int cunwind_ptrace_getsiginfo(pid_t tid, siginfo_t *info);
// PTRACE_PEEKDATA: reads the word at addr of the stopped tracee into *word.
int cunwind_ptrace_peekdata(pid_t tid, uint64_t addr, uint64_t *word);
// waitpid(pid, options | __WALL), retried on EINTR, decoded into out; returns out->pid or -errno.
pid_t cunwind_waitpid(pid_t pid, int options, cunwind_wait_status *out);

// process_vm_readv(pid, local, nlocal, remote, nremote, 0) (glibc declares it only under _GNU_SOURCE):
// bytes read (short when a remote range fails; the ranges before it are complete) or -errno.
long cunwind_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal,
                      const struct iovec *remote, unsigned long nremote);

// A copy of a stopped thread's registers and the top of its stack, to unwind after the thread
// has been resumed: the thread is stopped only for PTRACE_GETREGS and one process_vm_readv.
typedef struct cunwind_snapshot cunwind_snapshot;
// A snapshot for unwinding through upt (from cunwind_upt_create, which finds unwind info), with
// room for stack_bytes of stack (rounded up to pages); NULL on failure.
cunwind_snapshot *cunwind_snapshot_create(void *upt, size_t stack_bytes);
// Frees a snapshot.
void cunwind_snapshot_destroy(cunwind_snapshot *snap);
// Address space whose accessors read registers and stack from a snapshot (other memory with
// process_vm_readv) and find unwind info like _UPT; UNW_CACHE_GLOBAL; NULL on failure.
unw_addr_space_t cunwind_snapshot_space_create(void);
// Captures the registers and stack (from the stack pointer up, as far as it is mapped) of the
// stopped thread tid: 0 or -errno.
int cunwind_snapshot_capture(cunwind_snapshot *snap, pid_t tid);
// Unwinds a captured snapshot into ips, innermost first, like cunwind_remote_backtrace.
int cunwind_snapshot_backtrace(unw_addr_space_t space, cunwind_snapshot *snap, uint64_t *ips, int max);

#endif
