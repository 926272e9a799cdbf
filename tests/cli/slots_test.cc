// `vidproc worker` and `vidproc serve` run as processes: every way of setting the worker slots
// (--workers, --max-tasks, the environment, .env, the default) gives the slots, and the threads per
// job that follow from them, that the start-up log reports.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

struct Started {
  int exit_code = -1;
  std::vector<nlohmann::json> log;  // the JSON log lines, to the process's end
};

// Runs `vidproc ARGS` in a fresh directory (holding `dotenv` as .env when given) with `env` added
// to a clean environment; once a log line with message `until` appears (or the process ends), it
// is asked to stop with SIGTERM and waited for.
Started RunUntil(const std::vector<std::string>& args, const std::vector<std::string>& env,
                 const std::string& dotenv, const std::string& until) {
  char templ[] = "/tmp/vidproc-slots-XXXXXX";
  std::string dir = mkdtemp(templ);
  if (!dotenv.empty()) std::ofstream(dir + "/.env") << dotenv;
  std::vector<std::string> envp = {"LOG_FORMAT=json", "LOG_LEVEL=info"};
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    // Only this test decides the configuration.
    bool ours = entry.rfind("VIDPROC_", 0) == 0 || entry.rfind("MAX_VIDEO_", 0) == 0 ||
                entry.rfind("LOG_", 0) == 0 || entry.rfind("DATABASE_URL=", 0) == 0 ||
                entry.rfind("USE_SPACES=", 0) == 0 || entry.rfind("WEBHOOK_", 0) == 0;
    if (!ours) envp.push_back(entry);
  }
  envp.insert(envp.end(), env.begin(), env.end());
  std::vector<std::string> argv = {VIDPROC_BIN_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--data-dir", dir + "/data"});

  // Built before fork(): cases run in parallel threads, and the child only execs.
  std::vector<char*> a, e;
  for (auto& arg : argv) a.push_back(arg.data());
  a.push_back(nullptr);
  for (auto& var : envp) e.push_back(var.data());
  e.push_back(nullptr);
  int pipe_fds[2];
  // Close-on-exec, so that a child started meanwhile by another thread does not hold it open.
  EXPECT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], 2);
    if (chdir(dir.c_str()) != 0) _exit(127);
    execve(a[0], a.data(), e.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  Started started;
  FILE* err = fdopen(pipe_fds[0], "r");
  char* line = nullptr;
  size_t capacity = 0;
  bool stop_sent = false;
  while (getline(&line, &capacity, err) > 0) {
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) continue;  // a usage message
    started.log.push_back(json);
    if (!stop_sent && json.value("msg", "") == until) {
      kill(pid, SIGTERM);
      stop_sent = true;
    }
  }
  free(line);
  fclose(err);
  int status = 0;
  waitpid(pid, &status, 0);
  started.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove_all(dir);
  return started;
}

const nlohmann::json* Find(const Started& s, const std::string& msg) {
  for (const auto& line : s.log) {
    if (line.value("msg", "") == msg) return &line;
  }
  return nullptr;
}

struct Case {
  const char* how;
  std::vector<std::string> args, env;
  std::string dotenv;
  int slots;
};

// Starts one process per case at once (each waits for its own start-up line), then checks each.
void ExpectSlots(const char* command, const std::vector<Case>& cases) {
  std::vector<Started> results(cases.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cases.size(); ++i) {
    threads.emplace_back([&, i] {
      std::vector<std::string> args = {command};
      if (std::string(command) == "serve") args.insert(args.end(), {"--listen", "127.0.0.1:0"});
      args.insert(args.end(), cases[i].args.begin(), cases[i].args.end());
      results[i] = RunUntil(args, cases[i].env, cases[i].dotenv, "worker started");
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Started& s = results[i];
    EXPECT_EQ(s.exit_code, 0) << command << ", " << c.how;
    const nlohmann::json* started = Find(s, "worker started");
    ASSERT_NE(started, nullptr) << command << ", " << c.how;
    EXPECT_EQ((*started)["slots"], c.slots) << command << ", " << c.how;
    // The cores the jobs share, whatever the slot count (a cgroup quota may lower it).
    EXPECT_GE((*started)["cores"].get<int>(), 1) << command << ", " << c.how;
    EXPECT_LE((*started)["cores"].get<int>(),
              static_cast<int>(std::max(1u, std::thread::hardware_concurrency())))
        << command << ", " << c.how;
    if (std::string(command) == "serve") {
      const nlohmann::json* listening = Find(s, "listening");
      ASSERT_NE(listening, nullptr) << c.how;
      EXPECT_EQ((*listening)["workers"], c.slots) << c.how;
    }
  }
}

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"the default", {}, {}, "", 2},
      {"the environment", {}, {"MAX_VIDEO_PROCESSING_TASKS=3"}, "", 3},
      {".env", {}, {}, "MAX_VIDEO_PROCESSING_TASKS=1\n", 1},
      {"--workers over the environment",
       {"--workers", "4"},
       {"MAX_VIDEO_PROCESSING_TASKS=1"},
       "",
       4},
      {"--max-tasks over .env", {"--max-tasks", "1"}, {}, "MAX_VIDEO_PROCESSING_TASKS=4\n", 1},
      {"--workers and --max-tasks agreeing", {"--workers=3", "--max-tasks=3"}, {}, "", 3},
  };
  return cases;
}

TEST(SlotsTest, WorkerReportsTheSlotsHoweverTheyWereSet) { ExpectSlots("worker", Cases()); }

TEST(SlotsTest, ServeReportsTheSlotsHoweverTheyWereSet) { ExpectSlots("serve", Cases()); }

TEST(SlotsTest, ServeWithZeroSlotsIsApiOnly) {
  for (const Case& c : {Case{"--workers 0", {"--workers", "0"}, {}, "", 0},
                        Case{"the environment", {}, {"MAX_VIDEO_PROCESSING_TASKS=0"}, "", 0}}) {
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Started s = RunUntil(args, c.env, c.dotenv, "listening");
    EXPECT_EQ(s.exit_code, 0) << c.how;
    const nlohmann::json* listening = Find(s, "listening");
    ASSERT_NE(listening, nullptr) << c.how;
    EXPECT_EQ((*listening)["workers"], 0) << c.how;
    EXPECT_EQ(Find(s, "worker started"), nullptr) << c.how;
  }
}

TEST(SlotsTest, WorkerWithZeroSlotsAndConflictingFlagsAreUsageErrors) {
  // Were one accepted, it would start and be stopped: exit 0.
  EXPECT_EQ(RunUntil({"worker", "--workers", "0"}, {}, "", "worker started").exit_code, 2);
  EXPECT_EQ(RunUntil({"serve", "--listen", "127.0.0.1:0", "--workers", "2", "--max-tasks", "3"}, {},
                     "", "listening")
                .exit_code,
            2);
  EXPECT_EQ(RunUntil({"serve", "--listen", "127.0.0.1:0", "--workers", "65"}, {}, "", "listening")
                .exit_code,
            2);
}

}  // namespace
