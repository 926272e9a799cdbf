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
#include <sstream>

#include "core/ids.h"
#include "storage/s3_store.h"
#include "support/hls_playlists.h"
#include "support/http_client.h"
#include "support/http_receiver.h"
#include "support/output_keys.h"
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

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
      if (c == '\t' || c == '\n') {  // keys may hold spaces; the text output separates by tabs
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

  // POST /api/v1/videos with a JSON body (an import) on `api`: the new video's id ("" on failure).
  static std::string Import(const std::string& api, const nlohmann::json& body) {
    vidproc::testing::Response r = vidproc::testing::Http(
        "POST", api + "/api/v1/videos", {"Content-Type: application/json"}, body.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    auto j = r.Json();
    return j.is_object() ? j.value("id", "") : "";
  }
  // Polls the video on `api` until it is ready or failed: the last resource seen.
  static nlohmann::json WaitDone(const std::string& api, const std::string& id) {
    nlohmann::json video;
    EXPECT_TRUE(WaitFor(
        [&] {
          video = vidproc::testing::Http("GET", api + "/api/v1/videos/" + id).Json();
          const std::string status = video.is_object() ? video.value("status", "") : "";
          return status == "ready" || status == "failed";
        },
        120'000))
        << video.dump();
    return video;
  }
  static std::string ErrorCodeOf(const nlohmann::json& video) {
    return video.is_object() && video["error"].is_object() ? video["error"].value("code", "") : "";
  }
  std::string ReadObject(storage::S3Store& s3, const std::string& key) {
    const std::string local = dir_ + "/object-" + NewId();
    EXPECT_TRUE(s3.GetFile(key, local).ok()) << key;
    std::ifstream in(local, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
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
    const nlohmann::json output = store->GetVideo(id)->output;
    EXPECT_EQ(output["height"].get<int>() > 0, true);
    EXPECT_GE(output["hls"]["segments"].get<int>(), 1) << "HLS is made by default";
    EXPECT_TRUE(output["storyboard"].is_object()) << "a storyboard is made by default";
    for (const std::string& key : vidproc::testing::ReadyVideoKeys(id, output)) {
      expected.push_back(key);
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

  // The storyboard's index is a public object too: its relative sheet names resolve beside it,
  // in the bucket. The API's own index names the sheets' public URLs.
  const std::string storyboard_dir = bucket_url + "/" + storage::StoryboardPrefix(id);
  EXPECT_EQ(video.value("storyboard_url", ""), storyboard_dir + "storyboard.vtt");
  vidproc::testing::Response index = Http("GET", video.value("storyboard_url", ""));
  ASSERT_EQ(index.status, 200) << index.status;
  EXPECT_EQ(index.header("Content-Type"), "text/vtt; charset=utf-8");
  EXPECT_EQ(index.header("Cache-Control"), "public, max-age=86400");
  EXPECT_EQ(index.body.rfind("WEBVTT\n", 0), 0u) << index.body;
  EXPECT_NE(index.body.find("\nstoryboard-1.jpg#xywh=0,0,160,90\n"), std::string::npos)
      << index.body;
  vidproc::testing::Response sheet = Http("GET", storyboard_dir + "storyboard-1.jpg");
  EXPECT_EQ(sheet.status, 200);
  EXPECT_EQ(sheet.header("Content-Type"), "image/jpeg");
  EXPECT_EQ(sheet.body.substr(0, 2), "\xFF\xD8");
  vidproc::testing::Response rewritten =
      Http("GET", api + "/api/v1/videos/" + id + "/storyboard/storyboard.vtt");
  EXPECT_EQ(rewritten.status, 200);
  EXPECT_NE(rewritten.body.find("\n" + storyboard_dir + "storyboard-1.jpg#xywh=0,0,160,90\n"),
            std::string::npos)
      << rewritten.body;

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

// A private bucket: the API's storyboard index names each sheet by a presigned URL, which a
// client fetches without credentials; the sheet's own route redirects to one.
TEST_F(S3PipelineTest, StoryboardSheetsArePresignedInAPrivateBucket) {
  using vidproc::testing::Http;
  std::vector<std::string> ids = Enqueue({"real_720p.mp4"});
  ASSERT_EQ(ids.size(), 1u);
  const std::string& id = ids[0];
  const std::string api = StartServe({"--workers", "1"}, {});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  nlohmann::json video = WaitDone(api, id);
  ASSERT_EQ(video.value("status", ""), "ready") << video.dump();
  const nlohmann::json& made = video["output"]["storyboard"];
  ASSERT_TRUE(made.is_object()) << video.dump();
  EXPECT_EQ(made["sheets"], 1);
  EXPECT_EQ(made["tiles"], 5);  // 8.3 s, a tile every 2 s
  const std::string base = "/api/v1/videos/" + id + "/storyboard/";
  ASSERT_EQ(video.value("storyboard_url", ""), base + "storyboard.vtt");
  const std::string bucket_url = server_["S3_TEST_ENDPOINT"] + "/" + bucket_;
  EXPECT_EQ(Http("GET", bucket_url + "/" + storage::StoryboardKey(id)).status, 403)
      << "the bucket is private";
  vidproc::testing::Response index = Http("GET", api + video.value("storyboard_url", ""));
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_EQ(index.header("Content-Type"), "text/vtt; charset=utf-8");
  // Five cues, each naming the one sheet by the same presigned URL and a tile inside it.
  std::vector<std::string> pictures;
  for (size_t at = index.body.find("#xywh="); at != std::string::npos;
       at = index.body.find("#xywh=", at + 1)) {
    const size_t line = index.body.rfind('\n', at) + 1;
    pictures.push_back(index.body.substr(line, at - line));
  }
  ASSERT_EQ(pictures.size(), 5u) << index.body;
  for (const std::string& url : pictures) EXPECT_EQ(url, pictures[0]);
  EXPECT_EQ(pictures[0].rfind(bucket_url + "/" + storage::StoryboardSheetKey(id, 1) + "?", 0), 0u)
      << pictures[0];
  EXPECT_NE(pictures[0].find("X-Amz-Signature="), std::string::npos) << pictures[0];
  vidproc::testing::Response sheet = Http("GET", pictures[0]);
  ASSERT_EQ(sheet.status, 200) << sheet.body;
  EXPECT_EQ(sheet.header("Content-Type"), "image/jpeg");
  EXPECT_EQ(sheet.body.substr(0, 2), "\xFF\xD8");
  EXPECT_NE(index.body.find("#xywh=640,0,160,90\n"), std::string::npos) << "the fifth tile";
  vidproc::testing::Response redirect = Http("GET", api + base + "storyboard-1.jpg");
  EXPECT_EQ(redirect.status, 302);
  EXPECT_NE(redirect.header("Location").find(storage::StoryboardSheetKey(id, 1)), std::string::npos)
      << redirect.header("Location");
  EXPECT_EQ(Http("GET", api + base + "storyboard-2.jpg").status, 404);
  // Deleting the video deletes the storyboard from the bucket.
  EXPECT_EQ(Http("DELETE", api + "/api/v1/videos/" + id).status, 204);
  EXPECT_EQ(AwsListKeys(), std::vector<std::string>{});
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
  EXPECT_EQ(AwsListKeys(),
            vidproc::testing::ReadyVideoKeys(ids[0], store->GetVideo(ids[0])->output));
}

// HLS on the bucket: the API serves the playlists with every segment as a presigned URL of the
// bucket (the player fetches them straight from storage), and with SPACES_PUBLIC_READ hls_url is
// the master playlist's public URL, whose relative names resolve to the other public objects
// (the playlists never cached by a CDN: they grow while a job runs).
TEST_F(S3PipelineTest, HlsPlaysFromTheBucketPresignedOrPublic) {
  using vidproc::testing::Http;
  std::vector<std::string> ids = Enqueue({"landscape_1080p.mp4"});
  ASSERT_EQ(ids.size(), 1u);
  const std::string& id = ids[0];
  std::string api = StartServe({"--workers", "1"}, {});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  nlohmann::json video = WaitDone(api, id);
  ASSERT_EQ(video.value("status", ""), "ready") << video.dump();
  ASSERT_EQ(video.value("playable", false), true) << video.dump();
  const auto uris = vidproc::testing::PlaylistUris;
  vidproc::testing::Response master = Http("GET", api + video.value("hls_url", ""));
  ASSERT_EQ(master.status, 200) << master.body;
  const auto rungs = uris(master.body);
  ASSERT_EQ(rungs.size(), 1u) << master.body;
  EXPECT_EQ(rungs[0], "/api/v1/videos/" + id + "/hls/720p.m3u8") << "no auth: no signature";
  vidproc::testing::Response media = Http("GET", api + rungs[0]);
  ASSERT_EQ(media.status, 200) << media.body;
  const auto files = uris(media.body);
  ASSERT_GE(files.size(), 2u) << media.body;
  const std::string bucket_url = server_["S3_TEST_ENDPOINT"] + "/" + bucket_;
  for (const std::string& file : files) {
    EXPECT_EQ(file.rfind(bucket_url + "/videos/" + id + "/hls/", 0), 0u) << file;
    EXPECT_NE(file.find("X-Amz-Signature="), std::string::npos) << file;
    vidproc::testing::Response got = Http("GET", file);
    EXPECT_EQ(got.status, 200) << file;
    EXPECT_EQ(got.header("Content-Type"),
              file.find(".m4s?") != std::string::npos ? "video/iso.segment" : "video/mp4");
  }
  // Private objects: without the signature the bucket refuses them.
  EXPECT_EQ(Http("GET", files[1].substr(0, files[1].find('?'))).status, 403);
  StopWorker();

  // A video processed with public-read storage: plain GETs, relative names, no API in between.
  const std::vector<std::string> more = Enqueue({"landscape_1080p.mp4"});
  ASSERT_EQ(more.size(), 1u);
  const std::string& pub = more[0];
  api = StartServe({"--workers", "1"}, {"SPACES_PUBLIC_READ=True"});
  ASSERT_FALSE(api.empty());
  video = WaitDone(api, pub);
  ASSERT_EQ(video.value("status", ""), "ready") << video.dump();
  const std::string base = bucket_url + "/videos/" + pub + "/hls/";
  ASSERT_EQ(video.value("hls_url", ""), base + "master.m3u8") << video.dump();
  master = Http("GET", base + "master.m3u8");
  ASSERT_EQ(master.status, 200);
  EXPECT_EQ(master.header("Content-Type"), "application/vnd.apple.mpegurl");
  EXPECT_EQ(master.header("Cache-Control"), "no-cache");
  ASSERT_EQ(uris(master.body), std::vector<std::string>{"720p.m3u8"}) << master.body;
  media = Http("GET", base + "720p.m3u8");
  ASSERT_EQ(media.status, 200);
  EXPECT_EQ(media.header("Cache-Control"), "no-cache");
  EXPECT_NE(media.body.find("#EXT-X-ENDLIST"), std::string::npos);
  for (const std::string& file : uris(media.body)) {
    vidproc::testing::Response got = Http("GET", base + file);
    EXPECT_EQ(got.status, 200) << file;
    EXPECT_EQ(got.header("Cache-Control"), "public, max-age=86400") << file;
  }
  StopWorker();
}

// An import by source_key: the platform's object (a django-storages name, spaces and all) is
// processed like an upload, its outputs under the video's own keys, and is left as it was.
TEST_F(S3PipelineTest, AnImportBySourceKeyLeavesTheSourceUntouched) {
  auto owner = storage::S3Store::Create(OwnerOptions(), SystemClock::Default()).value();
  const std::string key = "media/uploads/2026/Trip to Rome (1).mov";
  const std::string original = ReadFile(Fixture("compliant_720p.mp4"));
  ASSERT_TRUE(owner->PutFile(key, Fixture("compliant_720p.mp4"), "video/quicktime").ok());
  const std::string api = StartServe({"--workers", "1"}, {});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  const std::string id = Import(api, {{"source_key", key}, {"external_id", "post-1"}});
  ASSERT_FALSE(id.empty());
  nlohmann::json video = WaitDone(api, id);
  ASSERT_EQ(video.value("status", ""), "ready") << video.dump();
  EXPECT_EQ(video["external_id"], "post-1");
  EXPECT_EQ(video["filename"], "Trip to Rome (1).mov");
  EXPECT_EQ(video["import"]["source_key"], key);
  auto info = owner->Stat(key);
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->content_type, "video/quicktime");
  EXPECT_TRUE(ReadObject(*owner, key) == original) << "the source object was changed";
  std::vector<std::string> expected = vidproc::testing::ReadyVideoKeys(id, video["output"]);
  expected.insert(expected.begin(), key);
  EXPECT_EQ(AwsListKeys(), expected);
}

// replace_source: the source key now holds the processed MP4 and its thumbnail is beside it;
// the video's links lead there (the API's route redirects to the object; public-read storage
// links to the object itself); nothing else is left in the bucket.
TEST_F(S3PipelineTest, ReplaceSourceWritesTheMp4BackAndItsThumbnailBesideIt) {
  auto owner = storage::S3Store::Create(OwnerOptions(), SystemClock::Default()).value();
  const std::string key = "media/clip.mov";
  const std::string original = ReadFile(Fixture("compliant_720p.mp4"));
  ASSERT_TRUE(owner->PutFile(key, Fixture("compliant_720p.mp4"), "video/quicktime").ok());
  std::string api = StartServe({"--workers", "1"}, {});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  const std::string id = Import(api, {{"source_key", key}, {"replace_source", true}});
  ASSERT_FALSE(id.empty());
  nlohmann::json video = WaitDone(api, id);
  ASSERT_EQ(video.value("status", ""), "ready") << video.dump();
  EXPECT_EQ(video["import"]["replace_source"], true);

  auto info = owner->Stat(key);
  ASSERT_TRUE(info.ok() && info->has_value());
  EXPECT_EQ((*info)->content_type, "video/mp4");
  const std::string mp4 = ReadObject(*owner, key);
  ASSERT_GT(mp4.size(), 8u);
  EXPECT_EQ(mp4.substr(4, 4), "ftyp") << "the source key does not hold an MP4";
  EXPECT_FALSE(mp4 == original) << "the source was not replaced";
  auto thumb = owner->Stat("media/clip.jpg");
  ASSERT_TRUE(thumb.ok() && thumb->has_value()) << "no thumbnail beside the source";
  EXPECT_EQ((*thumb)->content_type, "image/jpeg");
  EXPECT_EQ(ReadObject(*owner, "media/clip.jpg").substr(0, 2), "\xFF\xD8");
  // The thumbnail's smaller copies, the HLS and the storyboard stay under the video's own keys
  // (the resource lists them).
  std::vector<std::string> expected = vidproc::testing::ReadyVideoKeys(
      video["id"].get<std::string>(), video["output"], /*replaced_source=*/true);
  expected.insert(expected.begin(), {"media/clip.jpg", "media/clip.mov"});
  EXPECT_EQ(AwsListKeys(), expected)
      << "vidproc's copy of the original and its MP4 and thumbnail are not left behind";

  // The API's link redirects to the replaced object.
  vidproc::testing::Request follow;
  follow.url = api + video.value("video_url", "");
  vidproc::testing::Response redirect = vidproc::testing::Perform(follow);
  EXPECT_EQ(redirect.status, 302);
  EXPECT_NE(redirect.header("Location").find("/" + bucket_ + "/media/clip.mov?"), std::string::npos)
      << redirect.header("Location");
  StopWorker();
  // With public-read storage the links are the objects' own URLs.
  api = StartServe({"--workers", "0"}, {"SPACES_PUBLIC_READ=True"});
  ASSERT_FALSE(api.empty());
  video = vidproc::testing::Http("GET", api + "/api/v1/videos/" + id).Json();
  const std::string bucket_url = server_["S3_TEST_ENDPOINT"] + "/" + bucket_;
  EXPECT_EQ(video.value("video_url", ""), bucket_url + "/media/clip.mov");
  EXPECT_EQ(video.value("thumbnail_url", ""), bucket_url + "/media/clip.jpg");
}

// With SPACES_PUBLIC_READ the replaced source and its thumbnail are written public-read, as
// vidproc's own outputs are, so the public links a ready video gives work for anyone.
TEST_F(S3PipelineTest, AReplacedSourceOnPublicReadStorageIsPublic) {
  using vidproc::testing::Http;
  auto owner = storage::S3Store::Create(OwnerOptions(), SystemClock::Default()).value();
  const std::string key = "media/pub.mp4";
  ASSERT_TRUE(owner->PutFile(key, Fixture("compliant_720p.mp4"), "video/mp4").ok());
  const std::string bucket_url = server_["S3_TEST_ENDPOINT"] + "/" + bucket_;
  EXPECT_EQ(Http("GET", bucket_url + "/" + key).status, 403) << "the platform's object is private";
  const std::string api = StartServe({"--workers", "1"}, {"SPACES_PUBLIC_READ=True"});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  const std::string id = Import(api, {{"source_key", key}, {"replace_source", true}});
  ASSERT_FALSE(id.empty());
  nlohmann::json video = WaitDone(api, id);
  ASSERT_EQ(video.value("status", ""), "ready") << video.dump();
  EXPECT_EQ(video.value("video_url", ""), bucket_url + "/media/pub.mp4");
  EXPECT_EQ(video.value("thumbnail_url", ""), bucket_url + "/media/pub.jpg");
  vidproc::testing::Response played = Http("GET", video.value("video_url", ""));
  EXPECT_EQ(played.status, 200);
  EXPECT_EQ(played.header("Content-Type"), "video/mp4");
  EXPECT_EQ(played.header("Cache-Control"), "public, max-age=86400");
  EXPECT_EQ(played.body.substr(4, 4), "ftyp");
  vidproc::testing::Response thumbnail = Http("GET", video.value("thumbnail_url", ""));
  EXPECT_EQ(thumbnail.status, 200);
  EXPECT_EQ(thumbnail.header("Content-Type"), "image/jpeg");
  // The thumbnail's smaller copies, the HLS and the storyboard, under the video's own keys, are
  // public too.
  std::vector<std::string> expected =
      vidproc::testing::ReadyVideoKeys(id, video["output"], /*replaced_source=*/true);
  ASSERT_FALSE(expected.empty());
  for (const auto& copy : video["thumbnails"]) EXPECT_EQ(Http("GET", copy["url"]).status, 200);
  EXPECT_EQ(Http("GET", video.value("storyboard_url", "")).status, 200) << video.dump();
  expected.insert(expected.begin(), {"media/pub.jpg", "media/pub.mp4"});
  EXPECT_EQ(AwsListKeys(), expected);
}

// A missing key fails (not retried) and an object over the upload cap is refused unread; neither
// writes anything or touches the source.
TEST_F(S3PipelineTest, AMissingOrOversizedSourceKeyFailsAndWritesNothing) {
  auto owner = storage::S3Store::Create(OwnerOptions(), SystemClock::Default()).value();
  ASSERT_TRUE(owner->PutFile("media/big.mov", Fixture("compliant_720p.mp4"), "video/mp4").ok());
  const std::string api = StartServe({"--workers", "1"}, {"MAX_UPLOAD_BYTES=100000"});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  const std::string id = Import(api, {{"source_key", "media/none.mov"}, {"replace_source", true}});
  ASSERT_FALSE(id.empty());
  nlohmann::json video = WaitDone(api, id);
  EXPECT_EQ(video.value("status", ""), "failed");
  EXPECT_EQ(ErrorCodeOf(video), "source_failed") << video.dump();
  EXPECT_EQ(video.value("attempts", 0), 1);
  EXPECT_NE(video["error"].value("message", "").find("media/none.mov"), std::string::npos);

  video = WaitDone(api, Import(api, {{"source_key", "media/big.mov"}, {"replace_source", true}}));
  EXPECT_EQ(video.value("status", ""), "failed");
  EXPECT_EQ(ErrorCodeOf(video), "too_large_file") << video.dump();
  EXPECT_EQ(AwsListKeys(), (std::vector<std::string>{"media/big.mov"}))
      << "a failed import writes nothing";
  EXPECT_TRUE(ReadObject(*owner, "media/big.mov") == ReadFile(Fixture("compliant_720p.mp4")));
}

// SSRF through source_url, on a worker whose network reaches the bucket's gateway on loopback:
// instance metadata, loopback in both families and a redirect to them are refused before any
// connection, and the gateway's object stays unread.
TEST_F(S3PipelineTest, SourceUrlsToPrivateAddressesAreRefused) {
  const std::string& endpoint = server_["S3_TEST_ENDPOINT"];
  const std::string port = endpoint.substr(endpoint.rfind(':') + 1);
  std::string api = StartServe({"--workers", "1"}, {});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  for (const std::string& url :
       {std::string("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
        "http://127.0.0.1:" + port + "/" + bucket_ + "/", "http://[::1]:" + port + "/",
        "http://[::ffff:127.0.0.1]:" + port + "/", "http://localhost:" + port + "/"}) {
    nlohmann::json video = WaitDone(api, Import(api, {{"source_url", url}}));
    EXPECT_EQ(video.value("status", ""), "failed") << url;
    EXPECT_EQ(ErrorCodeOf(video), "source_refused") << url << ": " << video.dump();
  }
  StopWorker();

  // A redirect from an allowed host to a private one is refused at the redirect.
  vidproc::testing::Receiver source;
  api = StartServe({"--workers", "1"}, {"VIDPROC_IMPORT_ALLOWED_HOSTS=127.0.0.1"});
  ASSERT_FALSE(api.empty()) << "serve did not start";
  for (const std::string& location :
       {std::string("http://169.254.169.254/latest/meta-data/"), "http://[::1]:" + port + "/"}) {
    source.set_responder([&](const vidproc::testing::Received&) {
      return "HTTP/1.1 302 Found\r\nLocation: " + location +
             "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    });
    nlohmann::json video = WaitDone(
        api, Import(api, {{"source_url",
                           "http://127.0.0.1:" + std::to_string(source.port()) + "/v.mp4"}}));
    EXPECT_EQ(ErrorCodeOf(video), "source_refused") << location << ": " << video.dump();
  }
  EXPECT_EQ(source.count(), 2u) << "each redirect was requested once and not followed";
  EXPECT_TRUE(AwsListKeys().empty());
}

}  // namespace
}  // namespace vidproc::worker
