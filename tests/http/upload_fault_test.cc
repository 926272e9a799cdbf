// Storage failing in the middle of an upload, with the real server in this process (so a
// FaultInjectingStore can sit between it and the disk): the client gets 507 or 503 with the code,
// and nothing is half-recorded — no video in the database, no blob in storage — while a tus upload
// stays resumable from the bytes that were stored.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "http/api.h"
#include "http/server.h"
#include "queue/sqlite_store.h"
#include "storage/fault_injecting_store.h"
#include "storage/local_store.h"
#include "support/http_client.h"

namespace vidproc::http {
namespace {

using vidproc::testing::Http;
using vidproc::testing::Response;

class UploadFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vidproc-upload-fault-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto local = storage::LocalStore::Open((dir_ / "storage").string());
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    local_ = std::move(local).value();
    faulty_ = std::make_unique<storage::FaultInjectingStore>(local_.get());
    auto store = queue::SqliteStore::Open((dir_ / "vidproc.db").string(), SystemClock::Default());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ApiOptions options;
    options.access_log = false;
    api_ = std::make_unique<Api>(store_.get(), faulty_.get(), SystemClock::Default(), options);
    ServerOptions server_options;
    server_options.port = 0;
    server_options.io_threads = 1;
    server_ = std::make_unique<HttpServer>(server_options, api_.get());
    ASSERT_TRUE(server_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_->Stop(1000);
    server_.reset();
    api_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  int64_t VideoCount() {
    auto counts = store_->Counts();
    EXPECT_TRUE(counts.ok());
    return counts->uploading + counts->queued + counts->processing + counts->ready + counts->failed;
  }
  std::vector<std::string> Blobs(const std::string& prefix) {
    auto keys = local_->List(prefix);
    EXPECT_TRUE(keys.ok());
    return keys.ok() ? keys.value() : std::vector<std::string>{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::BlobStore> local_;
  std::unique_ptr<storage::FaultInjectingStore> faulty_;
  std::unique_ptr<queue::JobStore> store_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

const std::string kBody(3 << 20, 'v');  // several chunks

TEST_F(UploadFaultTest, FullStorageMidUploadIs507AndRecordsNothing) {
  faulty_->FailNext("append", 1, ErrorCode::kStorageFull);
  Response r = Http("POST", base_ + "/api/v1/videos",
                    {"Content-Type: application/octet-stream", "X-Filename: a.mp4"}, kBody);
  EXPECT_EQ(r.status, 507);
  EXPECT_EQ(r.ErrorCode(), "storage_full");
  EXPECT_EQ(VideoCount(), 0);
  EXPECT_TRUE(Blobs("videos/").empty());
  // The store works again: the same upload now succeeds.
  Response ok = Http("POST", base_ + "/api/v1/videos",
                     {"Content-Type: application/octet-stream", "X-Filename: a.mp4"}, kBody);
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(VideoCount(), 1);
}

TEST_F(UploadFaultTest, UnavailableStorageAtCommitIs503AndRecordsNothing) {
  faulty_->FailNext("commit", 1, ErrorCode::kStorageUnavailable);
  Response r = Http("POST", base_ + "/api/v1/videos",
                    {"Content-Type: application/octet-stream", "X-Filename: a.mp4"}, kBody);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.ErrorCode(), "storage_unavailable");
  EXPECT_EQ(VideoCount(), 0);
  EXPECT_TRUE(Blobs("videos/").empty());
}

TEST_F(UploadFaultTest, StorageFailingDuringATusPatchKeepsTheUploadResumable) {
  Response created = Http("POST", base_ + "/api/v1/uploads",
                          {"Tus-Resumable: 1.0.0", "Upload-Length: " + std::to_string(kBody.size()),
                           "Upload-Metadata: filename YS5tcDQ="},
                          "");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string url = base_ + created.header("location");
  const std::vector<std::string> patch_headers = {
      "Tus-Resumable: 1.0.0", "Content-Type: application/offset+octet-stream", "Upload-Offset: 0"};
  faulty_->FailNext("append", 1, ErrorCode::kStorageUnavailable);
  Response failed = Http("PATCH", url, patch_headers, kBody);
  EXPECT_EQ(failed.status, 503);
  Response head = Http("HEAD", url, {"Tus-Resumable: 1.0.0"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("upload-offset"), "0");  // nothing half-written was kept
  Response resumed = Http("PATCH", url, patch_headers, kBody);
  EXPECT_EQ(resumed.status, 204) << resumed.body;
  EXPECT_EQ(resumed.header("upload-offset"), std::to_string(kBody.size()));
  auto page =
      store_->ListVideos({.status = queue::VideoStatus::kQueued, .external_id = ""}, 10, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->videos.size(), 1u);
  auto original = local_->ReadRange(storage::OriginalKey(page->videos[0].id), 0, 1 << 30);
  ASSERT_TRUE(original.ok());
  EXPECT_EQ(original.value(), kBody);
  EXPECT_TRUE(Blobs("uploads/").empty());  // the parts became the original
}

}  // namespace
}  // namespace vidproc::http
