// The transcoder child's sandbox beyond resource limits (child_process.h), in layers:
//   - the worker and the server are non-dumpable, so a same-UID child cannot read their
//     /proc/<pid>/environ or memory (MakeNonDumpable, at their start);
//   - the child's environment comes from an allowlist, so it holds no secret (ChildEnvironment);
//   - the child enters the sandbox itself before it reads its input (EnterSandbox): no network
//     (a new user + network namespace, or, where the kernel refuses one, a seccomp filter refusing
//     inet sockets), file access confined by Landlock to the input (read) and the output
//     directories (write), and a seccomp allowlist of the system calls decoding and encoding use.
// A layer the kernel lacks is skipped with one warning; a sandbox never fails a job.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace vidproc::worker {

// Makes this process non-dumpable: its /proc files become root's and ptrace is refused to
// processes of the same user (children included). Call at the start of any process that holds
// secrets and starts children.
void MakeNonDumpable();

// The environment of a transcoder child: PATH, LANG, LC_*, TZ (and a sanitizer build's
// ASAN_/LSAN_/UBSAN_OPTIONS) from `parent` (PATH defaulted), plus `extra` ("NAME=value"). Nothing
// else of the worker's reaches the child: the token, storage keys, webhook and database URLs and
// every other setting stay out.
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& parent,
                                          const std::vector<std::string>& extra);
// The process environment, for ChildEnvironment.
std::map<std::string, std::string> CurrentEnvironment();

struct SandboxPolicy {
  std::vector<std::string> read_files;  // readable, nothing else outside write_dirs
  std::vector<std::string> write_dirs;  // readable and writable, files created and removed
  bool network = true;                  // no network: a namespace, else a socket filter
  bool files = true;                    // Landlock
  bool syscalls = true;                 // the seccomp allowlist
};

// The layers a list such as "network,files" names (network, files, syscalls); for
// VIDPROC_SANDBOX_SKIP and `transcode --sandbox-skip`. Applies them to `policy` as skipped.
Status SkipSandboxLayers(const std::string& list, SandboxPolicy* policy);

// Enters the sandbox. The calling process must still be single-threaded (a user namespace
// requires it). Each layer the kernel cannot provide is logged once at warning and skipped.
// Returns the layers in force, for logs and tests ("network_namespace", "socket_filter", "files",
// "syscalls").
std::vector<std::string> EnterSandbox(const SandboxPolicy& policy);

}  // namespace vidproc::worker
