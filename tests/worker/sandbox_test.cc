// The transcoder child's sandbox on this machine's kernel: `vidproc sandbox-check`, started as the
// worker starts its children (ChildProcess, ChildEnvironment), tries to connect to a TCP port, read
// this process's environment and memory, and write outside its scratch directory. Every attempt
// fails with the sandbox, and each succeeds without it, so the test can tell the difference.
#include "worker/sandbox.h"

#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "worker/child_process.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using testing::MakeTempDir;

// A listening TCP socket on 127.0.0.1 that a child could connect to.
struct Listener {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = 0;
  Listener() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd); }
};

bool Refused(const nlohmann::json& report, const char* attempt) {
  return report.value(attempt, "").rfind("refused", 0) == 0;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    scratch_ = dir_ + "/scratch";
    std::filesystem::create_directories(scratch_);
    input_ = dir_ + "/original";
    std::ofstream(input_) << "not really a video";
    // Secrets in this process's environment, as a worker has them.
    setenv("VIDPROC_API_TOKEN", "sandbox-test-token-0123456789", 1);
    setenv("SPACES_SECRET_KEY", "sandbox-test-spaces-secret", 1);
    setenv("VIDPROC_DATABASE_URL", "postgres://u:sandbox-test-db-password@db/x", 1);
    setenv("WEBHOOK_URL", "https://u:sandbox-test-hook@example.com/", 1);
    setenv("LC_TIME", "C.UTF-8", 1);
  }
  void TearDown() override {
    for (const char* name : {"VIDPROC_API_TOKEN", "SPACES_SECRET_KEY", "VIDPROC_DATABASE_URL",
                             "WEBHOOK_URL", "LC_TIME"}) {
      unsetenv(name);
    }
    std::filesystem::remove_all(dir_);
  }

  // Runs `vidproc sandbox-check` as the worker runs its transcoder; its JSON report.
  nlohmann::json Check(const std::string& skip) {
    std::vector<std::string> argv = {VIDPROC_BIN_PATH,
                                     "sandbox-check",
                                     input_,
                                     scratch_,
                                     dir_ + "/outside",
                                     "--parent-pid",
                                     std::to_string(getpid()),
                                     "--port",
                                     std::to_string(listener_.port)};
    if (!skip.empty()) argv.insert(argv.end(), {"--sandbox-skip", skip});
    auto child = ChildProcess::Spawn(argv, ChildEnvironment(CurrentEnvironment(), {}), {});
    EXPECT_TRUE(child.ok());
    if (!child.ok()) return nullptr;
    std::string line, last;
    while ((*child)->ReadLine(&line, 10'000) == ChildProcess::Read::kLine) last = line;
    int status = (*child)->Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    auto report = nlohmann::json::parse(last, nullptr, false);
    EXPECT_TRUE(report.is_object()) << last;
    std::filesystem::remove(dir_ + "/outside");
    return report;
  }

  std::string dir_, scratch_, input_;
  Listener listener_;
};

TEST_F(SandboxTest, TheChildCannotReachTheNetworkTheWorkersSecretsOrOtherFiles) {
  nlohmann::json r = Check("");
  EXPECT_TRUE(Refused(r, "inet_connect")) << r.dump();
  EXPECT_TRUE(Refused(r, "parent_environ")) << r.dump();
  EXPECT_TRUE(Refused(r, "parent_memory")) << r.dump();
  EXPECT_TRUE(Refused(r, "write_outside")) << r.dump();
  EXPECT_TRUE(Refused(r, "read_outside")) << r.dump();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/outside"));
  // What a transcode needs still works.
  EXPECT_EQ(r.value("read_input", ""), "read") << r.dump();
  EXPECT_EQ(r.value("write_scratch", ""), "written") << r.dump();
  // Its environment came from the allowlist.
  std::set<std::string> names = r["environment"].get<std::set<std::string>>();
  EXPECT_TRUE(names.count("LC_TIME"));
  for (const auto& name : names) {
    // The sanitizers' options are there when this test runs in the sanitizer build.
    const bool sanitizer =
        name == "ASAN_OPTIONS" || name == "LSAN_OPTIONS" || name == "UBSAN_OPTIONS";
    EXPECT_TRUE(name == "PATH" || name == "LANG" || name == "TZ" || name.rfind("LC_", 0) == 0 ||
                sanitizer)
        << name << " reached the child";
  }
}

TEST_F(SandboxTest, WithoutTheSandboxTheSameAttemptsSucceed) {
  // The control: the attempts are real, so the refusals above are the sandbox's doing.
  nlohmann::json r = Check("network,files,syscalls");
  EXPECT_EQ(r.value("inet_connect", ""), "connected") << r.dump();
  EXPECT_EQ(r.value("write_outside", ""), "written") << r.dump();
  EXPECT_EQ(r["layers"].size(), 0u) << r.dump();
}

TEST_F(SandboxTest, EachLayerHoldsOnItsOwn) {
  // Kernels without one layer still get the others: each closes its hole alone.
  nlohmann::json network = Check("files,syscalls");
  EXPECT_TRUE(Refused(network, "inet_connect")) << network.dump();
  EXPECT_TRUE(Refused(network, "parent_environ")) << network.dump();
  EXPECT_EQ(network.value("write_outside", ""), "written") << network.dump();

  nlohmann::json files = Check("network,syscalls");
  EXPECT_TRUE(Refused(files, "write_outside")) << files.dump();
  EXPECT_TRUE(Refused(files, "parent_environ")) << files.dump();
  EXPECT_EQ(files.value("write_scratch", ""), "written") << files.dump();

  nlohmann::json syscalls = Check("network,files");
  EXPECT_TRUE(Refused(syscalls, "inet_connect")) << syscalls.dump();
  EXPECT_EQ(syscalls.value("write_outside", ""), "written") << syscalls.dump();
}

TEST(SandboxSettingsTest, LayersAreNamedAndUnknownOnesRefused) {
  SandboxPolicy policy;
  EXPECT_TRUE(SkipSandboxLayers("network,syscalls", &policy).ok());
  EXPECT_FALSE(policy.network);
  EXPECT_TRUE(policy.files);
  EXPECT_FALSE(policy.syscalls);
  EXPECT_EQ(SkipSandboxLayers("network,netns", &policy).code(), ErrorCode::kInvalidArgument);
}

TEST(SandboxSettingsTest, TheChildEnvironmentIsAnAllowlist) {
  std::map<std::string, std::string> parent = {{"VIDPROC_API_TOKEN", "t"},
                                               {"SPACES_ACCESS_KEY", "a"},
                                               {"SPACES_SECRET_KEY", "s"},
                                               {"WEBHOOK_SECRET", "w"},
                                               {"VIDPROC_DATABASE_URL", "d"},
                                               {"DATABASE_URL", "django-db"},
                                               {"AWS_SECRET_ACCESS_KEY", "x"},
                                               {"HOME", "/root"},
                                               {"LANG", "C.UTF-8"},
                                               {"LC_ALL", "C"},
                                               {"TZ", "UTC"}};
  std::vector<std::string> env = ChildEnvironment(parent, {"LOG_LEVEL=info"});
  std::set<std::string> got(env.begin(), env.end());
  EXPECT_EQ(got, (std::set<std::string>{"LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC", "PATH=/usr/bin:/bin",
                                        "LOG_LEVEL=info"}));
}

TEST(SandboxSettingsTest, MakeNonDumpableHidesTheProcessFromItsChildren) {
  pid_t pid = fork();
  if (pid == 0) {
    MakeNonDumpable();
    _exit(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace vidproc::worker
