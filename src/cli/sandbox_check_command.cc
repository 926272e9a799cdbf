// `vidproc sandbox-check`: not for users (absent from the help). It enters the transcoder's
// sandbox exactly as `transcode --sandbox` does, then tries what a compromised decoder would:
// connect to a TCP port, read its parent's environment, write outside its scratch directory. It
// prints one JSON object saying what each attempt gave, so that tests can show on the running
// kernel that each layer holds (and that the attempts succeed without it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/text.h"
#include "core/units.h"
#include "worker/sandbox.h"

extern char** environ;

namespace vidproc::cli {
namespace {

std::string Refused() { return std::string("refused: ") + std::strerror(errno); }

std::string ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Refused();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  std::string result = rc == 0 ? "connected" : Refused();
  close(fd);
  return result;
}

std::string ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Refused();
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  std::string result = n >= 0 ? "read" : Refused();
  close(fd);
  return result;
}

// Opening is where access to another process's memory is checked (reading address 0 fails anyway).
std::string OpenFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Refused();
  close(fd);
  return "opened";
}

std::string WriteFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Refused();
  ssize_t n = write(fd, "x", 1);
  std::string result = n == 1 ? "written" : Refused();
  close(fd);
  return result;
}

}  // namespace

int RunSandboxCheck(int argc, char** argv) {
  ArgSpec spec{{"--sandbox-skip", "--parent-pid", "--port"}, {}};
  auto args = Args::Parse(argc, argv, 2, spec);
  if (!args.ok() || args->positional().size() != 3) {
    std::fputs(
        "Usage: vidproc sandbox-check INPUT SCRATCH_DIR OUTSIDE_FILE --parent-pid P "
        "--port N [--sandbox-skip LAYERS]\n",
        stderr);
    return kExitUsage;
  }
  auto parent = ParseInteger(args->get("--parent-pid").value_or(""), 1, 1 << 30);
  auto port = ParseInteger(args->get("--port").value_or(""), 1, 65535);
  worker::SandboxPolicy policy;
  if (!parent.ok() || !port.ok() ||
      !worker::SkipSandboxLayers(args->get("--sandbox-skip").value_or(""), &policy).ok()) {
    std::fputs("vidproc sandbox-check: bad --parent-pid, --port or --sandbox-skip\n", stderr);
    return kExitUsage;
  }
  const std::string& input = args->positional()[0];
  const std::string& scratch = args->positional()[1];
  policy.read_files = {input};
  policy.write_dirs = {scratch};
  std::vector<std::string> layers = worker::EnterSandbox(policy);

  nlohmann::json environment = nlohmann::json::array();
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    environment.push_back(entry.substr(0, entry.find('=')));
  }
  nlohmann::json report = {
      {"layers", layers},
      {"environment", environment},
      {"inet_connect", ConnectTo(static_cast<int>(*port))},
      {"parent_environ", ReadFile("/proc/" + std::to_string(*parent) + "/environ")},
      {"parent_memory", OpenFile("/proc/" + std::to_string(*parent) + "/mem")},
      {"read_input", ReadFile(input)},
      {"write_scratch", WriteFile(scratch + "/inside")},
      {"write_outside", WriteFile(args->positional()[2])},
      {"read_outside", ReadFile("/etc/hostname")},
  };
  std::printf("%s\n", DumpJson(report).c_str());
  return kExitOk;
}

}  // namespace vidproc::cli
