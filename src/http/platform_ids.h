// The uploading platform's own id and data for a video (`external_id`, `metadata`), checked in
// one place for every way they arrive: multipart form fields, tus Upload-Metadata keys, query
// parameters of a raw-body upload, and a JSON request body. What passes is stored and served back
// exactly as given, so the rules refuse rather than clean:
//   external_id  at most kMaxExternalIdBytes bytes of valid UTF-8 without control or
//                bidirectional formatting characters (IsSafeText); empty is the same as absent.
//   metadata     a JSON object, at most kMaxMetadataBytes bytes both as sent and as stored
//                (compact), nested at most kMaxMetadataDepth deep (the object itself is depth 1),
//                its keys and strings safe text as above, its numbers finite; an empty text is
//                the same as absent.
// Refusals are 400s with the codes below (docs/ERRORS.md, docs/API.md).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http/errors.h"

namespace vidproc::http {

inline constexpr size_t kMaxExternalIdBytes = 255;
inline constexpr size_t kMaxMetadataBytes = 4096;
inline constexpr int kMaxMetadataDepth = 8;

inline constexpr std::string_view kInvalidExternalId = "invalid_external_id";
inline constexpr std::string_view kInvalidMetadata = "invalid_metadata";
inline constexpr std::string_view kMetadataTooLarge = "metadata_too_large";

struct PlatformIds {
  std::string external_id;  // empty: none
  nlohmann::json metadata;  // an object, or null: none
};

// The ids, or why they are refused.
struct PlatformIdsCheck {
  PlatformIds ids;
  std::optional<HttpError> refusal;
  bool ok() const { return !refusal.has_value(); }
};

// Text values (form fields, decoded tus values, query parameters): `metadata` is JSON text.
PlatformIdsCheck CheckPlatformIds(std::string_view external_id, std::string_view metadata);
// Values of a JSON body: `external_id` a string or null, `metadata` an object or null (a missing
// member is null).
PlatformIdsCheck CheckPlatformIdsJson(const nlohmann::json& external_id,
                                      const nlohmann::json& metadata);
// From a tus Upload-Metadata header: the keys `external_id` and `metadata`, each value base64
// (tus 1.0.0); a value that is not base64 is refused with its key's code.
PlatformIdsCheck PlatformIdsFromTusMetadata(std::string_view upload_metadata);

}  // namespace vidproc::http
