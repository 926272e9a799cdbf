#include "worker/sandbox.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/log.h"

extern char** environ;

// Debian 12's kernel headers (6.1) stop at Landlock ABI 2; newer kernels know more rights, which
// are handled when the running kernel reports them.
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

namespace vidproc::worker {
namespace {

// A file descriptor closed when it goes out of scope.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

bool WriteFile(const char* path, const std::string& text) {
  Fd f(open(path, O_WRONLY | O_CLOEXEC));
  return f.fd >= 0 && write(f.fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

void SkipLayer(const char* layer, const std::string& why) {
  LogWarning("sandbox layer not available on this kernel; continuing without it",
             {{"layer", layer}, {"reason", why}});
}

std::string Errno() { return std::strerror(errno); }

// A new user namespace (owning a new, empty network namespace) with our own ids mapped to
// themselves, then no capabilities at all: the child has no network interface but loopback (down),
// and no privilege over the parent's user namespace, so even a child running as root cannot read
// the worker's /proc files or ptrace it.
bool EnterNetworkNamespace() {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
    SkipLayer("network_namespace", "unshare: " + Errno());
    return false;
  }
  // Unmapped ids would make every file creation fail (EOVERFLOW): map ours to themselves.
  WriteFile("/proc/self/setgroups", "deny");
  if (!WriteFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") ||
      !WriteFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1")) {
    LogWarning("sandbox: cannot map ids in the user namespace", {{"reason", Errno()}});
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2] = {};
  if (syscall(SYS_capset, &header, none) != 0) {
    LogWarning("sandbox: cannot drop capabilities", {{"reason", Errno()}});
  }
  return true;
}

// The fallback when no namespace can be made: inet and raw sockets are refused.
bool FilterInetSockets() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    SkipLayer("socket_filter", "seccomp_init failed");
    return false;
  }
  int rc = 0;
  for (int family : {AF_INET, AF_INET6, AF_PACKET}) {
    rc = rc ? rc
            : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                               SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)));
  }
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    SkipLayer("socket_filter", std::string("seccomp: ") + std::strerror(-rc));
    return false;
  }
  return true;
}

constexpr const char* kSystemReadPaths[] = {"/usr/lib/x86_64-linux-gnu/gconv",
                                            "/usr/lib/aarch64-linux-gnu/gconv",
                                            "/usr/lib64/gconv",
                                            "/usr/lib/gconv",
                                            "/etc/localtime",
                                            "/usr/share/zoneinfo"};

// Landlock: reads of `read_files`, reads and writes below `write_dirs`, nothing else of the file
// system (no /proc of other processes, no other job's files, no /etc).
bool ConfineFiles(const SandboxPolicy& policy) {
  int abi = static_cast<int>(
      syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION));
  if (abi < 1) {
    SkipLayer("files", "Landlock: " + Errno());
    return false;
  }
  uint64_t file_rights =
      LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE;
  uint64_t handled = file_rights | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                     LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
  if (abi >= 2) handled |= LANDLOCK_ACCESS_FS_REFER;
  uint64_t truncate = abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0;
  handled |= truncate;
  if (abi >= 5) handled |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  Fd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
  if (ruleset.fd < 0) {
    SkipLayer("files", "landlock_create_ruleset: " + Errno());
    return false;
  }
  auto allow = [&](const std::string& path, uint64_t rights) {
    Fd target(open(path.c_str(), O_PATH | O_CLOEXEC));
    if (target.fd < 0) return;  // nothing there: nothing to allow
    struct stat st {};
    // A file takes only the rights that apply to files (a directory right is EINVAL).
    if (fstat(target.fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= file_rights | truncate;
    landlock_path_beneath_attr rule{};
    rule.allowed_access = rights;
    rule.parent_fd = target.fd;
    if (syscall(SYS_landlock_add_rule, ruleset.fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0) {
      LogWarning("sandbox: a Landlock rule was refused", {{"path", path}, {"reason", Errno()}});
    }
  };
  for (const auto& f : policy.read_files) allow(f, LANDLOCK_ACCESS_FS_READ_FILE);
  // Read-only system data no secret lives in: iconv's modules (MPEG-TS service names) and the
  // time zone (log time stamps).
  for (const char* system : kSystemReadPaths) {
    allow(system, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
  }
  for (const auto& d : policy.write_dirs) {
    allow(d, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                 LANDLOCK_ACCESS_FS_MAKE_REG | truncate);
  }
  if (syscall(SYS_landlock_restrict_self, ruleset.fd, 0) != 0) {
    SkipLayer("files", "landlock_restrict_self: " + Errno());
    return false;
  }
  return true;
}

// The system calls `vidproc transcode` makes once it is sandboxed, measured with `strace -f`
// over the fixtures (H.264, HEVC with HDR10 and HLG, VP9/Opus, MPEG-2, Theora/Vorbis, AVI, MPEG-TS,
// rotation, passthrough, several audio tracks, VFR, no audio; refused inputs; 1 and 2 threads):
// futex read mprotect mmap brk munmap write newfstatat rt_sigprocmask madvise close openat lseek
// rseq set_robust_list fsync fcntl clone exit rt_sigaction rename prctl unlink exit_group.
// The rest are what those calls' other paths use: realloc (mremap), fstat and statx (the C
// library's choice), abort (tgkill, getpid, gettid), qsort (sysinfo), the vDSO's fallbacks
// (clock_gettime...), a thread count (sched_getaffinity), interrupted sleeps (restart_syscall).
// Everything else fails with EPERM: no socket, exec, fork, ptrace, mount, namespace or keyring.
constexpr const char* kAllowedSyscalls[] = {"read",
                                            "write",
                                            "pread64",
                                            "openat",
                                            "close",
                                            "lseek",
                                            "fstat",
                                            "newfstatat",
                                            "statx",
                                            "fcntl",
                                            "fsync",
                                            "fdatasync",
                                            "rename",
                                            "renameat",
                                            "renameat2",
                                            "unlink",
                                            "unlinkat",
                                            "mmap",
                                            "munmap",
                                            "mremap",
                                            "mprotect",
                                            "madvise",
                                            "brk",
                                            "futex",
                                            "set_robust_list",
                                            "rseq",
                                            "sched_getaffinity",
                                            "sched_yield",
                                            "clock_gettime",
                                            "clock_getres",
                                            "clock_nanosleep",
                                            "nanosleep",
                                            "gettimeofday",
                                            "getrandom",
                                            "rt_sigaction",
                                            "rt_sigprocmask",
                                            "rt_sigreturn",
                                            "restart_syscall",
                                            "tgkill",
                                            "getpid",
                                            "gettid",
                                            "sysinfo",
                                            "prctl",
                                            "exit",
                                            "exit_group"};

#if defined(__SANITIZE_ADDRESS__)
// A sanitizer build (tests only) also runs the sanitizer runtime inside the sandbox: it gives each
// new thread an alternate signal stack (a refused sigaltstack aborts the process), checks that
// memory is readable by writing it to a pipe (refused, UBSan's vptr check reports every object as
// invalid) and names the executable in reports.
constexpr const char* kSanitizerSyscalls[] = {"sigaltstack", "getrlimit", "prlimit64", "pipe",
                                              "pipe2",       "readlink",  "readlinkat"};

// LeakSanitizer's check at exit stops the world with ptrace and reads /proc/self/maps, neither of
// which a sandboxed child can do, so a sandboxed child skips it (LeakSanitizer calls this hook).
// The engine's leaks are still checked where it runs unsandboxed: in-process in the media tests.
std::atomic<bool> sandboxed{false};
#endif

bool AllowOnlyTranscoderSyscalls() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) {
    SkipLayer("syscalls", "seccomp_init failed");
    return false;
  }
  int rc = 0;
  for (const char* name : kAllowedSyscalls) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  }
#if defined(__SANITIZE_ADDRESS__)
  for (const char* name : kSanitizerSyscalls) {
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(name), 0);
  }
#endif
  // Threads, never processes: clone only with CLONE_THREAD. clone3's flags are in memory a filter
  // cannot read, so it answers ENOSYS and the C library falls back to clone.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
  }
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  // isatty() (the progress mode) and nothing else of ioctl.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                          SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(TCGETS)));
  }
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) {
    SkipLayer("syscalls", std::string("seccomp: ") + std::strerror(-rc));
    return false;
  }
  return true;
}

}  // namespace

void MakeNonDumpable() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    LogWarning("cannot make the process non-dumpable", {{"reason", Errno()}});
  }
}

std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& parent,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  bool has_path = false;
  for (const auto& [name, value] : parent) {
    // The sanitizers' options (a sanitizer build's tests) are settings of a debug build, not
    // secrets.
    bool allowed = name == "PATH" || name == "LANG" || name == "TZ" || name.rfind("LC_", 0) == 0 ||
                   name == "ASAN_OPTIONS" || name == "LSAN_OPTIONS" || name == "UBSAN_OPTIONS";
    if (!allowed) continue;
    has_path = has_path || name == "PATH";
    env.push_back(name + "=" + value);
  }
  if (!has_path) env.push_back("PATH=/usr/bin:/bin");
  for (const auto& e : extra) env.push_back(e);
  return env;
}

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

Status SkipSandboxLayers(const std::string& list, SandboxPolicy* policy) {
  std::stringstream in(list);
  std::string layer;
  while (std::getline(in, layer, ',')) {
    if (layer.empty()) continue;
    if (layer == "network") {
      policy->network = false;
    } else if (layer == "files") {
      policy->files = false;
    } else if (layer == "syscalls") {
      policy->syscalls = false;
    } else {
      return Status(ErrorCode::kInvalidArgument,
                    "Unknown sandbox layer '" + layer + "': expected network, files or syscalls.");
    }
  }
  return Status::Ok();
}

std::vector<std::string> EnterSandbox(const SandboxPolicy& policy) {
  std::vector<std::string> in_force;
#if defined(__SANITIZE_ADDRESS__)
  sandboxed = true;
#endif
  // Required by seccomp and Landlock for an unprivileged process; also: no exec can gain rights.
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  bool network_closed = false;
  if (policy.network && EnterNetworkNamespace()) {
    in_force.push_back("network_namespace");
    network_closed = true;
  }
  if (policy.files && ConfineFiles(policy)) in_force.push_back("files");
  // The allowlist refuses every socket; the inet filter is needed only without it.
  if (policy.syscalls && AllowOnlyTranscoderSyscalls()) {
    in_force.push_back("syscalls");
    network_closed = true;
  } else if (policy.network && !network_closed && FilterInetSockets()) {
    in_force.push_back("socket_filter");
  }
  return in_force;
}

}  // namespace vidproc::worker

#if defined(__SANITIZE_ADDRESS__)
extern "C" int __lsan_is_turned_off() { return vidproc::worker::sandboxed ? 1 : 0; }
#endif
