#include "blob_store_conformance.h"

#include "storage/local_store.h"

namespace vidproc::storage {
namespace {

using testing::TempDir;

struct LocalFactory {
  std::string root = TempDir();
  ~LocalFactory() { std::system(("rm -rf '" + root + "'").c_str()); }
  std::unique_ptr<BlobStore> Open() {
    auto s = LocalStore::Open(root + "/store");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }
};

using LocalStores = ::testing::Types<LocalFactory>;
}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Local, BlobStoreTest, LocalStores);
}  // namespace testing

namespace {

TEST(BlobKeysTest, FixedKeysPerVideo) {
  EXPECT_EQ(OriginalKey("abc"), "videos/abc/original");
  EXPECT_EQ(VideoKey("abc"), "videos/abc/video.mp4");
  EXPECT_EQ(ThumbnailKey("abc"), "videos/abc/thumbnail.jpg");
  EXPECT_TRUE(IsValidKey(VideoKey("Ab-_09")));
}

}  // namespace
}  // namespace vidproc::storage
