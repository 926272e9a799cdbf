// `vidproc` run as a program, the way a user at a terminal or a worker slot runs it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// A shell command's stdout and exit status.
RunResult RunShell(const std::string& cmd) {
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

RunResult RunVidproc(const std::string& args) {
  return RunShell(Bin() + " " + args + " 2>/dev/null");
}

// The command's stderr (stdout discarded), run in `dir` when given.
RunResult RunVidprocStderr(const std::string& args, const std::string& dir = "") {
  return RunShell((dir.empty() ? "" : "cd '" + dir + "' && ") + Bin() + " " + args +
                  " 2>&1 >/dev/null");
}

// The command run on a pseudo-terminal (util-linux `script`), as a person at a terminal runs it:
// what it printed there (stdout and stderr), as lines.
RunResult RunVidprocOnTerminal(const std::string& args, const std::string& dir = "") {
  std::string inner = (dir.empty() ? "" : "cd '" + dir + "' && ") + Bin() + " " + args;
  RunResult r = RunShell("script -qec \"" + inner + "\" /dev/null");
  // CR LF ends a line; a lone CR (a progress bar redrawing itself) starts the line again.
  std::string text;
  for (size_t i = 0; i < r.out.size(); ++i) {
    if (r.out[i] != '\r') {
      text += r.out[i];
    } else if (i + 1 >= r.out.size() || r.out[i + 1] != '\n') {
      text += '\n';
    }
  }
  r.out = text;
  return r;
}

size_t LineCount(const std::string& text) {
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
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
    return RunShell("cd '" + dir + "' && env -u VIDPROC_DATABASE_URL -u DATABASE_URL " +
                    "-u VIDPROC_DATA_DIR -u LOG_LEVEL LOG_FORMAT=text " + extra_env + " " + Bin() +
                    " config 2>&1");
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
  EXPECT_EQ(RunVidproc("transcode a b --storyboard sb.jpg").exit_code, 2);
}

TEST(CliTest, TranscodeWithJsonProgressForAWorker) {
  std::string dir = TempDir();
  RunResult r = RunVidproc("transcode " + Fixture("landscape_1080p.mp4") + " " + dir +
                           "/out.mp4 --thumbnail " + dir + "/t.jpg --storyboard " + dir +
                           "/sb.vtt --progress json --threads 1");
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
  // 4 s: two tiles on one sheet, named after the index.
  EXPECT_EQ(done["storyboard"], dir + "/sb.vtt");
  EXPECT_EQ(done["output"]["storyboard"], nlohmann::json({{"sheets", 1},
                                                          {"tiles", 2},
                                                          {"interval_s", 2.0},
                                                          {"tile_width", 160},
                                                          {"tile_height", 90},
                                                          {"columns", 10},
                                                          {"rows", 10}}));
  EXPECT_EQ(Slurp(dir + "/sb.vtt").rfind("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsb-1.jpg", 0),
            0u)
      << Slurp(dir + "/sb.vtt");
  EXPECT_EQ(access((dir + "/sb-1.jpg").c_str(), R_OK), 0);
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

TEST(CliTest, AnUnknownCommandIsNamedInOneLineWithTheClosestCommand) {
  RunResult r = RunVidprocStderr("stauts");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(LineCount(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find("unknown command 'stauts'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("did you mean 'status'?"), std::string::npos) << r.out;
  RunResult far = RunVidprocStderr("frobnicate");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(LineCount(far.out), 1u) << far.out;
  EXPECT_EQ(far.out.find("did you mean"), std::string::npos) << far.out;
}

TEST(CliTest, HelpCommandShowsEachCommandsOwnOptions) {
  for (const char* command : {"transcode", "probe", "enqueue", "status", "retry", "serve", "worker",
                              "config", "storage", "migrate"}) {
    RunResult help = RunVidproc(std::string("help ") + command);
    RunResult flag = RunVidproc(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_EQ(help.out, flag.out) << command;
    EXPECT_NE(help.out.find(std::string("Usage: vidproc ") + command), std::string::npos)
        << command << ": " << help.out;
  }
  // Only the commands that run jobs list the job options.
  for (const char* command : {"enqueue", "status", "retry", "storage", "migrate", "backup"}) {
    RunResult help = RunVidproc(std::string("help ") + command);
    EXPECT_EQ(help.out.find("--workers"), std::string::npos) << command;
    EXPECT_EQ(help.out.find("--timeout"), std::string::npos) << command;
    EXPECT_NE(help.out.find("--env-file"), std::string::npos) << command;
    EXPECT_EQ(RunVidproc(std::string(command) + " --workers 2").exit_code, 2) << command;
  }
  for (const char* command : {"serve", "worker"}) {
    RunResult help = RunVidproc(std::string("help ") + command);
    EXPECT_NE(help.out.find("--workers"), std::string::npos) << command;
    EXPECT_NE(help.out.find("--timeout"), std::string::npos) << command;
  }
  EXPECT_EQ(RunVidproc("help status").out.find("--threads"), std::string::npos);
  EXPECT_NE(RunVidproc("help status").out.find("--json"), std::string::npos);
  RunResult unknown = RunVidprocStderr("help trancode");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("did you mean 'transcode'?"), std::string::npos) << unknown.out;
}

TEST(CliTest, AMissingArgumentIsNamedInOneLine) {
  std::string dir = TempDir();
  for (const auto& [args, missing] :
       {std::pair{"transcode", "missing IN and OUT"}, std::pair{"transcode in.mp4", "missing OUT"},
        std::pair{"retry", "missing ID"}, std::pair{"enqueue", "missing FILE"},
        std::pair{"storage", "missing the action"}, std::pair{"storage get", "takes KEY FILE"}}) {
    RunResult r = RunVidprocStderr(args, dir);
    EXPECT_EQ(r.exit_code, 2) << args;
    EXPECT_EQ(LineCount(r.out), 1u) << args << ": " << r.out;
    EXPECT_NE(r.out.find(missing), std::string::npos) << args << ": " << r.out;
  }
}

TEST(CliTest, CommandsThatReadTheQueueNeverCreateADatabase) {
  std::string dir = TempDir();
  for (const char* args : {"status", "status --json", "status 1234", "retry 1234"}) {
    RunResult r = RunVidprocStderr(args, dir);
    EXPECT_NE(r.exit_code, 0) << args;
    // It says where it looked: the data directory and the database's absolute path.
    EXPECT_NE(r.out.find("No job database at " + dir + "/data/vidproc.db"), std::string::npos)
        << args << ": " << r.out;
    EXPECT_NE(r.out.find("--env-file"), std::string::npos) << r.out;
  }
  EXPECT_NE(access((dir + "/data").c_str(), F_OK), 0) << "a reader created the data directory";
}

TEST(CliTest, TheEnvFileIsReadFromAnyDirectory) {
  std::string service = TempDir();
  std::string elsewhere = TempDir();
  std::string env_file = service + "/vidproc.env";
  std::ofstream(env_file) << "# the service's settings\nVIDPROC_DATA_DIR=" << service
                          << "/state\nLOG_LEVEL=warning\n";
  RunResult queued = RunVidproc("enqueue " + Fixture("rot90.mp4") + " --env-file " + env_file);
  ASSERT_EQ(queued.exit_code, 0);
  std::string id = queued.out.substr(0, queued.out.find('\n'));
  // From another directory, the same env file finds the same queue.
  RunResult status = RunVidprocOnTerminal("status --json --env-file " + env_file, elsewhere);
  ASSERT_EQ(status.exit_code, 0) << status.out;
  nlohmann::json q = nlohmann::json::parse(status.out);
  EXPECT_EQ(q["queued"], 1);
  EXPECT_EQ(q["videos"][0]["id"], id);
  EXPECT_NE(access((elsewhere + "/data").c_str(), F_OK), 0);
  RunResult missing = RunVidprocStderr("status --env-file " + service + "/nope.env", elsewhere);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("No env file at " + service + "/nope.env"), std::string::npos)
      << missing.out;
}

TEST(CliTest, StatusIsATableOnATerminalAndJsonWhenPiped) {
  std::string dir = TempDir();
  std::string env_file = dir + "/vidproc.env";
  std::ofstream(env_file) << "VIDPROC_DATA_DIR=" << dir << "/state\nLOG_LEVEL=warning\n";
  RunResult queued = RunVidproc("enqueue " + Fixture("rot90.mp4") + " " + Fixture("text.mp4") +
                                " --env-file " + env_file);
  ASSERT_EQ(queued.exit_code, 0);
  std::string first = queued.out.substr(0, queued.out.find('\n'));

  RunResult table = RunVidprocOnTerminal("status --env-file " + env_file);
  ASSERT_EQ(table.exit_code, 0) << table.out;
  EXPECT_NE(table.out.find("Queue: 0 waiting for upload, 0 uploading, 2 queued, 0 processing, "
                           "0 ready, 0 failed"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("rot90.mp4"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(first), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find('{'), std::string::npos) << table.out;

  RunResult one = RunVidprocOnTerminal("status " + first + " --env-file " + env_file);
  ASSERT_EQ(one.exit_code, 0) << one.out;
  EXPECT_NE(one.out.find("status: queued"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("filename: rot90.mp4"), std::string::npos) << one.out;

  // Piped (popen) or asked for: JSON.
  nlohmann::json piped = nlohmann::json::parse(RunVidproc("status --env-file " + env_file).out);
  EXPECT_EQ(piped["queued"], 2);
  EXPECT_EQ(piped["waiting_for_upload"], 0);
  RunResult asked = RunVidprocOnTerminal("status --json --env-file " + env_file);
  EXPECT_EQ(nlohmann::json::parse(asked.out)["queued"], 2) << asked.out;
}

TEST(CliTest, EnqueueQueuesEveryFileItCanAndNamesEachFailure) {
  std::string dir = TempDir();
  std::string env_file = dir + "/vidproc.env";
  std::ofstream(env_file) << "VIDPROC_DATA_DIR=" << dir << "/state\nLOG_LEVEL=warning\n";
  std::string args = "enqueue " + Fixture("rot90.mp4") + " " + dir + "/missing-one.mp4 " + dir +
                     " " + Fixture("text.mp4") + " --env-file " + env_file;
  RunResult ids = RunVidproc(args);
  RunResult errors = RunVidprocStderr(args);
  EXPECT_NE(ids.exit_code, 0);
  EXPECT_EQ(LineCount(ids.out), 2u) << ids.out;  // one id per queued file
  EXPECT_NE(errors.out.find(dir + "/missing-one.mp4: input_not_found"), std::string::npos)
      << errors.out;
  EXPECT_NE(errors.out.find(dir + ": input_not_found"), std::string::npos) << errors.out;
  EXPECT_NE(errors.out.find("2 of 4 files not queued"), std::string::npos) << errors.out;
  nlohmann::json q = nlohmann::json::parse(RunVidproc("status --env-file " + env_file).out);
  EXPECT_EQ(q["queued"], 4);  // the two runs above queued two files each
}

TEST(CliTest, TranscodeNeverWritesOverItsInputNorAnExistingFileUnlessTold) {
  std::string dir = TempDir();
  std::string in = dir + "/in.mp4";
  std::filesystem::copy_file(Fixture("rot90.mp4"), in);
  ASSERT_EQ(link(in.c_str(), (dir + "/hard-link.mp4").c_str()), 0);
  ASSERT_EQ(symlink(in.c_str(), (dir + "/sym-link.mp4").c_str()), 0);
  std::string original = Slurp(in);
  for (const std::string& out : {in, dir + "/./in.mp4", dir + "/hard-link.mp4",
                                 dir + "/sym-link.mp4", std::string("in.mp4")}) {
    for (const char* overwrite : {"", " -y", " --overwrite"}) {
      RunResult r = RunVidprocStderr("transcode in.mp4 " + out + overwrite, dir);
      EXPECT_EQ(r.exit_code, 2) << out << overwrite;
      EXPECT_NE(r.out.find("is the input file itself"), std::string::npos) << r.out;
    }
  }
  RunResult thumb = RunVidprocStderr("transcode in.mp4 out.mp4 --thumbnail in.mp4 -y", dir);
  EXPECT_EQ(thumb.exit_code, 2);
  EXPECT_NE(thumb.out.find("the thumbnail (in.mp4) is the input file itself"), std::string::npos)
      << thumb.out;
  EXPECT_EQ(Slurp(in), original);

  std::string existing = dir + "/existing.mp4";
  std::ofstream(existing) << "keep me";
  RunResult refused = RunVidprocStderr("transcode in.mp4 " + existing + " --threads 1", dir);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.out.find("exists; pass -y (--overwrite)"), std::string::npos) << refused.out;
  EXPECT_EQ(Slurp(existing), "keep me");
  RunResult replaced = RunVidproc("transcode " + in + " " + existing + " -y --threads 1");
  EXPECT_EQ(replaced.exit_code, 0);
  EXPECT_NE(Slurp(existing), "keep me");
}

TEST(CliTest, TranscodeOnATerminalEndsWithOneLineForAPerson) {
  std::string dir = TempDir();
  RunResult r = RunVidprocOnTerminal("transcode " + Fixture("rot90.mp4") + " " + dir +
                                     "/out.mp4 --thumbnail " + dir + "/t.jpg --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  EXPECT_EQ(last.find('{'), std::string::npos) << last;
  EXPECT_LT(last.size(), 300u) << last;
  EXPECT_NE(last.find(dir + "/out.mp4"), std::string::npos) << last;
  EXPECT_NE(last.find("thumbnail " + dir + "/t.jpg"), std::string::npos) << last;
}

TEST(CliTest, BackupIsAConsistentDatabaseThatServesAsADataDirectory) {
  std::string dir = TempDir();
  std::string env_file = dir + "/vidproc.env";
  std::ofstream(env_file) << "VIDPROC_DATA_DIR=" << dir << "/state\nLOG_LEVEL=warning\n";
  RunResult nothing = RunVidprocStderr("backup " + dir + "/copy --env-file " + env_file);
  EXPECT_NE(nothing.exit_code, 0);
  EXPECT_NE(nothing.out.find("No job database at"), std::string::npos) << nothing.out;
  EXPECT_NE(access((dir + "/copy/vidproc.db").c_str(), F_OK), 0);

  ASSERT_EQ(RunVidproc("enqueue " + Fixture("rot90.mp4") + " " + Fixture("text.mp4") +
                       " --env-file " + env_file)
                .exit_code,
            0);
  RunResult copied = RunVidproc("backup " + dir + "/copy --env-file " + env_file);
  ASSERT_EQ(copied.exit_code, 0);
  EXPECT_EQ(copied.out, dir + "/copy/vidproc.db\n");
  // A single file (no -wal beside it) that vidproc reads as a data directory.
  EXPECT_NE(access((dir + "/copy/vidproc.db-wal").c_str(), F_OK), 0);
  EXPECT_NE(access((dir + "/copy/vidproc.db.partial").c_str(), F_OK), 0);
  nlohmann::json q =
      nlohmann::json::parse(RunVidproc("status --json --data-dir " + dir + "/copy").out);
  EXPECT_EQ(q["queued"], 2);

  RunResult again = RunVidprocStderr("backup " + dir + "/copy --env-file " + env_file);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.out.find("exists; pass -y"), std::string::npos) << again.out;
  EXPECT_EQ(RunVidproc("backup " + dir + "/copy -y --env-file " + env_file).exit_code, 0);
  RunResult itself = RunVidprocStderr("backup " + dir + "/state -y --env-file " + env_file);
  EXPECT_NE(itself.exit_code, 0);
  EXPECT_NE(itself.out.find("is the database itself"), std::string::npos) << itself.out;
  q = nlohmann::json::parse(RunVidproc("status --json --env-file " + env_file).out);
  EXPECT_EQ(q["queued"], 2) << "the source is intact";
}

}  // namespace
