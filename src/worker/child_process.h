// A child process run in a sandbox of limits: its own process group (so a kill reaches anything
// it started), resource limits (address space, file size, CPU time), a nice level, stdin from
// /dev/null, only the environment it is given, and death with its parent. Its stdout is read as
// lines; its stderr goes to ours.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace vidproc::worker {

struct ChildLimits {
  int64_t address_space_bytes = 0;  // RLIMIT_AS; 0 = unlimited
  int64_t file_size_bytes = 0;      // RLIMIT_FSIZE
  // RLIMIT_CPU, rounded up to whole seconds: SIGXCPU at it, SIGKILL a few seconds later.
  int64_t cpu_ms = 0;
  int nice = 10;
};

class ChildProcess {
 public:
  static Result<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv,
                                                     const std::vector<std::string>& env,
                                                     const ChildLimits& limits);
  // Kills the process group (if the child still runs) and reaps the child.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  enum class Read { kLine, kTimeout, kEof };
  // Waits up to `timeout_ms` for a complete stdout line (without its newline).
  Read ReadLine(std::string* line, int timeout_ms);
  // Sends `signal` to the child's whole process group.
  void Signal(int signal);
  // Blocks until the child exits; returns its wait status (see <sys/wait.h>).
  int Wait();
  // CPU time (user + system) the child used; known after Wait.
  int64_t cpu_ms() const { return cpu_ms_; }
  // The child's peak resident memory (the largest of its process and its waited-for
  // descendants'); known after Wait. What the admission's memory prediction is checked against.
  int64_t peak_rss_bytes() const { return peak_rss_bytes_; }
  pid_t pid() const { return pid_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  bool reaped_ = false;
  int wait_status_ = 0;
  int64_t cpu_ms_ = 0;
  int64_t peak_rss_bytes_ = 0;
};

}  // namespace vidproc::worker
