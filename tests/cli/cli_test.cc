// `vidproc` run as a program, the way a user at a terminal or a worker slot runs it.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

std::string Bin() { return VIDPROC_BIN_PATH; }
std::string Fixture(const std::string& n) { return std::string(VIDPROC_FIXTURES_PATH) + "/" + n; }

RunResult RunVidproc(const std::string& args) {
  RunResult r;
  std::string cmd = Bin() + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

std::string TempDir() {
  char templ[] = "/tmp/vidproc-cli-XXXXXX";
  return mkdtemp(templ);
}

TEST(CliTest, VersionAndHelp) {
  RunResult v = RunVidproc("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("vidproc ", 0), 0u);
  for (const char* cmd : {"--help", "transcode --help", "probe --help"}) {
    RunResult h = RunVidproc(cmd);
    EXPECT_EQ(h.exit_code, 0) << cmd;
    EXPECT_NE(h.out.find("Usage: vidproc"), std::string::npos) << cmd;
  }
}

// A Django project's .env (DATABASE_URL) in the working directory: vidproc keeps its own database
// and says so once in the log; VIDPROC_DATABASE_URL is the one it reads.
TEST(CliTest, ADjangoDatabaseUrlIsNotVidprocsAndIsNoticedOnce) {
  const std::string dir = TempDir();
  {
    std::FILE* env = std::fopen((dir + "/.env").c_str(), "w");
    ASSERT_NE(env, nullptr);
    std::fputs("DATABASE_URL=postgres://django:django-db-pass@db.internal/site\n", env);
    std::fclose(env);
  }
  auto run = [&](const std::string& extra_env) {
    RunResult r;
    std::string cmd = "cd '" + dir + "' && env -u VIDPROC_DATABASE_URL -u DATABASE_URL " +
                      "-u VIDPROC_DATA_DIR -u LOG_LEVEL LOG_FORMAT=text " + extra_env + " " +
                      Bin() + " config 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  };
  const std::string notice = "DATABASE_URL is set but is not vidproc";
  RunResult alone = run("");
  ASSERT_EQ(alone.exit_code, 0) << alone.out;
  size_t at = alone.out.find(notice);
  ASSERT_NE(at, std::string::npos) << alone.out;
  EXPECT_EQ(alone.out.find(notice, at + 1), std::string::npos) << "said twice:\n" << alone.out;
  EXPECT_NE(alone.out.find("\"VIDPROC_DATABASE_URL\": \"sqlite:///data/vidproc.db\""),
            std::string::npos)
      << alone.out;
  EXPECT_EQ(alone.out.find("django-db-pass"), std::string::npos) << alone.out;

  RunResult ours = run("VIDPROC_DATABASE_URL=sqlite:///jobs.db");
  ASSERT_EQ(ours.exit_code, 0) << ours.out;
  EXPECT_EQ(ours.out.find(notice), std::string::npos) << ours.out;
  EXPECT_NE(ours.out.find("\"sqlite:///jobs.db\""), std::string::npos) << ours.out;
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunVidproc("").exit_code, 2);
  EXPECT_EQ(RunVidproc("frobnicate").exit_code, 2);
  EXPECT_EQ(RunVidproc("transcode only-one-arg").exit_code, 2);
  EXPECT_EQ(RunVidproc("transcode a b --preset warp-speed").exit_code, 2);
  EXPECT_EQ(RunVidproc("transcode a b --bitrate lots").exit_code, 2);
}

TEST(CliTest, TranscodeWithJsonProgressForAWorker) {
  std::string dir = TempDir();
  RunResult r = RunVidproc("transcode " + Fixture("landscape_1080p.mp4") + " " + dir +
                           "/out.mp4 --thumbnail " + dir + "/t.jpg --progress json --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_GE(lines.size(), 2u);
  double last = -1;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["event"], "progress");
    double p = lines[i]["progress"];
    EXPECT_GE(p, last);
    last = p;
  }
  const nlohmann::json& done = lines.back();
  EXPECT_EQ(done["event"], "done");
  EXPECT_EQ(done["path"], "encode");
  EXPECT_EQ(done["output"]["width"], 1280);
  EXPECT_EQ(done["output"]["height"], 720);
  EXPECT_EQ(done["output"]["video_codec"], "h264");
  EXPECT_EQ(done["source"]["video"]["width"], 1920);
  EXPECT_GT(done["elapsed_s"].get<double>(), 0);
  EXPECT_EQ(access((dir + "/t.jpg").c_str(), R_OK), 0);
}

TEST(CliTest, RefusedInputExitsWithOneAndItsCode) {
  std::string dir = TempDir();
  RunResult r =
      RunVidproc("transcode " + Fixture("text.mp4") + " " + dir + "/out.mp4 --progress json");
  EXPECT_EQ(r.exit_code, 1);
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["event"], "error");
  EXPECT_EQ(lines.back()["error"]["code"], "not_a_video");
  EXPECT_FALSE(lines.back()["error"]["message"].get<std::string>().empty());
  EXPECT_NE(access((dir + "/out.mp4").c_str(), F_OK), 0);
}

TEST(CliTest, ProbePrintsJsonAndAVerdict) {
  RunResult ok = RunVidproc("probe " + Fixture("rot90.mp4"));
  EXPECT_EQ(ok.exit_code, 0);
  nlohmann::json j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["acceptable"], true);
  EXPECT_EQ(j["video"]["rotation"], 90);
  EXPECT_TRUE(j["error"].is_null());

  RunResult bad = RunVidproc("probe " + Fixture("ten_hours.mkv"));
  EXPECT_EQ(bad.exit_code, 1);
  nlohmann::json b = nlohmann::json::parse(bad.out);
  EXPECT_EQ(b["acceptable"], false);
  EXPECT_EQ(b["error"]["code"], "too_long");
  EXPECT_NEAR(b["duration_s"].get<double>(), 36000, 1);
}

TEST(CliTest, SigtermCancelsCleanly) {
  std::string dir = TempDir();
  std::string out = dir + "/out.mp4";
  int progress_pipe[2];
  ASSERT_EQ(pipe(progress_pipe), 0);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(progress_pipe[1], 1);
    dup2(devnull, 2);
    close(progress_pipe[0]);
    std::string in = Fixture("landscape_1080p.mp4");
    execl(Bin().c_str(), "vidproc", "transcode", in.c_str(), out.c_str(), "--preset", "slow",
          "--threads", "1", "--progress", "json", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(progress_pipe[1]);
  // Mid-transcode means after the first progress line: the output is being written by then.
  FILE* progress = fdopen(progress_pipe[0], "r");
  std::array<char, 4096> line;
  bool transcoding = false;
  while (!transcoding && fgets(line.data(), line.size(), progress)) {
    transcoding = std::string(line.data()).find(R"("event":"progress")") != std::string::npos;
  }
  EXPECT_TRUE(transcoding) << "the transcoder ended without reporting progress";
  kill(pid, SIGTERM);
  while (fgets(line.data(), line.size(), progress)) {
  }  // drained, so that the child never blocks on a full pipe
  fclose(progress);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);
  EXPECT_NE(access(out.c_str(), F_OK), 0);
  EXPECT_NE(access((out + ".partial").c_str(), F_OK), 0);
}

}  // namespace
