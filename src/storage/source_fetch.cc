#include "storage/source_fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "core/units.h"
#include "core/version.h"
#include "storage/curl_handles.h"

namespace vidproc::storage {
namespace {

constexpr size_t kMaxUrlLength = 4096;

struct V4Range {
  uint32_t network;
  int prefix;
};

// Everything in IPv4 that is not global unicast (IANA special-purpose registry).
constexpr std::array<V4Range, 15> kNotPublicV4 = {{
    {0x00000000, 8},   // "this network", 0.0.0.0
    {0x0A000000, 8},   // 10/8 private
    {0x64400000, 10},  // 100.64/10 shared (CGNAT)
    {0x7F000000, 8},   // loopback
    {0xA9FE0000, 16},  // 169.254/16 link-local: cloud metadata services
    {0xAC100000, 12},  // 172.16/12 private
    {0xC0000000, 24},  // 192.0.0/24 protocol assignments
    {0xC0000200, 24},  // 192.0.2/24 documentation
    {0xC0586300, 24},  // 192.88.99/24 6to4 relays
    {0xC0A80000, 16},  // 192.168/16 private
    {0xC6120000, 15},  // 198.18/15 benchmarking
    {0xC6336400, 24},  // 198.51.100/24 documentation
    {0xCB007100, 24},  // 203.0.113/24 documentation
    {0xE0000000, 4},   // multicast
    {0xF0000000, 4},   // reserved, and 255.255.255.255
}};

bool IsPublicV4(uint32_t host_order) {
  return std::none_of(kNotPublicV4.begin(), kNotPublicV4.end(), [&](const V4Range& r) {
    const uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
    return (host_order & mask) == r.network;
  });
}

uint32_t V4At(const uint8_t* b) {
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | uint32_t{b[3]};
}

bool IsPublicV6(const uint8_t* b) {
  static constexpr uint8_t kZero[12] = {};
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  // Forms that carry an IPv4 address are judged by it (::/96 covers :: and ::1 too).
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kZero, 12) == 0 ||
      std::memcmp(b, kNat64, 12) == 0) {
    return IsPublicV4(V4At(b + 12));
  }
  if (b[0] == 0x20 && b[1] == 0x02) return IsPublicV4(V4At(b + 2));  // 6to4
  if ((b[0] & 0xE0) != 0x20) return false;  // outside 2000::/3, the global unicast space
  if (b[0] == 0x20 && b[1] == 0x01) {
    // 2001::/23, IETF protocol assignments: Teredo (2001::/32, an IPv4 address in disguise),
    // ORCHID, benchmarking; the few global services in it are not where videos live.
    if ((b[2] & 0xFE) == 0x00) return false;
    if (b[2] == 0x0d && b[3] == 0xb8) return false;  // 2001:db8::/32 documentation
  }
  if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xF0) == 0x00) return false;  // 3fff::/20 doc
  return true;
}

std::string AddressText(const sockaddr* a) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (a->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, text, sizeof text);
  } else if (a->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, text, sizeof text);
  }
  return text;
}

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

std::optional<std::string> UrlPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, 0) != CURLUE_OK || value == nullptr) return std::nullopt;
  std::string out(value);
  curl_free(value);
  return out;
}

// The parsed URL, or why it is refused.
Result<UrlPtr> ParseSourceUrl(const std::string& text, CURLU* base = nullptr) {
  if (text.size() > kMaxUrlLength) {
    return Status(ErrorCode::kSourceRefused, "The source URL is longer than 4096 characters.");
  }
  UrlPtr url(base ? curl_url_dup(base) : curl_url());
  if (!url) return Status(ErrorCode::kInternal, "Out of memory.");
  if (curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return Status(ErrorCode::kSourceRefused, "The source URL is not a valid absolute URL.");
  }
  const std::string scheme = AsciiLower(UrlPart(url.get(), CURLUPART_SCHEME).value_or(""));
  if (scheme != "http" && scheme != "https") {
    return Status(ErrorCode::kSourceRefused,
                  "Only http and https source URLs are fetched (not '" + scheme + "').");
  }
  if (UrlPart(url.get(), CURLUPART_USER) || UrlPart(url.get(), CURLUPART_PASSWORD)) {
    return Status(ErrorCode::kSourceRefused,
                  "The source URL carries a user name or password; use a signed URL instead.");
  }
  // curl reads "http:///x" as the host "x"; a URL that names no host is refused as written.
  const size_t authority = text.find("://");
  if (UrlPart(url.get(), CURLUPART_HOST).value_or("").empty() ||
      (authority != std::string::npos && text.compare(authority + 3, 1, "/") == 0)) {
    return Status(ErrorCode::kSourceRefused, "The source URL names no host.");
  }
  return url;
}

bool HostAllowed(std::string host, const std::vector<std::string>& allowed) {
  host = AsciiLower(host);
  auto bare = [](std::string h) {
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    return AsciiLower(h);
  };
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return bare(a) == bare(host); });
}

// One hop's state, shared with curl's callbacks.
struct Hop {
  bool host_allowed = false;
  std::string refused_address;  // set when the open-socket callback refused one
  FILE* out = nullptr;
  int64_t max_bytes = 0;
  int64_t received = 0;
  bool too_large = false;
  bool write_failed = false;
  long status = 0;  // NOLINT(google-runtime-int): curl's type
  std::string location;
  std::string content_type;
  const std::atomic<bool>* cancel = nullptr;
  CURL* curl = nullptr;
};

curl_socket_t OpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* hop = static_cast<Hop*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  if (!hop->host_allowed && !IsPublicAddress(&address->addr)) {
    hop->refused_address = AddressText(&address->addr);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* hop = static_cast<Hop*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {  // a new response (after a 100 Continue, say)
    hop->location.clear();
    hop->content_type.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  const std::string name = AsciiLower(line.substr(0, colon));
  std::string value(line.substr(colon + 1));
  value.erase(0, value.find_first_not_of(" \t"));
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.pop_back();
  }
  if (name == "location") hop->location = value;
  if (name == "content-type") hop->content_type = value;
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* hop = static_cast<Hop*>(user);
  const size_t n = size * count;
  curl_easy_getinfo(hop->curl, CURLINFO_RESPONSE_CODE, &hop->status);
  if (hop->status != 200) return n;  // a redirect's or an error's body is not the video
  hop->received += static_cast<int64_t>(n);
  if (hop->max_bytes > 0 && hop->received > hop->max_bytes) {
    hop->too_large = true;
    return 0;
  }
  if (std::fwrite(data, 1, n, hop->out) != n) {
    hop->write_failed = true;
    return 0;
  }
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* hop = static_cast<Hop*>(user);
  return hop->cancel && hop->cancel->load() ? 1 : 0;
}

bool IsRedirect(long status) {  // NOLINT(google-runtime-int): curl's type
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

bool IsPublicAddress(const sockaddr* address) {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET) {
    return IsPublicV4(ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    return IsPublicV6(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr.s6_addr);
  }
  return false;
}

Status CheckSourceUrl(const std::string& url) {
  EnsureCurlGlobal();
  auto parsed = ParseSourceUrl(url);
  return parsed.ok() ? Status::Ok() : parsed.status();
}

Result<FetchedSource> FetchSource(const std::string& url_text, const std::string& path,
                                  const SourcePolicy& policy) {
  EnsureCurlGlobal();
  ASSIGN_OR_RETURN(UrlPtr url, ParseSourceUrl(url_text));
  FilePtr out(std::fopen(path.c_str(), "wb"));
  if (!out) return Status(ErrorCode::kOutputWriteFailed, "Cannot write the imported original.");
  EasyPtr curl(curl_easy_init());
  if (!curl) return Status(ErrorCode::kInternal, "Cannot start an HTTP transfer.");

  FetchedSource fetched;
  for (int hop_number = 0;; ++hop_number) {
    const std::string current = UrlPart(url.get(), CURLUPART_URL).value_or("");
    const std::string host = UrlPart(url.get(), CURLUPART_HOST).value_or("");
    Hop hop;
    hop.host_allowed = HostAllowed(host, policy.allowed_hosts);
    hop.out = out.get();
    hop.max_bytes = policy.max_bytes;
    hop.cancel = policy.cancel;
    hop.curl = curl.get();
    if (std::fseek(out.get(), 0, SEEK_SET) != 0 || ftruncate(fileno(out.get()), 0) != 0) {
      return Status(ErrorCode::kOutputWriteFailed, "Cannot write the imported original.");
    }

    CURL* c = curl.get();
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, current.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // followed here, each hop checked
    curl_easy_setopt(c, CURLOPT_PROXY, "");           // no proxy from the environment
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, ("vidproc/" + std::string(kVersion)).c_str());
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &hop);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hop);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &hop);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &hop);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(policy.connect_timeout_ms));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(policy.timeout_ms));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(policy.min_bytes_per_s));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    if (policy.max_bytes > 0) {
      curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(policy.max_bytes));
    }
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &hop.status);

    if (!hop.refused_address.empty()) {
      return Status(ErrorCode::kSourceRefused,
                    "The source URL's host " + host + " is at " + hop.refused_address +
                        ", which is not a public address; an operator can allow the host with "
                        "VIDPROC_IMPORT_ALLOWED_HOSTS.");
    }
    if (hop.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      return Status(ErrorCode::kTooLargeFile, "The source is larger than the upload limit of " +
                                                  std::to_string(policy.max_bytes) + " bytes.");
    }
    if (hop.write_failed) {
      return Status(ErrorCode::kOutputWriteFailed, "Cannot write the imported original.");
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
      return Status(ErrorCode::kCancelled, "The import was stopped.");
    }
    if (rc != CURLE_OK) {
      return Status(ErrorCode::kSourceUnavailable, "The source could not be fetched from " + host +
                                                       ": " + curl_easy_strerror(rc) + ".");
    }
    if (IsRedirect(hop.status)) {
      if (hop.location.empty()) {
        return Status(ErrorCode::kSourceFailed,
                      "The source answered a redirect without a Location.");
      }
      if (hop_number >= policy.max_redirects) {
        return Status(ErrorCode::kSourceRefused, "The source URL redirects more than " +
                                                     std::to_string(policy.max_redirects) +
                                                     " times.");
      }
      ASSIGN_OR_RETURN(url, ParseSourceUrl(hop.location, url.get()));
      fetched.redirects++;
      continue;
    }
    if (hop.status == 408 || hop.status == 429 || hop.status >= 500) {
      return Status(ErrorCode::kSourceUnavailable,
                    "The source answered HTTP " + std::to_string(hop.status) + "; try later.");
    }
    if (hop.status != 200) {
      return Status(ErrorCode::kSourceFailed,
                    "The source answered HTTP " + std::to_string(hop.status) + ".");
    }
    if (std::fflush(out.get()) != 0) {
      return Status(ErrorCode::kOutputWriteFailed, "Cannot write the imported original.");
    }
    fetched.bytes = hop.received;
    fetched.content_type = hop.content_type;
    return fetched;
  }
}

}  // namespace vidproc::storage
