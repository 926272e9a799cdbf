// An import: POST /api/v1/videos with a JSON body that names where the original already is
// instead of sending it, processed like an upload (docs/API.md, "Importing from where the file
// already is"):
//   {"source_key": "media/trip.mov"}        an object in the configured bucket (USE_SPACES)
//   {"source_url": "https://..."}           fetched by a worker (storage/source_fetch.h)
// with "replace_source" (a source_key's object becomes the processed MP4, its thumbnail beside
// it), "filename", "external_id" and "metadata" (platform_ids.h). Checked here, before anything
// is recorded; every refusal is a 400 with one of the codes below.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/errors.h"
#include "http/platform_ids.h"

namespace vidproc::http {

// The most a JSON request body may hold (a URL of 4096 characters, 4 KiB of metadata, a key).
inline constexpr size_t kMaxImportBodyBytes = 32 * 1024;

inline constexpr std::string_view kInvalidImport = "invalid_import";
inline constexpr std::string_view kInvalidSourceKey = "invalid_source_key";
inline constexpr std::string_view kSourceKeyUnsupported = "source_key_unsupported";
inline constexpr std::string_view kReplaceSourceNeedsKey = "replace_source_needs_key";

struct ImportRequest {
  std::string source_key;  // exactly one of the two is set
  std::string source_url;
  bool replace_source = false;
  // The video's label: "filename" if given, else the key's or the URL path's last segment
  // (cleaned like an upload's file name).
  std::string filename;
  PlatformIds ids;
};

struct ImportRequestCheck {
  ImportRequest request;
  std::optional<HttpError> refusal;
  bool ok() const { return !refusal.has_value(); }
};

// `source_keys`: the storage is a bucket the platform shares; without it a source_key is
// refused (source_key_unsupported). Refusals:
//   invalid_import            not a JSON object, an unknown member, a member of the wrong type,
//                             or not exactly one of source_key and source_url
//   invalid_source_key        storage::CheckSourceKey's rules
//   source_refused            storage::CheckSourceUrl's rules (the form only: the addresses are
//                             checked by the worker, at each connection)
//   source_key_unsupported    a source_key with local storage
//   replace_source_needs_key  replace_source without a source_key
//   invalid_external_id, invalid_metadata, metadata_too_large   (platform_ids.h)
ImportRequestCheck ParseImportRequest(std::string_view body, bool source_keys);

}  // namespace vidproc::http
