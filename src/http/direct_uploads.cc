#include "http/direct_uploads.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "core/ids.h"
#include "core/text.h"
#include "storage/sigv4.h"

namespace vidproc::http {
namespace {

HttpError BadRequest(std::string message) {
  return HttpError{400, "invalid_argument", std::move(message)};
}

}  // namespace

std::string NewUploadSecret() { return NewId() + NewId(); }

std::string HashUploadSecret(std::string_view secret) { return storage::sigv4::Sha256Hex(secret); }

bool SecretMatches(std::string_view secret, std::string_view stored_hash) {
  // Hashes have one length whatever the secret's: the comparison leaks neither.
  const std::string given = HashUploadSecret(secret);
  return given.size() == stored_hash.size() &&
         CRYPTO_memcmp(given.data(), stored_hash.data(), given.size()) == 0;
}

std::string_view SecretOfPath(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
}

std::variant<DirectUploadRequest, HttpError> ParseDirectUploadRequest(std::string_view body,
                                                                      int64_t server_max) {
  DirectUploadRequest request;
  request.max_bytes = server_max;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return request;
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return BadRequest("The body must be a JSON object (or empty).");
  }
  for (const auto& [key, value] : json.items()) {
    if (key != "external_id" && key != "metadata" && key != "max_bytes" && key != "cors_origin") {
      return BadRequest("Unknown member '" + SanitizeText(key, 64) +
                        "': the body may have external_id, metadata, max_bytes and cors_origin.");
    }
  }
  const nlohmann::json null;
  PlatformIdsCheck ids =
      CheckPlatformIdsJson(json.value("external_id", null), json.value("metadata", null));
  if (!ids.ok()) return *ids.refusal;
  request.ids = std::move(ids.ids);
  if (const auto max = json.value("max_bytes", null); !max.is_null()) {
    if (!max.is_number_integer() || max.get<int64_t>() < 1) {
      return BadRequest("max_bytes must be a positive whole number of bytes.");
    }
    request.max_bytes = std::min(max.get<int64_t>(), server_max);
  }
  if (const auto origin = json.value("cors_origin", null); !origin.is_null()) {
    std::optional<std::string> parsed =
        origin.is_string() ? ParseOrigin(origin.get<std::string>()) : std::nullopt;
    if (!parsed) {
      return BadRequest(
          "cors_origin must be the origin of the page that uploads, as "
          "'https://app.example.com' (a scheme, a host and an optional port, no path).");
    }
    request.cors_origin = *parsed;
  }
  return request;
}

bool CorsAllows(std::string_view origin, const std::vector<std::string>& allowed,
                std::string_view upload_origin) {
  std::optional<std::string> parsed = ParseOrigin(origin);
  if (!parsed) return false;  // "null" (a sandboxed page, a file://) and anything malformed
  if (!upload_origin.empty() && *parsed == upload_origin) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return a == "*" || a == *parsed; });
}

HeaderList CorsHeaders(std::string_view origin, bool preflight) {
  HeaderList headers = {
      {"Access-Control-Allow-Origin", std::string(origin)},
      {"Access-Control-Expose-Headers",
       "Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, Tus-Resumable, "
       "Tus-Version, Tus-Max-Size, Tus-Extension, X-Request-Id, Retry-After"},
  };
  if (preflight) {
    headers.push_back({"Access-Control-Allow-Methods", "POST, HEAD, PATCH, PUT, OPTIONS"});
    headers.push_back({"Access-Control-Allow-Headers",
                       "Content-Type, Tus-Resumable, Upload-Length, Upload-Offset, "
                       "Upload-Metadata, Upload-Defer-Length, Upload-Concat, X-Filename, "
                       "X-Requested-With, X-HTTP-Method-Override"});
    headers.push_back({"Access-Control-Max-Age", "600"});
  }
  return headers;
}

}  // namespace vidproc::http
