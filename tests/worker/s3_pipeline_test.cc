// The whole pipeline on S3 storage: `vidproc enqueue` and `vidproc worker` processes with
// USE_SPACES=True against a real S3 server (Ceph RGW), checked afterwards with a standard S3
// client (Debian's awscli), plus a storage outage in the middle of a job.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/ids.h"
#include "storage/s3_store.h"
#include "support/http_client.h"
#include "support/server_env.h"
#include "support/shell.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;

std::map<std::string, std::string> ServerEnv() {
  return vidproc::testing::ReadServerEnv(VIDPROC_S3_ENV_FILE);
}

using vidproc::testing::Shell;

class S3PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerEnv();
    dir_ = MakeTempDir();
    bucket_ = "pipeline-";
    for (char c : NewId())
      bucket_ += std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : 'x';
    const storage::S3Options o = OwnerOptions();
    auto s3 = storage::S3Store::Create(o, SystemClock::Default());
    ASSERT_TRUE(s3.ok());
    ASSERT_TRUE(s3.value()->CreateBucket().ok());
    env_ = {"PATH=/usr/bin:/bin",
            "VIDPROC_DATA_DIR=" + dir_,
            "USE_SPACES=True",
            "SPACES_ACCESS_KEY=" + o.access_key,
            "SPACES_SECRET_KEY=" + o.secret_key,
            "SPACES_BUCKET_NAME=" + bucket_,
            "SPACES_ENDPOINT_URL=" + o.endpoint,
            "SPACES_REGION=" + o.region,
            "VIDPROC_LEASE_SECONDS=3",
            "VIDPROC_RETRY_BACKOFF_SECONDS=1",
            "VIDPROC_MAX_ATTEMPTS=10",
            "LOG_LEVEL=warning"};
  }
  void TearDown() override {
    if (worker_ > 0) {
      kill(worker_, SIGKILL);
      waitpid(worker_, nullptr, 0);
    }
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::string EnvPrefix() const {
    std::string cmd = "env -i";
    for (const auto& e : env_) cmd += " '" + e + "'";
    return cmd;
  }

  std::vector<std::string> Enqueue(const std::vector<std::string>& fixtures) {
    std::string cmd = EnvPrefix() + " " + VIDPROC_BIN_PATH + " enqueue";
    for (const auto& f : fixtures) cmd += " '" + Fixture(f) + "'";
    int code = 0;
    std::string out = Shell(cmd, &code);
    EXPECT_EQ(code, 0) << out;
    std::vector<std::string> ids;
    size_t start = 0;
    for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
      ids.push_back(out.substr(start, nl - start));
    }
    return ids;
  }

  // `vidproc worker`, or another command (`serve ...`), with env_ and `extra_env`.
  void StartWorker(std::vector<std::string> args = {"worker"},
                   std::vector<std::string> extra_env = {}) {
    std::vector<std::string> env = env_;
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    args.insert(args.begin(), VIDPROC_BIN_PATH);
    worker_ = fork();
    if (worker_ == 0) {
      std::vector<char*> envp;
      for (auto& e : env) envp.push_back(e.data());
      envp.push_back(nullptr);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execve(VIDPROC_BIN_PATH, argv.data(), envp.data());
      _exit(127);
    }
  }

  void StopWorker() {
    if (worker_ <= 0) return;
    kill(worker_, SIGTERM);
    int status = 0;
    if (!WaitFor([&] { return waitpid(worker_, &status, WNOHANG) == worker_; }, 30'000)) {
      kill(worker_, SIGKILL);
      waitpid(worker_, nullptr, 0);
    }
    worker_ = -1;
  }

  // `vidproc serve` on a free port with `extra_env`; its base URL ("" if it did not start).
  std::string StartServe(const std::vector<std::string>& args,
                         const std::vector<std::string>& extra_env) {
    const std::string port_file = dir_ + "/port-" + NewId();
    std::vector<std::string> all = {"serve", "--listen", "127.0.0.1:0", "--port-file", port_file};
    all.insert(all.end(), args.begin(), args.end());
    StartWorker(all, extra_env);
    std::string port;
    if (!WaitFor(
            [&] {
              std::ifstream in(port_file);
              return static_cast<bool>(std::getline(in, port)) && !port.empty();
            },
            30'000)) {
      return "";
    }
    const std::string base = "http://127.0.0.1:" + port;
    if (!WaitFor([&] { return vidproc::testing::Http("GET", base + "/healthz").status == 200; },
                 10'000)) {
      return "";
    }
    return base;
  }

  // Keys in the bucket, as a standard S3 client lists them.
  std::vector<std::string> AwsListKeys() {
    std::string cmd = "env -i PATH=/usr/bin:/bin HOME=" + dir_ +
                      " AWS_ACCESS_KEY_ID=" + server_["S3_TEST_ACCESS_KEY"] +
                      " AWS_SECRET_ACCESS_KEY=" + server_["S3_TEST_SECRET_KEY"] +
                      " AWS_DEFAULT_REGION=" + server_["S3_TEST_REGION"] +
                      " /usr/bin/aws --endpoint-url " + server_["S3_TEST_ENDPOINT"] +
                      " s3api list-objects-v2 --bucket " + bucket_ +
                      " --query 'Contents[].Key' --output text";
    int code = 0;
    std::string out = Shell(cmd, &code);
    EXPECT_EQ(code, 0) << out;
    std::vector<std::string> keys;
    std::string key;
    for (char c : out) {
      if (c == '\t' || c == '\n' || c == ' ') {
        if (!key.empty() && key != "None") keys.push_back(key);
        key.clear();
      } else {
        key += c;
      }
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  std::unique_ptr<queue::SqliteStore> Store() {
    return queue::SqliteStore::Open(dir_ + "/vidproc.db", SystemClock::Default()).value();
  }

  // The test server's credentials for this test's bucket: what the bucket's owner reads with.
  storage::S3Options OwnerOptions() {
    storage::S3Options o;
    o.endpoint = server_["S3_TEST_ENDPOINT"];
    o.access_key = server_["S3_TEST_ACCESS_KEY"];
    o.secret_key = server_["S3_TEST_SECRET_KEY"];
    o.region = server_["S3_TEST_REGION"];
    o.bucket = bucket_;
    return o;
  }

  std::map<std::string, std::string> server_;
  std::string dir_;
  std::string bucket_;
  std::vector<std::string> env_;
  pid_t worker_ = -1;
};

TEST_F(S3PipelineTest, ProcessedVideosReplaceTheirOriginalsInTheBucket) {
  std::vector<std::string> ids = Enqueue({"real_1080p.mp4", "no_audio.mp4"});
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(AwsListKeys().size(), 2u) << "the originals are in the bucket";
  auto store = Store();
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return store->Counts()->ready == 2; }, 120'000));
  std::vector<std::string> expected;
  for (const auto& id : ids) {
    expected.push_back("videos/" + id + "/thumbnail.jpg");
    expected.push_back("videos/" + id + "/video.mp4");
    EXPECT_EQ(store->GetVideo(id)->output["height"].get<int>() > 0, true);
    const nlohmann::json output = store->GetVideo(id)->output;
    for (const auto& w : output["thumbnail_widths"]) {
      expected.push_back(storage::ThumbnailVariantKey(id, w.get<int>()));
    }
  }
  // A 1080p video's thumbnail is 1280 wide: all three smaller copies are made.
  EXPECT_EQ(store->GetVideo(ids[0])->output["thumbnail_widths"], nlohmann::json({160, 320, 640}));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(AwsListKeys(), expected) << "processed files present, originals gone, nothing else";
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/scratch")) << "scratch cleaned";
}

// SPACES_PUBLIC_READ: a ready video's links are its objects' own public URLs (path style on this
// gateway), not the API's, whatever VIDPROC_PUBLIC_URL says; anyone fetches them with a plain
// GET (no credentials, no signature) and gets the stored bytes with a Cache-Control that lets
// browsers and CDNs keep them. With SPACES_CDN_URL (here the gateway's virtual host of the
// bucket, given with a trailing slash) the links are the key under it.
TEST_F(S3PipelineTest, PublicReadVideosLinkToTheirPublicObjectsOrTheCdn) {
  using vidproc::testing::Http;
  std::vector<std::string> ids = Enqueue({"compliant_720p.mp4"});
  ASSERT_EQ(ids.size(), 1u);
  const std::string& id = ids[0];
  const std::string public_read = "SPACES_PUBLIC_READ=True";
  const std::string platform = "VIDPROC_PUBLIC_URL=https://platform.example/video";
  std::string api = StartServe({"--workers", "1"}, {public_read, platform});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  nlohmann::json video;
  ASSERT_TRUE(WaitFor(
      [&] {
        video = Http("GET", api + "/api/v1/videos/" + id).Json();
        return video.is_object() && video.value("status", "") == "ready";
      },
      120'000))
      << video.dump();
  const std::string bucket_url = server_["S3_TEST_ENDPOINT"] + "/" + bucket_;
  EXPECT_EQ(video.value("video_url", ""), bucket_url + "/videos/" + id + "/video.mp4");
  EXPECT_EQ(video.value("thumbnail_url", ""), bucket_url + "/videos/" + id + "/thumbnail.jpg");
  nlohmann::json listed = Http("GET", api + "/api/v1/videos").Json();
  ASSERT_TRUE(listed.is_object() && listed["videos"].size() == 1u) << listed.dump();
  EXPECT_EQ(listed["videos"][0], video) << "the list renders as GET does";
  // The thumbnail's smaller copies are public objects too, and the API's ?width= sends a client
  // to the copy (a presigned URL of its key: the route works whatever the bucket's policy).
  ASSERT_EQ(video["thumbnails"].size(), 3u) << video.dump();
  for (const auto& t : video["thumbnails"]) {
    const int w = t["width"];
    EXPECT_EQ(t["url"], bucket_url + "/" + storage::ThumbnailVariantKey(id, w));
    vidproc::testing::Response copy = Http("GET", t["url"]);
    ASSERT_EQ(copy.status, 200) << w;
    EXPECT_EQ(copy.header("Content-Type"), "image/jpeg") << w;
    vidproc::testing::Response via_api =
        Http("GET", api + "/api/v1/videos/" + id + "/thumbnail?width=" + std::to_string(w));
    EXPECT_EQ(via_api.status, 302) << w;
    EXPECT_NE(via_api.header("Location").find(storage::ThumbnailVariantKey(id, w)),
              std::string::npos)
        << via_api.header("Location");
  }

  // The bytes, as the owner reads them with credentials.
  auto owner = storage::S3Store::Create(OwnerOptions(), SystemClock::Default()).value();
  for (const auto& [field, key, type] :
       {std::tuple{"video_url", storage::VideoKey(id), "video/mp4"},
        std::tuple{"thumbnail_url", storage::ThumbnailKey(id), "image/jpeg"}}) {
    const std::string local = dir_ + "/expected";
    ASSERT_TRUE(owner->GetFile(key, local).ok()) << key;
    std::ifstream in(local, std::ios::binary);
    const std::string expected((std::istreambuf_iterator<char>(in)), {});
    vidproc::testing::Response got = Http("GET", video.value(field, ""));
    ASSERT_EQ(got.status, 200) << field << ": " << got.status;
    EXPECT_EQ(got.body.size(), expected.size()) << field;
    EXPECT_TRUE(got.body == expected) << field << ": not the stored bytes";
    EXPECT_EQ(got.header("Content-Type"), type) << field;
    EXPECT_EQ(got.header("Cache-Control"), "public, max-age=86400") << field;
  }
  StopWorker();

  // The same video through an API-only node that links to the CDN.
  // The gateway's virtual host of the bucket stands for the CDN (DigitalOcean's CDN endpoint is
  // the bucket's host name too): not the path-style URL the store addresses the bucket by.
  const std::string& endpoint = server_["S3_TEST_ENDPOINT"];
  const std::string cdn = "http://" + bucket_ + "." + server_["S3_TEST_DNS_NAME"] + ":" +
                          endpoint.substr(endpoint.rfind(':') + 1);
  api = StartServe({"--workers", "0"}, {public_read, platform, "SPACES_CDN_URL=" + cdn + "/"});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  video = Http("GET", api + "/api/v1/videos/" + id).Json();
  ASSERT_TRUE(video.is_object()) << video.dump();
  EXPECT_EQ(video.value("video_url", ""), cdn + "/videos/" + id + "/video.mp4");
  EXPECT_EQ(video.value("thumbnail_url", ""), cdn + "/videos/" + id + "/thumbnail.jpg");
  vidproc::testing::Response thumbnail = Http("GET", video.value("thumbnail_url", ""));
  EXPECT_EQ(thumbnail.status, 200) << thumbnail.status;
  EXPECT_EQ(thumbnail.header("Cache-Control"), "public, max-age=86400");
  ASSERT_EQ(video["thumbnails"].size(), 3u) << video.dump();
  EXPECT_EQ(video["thumbnails"][0]["url"], cdn + "/videos/" + id + "/thumbnail-160.jpg");
  EXPECT_EQ(Http("GET", video["thumbnails"][0]["url"]).status, 200);
}

TEST_F(S3PipelineTest, AStorageOutageMidJobLosesNothing) {
  std::vector<std::string> ids = Enqueue({"landscape_1080p.mp4"});
  ASSERT_EQ(ids.size(), 1u);
  auto store = Store();
  StartWorker();
  ASSERT_TRUE(WaitFor(
      [&] { return store->GetVideo(ids[0])->status == queue::VideoStatus::kProcessing; }, 30'000));
  // The gateway goes away while the video is being transcoded, and comes back 4 s later.
  int code = 0;
  std::string out =
      Shell(std::string(VIDPROC_S3_SCRIPT) + " stop-gateway " + VIDPROC_S3_DIR + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;
  std::this_thread::sleep_for(std::chrono::seconds(4));
  out = Shell(std::string(VIDPROC_S3_SCRIPT) + " start-gateway " + VIDPROC_S3_DIR + " 2>&1", &code);
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(WaitFor([&] { return store->GetVideo(ids[0])->status == queue::VideoStatus::kReady; },
                      120'000))
      << store->GetVideo(ids[0])->error_code << ": " << store->GetVideo(ids[0])->error_message;
  // 1080p: the thumbnail and its three smaller copies, and the video.
  EXPECT_EQ(AwsListKeys(), (std::vector<std::string>{"videos/" + ids[0] + "/thumbnail-160.jpg",
                                                     "videos/" + ids[0] + "/thumbnail-320.jpg",
                                                     "videos/" + ids[0] + "/thumbnail-640.jpg",
                                                     "videos/" + ids[0] + "/thumbnail.jpg",
                                                     "videos/" + ids[0] + "/video.mp4"}));
}

}  // namespace
}  // namespace vidproc::worker
