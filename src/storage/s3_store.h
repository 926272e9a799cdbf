// BlobStore on an S3-compatible bucket (DigitalOcean Spaces, AWS S3, Ceph RGW), signed with
// SigV4 over libcurl. Uploads stream from disk with bounded memory: one PUT below the multipart
// threshold, else a multipart upload whose parts (each hashed, each retried) go up a few at a
// time and which is aborted on failure, so no incomplete upload is left behind.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "storage/blob_store.h"
#include "storage/sigv4.h"

namespace vidproc::storage {

struct S3Options {
  std::string endpoint;  // "https://nyc3.digitaloceanspaces.com", "http://127.0.0.1:7480"
  std::string bucket;
  std::string access_key;
  std::string secret_key;
  std::string region;               // empty: from the endpoint (nyc3), else us-east-1
  std::string addressing = "auto";  // auto | path | virtual
  bool public_read = false;         // x-amz-acl: public-read on the processed outputs only
  // The Cache-Control of the public processed outputs (none on private objects). Not `immutable`:
  // a video's keys are fixed (VideoKey, ThumbnailKey) and can be written again with another
  // encode (a worker that lost its lease finishing late, a failed video retried), so a cached
  // copy must be revalidated some day; a day keeps a stale copy's life short.
  std::string cache_control = "public, max-age=86400";
  int64_t part_size = int64_t{8} << 20;             // multipart part size (at least 5 MiB)
  int64_t multipart_threshold = int64_t{16} << 20;  // single PUT below this
  int parts_in_flight = 2;
  int max_retries = 4;
  int64_t retry_base_ms = 200;
  std::string connect_to;       // "127.0.0.1:7480": connect here whatever the URL's host (tests)
  int inject_part_failure = 0;  // tests: the upload of this part number fails (0: none)
};

class S3Store : public BlobStore {
 public:
  // Validates the options (a clear error names the setting at fault). Does not contact the
  // server: see CheckBucket.
  static Result<std::unique_ptr<S3Store>> Create(const S3Options& options, const Clock* clock);
  ~S3Store() override;

  // HEAD on the bucket: storage_auth_failed, not_found (no such bucket) or unavailable.
  Status CheckBucket();
  // Creates the bucket if it does not exist (tests and first start).
  Status CreateBucket();

  Result<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key,
                                                 const std::string& content_type) override;
  Status PutFile(const std::string& key, const std::string& local_path,
                 const std::string& content_type) override;
  Status PutOutputFile(const std::string& key, const std::string& local_path,
                       const std::string& content_type) override;
  Status GetFile(const std::string& key, const std::string& local_path) override;
  Result<std::string> ReadRange(const std::string& key, int64_t offset, int64_t length) override;
  Result<std::optional<BlobInfo>> Stat(const std::string& key) override;
  Status Delete(const std::string& key) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override;
  Result<ServeLocation> Locate(const std::string& key, int expiry_s) override;
  std::optional<std::string> LocalPathFor(const std::string&) override { return std::nullopt; }
  std::string Describe() const override;

  // Multipart uploads in progress under `prefix` (to check that none is left behind).
  Result<std::vector<std::string>> ListMultipartUploads(const std::string& prefix);

  class Impl;

 private:
  explicit S3Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The region an endpoint implies: "nyc3" for https://nyc3.digitaloceanspaces.com.
std::string RegionFromEndpoint(const std::string& endpoint);

// The URL under which anyone can GET the bucket's public objects, addressed as the store
// addresses the bucket: https://BUCKET.HOST (virtual host) or https://HOST/BUCKET (path). Errors
// are those of S3Store::Create for a bad endpoint or addressing.
Result<std::string> PublicBucketUrl(const S3Options& options);

// `base` (a bucket or CDN URL, a trailing slash or not) with `key` appended, each byte outside
// RFC 3986's unreserved set percent-encoded ('/' kept between segments).
std::string PublicObjectUrl(std::string_view base, const std::string& key);

}  // namespace vidproc::storage
