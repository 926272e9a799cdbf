// Direct uploads: the platform's backend (with the API token) asks for an upload URL, and hands it
// to a browser, which uploads the file itself without the token. The URL is a capability
// ("/api/v1/direct-uploads/{video id}/{secret}"): its random secret is the credential, of which
// the database keeps only the SHA-256 (a leaked database opens no upload), compared in constant
// time. It admits one upload, of at most its max_bytes, before it expires: a whole-file PUT, or a
// tus creation whose upload the same URL then continues (HEAD, PATCH). Browsers on other origins
// may use it when CORS allows their origin (VIDPROC_CORS_ORIGINS, or the upload's own
// cors_origin). The pure parts are here; the handlers are in direct_upload_handlers.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/errors.h"
#include "http/platform_ids.h"
#include "http/server.h"

namespace vidproc::http {

inline constexpr std::string_view kDirectUploadsPath = "/api/v1/direct-uploads/";

// A new URL secret: 264 random bits in URL-safe characters.
std::string NewUploadSecret();
// What the database keeps of a secret: its SHA-256, in hex.
std::string HashUploadSecret(std::string_view secret);
// Whether `secret` hashes to `stored_hash`, in time that does not depend on where they differ.
bool SecretMatches(std::string_view secret, std::string_view stored_hash);
// The secret of a direct upload URL's path: its last segment ("" when there is none).
std::string_view SecretOfPath(std::string_view path);

// POST /api/v1/direct-uploads's body, checked.
struct DirectUploadRequest {
  PlatformIds ids;
  int64_t max_bytes = 0;    // capped by the server's upload size cap
  std::string cors_origin;  // ParseOrigin's form; empty: none
};
// `body` is empty (every default) or a JSON object with the optional members external_id,
// metadata (as every upload path checks them), max_bytes (a positive integer; larger than
// `server_max` is `server_max`) and cors_origin (an origin, or null); anything else is a 400.
std::variant<DirectUploadRequest, HttpError> ParseDirectUploadRequest(std::string_view body,
                                                                      int64_t server_max);

// Whether a page of `origin` (the request's Origin) may read the answers of a direct upload
// URL: it is in `allowed` (VIDPROC_CORS_ORIGINS, each ParseOrigin's form, or "*" for any), or it
// is the upload's own `upload_origin`.
bool CorsAllows(std::string_view origin, const std::vector<std::string>& allowed,
                std::string_view upload_origin);
// The CORS headers of an answer to an allowed `origin`: the origin, Vary, and the headers a tus
// client reads (Location, Upload-Offset, ...) exposed; a `preflight` also lists the methods and
// request headers allowed.
HeaderList CorsHeaders(std::string_view origin, bool preflight);

}  // namespace vidproc::http
