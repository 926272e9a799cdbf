// Runs a shell command (a test-server script, the aws CLI, ffmpeg for fixtures) and returns what
// it printed on stdout, with its exit status in *exit_code (-1 if it did not exit normally).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace vidproc::testing {

inline std::string Shell(const std::string& command, int* exit_code = nullptr) {
  FILE* p = popen(command.c_str(), "r");
  std::string out;
  if (p == nullptr) {
    if (exit_code) *exit_code = -1;
    return out;
  }
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = pclose(p);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

}  // namespace vidproc::testing
