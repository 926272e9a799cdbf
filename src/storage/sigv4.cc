#include "storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/units.h"

namespace vidproc::storage::sigv4 {
namespace {

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";

// Trims and collapses runs of spaces, as the canonical header value requires.
std::string CanonicalValue(const std::string& v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [k, v] : query) encoded.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string SigningKey(const Credentials& c, const Scope& scope, const std::string& date) {
  std::string k = HmacSha256("AWS4" + c.secret_key, date);
  k = HmacSha256(k, scope.region);
  k = HmacSha256(k, scope.service);
  return HmacSha256(k, "aws4_request");
}

std::string CredentialScope(const Scope& scope, const std::string& amz_date) {
  return amz_date.substr(0, 8) + "/" + scope.region + "/" + scope.service + "/aws4_request";
}

}  // namespace

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) { return Hex(Digest(EVP_sha256(), data)); }

std::string Md5(std::string_view data) { return Digest(EVP_md5(), data); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string UriEncode(std::string_view s, bool encode_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string AmzDate(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string CanonicalRequest(const Request& r, std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [k, v] : r.headers) headers.emplace_back(AsciiLower(k), CanonicalValue(v));
  std::sort(headers.begin(), headers.end());
  std::string canonical_headers;
  signed_headers->clear();
  for (size_t i = 0; i < headers.size(); ++i) {
    // Repeated headers are joined with commas under one name.
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();
      canonical_headers += "," + headers[i].second + "\n";
      continue;
    }
    canonical_headers += headers[i].first + ":" + headers[i].second + "\n";
    if (!signed_headers->empty()) *signed_headers += ';';
    *signed_headers += headers[i].first;
  }
  std::string path = r.path.empty() ? "/" : UriEncode(r.path, /*encode_slash=*/false);
  return r.method + "\n" + path + "\n" + CanonicalQuery(r.query) + "\n" + canonical_headers + "\n" +
         *signed_headers + "\n" + r.payload_sha256;
}

std::string StringToSign(const std::string& canonical_request, const Scope& scope,
                         const std::string& amz_date) {
  return std::string(kAlgorithm) + "\n" + amz_date + "\n" + CredentialScope(scope, amz_date) +
         "\n" + Sha256Hex(canonical_request);
}

std::string Authorization(const Request& request, const Credentials& credentials,
                          const Scope& scope, const std::string& amz_date) {
  std::string signed_headers;
  std::string canonical = CanonicalRequest(request, &signed_headers);
  std::string signature = Hex(HmacSha256(SigningKey(credentials, scope, amz_date.substr(0, 8)),
                                         StringToSign(canonical, scope, amz_date)));
  return std::string(kAlgorithm) + " Credential=" + credentials.access_key + "/" +
         CredentialScope(scope, amz_date) + ", SignedHeaders=" + signed_headers +
         ", Signature=" + signature;
}

std::string PresignQuery(Request request, const Credentials& credentials, const Scope& scope,
                         const std::string& amz_date, int64_t expires_seconds) {
  request.payload_sha256 = "UNSIGNED-PAYLOAD";
  std::string signed_headers;
  {
    std::vector<std::pair<std::string, std::string>> host_only;
    for (const auto& h : request.headers) {
      if (AsciiLower(h.first) == "host") host_only.push_back(h);
    }
    request.headers = host_only;
  }
  request.query.emplace_back("X-Amz-Algorithm", kAlgorithm);
  request.query.emplace_back("X-Amz-Credential",
                             credentials.access_key + "/" + CredentialScope(scope, amz_date));
  request.query.emplace_back("X-Amz-Date", amz_date);
  request.query.emplace_back("X-Amz-Expires", std::to_string(expires_seconds));
  request.query.emplace_back("X-Amz-SignedHeaders", "host");
  std::string canonical = CanonicalRequest(request, &signed_headers);
  std::string signature = Hex(HmacSha256(SigningKey(credentials, scope, amz_date.substr(0, 8)),
                                         StringToSign(canonical, scope, amz_date)));
  return CanonicalQuery(request.query) + "&X-Amz-Signature=" + signature;
}

StreamingDigest::StreamingDigest(Algorithm algorithm) : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_),
                    algorithm == Algorithm::kSha256 ? EVP_sha256() : EVP_md5(), nullptr);
}

StreamingDigest::~StreamingDigest() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void StreamingDigest::Update(const void* data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string StreamingDigest::Digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace vidproc::storage::sigv4
