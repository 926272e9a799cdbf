// Reads the KEY=VALUE lines a test-server script (scripts/s3-test-server.sh,
// scripts/pg-test-server.sh) writes to DIR/env.
#pragma once

#include <fstream>
#include <map>
#include <string>

namespace vidproc::testing {

inline std::map<std::string, std::string> ReadServerEnv(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

}  // namespace vidproc::testing
