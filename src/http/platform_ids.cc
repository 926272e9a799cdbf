#include "http/platform_ids.h"

#include <cmath>

#include "core/text.h"
#include "http/headers.h"

namespace vidproc::http {
namespace {

HttpError Refuse(std::string_view code, std::string message) {
  return HttpError{400, std::string(code), std::move(message)};
}

HttpError BadExternalId(const std::string& why) {
  return Refuse(kInvalidExternalId, "external_id " + why + ": send at most " +
                                        std::to_string(kMaxExternalIdBytes) +
                                        " bytes of UTF-8 text without control characters.");
}

HttpError BadMetadata(const std::string& why) {
  return Refuse(kInvalidMetadata, "metadata " + why + ": send a JSON object of at most " +
                                      std::to_string(kMaxMetadataBytes) +
                                      " bytes, nested at most " +
                                      std::to_string(kMaxMetadataDepth) + " levels deep.");
}

HttpError MetadataTooLarge() {
  return Refuse(kMetadataTooLarge, "metadata is larger than " + std::to_string(kMaxMetadataBytes) +
                                       " bytes of JSON; keep it small (ids and labels), or keep "
                                       "the data on your side under the video's external_id.");
}

std::optional<HttpError> CheckExternalId(std::string_view value) {
  if (value.size() > kMaxExternalIdBytes) {
    return BadExternalId("is longer than " + std::to_string(kMaxExternalIdBytes) + " bytes");
  }
  if (!IsSafeText(value)) {
    return BadExternalId("is not valid UTF-8 or holds control characters");
  }
  return std::nullopt;
}

// Why `value` (at `depth`, the top object being 1) cannot be kept as it is, if it cannot. Stops
// descending past the cap, so the recursion is bounded whatever the input.
std::optional<HttpError> CheckMetadataValue(const nlohmann::json& value, int depth) {
  if (value.is_object() || value.is_array()) {
    if (depth > kMaxMetadataDepth) return BadMetadata("is nested too deeply");
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (value.is_object() && !IsSafeText(it.key())) {
        return BadMetadata("has a key that is not UTF-8 text without control characters");
      }
      if (auto refusal = CheckMetadataValue(it.value(), depth + 1)) return refusal;
    }
    return std::nullopt;
  }
  if (value.is_string() && !IsSafeText(value.get_ref<const std::string&>())) {
    return BadMetadata("has a string that is not UTF-8 text without control characters");
  }
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    return BadMetadata("has a number out of range");
  }
  return std::nullopt;
}

// A parsed metadata value: an object within the caps, or the refusal.
PlatformIdsCheck CheckParsedMetadata(PlatformIds ids, const nlohmann::json& metadata) {
  if (!metadata.is_object()) return {std::move(ids), BadMetadata("is not a JSON object")};
  if (auto refusal = CheckMetadataValue(metadata, 1)) return {std::move(ids), refusal};
  if (DumpJson(metadata).size() > kMaxMetadataBytes) return {std::move(ids), MetadataTooLarge()};
  ids.metadata = metadata;
  return {std::move(ids), std::nullopt};
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Standard base64 (RFC 4648 4), padded or not: what every tus client sends.
bool IsBase64(std::string_view text) {
  size_t data = text.size();
  while (data > 0 && text.size() - data < 2 && text[data - 1] == '=') --data;
  const bool padded = data != text.size();
  for (size_t i = 0; i < data; ++i) {
    if (!IsBase64Char(text[i])) return false;
  }
  if (padded && text.size() % 4 != 0) return false;
  return data % 4 != 1;
}

}  // namespace

PlatformIdsCheck CheckPlatformIds(std::string_view external_id, std::string_view metadata) {
  PlatformIds ids;
  if (auto refusal = CheckExternalId(external_id)) return {std::move(ids), refusal};
  ids.external_id = std::string(external_id);
  if (metadata.empty()) return {std::move(ids), std::nullopt};
  // Bounded before parsing: nothing larger than the cap is ever parsed.
  if (metadata.size() > kMaxMetadataBytes) return {std::move(ids), MetadataTooLarge()};
  auto parsed = nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return {std::move(ids), BadMetadata("is not valid JSON in UTF-8")};
  return CheckParsedMetadata(std::move(ids), parsed);
}

PlatformIdsCheck CheckPlatformIdsJson(const nlohmann::json& external_id,
                                      const nlohmann::json& metadata) {
  PlatformIds ids;
  if (!external_id.is_null()) {
    if (!external_id.is_string()) return {std::move(ids), BadExternalId("is not a string")};
    const auto& text = external_id.get_ref<const std::string&>();
    if (auto refusal = CheckExternalId(text)) return {std::move(ids), refusal};
    ids.external_id = text;
  }
  if (metadata.is_null()) return {std::move(ids), std::nullopt};
  return CheckParsedMetadata(std::move(ids), metadata);
}

PlatformIdsCheck PlatformIdsFromTusMetadata(std::string_view header) {
  std::string values[2];
  const std::string_view keys[2] = {"external_id", "metadata"};
  const std::string_view codes[2] = {kInvalidExternalId, kInvalidMetadata};
  for (int k = 0; k < 2; ++k) {
    std::optional<std::string_view> raw = MetadataRawValue(header, keys[k]);
    if (!raw) continue;
    if (!IsBase64(*raw)) {
      return {{},
              Refuse(codes[k], std::string(keys[k]) +
                                   " in Upload-Metadata is not base64: tus sends every value "
                                   "base64-encoded.")};
    }
    values[k] = Base64Decode(*raw);
  }
  return CheckPlatformIds(values[0], values[1]);
}

}  // namespace vidproc::http
