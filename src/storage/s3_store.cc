#include "storage/s3_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "core/log.h"
#include "storage/http_client.h"

namespace vidproc::storage {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

// vidproc's own keys, and the platform's objects an import names (replaced with the processed
// video when asked): a bucket is shared with the platform.
bool IsWritableKey(const std::string& key) { return IsValidKey(key) || CheckSourceKey(key).ok(); }
using Headers = std::vector<std::pair<std::string, std::string>>;

// Every <tag>value</tag> in an S3 XML response, unescaped.
std::vector<std::string> XmlValues(const std::string& xml, const std::string& tag) {
  std::vector<std::string> values;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (size_t pos = xml.find(open); pos != std::string::npos; pos = xml.find(open, pos)) {
    pos += open.size();
    size_t end = xml.find(close, pos);
    if (end == std::string::npos) break;
    std::string v = xml.substr(pos, end - pos);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] != '&') {
        out += v[i];
        continue;
      }
      static const std::pair<const char*, char> kEntities[] = {
          {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      bool matched = false;
      for (const auto& [entity, ch] : kEntities) {
        if (v.compare(i, std::strlen(entity), entity) == 0) {
          out += ch;
          i += std::strlen(entity) - 1;
          matched = true;
          break;
        }
      }
      if (!matched) out += '&';
    }
    values.push_back(out);
    pos = end + close.size();
  }
  return values;
}

std::string XmlValue(const std::string& xml, const std::string& tag) {
  auto v = XmlValues(xml, tag);
  return v.empty() ? "" : v.front();
}

struct FileHashes {
  std::string sha256_hex;
  std::string md5_base64;
};

Result<FileHashes> HashFileRange(const std::string& path, int64_t offset, int64_t length) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status(ErrorCode::kInputReadFailed, "Cannot read " + path + ".");
  std::fseek(f, static_cast<long>(offset), SEEK_SET);
  sigv4::Sha256 sha;
  sigv4::Md5Stream md5;
  std::vector<char> buffer(1 << 20);
  int64_t left = length;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buffer.size())));
    size_t got = std::fread(buffer.data(), 1, want, f);
    if (got == 0) break;
    sha.Update(buffer.data(), got);
    md5.Update(buffer.data(), got);
    left -= static_cast<int64_t>(got);
  }
  std::fclose(f);
  if (left != 0) return Status(ErrorCode::kInputReadFailed, path + " is shorter than expected.");
  return FileHashes{sha.HexDigest(), sigv4::Base64(md5.Digest())};
}

}  // namespace

std::string RegionFromEndpoint(const std::string& endpoint) {
  std::string host =
      endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
  host = host.substr(0, host.find_first_of(":/"));
  const std::string spaces = ".digitaloceanspaces.com";
  if (host.size() > spaces.size() &&
      host.compare(host.size() - spaces.size(), spaces.size(), spaces) == 0) {
    return host.substr(0, host.size() - spaces.size());
  }
  // s3.eu-west-1.amazonaws.com / s3-eu-west-1.amazonaws.com
  if (host.rfind("s3.", 0) == 0 || host.rfind("s3-", 0) == 0) {
    std::string rest = host.substr(3);
    auto dot = rest.find(".amazonaws.com");
    if (dot != std::string::npos && dot > 0) return rest.substr(0, dot);
  }
  return "us-east-1";
}

class S3Store::Impl {
 public:
  S3Options o;
  const Clock* clock = nullptr;
  std::string scheme;  // "https"
  std::string host;    // "nyc3.digitaloceanspaces.com[:port]"
  bool virtual_host = false;
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<HttpClient>> idle;  // GUARDED_BY(pool_mutex)

  std::unique_ptr<HttpClient> Acquire() {
    std::lock_guard lock(pool_mutex);
    if (idle.empty()) return std::make_unique<HttpClient>();
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }
  void Release(std::unique_ptr<HttpClient> c) {
    std::lock_guard lock(pool_mutex);
    idle.push_back(std::move(c));
  }

  // Host header and canonical path of `key` ("" for the bucket itself).
  void Target(const std::string& key, std::string* host_header, std::string* path) const {
    if (virtual_host) {
      *host_header = o.bucket + "." + host;
      *path = "/" + key;
    } else {
      *host_header = host;
      *path = "/" + o.bucket + "/" + key;
    }
  }

  Status ErrorFrom(const HttpResponse& r, const std::string& what) const {
    std::string code = XmlValue(r.body, "Code");
    std::string message = XmlValue(r.body, "Message");
    std::string request_id = XmlValue(r.body, "RequestId");
    if (request_id.empty() && r.headers.count("x-amz-request-id")) {
      request_id = r.headers.at("x-amz-request-id");
    }
    std::string text = what + ": HTTP " + std::to_string(r.status) +
                       (code.empty() ? "" : " " + code) +
                       (message.empty() ? "" : " (" + message + ")") +
                       (request_id.empty() ? "" : ", request id " + request_id) + ".";
    if (r.status == 403 || code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" ||
        code == "AccessDenied") {
      return Status(
          ErrorCode::kStorageAuthFailed,
          text + " Check SPACES_ACCESS_KEY, SPACES_SECRET_KEY and the bucket's permissions.");
    }
    if (r.status == 404) return Status(ErrorCode::kNotFound, text);
    return Status(ErrorCode::kStorageUnavailable, text);
  }

  static bool Retryable(const Result<HttpResponse>& r) {
    if (!r.ok()) return r.status().code() == ErrorCode::kStorageUnavailable;
    int s = r->status;
    return s >= 500 || s == 429 || XmlValue(r->body, "Code") == "SlowDown";
  }

  // Signs and sends one request, retrying transport errors, 5xx, 429 and SlowDown with
  // exponential backoff and jitter. The body is a string or a file range.
  Result<HttpResponse> Send(const std::string& method, const std::string& key, const Query& query,
                            const Headers& extra, const std::string& payload_sha256,
                            HttpRequest body) {
    std::string host_header, path;
    Target(key, &host_header, &path);
    std::string query_string;
    for (const auto& [k, v] : query) {
      query_string += (query_string.empty() ? "?" : "&") + sigv4::UriEncode(k, true) + "=" +
                      sigv4::UriEncode(v, true);
    }
    body.method = method;
    body.url = scheme + "://" + host_header + sigv4::UriEncode(path, false) + query_string;
    body.connect_to = o.connect_to;
    static thread_local std::mt19937 rng(std::random_device{}());
    for (int attempt = 0;; ++attempt) {
      std::string amz_date = sigv4::AmzDate(clock->NowMs() / 1000);
      sigv4::Request to_sign{method, path, query, extra, payload_sha256};
      to_sign.headers.emplace_back("host", host_header);
      to_sign.headers.emplace_back("x-amz-date", amz_date);
      to_sign.headers.emplace_back("x-amz-content-sha256", payload_sha256);
      HttpRequest request = body;
      request.headers = to_sign.headers;
      request.headers.emplace_back("Authorization",
                                   sigv4::Authorization(to_sign, {o.access_key, o.secret_key},
                                                        {RegionOf(), "s3"}, amz_date));
      auto client = Acquire();
      Result<HttpResponse> r = client->Perform(request);
      Release(std::move(client));
      if (!Retryable(r) || attempt >= o.max_retries) return r;
      double delay = o.retry_base_ms * std::pow(2.0, attempt) *
                     std::uniform_real_distribution<double>(0.5, 1.5)(rng);
      LogWarning("storage request retried",
                 {{"method", method},
                  {"key", key},
                  {"attempt", attempt + 1},
                  {"reason", r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message()}});
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(delay)));
    }
  }

  std::string RegionOf() const {
    return o.region.empty() ? RegionFromEndpoint(o.endpoint) : o.region;
  }

  Headers UploadHeaders(const std::string& key, const std::string& content_type,
                        bool output) const {
    Headers h;
    if (!content_type.empty()) h.emplace_back("content-type", content_type);
    if (o.public_read && output) {
      h.emplace_back("x-amz-acl", "public-read");
      // A playlist grows while its job runs: a CDN must ask again every time, not keep it.
      if (key.ends_with(".m3u8")) {
        h.emplace_back("cache-control", "no-cache");
      } else if (!o.cache_control.empty()) {
        h.emplace_back("cache-control", o.cache_control);
      }
    }
    return h;
  }

  Status PutSingle(const std::string& key, const HttpRequest& body, const FileHashes& hashes,
                   const std::string& content_type, bool output) {
    Headers h = UploadHeaders(key, content_type, output);
    h.emplace_back("content-md5", hashes.md5_base64);
    ASSIGN_OR_RETURN(HttpResponse r, Send("PUT", key, {}, h, hashes.sha256_hex, body));
    if (r.status != 200) return ErrorFrom(r, "PUT " + key);
    return Status::Ok();
  }

  Result<std::string> StartMultipart(const std::string& key, const std::string& content_type,
                                     bool output) {
    ASSIGN_OR_RETURN(HttpResponse r,
                     Send("POST", key, {{"uploads", ""}}, UploadHeaders(key, content_type, output),
                          sigv4::Sha256Hex(""), HttpRequest{}));
    std::string id = XmlValue(r.body, "UploadId");
    if (r.status != 200 || id.empty())
      return ErrorFrom(r, "starting the multipart upload of " + key);
    return id;
  }

  // Uploads one part; returns its ETag.
  Result<std::string> PutPart(const std::string& key, const std::string& upload_id, int number,
                              const HttpRequest& body, const FileHashes& hashes) {
    if (o.inject_part_failure == number) {
      return Status(ErrorCode::kStorageUnavailable,
                    "injected failure of part " + std::to_string(number));
    }
    ASSIGN_OR_RETURN(
        HttpResponse r,
        Send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
             {{"content-md5", hashes.md5_base64}}, hashes.sha256_hex, body));
    if (r.status != 200 || !r.headers.count("etag")) {
      return ErrorFrom(r, "uploading part " + std::to_string(number) + " of " + key);
    }
    return r.headers.at("etag");
  }

  Status CompleteMultipart(const std::string& key, const std::string& upload_id,
                           const std::vector<std::string>& etags) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
             "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    HttpRequest body;
    body.body = xml;
    ASSIGN_OR_RETURN(HttpResponse r,
                     Send("POST", key, {{"uploadId", upload_id}},
                          {{"content-type", "application/xml"}}, sigv4::Sha256Hex(xml), body));
    // A 200 can still carry an error in its body (S3 reports late failures that way).
    if (r.status != 200 || r.body.find("<Error>") != std::string::npos) {
      return ErrorFrom(r, "completing the multipart upload of " + key);
    }
    return Status::Ok();
  }

  void AbortMultipart(const std::string& key, const std::string& upload_id) {
    auto r =
        Send("DELETE", key, {{"uploadId", upload_id}}, {}, sigv4::Sha256Hex(""), HttpRequest{});
    if (!r.ok() || (r->status != 204 && r->status != 200 && r->status != 404)) {
      LogWarning("cannot abort a multipart upload", {{"key", key}, {"upload_id", upload_id}});
    }
  }

  Status PutMultipart(const std::string& key, const std::string& path, int64_t size,
                      const std::string& content_type, bool output) {
    ASSIGN_OR_RETURN(std::string upload_id, StartMultipart(key, content_type, output));
    int parts = static_cast<int>((size + o.part_size - 1) / o.part_size);
    std::vector<std::string> etags(static_cast<size_t>(parts));
    std::atomic<int> next{0};
    std::mutex error_mutex;
    Status first_error;
    auto worker = [&] {
      for (int i = next++; i < parts; i = next++) {
        {
          std::lock_guard lock(error_mutex);
          if (!first_error.ok()) return;
        }
        int64_t offset = int64_t{i} * o.part_size;
        int64_t length = std::min(o.part_size, size - offset);
        Status s;
        auto hashes = HashFileRange(path, offset, length);
        if (!hashes.ok()) {
          s = hashes.status();
        } else {
          HttpRequest body;
          body.body_file = path;
          body.body_offset = offset;
          body.body_length = length;
          auto etag = PutPart(key, upload_id, i + 1, body, hashes.value());
          if (etag.ok()) {
            etags[static_cast<size_t>(i)] = etag.value();
          } else {
            s = etag.status();
          }
        }
        if (!s.ok()) {
          std::lock_guard lock(error_mutex);
          if (first_error.ok()) first_error = s;
          return;
        }
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < std::min(o.parts_in_flight, parts); ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    Status s = first_error.ok() ? CompleteMultipart(key, upload_id, etags) : first_error;
    if (!s.ok()) AbortMultipart(key, upload_id);
    return s;
  }

  // `output`: a processed output (public with public_read).
  Status PutFromFile(const std::string& key, const std::string& local_path,
                     const std::string& content_type, bool output) {
    struct stat st {};
    if (::stat(local_path.c_str(), &st) != 0) {
      return Status(ErrorCode::kInputReadFailed, "Cannot read " + local_path + ".");
    }
    if (st.st_size >= o.multipart_threshold) {
      return PutMultipart(key, local_path, st.st_size, content_type, output);
    }
    ASSIGN_OR_RETURN(FileHashes hashes, HashFileRange(local_path, 0, st.st_size));
    HttpRequest body;
    body.body_file = local_path;
    body.body_length = st.st_size;
    return PutSingle(key, body, hashes, content_type, output);
  }
};

// Buffers up to one part in memory; full parts go up as a multipart upload, a small blob as one
// PUT at Commit(). An uncommitted writer aborts its multipart upload.
class S3BlobWriter : public BlobWriter {
 public:
  S3BlobWriter(S3Store::Impl* s3, std::string key, std::string content_type)
      : s3_(s3), key_(std::move(key)), content_type_(std::move(content_type)) {}
  ~S3BlobWriter() override {
    if (!done_ && !upload_id_.empty()) s3_->AbortMultipart(key_, upload_id_);
  }

  Status Append(const char* data, size_t size) override {
    if (done_) return Status(ErrorCode::kInternal, "Append after Commit.");
    while (size > 0) {
      size_t room = static_cast<size_t>(s3_->o.part_size) - buffer_.size();
      size_t n = std::min(room, size);
      buffer_.append(data, n);
      data += n;
      size -= n;
      written_ += static_cast<int64_t>(n);
      if (buffer_.size() == static_cast<size_t>(s3_->o.part_size)) RETURN_IF_ERROR(FlushPart());
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (done_) return Status(ErrorCode::kInternal, "Commit twice.");
    if (upload_id_.empty()) {
      done_ = true;
      HttpRequest body;
      body.body = buffer_;
      return s3_->PutSingle(key_, body, Hashes(buffer_), content_type_, IsProcessedOutputKey(key_));
    }
    if (!buffer_.empty()) RETURN_IF_ERROR(FlushPart());
    Status s = s3_->CompleteMultipart(key_, upload_id_, etags_);
    if (!s.ok()) s3_->AbortMultipart(key_, upload_id_);
    done_ = true;
    return s;
  }

  int64_t bytes_written() const override { return written_; }

 private:
  static FileHashes Hashes(const std::string& data) {
    return {sigv4::Sha256Hex(data), sigv4::Base64(sigv4::Md5(data))};
  }
  Status FlushPart() {
    if (upload_id_.empty()) {
      ASSIGN_OR_RETURN(upload_id_,
                       s3_->StartMultipart(key_, content_type_, IsProcessedOutputKey(key_)));
    }
    HttpRequest body;
    body.body = buffer_;
    ASSIGN_OR_RETURN(
        std::string etag,
        s3_->PutPart(key_, upload_id_, static_cast<int>(etags_.size()) + 1, body, Hashes(buffer_)));
    etags_.push_back(etag);
    buffer_.clear();
    return Status::Ok();
  }

  S3Store::Impl* s3_;
  std::string key_;
  std::string content_type_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> etags_;
  int64_t written_ = 0;
  bool done_ = false;
};

S3Store::S3Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3Store::~S3Store() = default;

namespace {

// The endpoint split as requests address it.
struct Addressing {
  std::string scheme;  // "https"
  std::string host;    // "nyc3.digitaloceanspaces.com[:port]"
  bool virtual_host = false;
};

Result<Addressing> AddressingOf(const S3Options& options) {
  Addressing a;
  auto sep = options.endpoint.find("://");
  if (sep == std::string::npos) {
    return Status(ErrorCode::kInvalidConfig,
                  "SPACES_ENDPOINT_URL='" + options.endpoint + "' needs a scheme (https://...).");
  }
  a.scheme = options.endpoint.substr(0, sep);
  if (a.scheme != "https" && a.scheme != "http") {
    return Status(ErrorCode::kInvalidConfig, "SPACES_ENDPOINT_URL must be http:// or https://.");
  }
  a.host = options.endpoint.substr(sep + 3);
  while (!a.host.empty() && a.host.back() == '/') a.host.pop_back();
  if (a.host.empty() || a.host.find('/') != std::string::npos) {
    return Status(ErrorCode::kInvalidConfig,
                  "SPACES_ENDPOINT_URL must be the service endpoint without a bucket or path.");
  }
  if (options.bucket.empty())
    return Status(ErrorCode::kInvalidConfig, "SPACES_BUCKET_NAME is empty.");
  if (options.addressing == "virtual") {
    a.virtual_host = true;
  } else if (options.addressing == "auto") {
    std::string h = a.host.substr(0, a.host.find(':'));
    a.virtual_host = h.find("digitaloceanspaces.com") != std::string::npos ||
                     h.find("amazonaws.com") != std::string::npos;
  } else if (options.addressing != "path") {
    return Status(ErrorCode::kInvalidConfig, "SPACES_ADDRESSING must be auto, path or virtual.");
  }
  return a;
}

}  // namespace

Result<std::string> PublicBucketUrl(const S3Options& options) {
  ASSIGN_OR_RETURN(Addressing a, AddressingOf(options));
  // Credentials an endpoint URL may carry are never part of a link handed to clients.
  const std::string host = a.host.substr(a.host.rfind('@') + 1);
  const std::string bucket = sigv4::UriEncode(options.bucket, true);
  return a.virtual_host ? a.scheme + "://" + bucket + "." + host
                        : a.scheme + "://" + host + "/" + bucket;
}

std::string PublicObjectUrl(std::string_view base, const std::string& key) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return std::string(base) + "/" + sigv4::UriEncode(key, false);
}

Result<std::unique_ptr<S3Store>> S3Store::Create(const S3Options& options, const Clock* clock) {
  ASSIGN_OR_RETURN(Addressing a, AddressingOf(options));
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  impl->clock = clock;
  impl->scheme = a.scheme;
  impl->host = a.host;
  impl->virtual_host = a.virtual_host;
  if (options.part_size < (int64_t{5} << 20)) {
    return Status(ErrorCode::kInvalidConfig, "The multipart part size must be at least 5 MiB.");
  }
  return std::unique_ptr<S3Store>(new S3Store(std::move(impl)));
}

std::string S3Store::Describe() const {
  // Shown in logs and `vidproc config`: never credentials an endpoint URL may carry.
  const std::string& host = impl_->host;
  return "s3:" + impl_->o.bucket + "@" + host.substr(host.rfind('@') + 1);
}

Status S3Store::CheckBucket() {
  ASSIGN_OR_RETURN(HttpResponse r, impl_->Send("HEAD", "", {}, {}, sigv4::Sha256Hex(""), {}));
  if (r.status == 200) return Status::Ok();
  return impl_->ErrorFrom(r, "HEAD bucket " + impl_->o.bucket);
}

Status S3Store::CreateBucket() {
  ASSIGN_OR_RETURN(HttpResponse r, impl_->Send("PUT", "", {}, {}, sigv4::Sha256Hex(""), {}));
  if (r.status == 200 || XmlValue(r.body, "Code") == "BucketAlreadyOwnedByYou") return Status::Ok();
  return impl_->ErrorFrom(r, "creating bucket " + impl_->o.bucket);
}

Result<std::unique_ptr<BlobWriter>> S3Store::OpenWriter(const std::string& key,
                                                        const std::string& content_type) {
  if (!IsWritableKey(key)) return Status(ErrorCode::kInvalidArgument, "Bad key '" + key + "'.");
  return std::unique_ptr<BlobWriter>(new S3BlobWriter(impl_.get(), key, content_type));
}

Status S3Store::PutFile(const std::string& key, const std::string& local_path,
                        const std::string& content_type) {
  if (!IsWritableKey(key)) return Status(ErrorCode::kInvalidArgument, "Bad key '" + key + "'.");
  return impl_->PutFromFile(key, local_path, content_type, IsProcessedOutputKey(key));
}

Status S3Store::PutOutputFile(const std::string& key, const std::string& local_path,
                              const std::string& content_type) {
  if (!IsWritableKey(key)) return Status(ErrorCode::kInvalidArgument, "Bad key '" + key + "'.");
  return impl_->PutFromFile(key, local_path, content_type, /*output=*/true);
}

Status S3Store::GetFile(const std::string& key, const std::string& local_path) {
  HttpRequest body;
  body.response_file = local_path + ".partial";
  auto r = impl_->Send("GET", key, {}, {}, sigv4::Sha256Hex(""), body);
  if (r.ok() && r->status == 200 &&
      std::rename(body.response_file.c_str(), local_path.c_str()) == 0) {
    return Status::Ok();
  }
  std::remove(body.response_file.c_str());
  if (!r.ok()) return r.status();
  if (r->status == 200) return Status(ErrorCode::kStorageFull, "Cannot write " + local_path + ".");
  return impl_->ErrorFrom(r.value(), "GET " + key);
}

Result<std::string> S3Store::ReadRange(const std::string& key, int64_t offset, int64_t length) {
  if (length <= 0) return std::string();
  std::string range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
  ASSIGN_OR_RETURN(HttpResponse r,
                   impl_->Send("GET", key, {}, {{"range", range}}, sigv4::Sha256Hex(""), {}));
  if (r.status == 206) return r.body;
  if (r.status == 416) return std::string();
  if (r.status == 200) {  // the server ignored the range
    return offset < static_cast<int64_t>(r.body.size()) ? r.body.substr(offset, length) : "";
  }
  return impl_->ErrorFrom(r, "GET " + key + " " + range);
}

Result<std::optional<BlobInfo>> S3Store::Stat(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r, impl_->Send("HEAD", key, {}, {}, sigv4::Sha256Hex(""), {}));
  if (r.status == 404) return std::optional<BlobInfo>();
  if (r.status != 200) return impl_->ErrorFrom(r, "HEAD " + key);
  BlobInfo info;
  if (r.headers.count("content-length")) info.size_bytes = std::stoll(r.headers["content-length"]);
  if (r.headers.count("content-type")) info.content_type = r.headers["content-type"];
  return std::optional<BlobInfo>(info);
}

Status S3Store::Delete(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r, impl_->Send("DELETE", key, {}, {}, sigv4::Sha256Hex(""), {}));
  if (r.status == 204 || r.status == 200 || r.status == 404) return Status::Ok();
  return impl_->ErrorFrom(r, "DELETE " + key);
}

Result<std::vector<std::string>> S3Store::List(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  for (;;) {
    Query q = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(HttpResponse r, impl_->Send("GET", "", q, {}, sigv4::Sha256Hex(""), {}));
    if (r.status != 200) return impl_->ErrorFrom(r, "listing " + prefix);
    for (auto& k : XmlValues(r.body, "Key")) keys.push_back(std::move(k));
    if (XmlValue(r.body, "IsTruncated") != "true") break;
    token = XmlValue(r.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

Result<std::vector<std::string>> S3Store::ListMultipartUploads(const std::string& prefix) {
  ASSIGN_OR_RETURN(HttpResponse r, impl_->Send("GET", "", {{"uploads", ""}, {"prefix", prefix}}, {},
                                               sigv4::Sha256Hex(""), {}));
  if (r.status != 200) return impl_->ErrorFrom(r, "listing multipart uploads");
  return XmlValues(r.body, "UploadId");
}

Result<ServeLocation> S3Store::Locate(const std::string& key, int expiry_s) {
  // A URL to nothing would give the client S3's own 404 page: say so here instead.
  ASSIGN_OR_RETURN(std::optional<BlobInfo> info, Stat(key));
  if (!info) return Status(ErrorCode::kNotFound, "No blob at " + key + ".");
  std::string host_header, path;
  impl_->Target(key, &host_header, &path);
  sigv4::Request r{"GET", path, {}, {{"host", host_header}}, ""};
  std::string query =
      sigv4::PresignQuery(r, {impl_->o.access_key, impl_->o.secret_key}, {impl_->RegionOf(), "s3"},
                          sigv4::AmzDate(impl_->clock->NowMs() / 1000), expiry_s);
  return ServeLocation{
      "", impl_->scheme + "://" + host_header + sigv4::UriEncode(path, false) + "?" + query};
}

}  // namespace vidproc::storage
