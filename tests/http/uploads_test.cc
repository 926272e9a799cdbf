// The upload service without HTTP: resumable uploads assembled from their parts, and abandoned
// ones removed once they expire (on a ManualClock).
#include "http/uploads.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "queue/sqlite_store.h"
#include "storage/local_store.h"

namespace vidproc::http {
namespace {

class UploadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vidproc-uploads-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    blobs_ = storage::LocalStore::Open((dir_ / "storage").string()).value();
    store_ = queue::SqliteStore::Open((dir_ / "vidproc.db").string(), &clock_).value();
    uploads_ = std::make_unique<Uploads>(store_.get(), blobs_.get(), &clock_,
                                         UploadOptions{1 << 20, kExpiryMs});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& id, int64_t offset, const std::string& bytes) {
    auto writer = uploads_->OpenPart(id, offset);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(bytes.data(), bytes.size()).ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }

  static constexpr int64_t kExpiryMs = 3'600'000;
  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<storage::BlobStore> blobs_;
  std::unique_ptr<queue::JobStore> store_;
  std::unique_ptr<Uploads> uploads_;
};

TEST_F(UploadsTest, PartsAddUpToTheOriginalAndTheVideoIsQueued) {
  auto video = uploads_->CreateResumable("a.mp4", 10, {});
  ASSERT_TRUE(video.ok());
  Write(video->id, 0, "0123");
  auto state = uploads_->Find(video->id);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->offset, 4);
  EXPECT_EQ(state->video.status, queue::VideoStatus::kUploading);
  Write(video->id, 4, "456789");
  auto offset = uploads_->AfterPatch(state->video, 10);
  ASSERT_TRUE(offset.ok()) << offset.status().ToString();
  EXPECT_EQ(offset.value(), 10);
  EXPECT_EQ(store_->GetVideo(video->id)->status, queue::VideoStatus::kQueued);
  EXPECT_EQ(blobs_->ReadRange(storage::OriginalKey(video->id), 0, 100).value(), "0123456789");
  EXPECT_TRUE(blobs_->List("uploads/").value().empty());
}

TEST_F(UploadsTest, AbandonedUploadsAreRemovedOnceExpiredAndOthersAreKept) {
  auto old_upload = uploads_->CreateResumable("old.mp4", 10, {});
  ASSERT_TRUE(old_upload.ok());
  Write(old_upload->id, 0, "0123");
  clock_.Advance(kExpiryMs / 2);
  auto young_upload = uploads_->CreateResumable("young.mp4", 10, {});
  ASSERT_TRUE(young_upload.ok());
  Write(young_upload->id, 0, "01");
  EXPECT_EQ(uploads_->RemoveExpired(), 0);  // nothing is old enough yet
  clock_.Advance(kExpiryMs / 2 + 1);
  EXPECT_EQ(uploads_->RemoveExpired(), 1);
  EXPECT_EQ(store_->GetVideo(old_upload->id).status().code(), ErrorCode::kNotFound);
  auto parts = blobs_->List("uploads/").value();
  ASSERT_EQ(parts.size(), 1u);  // only the young upload's part is left
  EXPECT_NE(parts[0].find(young_upload->id), std::string::npos);
  EXPECT_EQ(store_->GetVideo(young_upload->id)->status, queue::VideoStatus::kUploading);
}

}  // namespace
}  // namespace vidproc::http
