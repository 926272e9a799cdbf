// The BlobStore contract as a typed test suite: every implementation instantiates it with a
// factory (`std::unique_ptr<BlobStore> Open()`), LocalStore in blob_store_conformance_test.cc,
// S3Store against a real S3 server in s3_store_test.cc.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "storage/blob_store.h"

namespace vidproc::storage::testing {

inline std::string TempDir() {
  char templ[] = "/tmp/vidproc-blobs-XXXXXX";
  return mkdtemp(templ);
}

template <typename Factory>
class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.Open();
    work_ = TempDir();
  }
  void TearDown() override { std::system(("rm -rf '" + work_ + "'").c_str()); }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = work_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  Factory factory_;
  std::unique_ptr<BlobStore> store_;
  std::string work_;
};

TYPED_TEST_SUITE_P(BlobStoreTest);

TYPED_TEST_P(BlobStoreTest, PutThenGetReturnsTheSameBytes) {
  std::string content(300'000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + 3);
  ASSERT_TRUE(
      this->store_->PutFile("videos/a/original", this->WriteFile("in", content), "video/mp4").ok());
  std::string out = this->work_ + "/out";
  ASSERT_TRUE(this->store_->GetFile("videos/a/original", out).ok());
  EXPECT_EQ(this->ReadFile(out), content);
  auto info = this->store_->Stat("videos/a/original");
  ASSERT_TRUE(info.ok() && info.value().has_value());
  EXPECT_EQ(info.value()->size_bytes, 300'000);
}

TYPED_TEST_P(BlobStoreTest, PutReplacesAndLeavesTheSourceAlone) {
  std::string first = this->WriteFile("one", "first version");
  ASSERT_TRUE(this->store_->PutFile("k/blob", first, "").ok());
  ASSERT_TRUE(this->store_->PutFile("k/blob", this->WriteFile("two", "second"), "").ok());
  std::string out = this->work_ + "/out";
  ASSERT_TRUE(this->store_->GetFile("k/blob", out).ok());
  EXPECT_EQ(this->ReadFile(out), "second");
  EXPECT_EQ(this->ReadFile(first), "first version");
}

TYPED_TEST_P(BlobStoreTest, StreamedWriteIsInvisibleUntilCommitted) {
  auto writer = this->store_->OpenWriter("up/stream", "video/mp4");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::string chunk(64 * 1024, 'v');
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*writer)->Append(chunk.data(), chunk.size()).ok());
  EXPECT_EQ((*writer)->bytes_written(), 20 * 64 * 1024);
  EXPECT_FALSE(this->store_->Stat("up/stream").value().has_value()) << "visible before commit";
  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(this->store_->Stat("up/stream").value()->size_bytes, 20 * 64 * 1024);
  EXPECT_EQ(this->store_->ReadRange("up/stream", 100, 3).value(), "vvv");
}

TYPED_TEST_P(BlobStoreTest, AbandonedWriteLeavesNothing) {
  {
    auto writer = this->store_->OpenWriter("up/abandoned", "");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append("partial", 7).ok());
  }  // a cut connection: the writer goes away uncommitted
  EXPECT_FALSE(this->store_->Stat("up/abandoned").value().has_value());
  EXPECT_TRUE(this->store_->List("up/").value().empty());
}

TYPED_TEST_P(BlobStoreTest, ReadsByteRanges) {
  ASSERT_TRUE(this->store_->PutFile("r", this->WriteFile("f", "0123456789"), "").ok());
  EXPECT_EQ(this->store_->ReadRange("r", 2, 3).value(), "234");
  EXPECT_EQ(this->store_->ReadRange("r", 8, 10).value(), "89");  // short at the end
  EXPECT_EQ(this->store_->ReadRange("r", 20, 5).value(), "");
}

TYPED_TEST_P(BlobStoreTest, MissingBlobs) {
  auto info = this->store_->Stat("no/such");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info.value().has_value());
  EXPECT_EQ(this->store_->GetFile("no/such", this->work_ + "/x").code(), ErrorCode::kNotFound);
  EXPECT_FALSE(this->store_->ReadRange("no/such", 0, 1).ok());
  EXPECT_TRUE(this->store_->Delete("no/such").ok()) << "delete must be idempotent";
}

TYPED_TEST_P(BlobStoreTest, DeleteRemoves) {
  ASSERT_TRUE(this->store_->PutFile("d/x", this->WriteFile("f", "x"), "").ok());
  ASSERT_TRUE(this->store_->Delete("d/x").ok());
  EXPECT_FALSE(this->store_->Stat("d/x").value().has_value());
  EXPECT_TRUE(this->store_->Delete("d/x").ok());
}

TYPED_TEST_P(BlobStoreTest, ListsByPrefixSorted) {
  for (const char* key :
       {"videos/b/video.mp4", "videos/a/original", "videos/a/thumbnail.jpg", "other/x"}) {
    ASSERT_TRUE(this->store_->PutFile(key, this->WriteFile("f", key), "").ok());
  }
  auto a = this->store_->List("videos/a/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value(), (std::vector<std::string>{"videos/a/original", "videos/a/thumbnail.jpg"}));
  EXPECT_EQ(this->store_->List("videos/").value().size(), 3u);
  EXPECT_EQ(this->store_->List("").value().size(), 4u);
  EXPECT_TRUE(this->store_->List("nothing/").value().empty());
}

TYPED_TEST_P(BlobStoreTest, RefusesKeysThatCouldEscape) {
  std::string f = this->WriteFile("f", "x");
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "trailing/"}) {
    EXPECT_FALSE(this->store_->PutFile(bad, f, "").ok()) << "accepted '" << bad << "'";
    EXPECT_FALSE(IsValidKey(bad)) << bad;
  }
  // vidproc's own keys are narrower still; a shared bucket's objects, which an import may name
  // (CheckSourceKey), can have spaces or backslashes, so only S3Store may accept those.
  for (const char* unusual : {"a b", "a\\b"}) EXPECT_FALSE(IsValidKey(unusual)) << unusual;
}

TYPED_TEST_P(BlobStoreTest, LocatesBlobsForServing) {
  ASSERT_TRUE(this->store_->PutFile("s/v.mp4", this->WriteFile("f", "video"), "video/mp4").ok());
  auto where = this->store_->Locate("s/v.mp4", 3600);
  ASSERT_TRUE(where.ok());
  EXPECT_TRUE(!where->local_path.empty() || !where->presigned_url.empty());
  EXPECT_EQ(this->store_->Locate("s/none", 3600).status().code(), ErrorCode::kNotFound);
}

REGISTER_TYPED_TEST_SUITE_P(BlobStoreTest, PutThenGetReturnsTheSameBytes,
                            PutReplacesAndLeavesTheSourceAlone,
                            StreamedWriteIsInvisibleUntilCommitted, AbandonedWriteLeavesNothing,
                            ReadsByteRanges, MissingBlobs, DeleteRemoves, ListsByPrefixSorted,
                            RefusesKeysThatCouldEscape, LocatesBlobsForServing);

}  // namespace vidproc::storage::testing
