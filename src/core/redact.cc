#include "core/redact.h"

#include <algorithm>
#include <cctype>

namespace vidproc {
namespace {

constexpr std::string_view kMask = "****";

// Where a URL written in running text ends.
bool EndsUrl(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' ||
         c == '>' || c == '`';
}

bool EndsAuthority(char c) { return c == '/' || c == '?' || c == '#' || EndsUrl(c); }

bool IsSecretParameter(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"pass", "pwd", "secret", "token", "key", "sig", "credential"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

// Masks the values of secret-named parameters in text[begin, end) (the part after '?').
void MaskQuery(std::string_view text, size_t begin, size_t end, std::string* out) {
  size_t pos = begin;
  while (pos < end) {
    size_t amp = std::min(text.find('&', pos), end);
    std::string_view param = text.substr(pos, amp - pos);
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && IsSecretParameter(std::string(param.substr(0, eq)))) {
      out->append(param.substr(0, eq + 1));
      out->append(kMask);
    } else {
      out->append(param);
    }
    if (amp < end) out->push_back('&');
    pos = amp + 1;
  }
}

}  // namespace

std::string MaskSecret(std::string_view secret) {
  return secret.empty() ? std::string() : std::string(kMask);
}

std::string MaskUrlCredentials(std::string_view text) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t scheme = text.find("://", pos);
    if (scheme == std::string_view::npos) break;
    size_t authority = scheme + 3;
    out.append(text.substr(pos, authority - pos));
    size_t authority_end = authority;
    while (authority_end < text.size() && !EndsAuthority(text[authority_end])) ++authority_end;
    std::string_view host = text.substr(authority, authority_end - authority);
    if (size_t at = host.rfind('@'); at != std::string_view::npos) {
      out.append(kMask);
      out.append(host.substr(at));
    } else {
      out.append(host);
    }
    size_t url_end = authority_end;
    while (url_end < text.size() && !EndsUrl(text[url_end])) ++url_end;
    size_t query = text.find('?', authority_end);
    if (query != std::string_view::npos && query < url_end) {
      out.append(text.substr(authority_end, query + 1 - authority_end));
      MaskQuery(text, query + 1, url_end, &out);
    } else {
      out.append(text.substr(authority_end, url_end - authority_end));
    }
    pos = url_end;
  }
  out.append(text.substr(pos));
  return out;
}

namespace {

struct UrlParts {
  std::string_view scheme;  // with "://"
  std::string_view host;
  std::string_view path;
  bool has_query = false;
};

UrlParts SplitUrl(std::string_view url) {
  UrlParts parts;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return parts;
  parts.scheme = url.substr(0, scheme_end + 3);
  std::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  parts.host = authority;
  rest.remove_prefix(authority_end);
  const size_t query = std::min(rest.find_first_of("?#"), rest.size());
  parts.path = rest.substr(0, query);
  parts.has_query = query < rest.size();
  return parts;
}

}  // namespace

std::string UrlHost(std::string_view url) { return std::string(SplitUrl(url).host); }

std::string RedactedUrl(std::string_view url) {
  const UrlParts parts = SplitUrl(url);
  if (parts.scheme.empty()) return url.empty() ? "" : std::string(kMask);
  std::string out(parts.scheme);
  out.append(parts.host).append(parts.path);
  if (parts.has_query) out.append("?").append(kMask);
  return out;
}

}  // namespace vidproc
