// cpuid-mask.so: makes a process see an AVX2-only x86-64 CPU (no AVX-512, no AVX-VNNI, no AMX) while it runs
// natively, so that onnxruntime's CPU feature detection (MLAS reads the cpuid instruction) picks its AVX2 kernels on
// a machine that has AVX-512. Timing then measures the AVX2 code paths on this CPU's cores: a stand-in for an
// AVX2-only CPU's kernel class, not for its clock or microarchitecture.
//
// How: Linux CPUID faulting (arch_prctl(ARCH_SET_CPUID, 0), Intel CPUs and KVM guests on them; the man page
// arch_prctl(2)): every cpuid instruction then raises SIGSEGV; the handler turns faulting off for its thread, runs the
// real cpuid, turns it back on, clears the feature bits below in the result and steps over the 2-byte instruction.
// The setting is inherited by threads and forked children and reset by execve. Where CPUID faulting is unavailable
// the constructor prints why and, with CPUID_MASK_REQUIRED=1 (the default), exits with status 3, so that no run is
// mistaken for a masked one.
//
//   cc -O2 -shared -fPIC -o /tmp/cpuid-mask.so bench/cpu/cpuid-mask.c -ldl
//   LD_PRELOAD=/tmp/cpuid-mask.so node ...        (CPUID_MASK_VERBOSE=1 prints each emulated leaf count at exit)
//
// Node and V8 install SIGSEGV handlers of their own (WebAssembly traps) after this constructor, and some threads block
// signals; a blocked or replaced handler would turn the first masked cpuid into a crash. So this library interposes
// sigaction (a SIGSEGV handler the program installs is kept and called for every fault that is not a cpuid) and
// pthread_sigmask / sigprocmask (SIGSEGV is never blocked).
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_GET_CPUID
#define ARCH_GET_CPUID 0x1011
#define ARCH_SET_CPUID 0x1012
#endif

static volatile long emulated;
static int active;                 // our handler is installed and CPUID faulting is on
static struct sigaction chained;   // the SIGSEGV action the program believes it installed (initially SIG_DFL)

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
static sigaction_fn real_sigaction(void) {
  static sigaction_fn f;
  if (!f) f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  return f;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig == SIGSEGV && active) {
    if (old) *old = chained;
    if (act) chained = *act;
    return 0;
  }
  return real_sigaction()(sig, act, old);
}

static const sigset_t *unblock_segv(int how, const sigset_t *set, sigset_t *copy) {
  if (!set || how == SIG_UNBLOCK || !active) return set;
  *copy = *set;
  sigdelset(copy, SIGSEGV);
  return copy;
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn f;
  if (!f) f = (sigmask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
  sigset_t copy;
  return f(how, unblock_segv(how, set, &copy), old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn f;
  if (!f) f = (sigmask_fn)dlsym(RTLD_NEXT, "sigprocmask");
  sigset_t copy;
  return f(how, unblock_segv(how, set, &copy), old);
}

// Leaf 7 subleaf 0: EBX avx512f(16) dq(17) ifma(21) pf(26) er(27) cd(28) bw(30) vl(31);
// ECX avx512vbmi(1) vbmi2(6) vnni(11) bitalg(12) vpopcntdq(14);
// EDX 4vnniw(2) 4fmaps(3) vp2intersect(8) amx-bf16(22) avx512fp16(23) amx-tile(24) amx-int8(25).
#define L7_EBX ((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31))
#define L7_ECX ((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14))
#define L7_EDX ((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25))
// Leaf 7 subleaf 1: EAX avx-vnni(4) avx512bf16(5) avx-ifma(23); EDX avx-vnni-int8(4) avx10(19).
#define L71_EAX ((1u << 4) | (1u << 5) | (1u << 23))
#define L71_EDX ((1u << 4) | (1u << 19))

static void on_segv(int sig, siginfo_t *info, void *context) {
  ucontext_t *uc = (ucontext_t *)context;
  greg_t *r = uc->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)r[REG_RIP];
  if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {
    unsigned leaf = (unsigned)r[REG_RAX], sub = (unsigned)r[REG_RCX], a, b, c, d;
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    __cpuid_count(leaf, sub, a, b, c, d);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    if (leaf == 7 && sub == 0) {
      b &= ~L7_EBX;
      c &= ~L7_ECX;
      d &= ~L7_EDX;
    } else if (leaf == 7 && sub == 1) {
      a &= ~L71_EAX;
      d &= ~L71_EDX;
    } else if (leaf == 0x24) {  // AVX10 leaf: nothing to report
      a = b = c = d = 0;
    }
    r[REG_RAX] = a;
    r[REG_RBX] = b;
    r[REG_RCX] = c;
    r[REG_RDX] = d;
    r[REG_RIP] += 2;
    __atomic_add_fetch(&emulated, 1, __ATOMIC_RELAXED);
    return;
  }
  // Not a cpuid: the program's own handler, else the default action (the fault repeats on return and kills).
  if ((chained.sa_flags & SA_SIGINFO) && chained.sa_sigaction) {
    chained.sa_sigaction(sig, info, context);
  } else if (chained.sa_handler != SIG_DFL && chained.sa_handler != SIG_IGN) {
    chained.sa_handler(sig);
  } else {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction()(SIGSEGV, &dfl, NULL);
  }
}

static void report(void) {
  if (getenv("CPUID_MASK_VERBOSE")) fprintf(stderr, "cpuid-mask: %ld cpuid instructions emulated\n", emulated);
}

__attribute__((constructor)) static void cpuid_mask_init(void) {
  const char *req = getenv("CPUID_MASK_REQUIRED");
  int required = !(req && strcmp(req, "0") == 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  chained.sa_handler = SIG_DFL;
  if (real_sigaction()(SIGSEGV, &sa, NULL) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    fprintf(stderr, "cpuid-mask: CPUID faulting unavailable on this machine (arch_prctl ARCH_SET_CPUID: %s)\n",
            strerror(errno));
    if (required) _exit(3);
    return;
  }
  active = 1;
  atexit(report);
}
