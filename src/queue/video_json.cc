#include "queue/video_json.h"

#include <cmath>

#include "core/clock.h"
#include "core/redact.h"
#include "core/status.h"
#include "core/text.h"

namespace vidproc::queue {
namespace {

// The API's compact `source` object from the engine's probe.
nlohmann::json SourceJson(const nlohmann::json& probe, int64_t size_bytes) {
  if (!probe.is_object()) return nullptr;
  // An import's size is known only once its original was read: the probe's.
  if (size_bytes == 0) size_bytes = probe.value("size_bytes", int64_t{0});
  nlohmann::json s = {{"size_bytes", size_bytes},
                      {"container", probe.value("container", "")},
                      {"duration_s", probe.value("duration_s", 0.0)}};
  if (probe.contains("video") && probe["video"].is_object()) {
    const auto& v = probe["video"];
    s["width"] = v.value("display_width", v.value("width", 0));
    s["height"] = v.value("display_height", v.value("height", 0));
    s["rotation"] = v.value("rotation", 0);
    s["video_codec"] = v.value("codec", "");
    s["frame_rate"] = v.value("frame_rate", 0.0);
  }
  s["audio_codec"] = nullptr;
  if (probe.contains("audio") && probe["audio"].is_array()) {
    for (const auto& a : probe["audio"]) {
      if (a.value("selected", false)) s["audio_codec"] = a.value("codec", "");
    }
  }
  return s;
}

// The output description as the API shows it. The engine says `passthrough` for a file remuxed
// as it came; the resource says `remuxed` (a platform's "passthrough" is its own data), for rows
// stored either way.
nlohmann::json OutputJson(const nlohmann::json& output) {
  if (!output.is_object()) return nullptr;
  nlohmann::json out = output;
  if (auto it = out.find("passthrough"); it != out.end()) {
    if (!out.contains("remuxed")) out["remuxed"] = *it;
    out.erase("passthrough");
  }
  return out;
}

// Where an import's original came from: its key, or only its URL's host (a presigned URL's
// query is a credential, and its path may be one too).
nlohmann::json ImportJson(const Video& v) {
  if (v.import_key.empty() && v.import_url.empty()) return nullptr;
  return {
      {"source_key", v.import_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.import_key)},
      {"source_host",
       v.import_url.empty() ? nlohmann::json(nullptr) : nlohmann::json(UrlHost(v.import_url))},
      {"replace_source", v.replace_source}};
}

}  // namespace

nlohmann::json ToApiJson(const Video& v) {
  nlohmann::json j = {
      {"id", v.id},
      {"status", StatusName(v.status)},
      {"filename", v.filename},
      {"created_at", FormatRfc3339(v.created_at_ms)},
      {"updated_at", FormatRfc3339(v.updated_at_ms)},
      {"progress", v.progress},
      {"eta_seconds", v.eta_seconds ? nlohmann::json(*v.eta_seconds) : nlohmann::json(nullptr)},
      {"attempts", v.attempts},
      {"error", nullptr},
      {"source", SourceJson(v.source, v.size_bytes)},
      {"output", OutputJson(v.output)},
      {"external_id",
       v.external_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.external_id)},
      {"metadata", v.metadata.is_object() ? v.metadata : nlohmann::json(nullptr)},
      {"import", ImportJson(v)},
      // HLS to watch: published while the job runs (MarkPlayable), or made with a ready video.
      {"playable", (v.status == VideoStatus::kProcessing && v.playable) ||
                       (v.status == VideoStatus::kReady && v.output.is_object() &&
                        v.output.value("hls", nlohmann::json()).is_object())},
  };
  // What the worker that probed the original predicts the job costs (the admission's numbers).
  j["estimate"] = nullptr;
  if (v.predicted_memory_mb && v.predicted_seconds && std::isfinite(*v.predicted_memory_mb) &&
      std::isfinite(*v.predicted_seconds)) {
    j["estimate"] = {{"memory_mb", std::lround(*v.predicted_memory_mb)},
                     {"seconds", std::lround(*v.predicted_seconds)}};
  }
  // A queued video's wait; its place and predicted start are filled where a request looked at
  // the queue (http: GET of videos), null elsewhere (events, webhooks).
  j["queue"] = nullptr;
  if (v.status == VideoStatus::kQueued) {
    j["queue"] = {{"position", nullptr},
                  {"predicted_start_at", nullptr},
                  {"waiting_for", v.waiting_for == "memory" ? "memory" : "worker"}};
  }
  if (v.status == VideoStatus::kFailed) {
    auto code = CodeFromName(v.error_code);
    j["error"] = {{"code", v.error_code},
                  {"message", v.error_message},
                  {"retryable", code.has_value() && IsRetryable(*code)}};
  }
  // Rows stored by an older vidproc (or any other writer) may hold bytes that are not UTF-8 or
  // control characters: served cleaned, never a failed dump.
  return SanitizeJson(j);
}

nlohmann::json ToApiJson(const WorkerInfo& w) {
  return SanitizeJson({{"id", w.id},
                       {"host", w.host},
                       {"pid", w.pid},
                       {"slots", w.slots},
                       {"version", w.version},
                       {"started_at", FormatRfc3339(w.started_at_ms)},
                       {"last_seen", FormatRfc3339(w.last_seen_ms)}});
}

}  // namespace vidproc::queue
