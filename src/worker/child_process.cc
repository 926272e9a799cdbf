#include "worker/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vidproc::worker {
namespace {

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer reserves terabytes of shadow address space: a sanitizer build (tests only)
// cannot run under an address-space limit.
constexpr bool kLimitAddressSpace = false;
#else
constexpr bool kLimitAddressSpace = true;
#endif

void SetLimit(int resource, int64_t value) {
  if (value <= 0) return;
  rlimit l{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
  setrlimit(resource, &l);
}

// The soft limit sends SIGXCPU; the hard one, SIGKILL. Equal limits would go straight to SIGKILL,
// which reads like any other crash; the gap lets the child die of SIGXCPU, which says why.
constexpr int64_t kCpuHardLimitGapSeconds = 5;

void SetCpuLimit(int64_t cpu_ms) {
  if (cpu_ms <= 0) return;
  rlim_t soft = static_cast<rlim_t>((cpu_ms + 999) / 1000);
  rlimit l{soft, soft + kCpuHardLimitGapSeconds};
  setrlimit(RLIMIT_CPU, &l);
}

int64_t Ms(const timeval& t) { return int64_t{t.tv_sec} * 1000 + t.tv_usec / 1000; }

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                                          const std::vector<std::string>& env,
                                                          const ChildLimits& limits) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  // Everything the child needs is prepared before fork: after it, in a threaded process, only
  // async-signal-safe calls are allowed.
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return Status(ErrorCode::kInternal, std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    dup2(pipe_fds[1], STDOUT_FILENO);
    close_range(3, ~0U, 0);
    if (kLimitAddressSpace) SetLimit(RLIMIT_AS, limits.address_space_bytes);
    SetLimit(RLIMIT_FSIZE, limits.file_size_bytes);
    SetCpuLimit(limits.cpu_ms);
    setpriority(PRIO_PROCESS, 0, limits.nice);
    signal(SIGPIPE, SIG_DFL);
    execve(c_argv[0], c_argv.data(), c_env.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so the group exists before we may signal it
  close(pipe_fds[1]);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->stdout_fd_ = pipe_fds[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    Signal(SIGKILL);
    Wait();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

ChildProcess::Read ChildProcess::ReadLine(std::string* line, int timeout_ms) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return Read::kLine;
    }
    if (eof_) {
      if (buffer_.empty()) return Read::kEof;
      *line = std::move(buffer_);  // a last line without a newline
      buffer_.clear();
      return Read::kLine;
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return Read::kTimeout;
    char buf[4096];
    ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      continue;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    if (buffer_.size() > (1 << 20)) buffer_.erase(0, buffer_.size() - (1 << 20));  // runaway
  }
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !reaped_) kill(-pid_, signal);
}

int ChildProcess::Wait() {
  if (reaped_) return wait_status_;
  rusage usage{};
  while (wait4(pid_, &wait_status_, 0, &usage) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  cpu_ms_ = Ms(usage.ru_utime) + Ms(usage.ru_stime);
  peak_rss_bytes_ = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
  return wait_status_;
}

}  // namespace vidproc::worker
