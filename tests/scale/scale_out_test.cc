// Scale-out as DEPLOY.md ("Many machines") describes it: several `vidproc worker` processes and
// API-only `vidproc serve --workers 0` nodes, each with a data directory of its own (as if on
// separate machines), sharing one PostgreSQL database and one bucket (Ceph RGW). Each test has a
// database and a bucket of its own; the results are checked with standard clients (SQL through
// libpq, the aws CLI), never through the processes under test.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/ids.h"
#include "storage/s3_store.h"
#include "support/http_client.h"
#include "support/output_keys.h"
#include "support/server_env.h"
#include "support/shell.h"
#include "worker/worker_test_util.h"

namespace vidproc::scale {
namespace {

using vidproc::worker::testing::WaitFor;
using Rows = std::vector<std::vector<std::string>>;

using vidproc::testing::Shell;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One libpq connection, re-opened when it breaks (the server restarts in one test).
class Db {
 public:
  explicit Db(std::string url) : url_(std::move(url)) {}
  ~Db() {
    if (conn_) PQfinish(conn_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // The rows as text (NULL is ""); on an error, no rows and *error says why.
  Rows Query(const std::string& sql, std::string* error = nullptr) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
        if (conn_) PQfinish(conn_);
        conn_ = PQconnectdb(url_.c_str());
        if (PQstatus(conn_) != CONNECTION_OK) continue;
      }
      PGresult* r = PQexec(conn_, sql.c_str());
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        Rows rows;
        for (int i = 0; i < PQntuples(r); ++i) {
          rows.emplace_back();
          for (int j = 0; j < PQnfields(r); ++j) rows.back().push_back(PQgetvalue(r, i, j));
        }
        PQclear(r);
        if (error) error->clear();
        return rows;
      }
      PQclear(r);
    }
    if (error) *error = conn_ ? PQerrorMessage(conn_) : "no connection";
    return {};
  }

  // The first column of the first row, or "" (no row, or an error).
  std::string Value(const std::string& sql) {
    Rows rows = Query(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }

 private:
  std::string url_;
  PGconn* conn_ = nullptr;
};

using vidproc::testing::Http;
using vidproc::testing::Response;

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63],
                       kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

// The pids of the processes that `parent`'s threads started (still running or not yet reaped).
std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> pids;
  std::error_code ec;
  std::string tasks = "/proc/" + std::to_string(parent) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t pid; in >> pid;) pids.push_back(pid);
  }
  return pids;
}

bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    s3_ = vidproc::testing::ReadServerEnv(VIDPROC_S3_ENV_FILE);
    pg_ = vidproc::testing::ReadServerEnv(VIDPROC_PG_ENV_FILE);
    ASSERT_FALSE(s3_["S3_TEST_ENDPOINT"].empty()) << "no S3 server: " << VIDPROC_S3_ENV_FILE;
    ASSERT_FALSE(pg_["PG_TEST_PORT"].empty()) << "no PostgreSQL server: " << VIDPROC_PG_ENV_FILE;
    char templ[] = "/tmp/vidproc-scale-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
    std::filesystem::create_directories(dir_ + "/logs");
    std::string suffix;
    for (char c : NewId()) {
      suffix += std::isalnum(static_cast<unsigned char>(c))
                    ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                    : 'x';
    }

    // A bucket of the test's own.
    bucket_ = "scale-" + suffix;
    storage::S3Options o;
    o.endpoint = s3_["S3_TEST_ENDPOINT"];
    o.access_key = s3_["S3_TEST_ACCESS_KEY"];
    o.secret_key = s3_["S3_TEST_SECRET_KEY"];
    o.region = s3_["S3_TEST_REGION"];
    o.bucket = bucket_;
    auto s3 = storage::S3Store::Create(o, SystemClock::Default());
    ASSERT_TRUE(s3.ok()) << s3.status().ToString();
    Status created = s3.value()->CreateBucket();
    ASSERT_TRUE(created.ok()) << created.ToString();

    // A database of the test's own, owned by the role the processes use.
    database_ = "scale_" + suffix;
    const std::string server = "127.0.0.1:" + pg_["PG_TEST_PORT"];
    admin_ = std::make_unique<Db>("postgres://postgres@" + server + "/postgres");
    std::string error;
    admin_->Query("CREATE DATABASE " + database_ + " OWNER vidproc", &error);
    ASSERT_EQ(error, "");
    database_url_ = "postgres://vidproc@" + server + "/" + database_;
    db_ = std::make_unique<Db>(database_url_);

    env_ = {"PATH=/usr/bin:/bin",
            "HOME=" + dir_,
            "VIDPROC_DATABASE_URL=" + database_url_,
            "USE_SPACES=True",
            "SPACES_ACCESS_KEY=" + o.access_key,
            "SPACES_SECRET_KEY=" + o.secret_key,
            "SPACES_BUCKET_NAME=" + bucket_,
            "SPACES_ENDPOINT_URL=" + o.endpoint,
            "SPACES_REGION=" + o.region,
            "VIDPROC_RETRY_BACKOFF_SECONDS=1",
            "VIDPROC_MAX_ATTEMPTS=10",
            "VIDPROC_SHUTDOWN_GRACE_SECONDS=10",
            "LOG_LEVEL=warning"};
  }

  void TearDown() override {
    for (auto& [pid, name] : processes_) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (HasFailure()) {
      // What the processes said, for the failure's reader.
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/logs", ec)) {
        // The undeliverable webhooks (on purpose, above) left out.
        std::string log;
        for (const auto& line : Lines(ReadFile(entry.path()))) {
          if (line.find("webhook delivery failed") == std::string::npos) log += line + "\n";
        }
        if (log.size() > 3000) log = "..." + log.substr(log.size() - 3000);
        std::cerr << "--- " << entry.path().filename().string() << " ---\n" << log << "\n";
      }
    }
    db_.reset();
    if (admin_) admin_->Query("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    if (!bucket_.empty()) Shell(Aws("s3 rb --force s3://" + bucket_) + " >/dev/null 2>&1");
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // `env -i` with the test's environment plus `extra`, as a shell prefix.
  std::string EnvPrefix(const std::vector<std::string>& extra = {}) const {
    std::string cmd = "env -i";
    for (const auto& e : env_) cmd += " '" + e + "'";
    for (const auto& e : extra) cmd += " '" + e + "'";
    return cmd;
  }

  std::string Aws(const std::string& args) const {
    return "env -i PATH=/usr/bin:/bin HOME=" + dir_ +
           " AWS_ACCESS_KEY_ID=" + s3_.at("S3_TEST_ACCESS_KEY") +
           " AWS_SECRET_ACCESS_KEY=" + s3_.at("S3_TEST_SECRET_KEY") +
           " AWS_DEFAULT_REGION=" + s3_.at("S3_TEST_REGION") + " /usr/bin/aws --endpoint-url " +
           s3_.at("S3_TEST_ENDPOINT") + " " + args;
  }

  // `count` short, different videos made with the ffmpeg CLI (fixtures only), two at a time.
  std::vector<std::string> MakeVideos(int count, const std::string& size, double seconds,
                                      const std::string& ext) {
    std::filesystem::create_directories(dir_ + "/src");
    const std::string d = std::to_string(seconds);
    // A different hue and tone for each.
    std::ofstream(dir_ + "/src/make.sh")
        << "cd '" << dir_ << "/src'\n"
        << "for i in $(seq 0 " << count - 1 << "); do\n"
        << "  ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=" << size << ":r=25:d=" << d
        << " -f lavfi -i sine=f=$((200 + 37 * i)):d=" << d << " -vf hue=h=$((i * 360 / " << count
        << ")) -c:v libx264 -preset ultrafast -threads 1 -c:a aac -shortest clip_$i." << ext
        << " &\n"
        << "  if [ $((i % 2)) = 1 ]; then wait; fi\n"
        << "done\n"
        << "wait\n";
    std::string out = Shell("bash '" + dir_ + "/src/make.sh' 2>&1");
    std::vector<std::string> files;
    for (int i = 0; i < count; ++i) {
      std::string f = dir_ + "/src/clip_" + std::to_string(i) + "." + ext;
      EXPECT_GT(std::filesystem::exists(f) ? std::filesystem::file_size(f) : 0, 1000u)
          << f << ": " << out;
      files.push_back(f);
    }
    return files;
  }

  std::vector<std::string> Enqueue(const std::vector<std::string>& files) {
    std::string cmd =
        EnvPrefix({"VIDPROC_DATA_DIR=" + dir_ + "/cli"}) + " " + VIDPROC_BIN_PATH + " enqueue";
    for (const auto& f : files) cmd += " '" + f + "'";
    int code = 0;
    std::vector<std::string> ids = Lines(Shell(cmd + " 2>>'" + dir_ + "/logs/enqueue.log'", &code));
    EXPECT_EQ(code, 0);
    return ids;
  }

  // Starts `vidproc ARGS` in a process group of its own (so that a kill takes its whole group),
  // with the test's environment plus `extra`; stdout and stderr go to logs/NAME.log.
  pid_t Start(const std::string& name, const std::vector<std::string>& args,
              const std::vector<std::string>& extra) {
    std::vector<std::string> env = env_;
    env.insert(env.end(), extra.begin(), extra.end());
    std::string log = dir_ + "/logs/" + name + ".log";
    std::vector<char*> argv = {const_cast<char*>(VIDPROC_BIN_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execve(VIDPROC_BIN_PATH, argv.data(), envp.data());
      _exit(127);
    }
    setpgid(pid, pid);
    processes_[pid] = name;
    return pid;
  }

  // A worker "on a machine of its own": its own data directory (scratch only) and id.
  pid_t StartWorker(const std::string& id, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> env = {"VIDPROC_DATA_DIR=" + dir_ + "/" + id,
                                    "VIDPROC_WORKER_ID=" + id, "MAX_VIDEO_PROCESSING_TASKS=1"};
    env.insert(env.end(), extra.begin(), extra.end());
    return Start(id, {"worker"}, env);
  }

  // Sends `signal` and waits for the process to end: its exit status, or -1 when it was killed
  // by a signal or did not end within `timeout_ms`.
  int StopProcess(pid_t pid, int signal, int64_t timeout_ms) {
    kill(pid, signal);
    int status = 0;
    if (!WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms)) return -1;
    processes_.erase(pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  bool Alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

  // Keys in the bucket, as a standard S3 client lists them, sorted.
  std::vector<std::string> BucketKeys() {
    int code = 0;
    std::string out = Shell(Aws("s3api list-objects-v2 --bucket " + bucket_ +
                                " --query 'Contents[].Key' --output text"),
                            &code);
    EXPECT_EQ(code, 0) << out;
    std::vector<std::string> keys;
    std::istringstream in(out);
    for (std::string key; in >> key;) {
      if (key != "None") keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  // Multipart uploads started and never completed or aborted.
  std::vector<std::string> IncompleteMultipartUploads() {
    int code = 0;
    std::string out = Shell(Aws("s3api list-multipart-uploads --bucket " + bucket_ +
                                " --query 'Uploads[].Key' --output text"),
                            &code);
    EXPECT_EQ(code, 0) << out;
    std::vector<std::string> keys;
    std::istringstream in(out);
    for (std::string key; in >> key;) {
      if (key != "None") keys.push_back(key);
    }
    return keys;
  }

  // Each video's MP4, thumbnail, HLS and the thumbnail's smaller copies its job recorded making
  // (the generated clips are of several sizes: a small one gets fewer copies).
  std::vector<std::string> ProcessedKeys(const std::vector<std::string>& ids) {
    std::vector<std::string> keys;
    for (const auto& id : ids) {
      const auto output = nlohmann::json::parse(
          db_->Value("SELECT output FROM videos WHERE id = '" + id + "'"), nullptr, false);
      for (const std::string& key : vidproc::testing::ReadyVideoKeys(id, output)) {
        keys.push_back(key);
      }
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  std::map<std::string, int> CountByStatus() {
    std::map<std::string, int> counts;
    for (const auto& row : db_->Query("SELECT status, count(*) FROM videos GROUP BY status")) {
      counts[row[0]] = std::stoi(row[1]);
    }
    return counts;
  }

  // Waits until `count` videos are ready; false (at once) if one fails, or at the deadline.
  bool WaitAllReady(int count, int64_t timeout_ms) {
    bool failed = false;
    bool ready = WaitFor(
        [&] {
          auto counts = CountByStatus();
          failed = counts["failed"] > 0;
          return failed || counts["ready"] == count;
        },
        timeout_ms);
    return ready && !failed;
  }

  // How many times each video became ready: the `video.ready` rows of the webhook outbox, which
  // the transition writes in its own transaction (every process here has WEBHOOK_URL).
  std::map<std::string, int> ReadyTransitions() {
    std::map<std::string, int> n;
    for (const auto& row : db_->Query("SELECT video_id, count(*) FROM webhook_outbox WHERE "
                                      "event = 'video.ready' GROUP BY video_id")) {
      n[row[0]] = std::stoi(row[1]);
    }
    return n;
  }

  std::string Describe(const std::string& id) {
    std::string out;
    for (const auto& row :
         db_->Query("SELECT status, attempts, coalesce(error_code, ''), coalesce(error_message, "
                    "'') FROM videos WHERE id = '" +
                    id + "'")) {
      out = row[0] + ", attempts " + row[1] + (row[2].empty() ? "" : ", " + row[2] + ": " + row[3]);
    }
    return out;
  }

  std::map<std::string, std::string> s3_;
  std::map<std::string, std::string> pg_;
  std::string dir_;
  std::string bucket_;
  std::string database_;
  std::string database_url_;
  std::unique_ptr<Db> admin_;
  std::unique_ptr<Db> db_;
  std::vector<std::string> env_;
  std::map<pid_t, std::string> processes_;  // started and not yet reaped
};

// Nothing listens on port 9 (discard): deliveries stay in the outbox, which is what is counted.
std::vector<std::string> WebhookEnv() {
  return {"WEBHOOK_URL=http://127.0.0.1:9/hook", "WEBHOOK_SECRET=scale-test-secret"};
}

TEST_F(ScaleOutTest, ThreeWorkersOneKilledEveryVideoReadyExactlyOnce) {
  // Matroska is never passed through: every job runs the encoder.
  std::vector<std::string> files = MakeVideos(30, "320x240", 1.5, "mkv");
  std::vector<std::string> ids = Enqueue(files);
  ASSERT_EQ(ids.size(), 30u);
  ASSERT_EQ(BucketKeys().size(), 30u) << "the originals are in the bucket";

  std::vector<std::string> lease = WebhookEnv();
  lease.push_back("VIDPROC_LEASE_SECONDS=3");
  pid_t w1 = StartWorker("scale-w1", lease);
  pid_t w2 = StartWorker("scale-w2", lease);
  pid_t w3 = StartWorker("scale-w3", lease);

  // w1 mid-job: its transcoder is running, so the job cannot have been completed yet. It dies
  // with its whole process group at once.
  pid_t transcoder = -1;
  std::string transcoder_cmdline;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (pid_t child : ChildPids(w1)) {
          std::string cmdline = ReadFile("/proc/" + std::to_string(child) + "/cmdline");
          if (cmdline.find("transcode") != std::string::npos) {
            kill(-w1, SIGKILL);
            transcoder = child;
            transcoder_cmdline = cmdline;
            return true;
          }
        }
        return !Alive(w1);
      },
      60'000))
      << "w1 never ran a job";
  ASSERT_NE(transcoder, -1) << "w1 exited by itself";
  waitpid(w1, nullptr, 0);
  processes_.erase(w1);
  EXPECT_TRUE(WaitFor([&] { return !Running(transcoder); }, 5'000))
      << "the transcoder outlived its worker";
  Rows killed =
      db_->Query("SELECT id FROM videos WHERE status = 'processing' AND lease_owner = 'scale-w1'");
  ASSERT_EQ(killed.size(), 1u) << "w1 died holding exactly one job";
  const std::string killed_id = killed[0][0];
  EXPECT_NE(transcoder_cmdline.find(killed_id), std::string::npos)
      << "the transcoder that died was running that job";

  ASSERT_TRUE(WaitAllReady(30, 180'000))
      << "ready: " << CountByStatus()["ready"] << ", failed: " << CountByStatus()["failed"];

  std::map<std::string, int> ready_transitions = ReadyTransitions();
  for (const auto& id : ids) {
    Rows row = db_->Query("SELECT status, attempts FROM videos WHERE id = '" + id + "'");
    ASSERT_EQ(row.size(), 1u) << id;
    EXPECT_EQ(row[0][0], "ready") << id;
    if (id == killed_id) {
      EXPECT_GE(std::stoi(row[0][1]), 2) << "the killed job ran again: " << id;
    } else {
      EXPECT_EQ(std::stoi(row[0][1]), 1) << "only the killed job ran twice: " << id;
    }
    EXPECT_EQ(ready_transitions[id], 1) << "became ready exactly once: " << id;
  }
  EXPECT_EQ(ready_transitions.size(), ids.size());
  EXPECT_EQ(BucketKeys(), ProcessedKeys(ids))
      << "each video's output and thumbnail, and nothing else: no original, no orphan";
  EXPECT_EQ(IncompleteMultipartUploads(), std::vector<std::string>{});

  // The survivors stop cleanly: exit 0, out of the registry, their scratch empty.
  EXPECT_EQ(StopProcess(w2, SIGTERM, 30'000), 0);
  EXPECT_EQ(StopProcess(w3, SIGTERM, 30'000), 0);
  EXPECT_EQ(db_->Query("SELECT id FROM workers WHERE id IN ('scale-w2', 'scale-w3')").size(), 0u);
  EXPECT_EQ(db_->Value("SELECT count(*) FROM videos WHERE status <> 'ready'"), "0");
  for (const char* w : {"scale-w2", "scale-w3"}) {
    std::error_code ec;
    EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/" + w + "/scratch", ec)) << w << ec.message();
  }
}

TEST_F(ScaleOutTest, PostgresRestartMidRunLosesNothing) {
  // Long enough (1.5 to 2 s of encoding each, two at once) for the restart (under 1 s) to fall
  // inside running jobs.
  std::vector<std::string> files = MakeVideos(10, "960x540", 10, "mkv");
  std::vector<std::string> ids = Enqueue(files);
  ASSERT_EQ(ids.size(), 10u);
  std::vector<std::string> extra = WebhookEnv();
  extra.push_back("VIDPROC_LEASE_SECONDS=5");
  pid_t w1 = StartWorker("scale-pg-w1", extra);
  pid_t w2 = StartWorker("scale-pg-w2", extra);

  // Both workers are transcoding.
  auto transcoding = [&](pid_t worker) {
    for (pid_t child : ChildPids(worker)) {
      if (ReadFile("/proc/" + std::to_string(child) + "/cmdline").find("transcode") !=
          std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return transcoding(w1) && transcoding(w2); }, 60'000));
  Rows in_flight = db_->Query("SELECT id FROM videos WHERE status = 'processing'");
  ASSERT_EQ(in_flight.size(), 2u);
  std::string started_before = db_->Value("SELECT pg_postmaster_start_time()");
  ASSERT_NE(started_before, "");

  int code = 0;
  auto restart_began = std::chrono::steady_clock::now();
  std::string out =
      Shell(std::string(VIDPROC_PG_SCRIPT) + " restart " + pg_["PG_TEST_DIR"] + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;
  double restart_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restart_began).count();
  ASSERT_TRUE(WaitFor([&] { return !db_->Value("SELECT 1").empty(); }, 10'000));
  const int64_t back_ms = SystemClock::Default()->NowMs();
  EXPECT_NE(db_->Value("SELECT pg_postmaster_start_time()"), started_before)
      << "the server really restarted";
  std::string still_running =
      db_->Value("SELECT count(*) FROM videos WHERE status = 'processing' AND id IN ('" +
                 in_flight[0][0] + "', '" + in_flight[1][0] + "')");
  EXPECT_NE(still_running, "0") << "the restart (" << restart_s << " s) fell inside a running job";

  ASSERT_TRUE(WaitAllReady(10, 180'000))
      << "ready: " << CountByStatus()["ready"] << ", failed: " << CountByStatus()["failed"];
  std::map<std::string, int> ready_transitions = ReadyTransitions();
  for (const auto& id : ids) {
    EXPECT_EQ(ready_transitions[id], 1)
        << "became ready exactly once: " << id << " (" << Describe(id) << ")";
  }
  for (const auto& row : in_flight) {
    EXPECT_EQ(Describe(row[0]).substr(0, 5), "ready") << "in flight during the restart: " << row[0];
  }
  EXPECT_EQ(BucketKeys(), ProcessedKeys(ids))
      << "each video's output and thumbnail, and nothing else (restart took " << restart_s << " s)";
  EXPECT_EQ(IncompleteMultipartUploads(), std::vector<std::string>{});

  // Both workers lived through it, reconnected (they report to the registry again), and stop
  // cleanly.
  EXPECT_TRUE(Alive(w1));
  EXPECT_TRUE(Alive(w2));
  EXPECT_TRUE(WaitFor(
      [&] {
        return db_->Value("SELECT count(*) FROM workers WHERE last_seen >= " +
                          std::to_string(back_ms)) == "2";
      },
      15'000));
  EXPECT_EQ(StopProcess(w1, SIGTERM, 30'000), 0);
  EXPECT_EQ(StopProcess(w2, SIGTERM, 30'000), 0);
  EXPECT_EQ(db_->Value("SELECT count(*) FROM workers"), "0") << "both left the registry";
}

TEST_F(ScaleOutTest, TusUploadContinuesOnAnotherApiNode) {
  std::vector<std::string> files = MakeVideos(1, "320x240", 1.5, "mp4");
  const std::string source = ReadFile(files[0]);
  ASSERT_GT(source.size(), 1000u);

  // Two API-only nodes, each with a data directory of its own.
  std::map<std::string, std::string> base;
  for (const std::string node : {"a", "b"}) {
    std::string port_file = dir_ + "/port-" + node;
    Start("serve-" + node,
          {"serve", "--workers", "0", "--listen", "127.0.0.1:0", "--port-file", port_file},
          {"VIDPROC_DATA_DIR=" + dir_ + "/node-" + node});
    std::string port;
    ASSERT_TRUE(WaitFor(
        [&] {
          port = ReadFile(port_file);
          return !port.empty();
        },
        30'000))
        << "node " << node << " did not start";
    while (!port.empty() && port.back() == '\n') port.pop_back();
    base[node] = "http://127.0.0.1:" + port;
    ASSERT_TRUE(
        WaitFor([&] { return Http("GET", base[node] + "/healthz").status == 200; }, 10'000));
  }
  const std::string tus = "Tus-Resumable: 1.0.0";
  const size_t half = source.size() / 2;

  Response created = Http("POST", base["a"] + "/api/v1/uploads",
                          {tus, "Upload-Length: " + std::to_string(source.size()),
                           "Upload-Metadata: filename " + Base64("scale.mp4")});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string location = created.headers["location"];
  ASSERT_EQ(location.rfind("/api/v1/uploads/", 0), 0u) << location;
  const std::string id = location.substr(location.rfind('/') + 1);

  Response first = Http("PATCH", base["a"] + location,
                        {tus, "Content-Type: application/offset+octet-stream", "Upload-Offset: 0"},
                        source.substr(0, half));
  ASSERT_EQ(first.status, 204) << first.body;
  EXPECT_EQ(first.headers["upload-offset"], std::to_string(half));

  Response head = Http("HEAD", base["b"] + location, {tus});
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["upload-offset"], std::to_string(half)) << "node B sees node A's bytes";
  EXPECT_EQ(head.headers["upload-length"], std::to_string(source.size()));

  Response rest = Http("PATCH", base["b"] + location,
                       {tus, "Content-Type: application/offset+octet-stream",
                        "Upload-Offset: " + std::to_string(half)},
                       source.substr(half));
  ASSERT_EQ(rest.status, 204) << rest.body;
  EXPECT_EQ(rest.headers["upload-offset"], std::to_string(source.size()));

  for (const std::string node : {"a", "b"}) {
    Response video = Http("GET", base[node] + "/api/v1/videos/" + id);
    ASSERT_EQ(video.status, 200) << node << ": " << video.body;
    auto json = nlohmann::json::parse(video.body);
    EXPECT_EQ(json["status"], "queued") << "on node " << node;
    EXPECT_EQ(json["filename"], "scale.mp4");
  }

  // The parts became the original and are gone; the original is the source, byte for byte.
  EXPECT_EQ(BucketKeys(), std::vector<std::string>{"videos/" + id + "/original"});
  int code = 0;
  std::string out = Shell(Aws("s3 cp s3://" + bucket_ + "/videos/" + id + "/original '" + dir_ +
                              "/downloaded' --only-show-errors 2>&1"),
                          &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(ReadFile(dir_ + "/downloaded") == source) << "the original differs from the source";

  // A worker on the same database: it processes the video, and node A lists it.
  pid_t worker = StartWorker("scale-tus-worker");
  std::string status;
  ASSERT_TRUE(WaitFor(
      [&] {
        Response r = Http("GET", base["b"] + "/api/v1/videos/" + id);
        if (r.status != 200) return false;
        status = nlohmann::json::parse(r.body)["status"].get<std::string>();
        return status == "ready" || status == "failed";
      },
      60'000));
  EXPECT_EQ(status, "ready") << Describe(id);
  nlohmann::json queue;
  ASSERT_TRUE(WaitFor(
      [&] {
        Response r = Http("GET", base["a"] + "/api/v1/queue");
        if (r.status != 200) return false;
        queue = nlohmann::json::parse(r.body);
        for (const auto& w : queue["workers"]) {
          if (w["id"] == "scale-tus-worker") return true;
        }
        return false;
      },
      15'000))
      << queue.dump();
  for (const auto& w : queue["workers"]) {
    if (w["id"] == "scale-tus-worker") {
      EXPECT_EQ(w["pid"], worker);
      EXPECT_EQ(w["slots"], 1);
    }
  }
  EXPECT_EQ(queue["ready"], 1);
  EXPECT_EQ(StopProcess(worker, SIGTERM, 30'000), 0);
}

}  // namespace
}  // namespace vidproc::scale
