#include "worker/job_runner.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "core/log.h"
#include "core/redact.h"
#include "core/text.h"
#include "core/units.h"
#include "media/probe.h"
#include "storage/source_fetch.h"
#include "storage/storyboard_vtt.h"
#include "worker/sandbox.h"

namespace vidproc::worker {
namespace {

// Above what the deadline allows on every core: the CPU limit never stands in for the deadline.
constexpr int64_t kCpuSafetyMarginMs = 60'000;

// The thumbnail sizes the API serves (storage::kThumbnailWidths), as the child's option.
std::string ThumbnailWidthsArgument() {
  std::string list;
  for (int w : storage::kThumbnailWidths) list += (list.empty() ? "" : ",") + std::to_string(w);
  return list;
}

constexpr char kOriginalType[] = "application/octet-stream";

// The child's error event. The child reads the hostile file: what it says is untrusted text.
Status StatusFromJson(const nlohmann::json& event, ErrorCode fallback, const std::string& text) {
  if (event.is_object() && event.contains("error") && event["error"].is_object()) {
    const auto& e = event["error"];
    const auto& code_name = e.contains("code") ? e["code"] : nlohmann::json();
    const auto& message = e.contains("message") ? e["message"] : nlohmann::json();
    auto code = code_name.is_string() ? CodeFromName(code_name.get<std::string>()) : std::nullopt;
    return Status(code.value_or(fallback),
                  message.is_string() ? SanitizeText(message.get<std::string>()) : text);
  }
  return Status(fallback, text);
}

// Stores the storyboard the child says it made, if it holds up: the index is parsed (it is the
// child's, untrusted) and stored as the worker renders it, after the sheets it names, each under
// a key the worker makes from a number it checked. Returns what the output records (null when
// there is no storyboard to keep); only a storage failure is an error. A storyboard that does not
// hold up is left out with a warning: the video itself is fine.
Result<nlohmann::json> StoreStoryboard(storage::BlobStore& blobs, const std::string& id,
                                       const std::string& job_dir, const nlohmann::json& summary) {
  const auto& output = summary.value("output", nlohmann::json::object());
  const auto made =
      output.is_object() ? output.value("storyboard", nlohmann::json()) : nlohmann::json();
  if (!made.is_object()) return nlohmann::json();
  auto drop = [&id](const std::string& why) -> Result<nlohmann::json> {
    LogWarning("storyboard left out", {{"video", id}, {"reason", why}});
    return nlohmann::json();
  };
  const auto sheets_json = made.value("sheets", nlohmann::json());
  if (!sheets_json.is_number_integer() || sheets_json.get<int64_t>() < 1 ||
      sheets_json.get<int64_t>() > storage::kMaxStoryboardSheets) {
    return drop("the transcoder reported no valid sheet count");
  }
  const int sheets = sheets_json.get<int>();
  const std::string index_path = job_dir + "/storyboard.vtt";
  std::error_code ec;
  const auto size = std::filesystem::file_size(index_path, ec);
  if (ec || size > static_cast<uintmax_t>(storage::kMaxStoryboardIndexBytes)) {
    return drop("the index is missing or too large");
  }
  std::string text(size, '\0');
  {
    FILE* f = std::fopen(index_path.c_str(), "rb");
    const bool read = f && std::fread(text.data(), 1, text.size(), f) == text.size();
    if (f) std::fclose(f);
    if (!read) return drop("the index cannot be read");
  }
  auto cues = storage::ParseStoryboardIndex(text, sheets);
  if (!cues.ok()) return drop(cues.status().message());
  for (int n = 1; n <= sheets; ++n) {
    if (!std::filesystem::is_regular_file(job_dir + "/" + storage::StoryboardSheetName(n), ec)) {
      return drop("sheet " + std::to_string(n) + " is missing");
    }
  }
  for (int n = 1; n <= sheets; ++n) {
    RETURN_IF_ERROR(blobs.PutFile(storage::StoryboardSheetKey(id, n),
                                  job_dir + "/" + storage::StoryboardSheetName(n), "image/jpeg"));
  }
  // Relative names: the stored index works beside its sheets (public-read objects); the API
  // rewrites them for clients.
  const std::string checked_path = job_dir + "/storyboard.checked.vtt";
  const std::string checked =
      storage::FormatStoryboardIndex(*cues, [](int n) { return storage::StoryboardSheetName(n); });
  {
    FILE* f = std::fopen(checked_path.c_str(), "wb");
    bool written = f && std::fwrite(checked.data(), 1, checked.size(), f) == checked.size();
    if (f) written = std::fclose(f) == 0 && written;
    if (!written) {
      return Status(ErrorCode::kStorageUnavailable, "Cannot write " + checked_path + ".");
    }
  }
  RETURN_IF_ERROR(
      blobs.PutFile(storage::StoryboardKey(id), checked_path, storage::kStoryboardIndexType));
  // What the record says comes from what parsed, not from the child's summary.
  const storage::StoryboardCue& first = cues->front();
  int used_columns = 1, used_rows = 1;
  for (const auto& c : *cues) {
    used_columns = std::max(used_columns, c.x / c.width + 1);
    used_rows = std::max(used_rows, c.y / c.height + 1);
  }
  // A full sheet's grid, as the summary says it, if the tiles fit in it.
  auto grid = [&made](const char* name, int used) {
    const auto v = made.value(name, nlohmann::json());
    return v.is_number_integer() && v.get<int64_t>() >= used && v.get<int64_t>() <= 100
               ? v.get<int>()
               : used;
  };
  const int columns = grid("columns", used_columns), rows = grid("rows", used_rows);
  const int64_t interval_ms =
      cues->size() > 1 ? (*cues)[1].start_ms - first.start_ms : first.end_ms - first.start_ms;
  return nlohmann::json{{"sheets", sheets},
                        {"tiles", cues->size()},
                        {"interval_s", interval_ms / 1000.0},
                        {"tile_width", first.width},
                        {"tile_height", first.height},
                        {"columns", columns},
                        {"rows", rows}};
}

}  // namespace

int64_t CpuSafetyNetMs(int64_t remaining_ms, int64_t kill_grace_ms, int cores) {
  return (std::max<int64_t>(remaining_ms, 0) + std::max<int64_t>(kill_grace_ms, 0)) *
             std::max(cores, 1) +
         kCpuSafetyMarginMs;
}

struct JobRunner::ChildResult {
  enum Kind { kDone, kRefused, kFailed, kCrashed, kTimeout, kStopped, kLost } kind = kFailed;
  Status error;
  nlohmann::json summary;
  int64_t peak_rss_bytes = 0;
  int64_t cpu_ms = 0;
};

JobRunner::ChildResult JobRunner::RunChild(const queue::Claim& claim, const std::string& input,
                                           const std::string& job_dir, const JobSettings& job,
                                           const Deadline& deadline, const std::atomic<bool>& stop,
                                           LiveHls* live) {
  const std::string& id = claim.video.id;
  std::vector<std::string> argv = {settings_.transcoder_path,
                                   "transcode",
                                   input,
                                   job_dir + "/video.mp4",
                                   "--thumbnail",
                                   job_dir + "/thumbnail.jpg",
                                   "--thumbnail-widths",
                                   ThumbnailWidthsArgument(),
                                   "--storyboard",
                                   job_dir + "/storyboard.vtt",
                                   "--progress",
                                   "json",
                                   "--threads",
                                   std::to_string(job.threads),
                                   "--preset",
                                   job.preset,
                                   "--bitrate",
                                   settings_.video_bitrate,
                                   "--max-size",
                                   settings_.max_size,
                                   "--max-fps",
                                   std::to_string(job.max_fps),
                                   "--overwrite",  // a retried job's scratch may hold a try
                                   "--sandbox"};
  if (!settings_.sandbox_skip.empty()) {
    argv.insert(argv.end(), {"--sandbox-skip", settings_.sandbox_skip});
  }
  if (live) argv.insert(argv.end(), {"--hls", job_dir + "/hls"});
  if (live && !settings_.renditions.empty()) {
    argv.insert(argv.end(), {"--renditions", settings_.renditions});
  }
  // From an allowlist: nothing of the worker's (token, storage keys, URLs) reaches the child.
  std::vector<std::string> env =
      ChildEnvironment(CurrentEnvironment(),
                       {"LOG_LEVEL=" + settings_.log_level, "LOG_FORMAT=" + settings_.log_format});
  ChildLimits limits = settings_.limits;
  limits.cpu_ms =
      CpuSafetyNetMs(deadline.RemainingMs(), settings_.kill_grace_ms, settings_.machine_cores);
  ChildResult result;
  auto child = ChildProcess::Spawn(argv, env, limits);
  if (!child.ok()) {
    result.error = child.status();
    return result;
  }
  int64_t last_renewal_ms = clock_->MonotonicMs();
  std::optional<int64_t> term_sent_ms;
  bool killed = false;
  std::optional<ChildResult::Kind> stopped_because;
  nlohmann::json last_event;
  double progress = 0;
  std::optional<int64_t> eta;
  int logged_decile = 0;
  std::string line;
  for (;;) {
    ChildProcess::Read r = (*child)->ReadLine(&line, 200);
    if (r == ChildProcess::Read::kEof) break;
    if (r == ChildProcess::Read::kLine) {
      auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (event.is_object() && event.value("event", "") == "progress") {
        progress = event.value("progress", 0.0);
        if (event.contains("eta_s") && event["eta_s"].is_number()) {
          eta = event["eta_s"].get<int64_t>();
        }
        int decile = static_cast<int>(progress * 10);
        if (decile > logged_decile && decile < 10) {
          logged_decile = decile;
          LogInfo("progress", {{"video", id}, {"percent", decile * 10}});
        }
      } else if (event.is_object() && event.value("event", "") == "hls") {
        // Only a nudge: what is published is read from the directory and checked there.
        if (live) live->SegmentReady();
      } else if (event.is_object()) {
        last_event = event;
      }
    }
    auto terminate = [&](ChildResult::Kind why) {
      if (stopped_because) return;
      stopped_because = why;
      term_sent_ms = clock_->MonotonicMs();
      (*child)->Signal(SIGTERM);
    };
    if (deadline.Expired()) terminate(ChildResult::kTimeout);
    if (stop.load()) terminate(ChildResult::kStopped);
    int64_t now_ms = clock_->MonotonicMs();
    if (term_sent_ms && !killed && now_ms - *term_sent_ms > settings_.kill_grace_ms) {
      (*child)->Signal(SIGKILL);
      killed = true;
    }
    if (now_ms - last_renewal_ms >= settings_.progress_interval_ms) {
      last_renewal_ms = now_ms;
      Status s = store_->RenewLease(id, claim.lease_token, settings_.lease_ms, progress, eta);
      if (s.code() == ErrorCode::kLeaseLost || s.code() == ErrorCode::kNotFound) {
        // Deleted, or presumed dead and handed to another worker: our result would be refused.
        LogWarning("job lost its lease; stopping it", {{"video", id}, {"reason", s.message()}});
        terminate(ChildResult::kLost);
      } else if (!s.ok()) {
        LogWarning("cannot renew the lease", {{"video", id}, {"reason", s.message()}});
      }
    }
  }
  int status = (*child)->Wait();
  result.peak_rss_bytes = (*child)->peak_rss_bytes();
  result.cpu_ms = (*child)->cpu_ms();
  if (stopped_because) {
    result.kind = *stopped_because;
    return result;
  }
  if (WIFSIGNALED(status) &&
      (WTERMSIG(status) == SIGXCPU ||
       (WTERMSIG(status) == SIGKILL && (*child)->cpu_ms() >= limits.cpu_ms))) {
    // The CPU safety net: by construction only a deadline that did not stop the child lets it
    // get here, and what it means for the job is the same.
    LogWarning("the transcoder hit its CPU time limit",
               {{"video", id}, {"cpu_ms", (*child)->cpu_ms()}, {"limit_ms", limits.cpu_ms}});
    result.kind = ChildResult::kTimeout;
    return result;
  }
  if (WIFSIGNALED(status)) {
    result.kind = ChildResult::kCrashed;
    result.error =
        Status(ErrorCode::kProcessCrashed,
               std::string("The transcoder died of signal ") + strsignal(WTERMSIG(status)) + ".");
    return result;
  }
  int code = WEXITSTATUS(status);
  if (code == 0 && last_event.value("event", "") == "done") {
    result.kind = ChildResult::kDone;
    result.summary = std::move(last_event);
  } else if (code == 1) {
    result.kind = ChildResult::kRefused;
    result.error = StatusFromJson(last_event, ErrorCode::kCorruptInput, "The input was refused.");
  } else {
    result.kind = ChildResult::kFailed;
    result.error =
        StatusFromJson(last_event, ErrorCode::kInternal,
                       "The transcoder exited with status " + std::to_string(code) + ".");
  }
  return result;
}

Result<nlohmann::json> JobRunner::ProbeInChild(const std::string& input, const Deadline& deadline) {
  // A probe reads headers and the first packets: seconds at most, even for a hostile file.
  constexpr int64_t kProbeLimitMs = 30'000;
  std::vector<std::string> argv = {settings_.transcoder_path, "probe", "--sandbox"};
  if (!settings_.sandbox_skip.empty()) {
    argv.insert(argv.end(), {"--sandbox-skip", settings_.sandbox_skip});
  }
  argv.push_back(input);
  std::vector<std::string> env =
      ChildEnvironment(CurrentEnvironment(),
                       {"LOG_LEVEL=" + settings_.log_level, "LOG_FORMAT=" + settings_.log_format});
  ChildLimits limits = settings_.limits;
  limits.cpu_ms = kProbeLimitMs;
  ASSIGN_OR_RETURN(auto child, ChildProcess::Spawn(argv, env, limits));
  const int64_t give_up_ms =
      clock_->MonotonicMs() + std::min<int64_t>(kProbeLimitMs, deadline.RemainingMs());
  std::string text;
  std::string line;
  for (;;) {
    ChildProcess::Read r = child->ReadLine(&line, 200);
    if (r == ChildProcess::Read::kEof) break;
    if (r == ChildProcess::Read::kLine) {
      text += line;
      text += '\n';
      if (text.size() > (1 << 20)) break;  // far more than any probe: not one
    }
    if (clock_->MonotonicMs() > give_up_ms) break;
  }
  child->Signal(SIGKILL);  // a no-op once it has exited
  const int status = child->Wait();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status(ErrorCode::kCorruptInput,
                  "the probe did not accept the file (status " + std::to_string(status) + ")");
  }
  auto probe = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!probe.is_object()) return Status(ErrorCode::kInternal, "the probe printed no JSON object");
  return probe;
}

MachinePeers JobRunner::PeersOnThisMachine() const {
  // Workers seen within two leases: a worker that died stops counting when its jobs are
  // recovered.
  auto workers = store_->ListWorkers(2 * settings_.lease_ms);
  if (!workers.ok()) return {};
  std::set<std::string> peers;
  for (const queue::WorkerInfo& w : *workers) {
    if (w.id != settings_.worker_id && !host_.empty() && w.host == host_) peers.insert(w.id);
  }
  if (peers.empty()) return {};
  auto running = store_->ListQueue(0);
  if (!running.ok()) return {};
  MachinePeers load;
  for (const queue::Video& v : *running) {
    if (v.status != queue::VideoStatus::kProcessing || !peers.count(v.worker)) continue;
    ++load.jobs;
    load.memory_mb += v.predicted_memory_mb.value_or(0);
  }
  return load;
}

media::TranscodeOptions JobRunner::ChildOptions(const WorkerSettings& settings) {
  media::TranscodeOptions options;
  if (auto size = ParseSize(settings.max_size); size.ok()) options.max_size = *size;
  if (auto rate = ParseBitrate(settings.video_bitrate); rate.ok()) options.video_bitrate = *rate;
  std::string_view rungs = settings.hls ? std::string_view(settings.renditions) : "";
  while (!rungs.empty()) {
    const size_t comma = std::min(rungs.find(','), rungs.size());
    if (auto side = ParseInteger(rungs.substr(0, comma), 1, 1 << 16); side.ok()) {
      options.renditions.push_back(static_cast<int>(*side));
    }
    rungs.remove_prefix(std::min(comma + 1, rungs.size()));
  }
  return options;
}

JobRunner::Admitted JobRunner::Admit(const queue::Claim& claim, const std::string& input,
                                     int threads, const Deadline& deadline) {
  const std::string& id = claim.video.id;
  Admitted admitted;
  admitted.settings = {threads, settings_.preset, settings_.max_fps};
  auto probe = ProbeInChild(input, deadline);
  Result<media::MediaInfo> info =
      probe.ok() ? media::MediaInfoFromJson(*probe) : Result<media::MediaInfo>(probe.status());
  if (!info.ok() || !info->video) {
    // The transcoder opens the file again and says what is wrong with it, as a job's error.
    LogInfo("no prediction: the file was not probed",
            {{"video", id}, {"reason", info.ok() ? "no video stream" : info.status().message()}});
    return admitted;
  }
  // The cores this job will have: its threads, shared with the jobs running on the machine now,
  // and with every slot busy.
  const MachinePeers peers = PeersOnThisMachine();
  auto share = [&](int jobs) {
    return std::max(1.0, std::min<double>(threads, static_cast<double>(settings_.machine_cores) /
                                                       static_cast<double>(jobs)));
  };
  const int running = ledger_.jobs() + peers.jobs;
  const CoreShare cores{share(running + 1),
                        share(std::max(running + 1, settings_.max_tasks + peers.jobs))};
  const double seconds_left = static_cast<double>(deadline.RemainingMs()) / 1000.0;
  const media::CostModel& model =
      settings_.cost_model ? *settings_.cost_model : media::CostModel::Builtin();
  Fit fit = FitToTime(model, *info, child_options_, admitted.settings, cores, seconds_left,
                      static_cast<int>(settings_.timeout_ms / 1000));
  queue::JobEstimate estimate{fit.predicted.peak_memory_mb, fit.predicted.wall_s,
                              SanitizeJson(*probe)};
  if (Status s = store_->RecordEstimate(id, claim.lease_token, estimate); !s.ok()) {
    LogWarning("cannot record the job's prediction", {{"video", id}, {"reason", s.message()}});
  }
  if (!fit.refusal.ok()) {
    LogWarning("refused before it started: it would not finish in time",
               {{"video", id}, {"predicted_s", fit.predicted.wall_s}});
    admitted.outcome = Fail(claim, fit.refusal, /*transient=*/false);
    return admitted;
  }
  if (!ledger_.TryBook(id, fit.predicted.peak_memory_mb, peers)) {
    Status deferred = store_->DeferJob(id, claim.lease_token, "memory");
    LogInfo("waiting for memory",
            {{"video", id},
             {"predicted_mb", fit.predicted.peak_memory_mb},
             {"available_mb", ledger_.AvailableMb(peers).value_or(ledger_.budget_mb())},
             {"other_workers_jobs", peers.jobs},
             {"deferred", deferred.ok()}});
    admitted.outcome = deferred.ok() ? JobOutcome::kDeferred : JobOutcome::kLost;
    return admitted;
  }
  if (fit.cheaper) {
    LogInfo("cheaper settings to fit the time limit", {{"video", id},
                                                       {"preset", fit.settings.preset},
                                                       {"max_fps", fit.settings.max_fps},
                                                       {"predicted_s", fit.predicted.wall_s},
                                                       {"reason", fit.reason}});
  }
  admitted.settings = fit.settings;
  admitted.fit = std::move(fit);
  return admitted;
}

JobOutcome JobRunner::TimedOut(const queue::Claim& claim, const std::string& during) {
  Status error(ErrorCode::kTimeout,
               "Processing took longer than " + std::to_string(settings_.timeout_ms / 1000) +
                   " seconds (VIDEO_PROCESSING_TIMEOUT) and was stopped " + during + ".");
  return Fail(claim, error, claim.video.attempts <= settings_.timeout_retries);
}

JobOutcome JobRunner::Fail(const queue::Claim& claim, const Status& error, bool transient) {
  const queue::Video& v = claim.video;
  std::optional<int64_t> retry_at;
  if (transient && v.attempts < settings_.max_attempts) {
    // Exponential backoff with +-25% jitter, so a storage outage is not hammered in lockstep.
    static thread_local std::mt19937 rng(std::random_device{}());
    double delay = settings_.retry_backoff_ms * std::pow(2.0, v.attempts - 1);
    delay *= std::uniform_real_distribution<double>(0.75, 1.25)(rng);
    retry_at = clock_->NowMs() + static_cast<int64_t>(delay);
  }
  Status s = store_->FailJob(v.id, claim.lease_token, error, retry_at);
  if (!s.ok()) {
    LogWarning("cannot record the failure", {{"video", v.id}, {"reason", s.message()}});
    return JobOutcome::kLost;
  }
  if (retry_at) {
    LogWarning("job failed, will retry", {{"video", v.id},
                                          {"code", error.code_name()},
                                          {"attempt", v.attempts},
                                          {"retry_in_s", (*retry_at - clock_->NowMs()) / 1000}});
    return JobOutcome::kRetrying;
  }
  // A refused upload is the user's problem (warning); anything else is the service's (error).
  Log(FailureLogLevel(error.code()), "failed",
      {{"video", v.id},
       {"code", error.code_name()},
       {"message", error.message()},
       {"attempts", v.attempts}});
  return JobOutcome::kFailed;
}

JobOutcome JobRunner::Quarantine(const queue::Claim& claim, const Status& error) {
  return Fail(claim,
              Status(ErrorCode::kInternal,
                     "Processing stopped on an internal error (" + error.message() +
                         "). The original is kept: retry it once the cause is fixed."),
              /*transient=*/false);
}

JobOutcome JobRunner::Store(const queue::Claim& claim, const std::string& job_dir, int threads,
                            const nlohmann::json& admission, const nlohmann::json& summary,
                            const std::string& input, bool original_stored, LiveHls* live) {
  const queue::Video& v = claim.video;
  const std::string& id = v.id;
  Status s;
  if (v.replace_source && !v.import_key.empty()) {
    // The source is about to be overwritten: its bytes are kept under the video's own key first,
    // so a re-run (a crash before CompleteJob) still has the original, not our output.
    if (!original_stored) s = blobs_->PutFile(storage::OriginalKey(id), input, kOriginalType);
    if (s.ok()) s = blobs_->PutOutputFile(v.import_key, job_dir + "/video.mp4", "video/mp4");
    if (s.ok()) {
      s = blobs_->PutOutputFile(storage::ThumbnailKeyBeside(v.import_key),
                                job_dir + "/thumbnail.jpg", "image/jpeg");
    }
  } else {
    if (settings_.mp4)
      s = blobs_->PutFile(storage::VideoKey(id), job_dir + "/video.mp4", "video/mp4");
    if (s.ok()) {
      s = blobs_->PutFile(storage::ThumbnailKey(id), job_dir + "/thumbnail.jpg", "image/jpeg");
    }
  }
  // The smaller copies the child says it made, each only if it is one of ours: the summary is the
  // child's word, and a width names a key.
  std::vector<int> widths;
  if (const auto& made = summary.value("output", nlohmann::json::object()); made.is_object()) {
    for (const auto& w : made.value("thumbnail_widths", nlohmann::json::array())) {
      if (s.ok() && w.is_number_integer() && storage::IsThumbnailWidth(w.get<int>())) {
        const std::string path = job_dir + "/thumbnail-" + std::to_string(w.get<int>()) + ".jpg";
        s = blobs_->PutFile(storage::ThumbnailVariantKey(id, w.get<int>()), path, "image/jpeg");
        widths.push_back(w.get<int>());
      }
    }
  }
  nlohmann::json storyboard;
  if (s.ok()) {
    auto stored = StoreStoryboard(*blobs_, id, job_dir, summary);
    if (stored.ok()) {
      storyboard = std::move(stored).value();
    } else {
      s = stored.status();
    }
  }
  // The rest of the HLS and the closed playlists (#EXT-X-ENDLIST), after the MP4: a player
  // watching the live playlist sees it end only when the whole video is stored.
  const bool hls_made =
      summary.value("output", nlohmann::json::object()).value("hls", nlohmann::json()).is_object();
  if (s.ok() && live && hls_made) s = live->Finish();
  if (!s.ok()) {
    if (live) live->Withdraw();
    return Fail(claim, s, /*transient=*/true);
  }
  // What the child says about the file comes from the file: cleaned before it is stored.
  nlohmann::json output = SanitizeJson(summary.value("output", nlohmann::json::object()));
  if (!output.is_object()) output = nlohmann::json::object();
  output.erase("path");  // the scratch copy, gone after this job; the video is at VideoKey(id)
  output["warnings"] = SanitizeJson(summary.value("warnings", nlohmann::json::array()));
  output["threads"] = threads;      // decided by the worker at claim time (ThreadsForJob)
  output["admission"] = admission;  // what was predicted and chosen (worker/admission.h), or null
  output["thumbnail_widths"] = widths;
  output["storyboard"] = storyboard;  // the worker's own record (StoreStoryboard), or null
  output["outputs"] = nlohmann::json::array();
  if (settings_.mp4 || v.replace_source) output["outputs"].push_back("mp4");
  if (live && output.value("hls", nlohmann::json()).is_object()) {
    output["outputs"].push_back("hls");
  } else {
    output.erase("hls");
  }
  s = store_->CompleteJob(id, claim.lease_token,
                          SanitizeJson(summary.value("source", nlohmann::json())), output,
                          settings_.keep_original);
  if (s.code() == ErrorCode::kLeaseLost) {
    LogWarning("result refused: the lease was lost", {{"video", id}});
    return JobOutcome::kLost;
  }
  if (!s.ok()) {
    if (live) live->Withdraw();
    return Fail(claim, s, /*transient=*/true);
  }
  if (!settings_.keep_original) {
    // The record already says the original is gone; deleting it again later is harmless.
    Status d = blobs_->Delete(storage::OriginalKey(id));
    if (!d.ok()) {
      LogWarning("the original could not be deleted",
                 {{"video", id}, {"key", storage::OriginalKey(id)}, {"reason", d.message()}});
    }
  }
  return JobOutcome::kReady;
}

JobRunner::Leased JobRunner::WhileLeased(
    const queue::Claim& claim, const Deadline& deadline, const std::atomic<bool>& stop,
    const std::string& during, const std::function<Status(const std::atomic<bool>& cancel)>& work) {
  const std::string& id = claim.video.id;
  std::atomic<bool> cancel{false};
  std::promise<Status> finished;
  std::future<Status> result = finished.get_future();
  std::thread worker([&] {
    try {
      finished.set_value(work(cancel));
    } catch (const std::exception& e) {
      finished.set_value(Status(ErrorCode::kInternal, e.what()));
    }
  });
  enum class Why { kNone, kStopped, kLost, kTimeout } why = Why::kNone;
  int64_t last_renewal_ms = clock_->MonotonicMs();
  while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (why != Why::kNone) continue;
    if (deadline.Expired()) {
      why = Why::kTimeout;
    } else if (stop.load()) {
      why = Why::kStopped;
    } else if (clock_->MonotonicMs() - last_renewal_ms >= settings_.progress_interval_ms) {
      last_renewal_ms = clock_->MonotonicMs();
      Status s = store_->RenewLease(id, claim.lease_token, settings_.lease_ms, 0, std::nullopt);
      if (s.code() == ErrorCode::kLeaseLost || s.code() == ErrorCode::kNotFound) {
        LogWarning("job lost its lease; stopping it", {{"video", id}, {"reason", s.message()}});
        why = Why::kLost;
      } else if (!s.ok()) {
        LogWarning("cannot renew the lease", {{"video", id}, {"reason", s.message()}});
      }
    }
    if (why != Why::kNone) cancel = true;
  }
  worker.join();
  Leased leased{result.get(), std::nullopt};
  switch (why) {
    case Why::kNone: break;
    case Why::kTimeout: leased.outcome = TimedOut(claim, during); break;
    case Why::kLost: leased.outcome = JobOutcome::kLost; break;
    case Why::kStopped:
      if (Status released = store_->ReleaseJob(id, claim.lease_token); released.ok()) {
        LogInfo("released for another worker", {{"video", id}});
        leased.outcome = JobOutcome::kReleased;
      } else {
        leased.outcome = JobOutcome::kLost;
      }
      break;
  }
  return leased;
}

JobRunner::Original JobRunner::GetOriginal(const queue::Claim& claim, const std::string& job_dir,
                                           const Deadline& deadline,
                                           const std::atomic<bool>& stop) {
  const queue::Video& v = claim.video;
  const std::string key = storage::OriginalKey(v.id);
  if (!v.import_key.empty() || !v.import_url.empty()) {
    // An import's original is stored once it was read; until then the source is read.
    auto stored = blobs_->Stat(key);
    if (!stored.ok()) return {"", false, Fail(claim, stored.status(), true)};
    if (!stored.value()) return Import(claim, job_dir, deadline, stop);
  }
  if (auto local = blobs_->LocalPathFor(key)) {
    return {*local, true, std::nullopt};  // on this disk: read in place, no copy
  }
  const std::string path = job_dir + "/original";
  Status s = blobs_->GetFile(key, path);
  if (s.code() == ErrorCode::kNotFound) {
    return {
        "", false,
        Fail(claim, Status(ErrorCode::kNotFound, "The original upload is missing from storage."),
             false)};
  }
  if (!s.ok()) return {"", false, Fail(claim, s, true)};
  return {path, true, std::nullopt};
}

JobRunner::Original JobRunner::Import(const queue::Claim& claim, const std::string& job_dir,
                                      const Deadline& deadline, const std::atomic<bool>& stop) {
  const queue::Video& v = claim.video;
  const std::string path = job_dir + "/original";
  const bool from_key = !v.import_key.empty();
  LogInfo("importing",
          {{"video", v.id},
           {from_key ? "key" : "url", from_key ? v.import_key : RedactedUrl(v.import_url)}});
  if (from_key && !settings_.import.source_keys) {
    return {"", false,
            Fail(claim,
                 Status(ErrorCode::kSourceRefused,
                        "Imports by source_key read the bucket (USE_SPACES); this worker's storage "
                        "is local."),
                 false)};
  }
  auto fetch = [&](const std::atomic<bool>& cancel) -> Status {
    if (from_key) {
      const Status missing(ErrorCode::kSourceFailed, "There is no object at source_key '" +
                                                         v.import_key + "' in the bucket.");
      // Sized first: an object over the upload cap is refused as an upload would be, unread.
      auto info = blobs_->Stat(v.import_key);
      if (!info.ok()) return info.status();
      if (!info.value()) return missing;
      if (settings_.import.max_bytes > 0 && (*info)->size_bytes > settings_.import.max_bytes) {
        return Status(ErrorCode::kTooLargeFile,
                      "The source object is larger than the upload limit of " +
                          std::to_string(settings_.import.max_bytes) + " bytes.");
      }
      Status s = blobs_->GetFile(v.import_key, path);
      return s.code() == ErrorCode::kNotFound ? missing : s;
    }
    storage::SourcePolicy policy;
    policy.max_bytes = settings_.import.max_bytes;
    policy.allowed_hosts = settings_.import.allowed_hosts;
    policy.cancel = &cancel;
    auto fetched = storage::FetchSource(v.import_url, path, policy);
    return fetched.ok() ? Status::Ok() : fetched.status();
  };
  Leased leased = WhileLeased(claim, deadline, stop, "while fetching the original", fetch);
  if (leased.outcome) return {"", false, leased.outcome};
  Status s = leased.status;
  if (s.ok() && !from_key) {
    // Stored like an upload's original: a retry does not depend on the URL still working (a
    // presigned URL expires), and KEEP_ORIGINAL keeps it.
    s = blobs_->PutFile(storage::OriginalKey(v.id), path, kOriginalType);
  }
  if (!s.ok()) return {"", false, Fail(claim, s, IsRetryable(s.code()))};
  std::error_code ec;
  LogInfo("imported",
          {{"video", v.id}, {"bytes", static_cast<int64_t>(std::filesystem::file_size(path, ec))}});
  return {path, !from_key, std::nullopt};
}

JobOutcome JobRunner::Run(const queue::Claim& claim, int threads, const std::atomic<bool>& stop) {
  const std::string& id = claim.video.id;
  const Deadline deadline(clock_, settings_.timeout_ms);
  std::string job_dir = settings_.scratch_dir + "/" + id;
  std::error_code ec;
  std::filesystem::remove_all(job_dir, ec);
  std::filesystem::create_directories(job_dir, ec);
  if (ec) {
    return Fail(claim,
                Status(ErrorCode::kStorageUnavailable,
                       "Cannot create the scratch directory " + job_dir + ": " + ec.message()),
                true);
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } cleanup{job_dir};

  LogInfo("started", {{"video", id}, {"attempt", claim.video.attempts}, {"threads", threads}});
  Original original = GetOriginal(claim, job_dir, deadline, stop);
  if (original.outcome) return *original.outcome;
  const std::string& input = original.path;
  if (deadline.Expired()) return TimedOut(claim, "after the download");

  Admitted admitted = Admit(claim, input, threads, deadline);
  if (admitted.outcome) return *admitted.outcome;
  // The booking ends with the job, however it ends.
  struct Booking {
    MemoryLedger& ledger;
    const std::string& id;
    ~Booking() { ledger.Release(id); }
  } booking{ledger_, id};
  // The probe child may have taken a good part of a short lease (VIDPROC_LEASE_SECONDS): renewed
  // before the transcoder starts, so that the job is not presumed dead in between.
  if (Status s = store_->RenewLease(id, claim.lease_token, settings_.lease_ms, 0, std::nullopt);
      s.code() == ErrorCode::kLeaseLost || s.code() == ErrorCode::kNotFound) {
    LogWarning("job lost its lease before the transcode", {{"video", id}, {"reason", s.message()}});
    return JobOutcome::kLost;
  }
  const nlohmann::json admission =
      admitted.fit ? AdmissionJson(*admitted.fit) : nlohmann::json(nullptr);

  std::unique_ptr<LiveHls> live;
  if (settings_.hls) {
    live = std::make_unique<LiveHls>(store_, blobs_, claim, job_dir + "/hls", clock_);
    // What an earlier attempt published (a dead worker's, or one whose withdrawal failed) is
    // withdrawn first: a player never mixes two attempts' segments. One listing when there is
    // nothing to withdraw.
    live->Withdraw();
  }
  // The phases of the job for its `ready` line: where the time between claim and ready goes.
  const int64_t child_started_ms = deadline.ElapsedMs();
  ChildResult r = RunChild(claim, input, job_dir, admitted.settings, deadline, stop, live.get());
  const int64_t child_ended_ms = deadline.ElapsedMs();
  if (live) {
    live->Stop();
    // An attempt that ends without a result takes back what it published, before the queue
    // hears of it (after that, another worker may be publishing this video). A lost lease means
    // that has already happened: nothing is touched.
    const bool done = r.kind == ChildResult::kDone && !deadline.Expired();
    if (!done && r.kind != ChildResult::kLost) live->Withdraw();
    // Deleted while it ran: the deletion withdrew what was published then, but segments
    // published since would stay behind. Nobody else can own a deleted video's keys.
    if (r.kind == ChildResult::kLost) {
      // (A lease can also be lost to another worker that took the job over: its publication
      // then is not ours to touch.)
      auto video = store_->GetVideo(id);
      if (!video.ok() && video.status().code() == ErrorCode::kNotFound) live->Withdraw();
    }
  }
  JobOutcome outcome = JobOutcome::kLost;
  switch (r.kind) {
    case ChildResult::kDone:
      outcome = deadline.Expired() ? TimedOut(claim, "after the transcode")
                                   : Store(claim, job_dir, threads, admission, r.summary, input,
                                           original.stored, live.get());
      break;
    case ChildResult::kRefused: outcome = Fail(claim, r.error, false); break;
    case ChildResult::kFailed: outcome = Fail(claim, r.error, !IsInputError(r.error.code())); break;
    case ChildResult::kCrashed: outcome = Fail(claim, r.error, true); break;
    case ChildResult::kTimeout: outcome = TimedOut(claim, "during the transcode"); break;
    case ChildResult::kStopped:
      if (Status released = store_->ReleaseJob(id, claim.lease_token); released.ok()) {
        outcome = JobOutcome::kReleased;
        LogInfo("released for another worker", {{"video", id}});
      } else {
        // The lease runs out instead and another worker recovers the job.
        outcome = JobOutcome::kLost;
        LogWarning("cannot release the job; it is recovered when its lease expires",
                   {{"video", id}, {"reason", released.message()}});
      }
      break;
    case ChildResult::kLost: outcome = JobOutcome::kLost; break;
  }
  if (outcome == JobOutcome::kReady) {
    const auto& out = r.summary.value("output", nlohmann::json::object());
    LogInfo("ready",
            {{"video", id},
             {"path", r.summary.value("path", "")},
             {"seconds", deadline.ElapsedMs() / 1000.0},
             {"before_child_s", child_started_ms / 1000.0},
             {"child_s", (child_ended_ms - child_started_ms) / 1000.0},
             {"transcode_s", r.summary.value("elapsed_s", 0.0)},
             {"store_s", (deadline.ElapsedMs() - child_ended_ms) / 1000.0},
             {"threads", threads},
             {"preset", admitted.settings.preset},
             {"max_fps", admitted.settings.max_fps},
             {"peak_mb", static_cast<double>(r.peak_rss_bytes) / 1e6},
             {"cpu_s", static_cast<double>(r.cpu_ms) / 1000.0},
             {"predicted_mb", admitted.fit ? admitted.fit->predicted.peak_memory_mb : -1.0},
             {"predicted_s", admitted.fit ? admitted.fit->predicted.wall_s : -1.0},
             {"playable_after_s", live ? live->playable_after_s() : -1.0},
             {"width", out.value("width", 0)},
             {"height", out.value("height", 0)}});
  }
  return outcome;
}

}  // namespace vidproc::worker
