// S3Store against a real S3 implementation (Ceph RADOS Gateway, started on 127.0.0.1 by
// scripts/s3-test-server.sh as a ctest fixture): the BlobStore conformance suite in both
// addressing styles, and what only S3 has: signatures, multipart, presigned URLs.
#include "storage/s3_store.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "blob_store_conformance.h"
#include "core/ids.h"
#include "storage/http_client.h"
#include "support/server_env.h"
#include "support/shell.h"

namespace vidproc::storage {
namespace {

std::map<std::string, std::string> ServerEnv() {
  return vidproc::testing::ReadServerEnv(VIDPROC_S3_ENV_FILE);
}

std::string NewBucketName() {
  std::string id = NewId();
  std::string name = "vidproc-";
  for (char c : id) name += std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : 'x';
  return name;
}

S3Options ServerOptions(const std::string& addressing) {
  auto env = ServerEnv();
  S3Options o;
  o.endpoint = env["S3_TEST_ENDPOINT"];
  o.access_key = env["S3_TEST_ACCESS_KEY"];
  o.secret_key = env["S3_TEST_SECRET_KEY"];
  o.region = env["S3_TEST_REGION"];
  o.bucket = NewBucketName();
  o.addressing = addressing;
  o.part_size = 5 << 20;
  o.multipart_threshold = 6 << 20;
  if (addressing == "virtual") {
    // The gateway serves <bucket>.<dns name>; connect to it on loopback whatever the name.
    std::string hostport = o.endpoint.substr(o.endpoint.find("://") + 3);
    std::string port = hostport.substr(hostport.find(':') + 1);
    o.endpoint = "http://" + env["S3_TEST_DNS_NAME"] + ":" + port;
    o.connect_to = "127.0.0.1:" + port;
  }
  return o;
}

std::unique_ptr<S3Store> MustCreate(const S3Options& o) {
  auto store = S3Store::Create(o, SystemClock::Default());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  Status s = store.value()->CreateBucket();
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(store).value();
}

struct PathStyleFactory {
  std::unique_ptr<BlobStore> Open() { return MustCreate(ServerOptions("path")); }
};
struct VirtualHostFactory {
  std::unique_ptr<BlobStore> Open() { return MustCreate(ServerOptions("virtual")); }
};

using S3Stores = ::testing::Types<PathStyleFactory, VirtualHostFactory>;
}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(S3, BlobStoreTest, S3Stores);
}  // namespace testing

namespace {

class S3StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = ServerOptions("path");
    store_ = MustCreate(options_);
    dir_ = testing::TempDir();
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  // A file of `size` bytes whose every 8-byte word holds its own offset: any misplaced byte
  // range shows.
  std::string PatternFile(int64_t size) {
    std::string path = dir_ + "/pattern";
    std::ofstream out(path, std::ios::binary);
    std::string block(1 << 20, '\0');
    for (int64_t base = 0; base < size; base += static_cast<int64_t>(block.size())) {
      for (size_t i = 0; i < block.size(); i += 8) {
        uint64_t v = static_cast<uint64_t>(base) + i;
        std::memcpy(&block[i], &v, 8);
      }
      out.write(block.data(), std::min<int64_t>(static_cast<int64_t>(block.size()), size - base));
    }
    return path;
  }

  S3Options options_;
  std::unique_ptr<S3Store> store_;
  std::string dir_;
};

TEST_F(S3StoreTest, AWrongSecretIsStorageAuthFailed) {
  S3Options bad = options_;
  bad.secret_key = "not-the-secret";
  auto store = S3Store::Create(bad, SystemClock::Default()).value();
  Status s = store->CheckBucket();
  EXPECT_EQ(s.code(), ErrorCode::kStorageAuthFailed) << s.ToString();
  std::string f = dir_ + "/f";
  std::ofstream(f) << "x";
  Status put = store->PutFile("k", f, "text/plain");
  EXPECT_EQ(put.code(), ErrorCode::kStorageAuthFailed) << put.ToString();
  EXPECT_NE(put.message().find("SignatureDoesNotMatch"), std::string::npos) << put.message();
  EXPECT_TRUE(store_->CheckBucket().ok());
}

// SPACES_PUBLIC_READ: the processed video and thumbnail get the public-read grant; the original
// (an upload nobody reviewed) and everything else stay private. The grants are read back with a
// standard S3 client (the test gateway serves anonymous reads whatever the ACL, so a plain GET
// would prove nothing).
TEST_F(S3StoreTest, PublicReadMakesOnlyTheProcessedOutputsPublic) {
  S3Options o = options_;
  o.public_read = true;
  auto store = S3Store::Create(o, SystemClock::Default()).value();
  ASSERT_TRUE(store->CheckBucket().ok());
  std::string f = dir_ + "/f";
  std::ofstream(f) << "some bytes";
  const std::string id = NewId();
  auto public_grants = [&](const std::string& key) {
    std::string cmd = "env -i PATH=/usr/bin:/bin HOME=" + dir_ +
                      " AWS_ACCESS_KEY_ID=" + o.access_key +
                      " AWS_SECRET_ACCESS_KEY=" + o.secret_key +
                      " AWS_DEFAULT_REGION=" + (o.region.empty() ? "us-east-1" : o.region) +
                      " /usr/bin/aws --endpoint-url " + o.endpoint + " s3api get-object-acl" +
                      " --bucket " + o.bucket + " --key " + key +
                      " --query \"Grants[?Grantee.URI=='http://acs.amazonaws.com/groups/global/"
                      "AllUsers'].Permission\" --output text";
    int code = 0;
    std::string out = vidproc::testing::Shell(cmd, &code);
    EXPECT_EQ(code, 0) << out;
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    return out;
  };
  // One key of each kind (a client call takes seconds); IsProcessedOutputKey is tested below.
  ASSERT_TRUE(store->PutFile(VideoKey(id), f, "video/mp4").ok());
  EXPECT_EQ(public_grants(VideoKey(id)), "READ");
  ASSERT_TRUE(store->PutFile(OriginalKey(id), f, "").ok());
  EXPECT_EQ(public_grants(OriginalKey(id)), "");
  // The public output carries the Cache-Control that lets caches keep it; a private object
  // gets none (nobody but its owner reads it).
  HttpClient plain;
  auto anonymous_get = [&](const std::string& key) {
    HttpRequest get;
    get.url = PublicObjectUrl(PublicBucketUrl(o).value(), key);
    auto r = plain.Perform(get);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : HttpResponse{};
  };
  HttpResponse video = anonymous_get(VideoKey(id));
  EXPECT_EQ(video.status, 200);
  EXPECT_EQ(video.body, "some bytes");
  EXPECT_EQ(video.headers["cache-control"], "public, max-age=86400");
  HttpResponse original = anonymous_get(OriginalKey(id));
  EXPECT_EQ(original.headers.count("cache-control"), 0u) << original.headers["cache-control"];
}

// The public URL of an object, in both addressing styles, fetched without credentials from the
// gateway (the virtual host by its DNS name, connected to on loopback).
TEST(PublicObjectUrlTest, BothAddressingStylesReachTheObjectOnTheGateway) {
  for (const char* addressing : {"path", "virtual"}) {
    S3Options o = ServerOptions(addressing);
    o.public_read = true;
    auto store = MustCreate(o);
    const std::string dir = testing::TempDir();
    const std::string f = dir + "/thumb";
    std::ofstream(f) << "jpeg bytes";
    const std::string id = NewId();
    ASSERT_TRUE(store->PutFile(ThumbnailKey(id), f, "image/jpeg").ok());
    auto base = PublicBucketUrl(o);
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    const std::string host = o.endpoint.substr(o.endpoint.find("://") + 3);
    EXPECT_EQ(base.value(), std::string(addressing) == "path" ? o.endpoint + "/" + o.bucket
                                                              : "http://" + o.bucket + "." + host)
        << addressing;
    HttpRequest get;
    get.url = PublicObjectUrl(base.value(), ThumbnailKey(id));
    get.connect_to = o.connect_to;
    auto r = HttpClient().Perform(get);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200) << addressing << " " << get.url << ": " << r->body;
    EXPECT_EQ(r->body, "jpeg bytes") << addressing;
    EXPECT_EQ(r->headers["cache-control"], "public, max-age=86400") << addressing;
    std::system(("rm -rf '" + dir + "'").c_str());
  }
}

// DigitalOcean Spaces' virtual host, a path-style endpoint, credentials never in a link, and the
// key appended to any base with every byte outside RFC 3986's unreserved set percent-encoded.
TEST(PublicObjectUrlTest, BucketUrlsAndKeysAreComposedAsTheStoreAddressesThem) {
  S3Options o;
  o.bucket = "media";
  o.endpoint = "https://nyc3.digitaloceanspaces.com";
  EXPECT_EQ(PublicBucketUrl(o).value(), "https://media.nyc3.digitaloceanspaces.com");
  o.addressing = "path";
  EXPECT_EQ(PublicBucketUrl(o).value(), "https://nyc3.digitaloceanspaces.com/media");
  o.addressing = "auto";
  o.endpoint = "http://key:secret@127.0.0.1:7480/";
  EXPECT_EQ(PublicBucketUrl(o).value(), "http://127.0.0.1:7480/media");
  o.endpoint = "nyc3.digitaloceanspaces.com";
  EXPECT_EQ(PublicBucketUrl(o).status().code(), ErrorCode::kInvalidConfig);

  EXPECT_EQ(PublicObjectUrl("https://cdn.example.com", "videos/a_B-1.x/video.mp4"),
            "https://cdn.example.com/videos/a_B-1.x/video.mp4");
  EXPECT_EQ(PublicObjectUrl("https://cdn.example.com/media/", "videos/id/thumbnail.jpg"),
            "https://cdn.example.com/media/videos/id/thumbnail.jpg");
  EXPECT_EQ(PublicObjectUrl("https://cdn.example.com", "a b/c+d?e#f%g/\xc3\xa9~"),
            "https://cdn.example.com/a%20b/c%2Bd%3Fe%23f%25g/%C3%A9~");
}

TEST(ProcessedOutputKeyTest, OnlyTheVideoAndThumbnailOfAVideo) {
  EXPECT_TRUE(IsProcessedOutputKey(VideoKey("abc123")));
  EXPECT_TRUE(IsProcessedOutputKey(ThumbnailKey("abc123")));
  for (const char* key :
       {"videos/abc123/original", "videos/video.mp4", "videos//video.mp4", "uploads/abc/video.mp4",
        "videos/a/b/video.mp4", "videos/abc123/video.mp4.partial", "videos/../x/video.mp4", ""}) {
    EXPECT_FALSE(IsProcessedOutputKey(key)) << key;
  }
}

TEST_F(S3StoreTest, HundredMegabyteMultipartRoundTrip) {
  const int64_t size = 100 << 20;
  std::string path = PatternFile(size);
  ASSERT_TRUE(store_->PutFile("big/object.bin", path, "application/octet-stream").ok());
  auto info = store_->Stat("big/object.bin");
  ASSERT_TRUE(info.ok() && info.value());
  EXPECT_EQ(info.value()->size_bytes, size);
  // A range across the boundary of parts 7 and 8 (5 MiB parts) reads the right words.
  int64_t offset = (int64_t{7} * (5 << 20)) - 16;
  std::string range = store_->ReadRange("big/object.bin", offset, 32).value();
  ASSERT_EQ(range.size(), 32u);
  for (int i = 0; i < 4; ++i) {
    uint64_t v;
    std::memcpy(&v, range.data() + i * 8, 8);
    EXPECT_EQ(v, static_cast<uint64_t>(offset + i * 8));
  }
  std::string back = dir_ + "/back";
  ASSERT_TRUE(store_->GetFile("big/object.bin", back).ok());
  EXPECT_EQ(std::system(("cmp -s '" + path + "' '" + back + "'").c_str()), 0);
  EXPECT_TRUE(store_->ListMultipartUploads("big/").value().empty());
}

TEST_F(S3StoreTest, AFailedPartAbortsTheUploadAndLeavesNothing) {
  S3Options faulty = options_;
  faulty.inject_part_failure = 3;
  auto store = S3Store::Create(faulty, SystemClock::Default()).value();
  std::string path = PatternFile(int64_t{22} << 20);  // 5 parts
  Status s = store->PutFile("broken/object.bin", path, "");
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(store_->Stat("broken/object.bin").value().has_value());
  auto uploads = store_->ListMultipartUploads("broken/");
  ASSERT_TRUE(uploads.ok()) << uploads.status().ToString();
  EXPECT_TRUE(uploads.value().empty()) << uploads.value().size() << " uploads left behind";
}

TEST_F(S3StoreTest, StreamedMultipartWriterAndItsAbort) {
  {
    auto w = store_->OpenWriter("stream/abandoned", "video/mp4").value();
    std::string chunk(3 << 20, 'a');
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w->Append(chunk.data(), chunk.size()).ok());
    EXPECT_FALSE(store_->ListMultipartUploads("stream/").value().empty());
  }  // dropped uncommitted: aborted
  EXPECT_TRUE(store_->ListMultipartUploads("stream/").value().empty());
  auto w = store_->OpenWriter("stream/whole", "video/mp4").value();
  std::string chunk(3 << 20, 'b');
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(w->Append(chunk.data(), chunk.size()).ok());
  ASSERT_TRUE(w->Commit().ok());
  auto info = store_->Stat("stream/whole").value();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->size_bytes, 12 << 20);
  EXPECT_EQ(info->content_type, "video/mp4");
}

TEST_F(S3StoreTest, PresignedUrlsWorkWithAPlainClientAndExpire) {
  std::string f = dir_ + "/f";
  std::ofstream(f) << "presigned content";
  ASSERT_TRUE(store_->PutFile("p/file.txt", f, "text/plain").ok());
  auto where = store_->Locate("p/file.txt", 60);
  ASSERT_TRUE(where.ok());
  ASSERT_FALSE(where->presigned_url.empty());
  HttpClient plain;
  HttpRequest get;
  get.url = where->presigned_url;
  auto r = plain.Perform(get);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "presigned content");
  get.headers = {{"Range", "bytes=0-8"}};
  EXPECT_EQ(plain.Perform(get)->body, "presigned");

  // Signed two minutes ago for one minute: expired by construction, on the server's own clock.
  ManualClock two_minutes_ago(SystemClock::Default()->NowMs() - 120'000);
  auto signer = S3Store::Create(options_, &two_minutes_ago);
  ASSERT_TRUE(signer.ok()) << signer.status().ToString();
  HttpRequest late;
  late.url = signer.value()->Locate("p/file.txt", 60).value().presigned_url;
  EXPECT_EQ(plain.Perform(late)->status, 403) << "an expired URL must be refused";
  // The same signer two minutes later: the refusal above was the expiry, not the signature.
  two_minutes_ago.Advance(120'000);
  HttpRequest fresh;
  fresh.url = signer.value()->Locate("p/file.txt", 60).value().presigned_url;
  EXPECT_EQ(plain.Perform(fresh)->status, 200);
}

TEST(S3OptionsTest, RegionAndValidation) {
  EXPECT_EQ(RegionFromEndpoint("https://nyc3.digitaloceanspaces.com"), "nyc3");
  EXPECT_EQ(RegionFromEndpoint("https://fra1.digitaloceanspaces.com/"), "fra1");
  EXPECT_EQ(RegionFromEndpoint("https://s3.eu-west-1.amazonaws.com"), "eu-west-1");
  EXPECT_EQ(RegionFromEndpoint("http://127.0.0.1:7480"), "us-east-1");
  S3Options o;
  o.bucket = "b";
  o.endpoint = "nyc3.digitaloceanspaces.com";
  EXPECT_EQ(S3Store::Create(o, SystemClock::Default()).status().code(), ErrorCode::kInvalidConfig);
  o.endpoint = "https://nyc3.digitaloceanspaces.com/bucket";
  EXPECT_EQ(S3Store::Create(o, SystemClock::Default()).status().code(), ErrorCode::kInvalidConfig);
  o.endpoint = "https://nyc3.digitaloceanspaces.com";
  o.addressing = "sideways";
  EXPECT_EQ(S3Store::Create(o, SystemClock::Default()).status().code(), ErrorCode::kInvalidConfig);
}

}  // namespace
}  // namespace vidproc::storage
