#include "http/import_request.h"

#include <array>

#include "core/text.h"
#include "storage/blob_store.h"
#include "storage/source_fetch.h"

namespace vidproc::http {
namespace {

constexpr std::array<std::string_view, 6> kMembers = {"source_key", "source_url",  "replace_source",
                                                      "filename",   "external_id", "metadata"};

ImportRequestCheck Refuse(std::string_view code, std::string message) {
  return {{}, HttpError{400, std::string(code), std::move(message)}};
}

ImportRequestCheck BadImport(const std::string& why) {
  return Refuse(kInvalidImport,
                why +
                    ". Send a JSON object with exactly one of \"source_key\" (an object in the "
                    "bucket) and \"source_url\" (http or https), and optionally "
                    "\"replace_source\", \"filename\", \"external_id\" and \"metadata\".");
}

// The last segment of a key, or of a URL's path ("" if none).
std::string LastSegment(std::string_view path, bool is_url) {
  if (is_url) {
    path = path.substr(0, path.find_first_of("?#"));
    const size_t scheme = path.find("://");
    path.remove_prefix(scheme == std::string_view::npos ? 0 : scheme + 3);
    const size_t slash = path.find('/');
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

ImportRequestCheck ParseImportRequest(std::string_view body, bool source_keys) {
  if (body.size() > kMaxImportBodyBytes) {
    return BadImport("The JSON body is larger than " + std::to_string(kMaxImportBodyBytes) +
                     " bytes");
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return BadImport("The body is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (std::string_view m : kMembers) known = known || it.key() == m;
    if (!known) {
      return BadImport("\"" + SanitizeText(it.key(), 64) + "\" is not a member of an import");
    }
  }
  auto text = [&](const char* name, std::string* out) -> std::optional<ImportRequestCheck> {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return BadImport(std::string("\"") + name + "\" is not a string");
    *out = it->get<std::string>();
    return std::nullopt;
  };
  ImportRequest r;
  std::string filename;
  if (auto refusal = text("source_key", &r.source_key)) return *refusal;
  if (auto refusal = text("source_url", &r.source_url)) return *refusal;
  if (auto refusal = text("filename", &filename)) return *refusal;
  if (const auto it = j.find("replace_source"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return BadImport("\"replace_source\" is not true or false");
    r.replace_source = it->get<bool>();
  }
  const bool has_key = j.contains("source_key") && !j["source_key"].is_null();
  const bool has_url = j.contains("source_url") && !j["source_url"].is_null();
  if (has_key == has_url) {
    return BadImport(has_key ? "Both \"source_key\" and \"source_url\" are given"
                             : "Neither \"source_key\" nor \"source_url\" is given");
  }
  if (r.replace_source && !has_key) {
    return Refuse(kReplaceSourceNeedsKey,
                  "replace_source writes the processed video back to the source object, so it "
                  "needs a source_key (a source_url is not vidproc's to overwrite).");
  }
  if (has_key) {
    if (Status s = storage::CheckSourceKey(r.source_key); !s.ok()) {
      return Refuse(kInvalidSourceKey, s.message());
    }
    if (!source_keys) {
      return Refuse(kSourceKeyUnsupported,
                    "This server stores files on local disk, not in a bucket the platform "
                    "shares (USE_SPACES), so there is no object a source_key could name; send "
                    "the file, or a source_url.");
    }
  } else if (Status s = storage::CheckSourceUrl(r.source_url); !s.ok()) {
    return Refuse("source_refused", s.message());
  }
  PlatformIdsCheck ids = CheckPlatformIdsJson(j.value("external_id", nlohmann::json()),
                                              j.value("metadata", nlohmann::json()));
  if (!ids.ok()) return {{}, ids.refusal};
  r.ids = std::move(ids.ids);
  if (filename.empty()) filename = LastSegment(has_key ? r.source_key : r.source_url, !has_key);
  r.filename = SanitizeFilename(filename.empty() ? "import" : filename);
  return {std::move(r), std::nullopt};
}

}  // namespace vidproc::http
