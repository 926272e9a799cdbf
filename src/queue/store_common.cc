#include "queue/store_common.h"

#include <array>

#include "core/text.h"
#include "core/units.h"

namespace vidproc::queue::store_util {
namespace {

constexpr std::array<std::string_view, 24> kVideoColumnNames = {"id",
                                                                "status",
                                                                "filename",
                                                                "created_at",
                                                                "updated_at",
                                                                "size_bytes",
                                                                "progress",
                                                                "eta_seconds",
                                                                "attempts",
                                                                "error_code",
                                                                "error_message",
                                                                "source",
                                                                "output",
                                                                "has_original",
                                                                "external_id",
                                                                "metadata",
                                                                "import_key",
                                                                "import_url",
                                                                "replace_source",
                                                                "playable",
                                                                "predicted_memory_mb",
                                                                "predicted_seconds",
                                                                "waiting_for",
                                                                "lease_owner"};

constexpr size_t kMaxCursorIdLength = 64;
constexpr size_t kMaxCursorTimeDigits = 19;  // INT64_MAX has 19 digits

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

nlohmann::json ParseJsonColumn(const std::string& text) {
  if (text.empty()) return nullptr;
  // The parser refuses text that is not UTF-8: such a column is read as its cleaned text again.
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) j = nlohmann::json::parse(SanitizeText(text, text.size()), nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : SanitizeJson(j);
}

std::string FormatCursor(const Video& last) {
  return std::to_string(last.created_at_ms) + "." + last.id;
}

}  // namespace

Status NoSuchVideo(const std::string& id) {
  return Status(ErrorCode::kNotFound, "There is no video with id '" + id + "'.");
}

Status LeaseLost(const std::string& id) {
  return Status(
      ErrorCode::kLeaseLost,
      "The job of video " + id + " is no longer held by this worker (its lease expired).");
}

Status WebhookLeaseLost(int64_t id) {
  return Status(ErrorCode::kLeaseLost, "Webhook delivery " + std::to_string(id) +
                                           " is no longer held by this sender (its lease "
                                           "expired or it was settled).");
}

Status Crashed() {
  return Status(ErrorCode::kProcessCrashed,
                "Processing stopped without a result too many times (the worker or its "
                "transcoder died). The original is kept: retry it.");
}

Status DuplicateVideo(const std::string& id) {
  return Status(ErrorCode::kInvalidArgument, "A video with id '" + id + "' exists.");
}

Status NotUploading(const std::string& id) {
  return Status(ErrorCode::kInvalidState, "Video " + id + " is not being uploaded.");
}

Status NotRetryable(const std::string& id, std::string_view status) {
  return Status(ErrorCode::kInvalidState, "Only a failed video can be retried; video " + id +
                                              " is " + std::string(status) + ".");
}

Status SchemaTooNew(int version) {
  return Status(ErrorCode::kDatabaseError,
                "The database schema (version " + std::to_string(version) +
                    ") is newer than this vidproc understands; upgrade vidproc.");
}

Status DatabaseError(std::string_view what, std::string_view detail, bool disk_full) {
  if (disk_full) {
    return Status(ErrorCode::kStorageFull,
                  std::string(what) + ": the database disk is full (" + std::string(detail) + ").");
  }
  return Status(ErrorCode::kDatabaseError, std::string(what) + " (" + std::string(detail) + ").");
}

Status NoDirectUpload(const std::string& id) {
  return Status(ErrorCode::kNotFound, "Video " + id + " has no direct upload.");
}

Status NotWaitingForUpload(const std::string& id) {
  return Status(ErrorCode::kInvalidState, "Video " + id + " is not waiting for its upload.");
}

DirectUpload ReadDirectUpload(const Row& row) {
  DirectUpload d;
  d.video_id = row.Text(0);
  d.secret_hash = row.Text(1);
  d.max_bytes = row.Int(2);
  d.cors_origin = row.Text(3);
  d.expires_at_ms = row.Int(4);
  if (!row.IsNull(5)) d.used_at_ms = row.Int(5);
  return d;
}

Status CheckNewVideo(const Video& video) {
  if (video.status != VideoStatus::kUploading && video.status != VideoStatus::kQueued) {
    return Status(ErrorCode::kInvalidArgument, "A new video is either uploading or queued.");
  }
  return Status::Ok();
}

VideoStatus StatusAfterFailure(const std::optional<int64_t>& retry_at_ms) {
  return retry_at_ms ? VideoStatus::kQueued : VideoStatus::kFailed;
}

std::string NewLeaseToken() { return NewId() + NewId(); }

void AddCount(QueueCounts* c, std::string_view status_name, int64_t n, int64_t oldest_ms) {
  auto status = ParseVideoStatus(status_name);
  if (!status) return;
  if (*status == VideoStatus::kQueued && n > 0 &&
      (c->oldest_queued_ms == 0 || oldest_ms < c->oldest_queued_ms)) {
    c->oldest_queued_ms = oldest_ms;
  }
  switch (*status) {
    case VideoStatus::kUploading: c->uploading += n; break;
    case VideoStatus::kQueued: c->queued += n; break;
    case VideoStatus::kProcessing: c->processing += n; break;
    case VideoStatus::kReady: c->ready += n; break;
    case VideoStatus::kFailed: c->failed += n; break;
    case VideoStatus::kWaitingForUpload: c->waiting_for_upload += n; break;
  }
}

Status BadCursor() {
  return Status(ErrorCode::kInvalidArgument,
                "The cursor is not valid: pass the next_cursor of a previous page unchanged.");
}

Result<std::optional<PageCursor>> ParseCursor(std::string_view cursor) {
  if (cursor.empty()) return std::optional<PageCursor>();
  auto dot = cursor.find('.');
  if (dot == std::string_view::npos) return BadCursor();
  std::string_view time = cursor.substr(0, dot);
  std::string_view id = cursor.substr(dot + 1);
  // The form FormatCursor writes and no other: digits only (no sign, no spaces), no leading zero;
  // the length bound keeps a huge cursor from being parsed.
  if (time.empty() || time.size() > kMaxCursorTimeDigits || !AllDigits(time) ||
      (time.size() > 1 && time[0] == '0')) {
    return BadCursor();
  }
  if (id.empty() || id.size() > kMaxCursorIdLength) return BadCursor();
  for (char c : id) {
    if (!IsIdChar(c)) return BadCursor();
  }
  auto created_at = ParseInteger(time, 0, INT64_MAX);
  if (!created_at.ok()) return BadCursor();
  return std::optional<PageCursor>(PageCursor{created_at.value(), std::string(id)});
}

VideoPage MakePage(std::vector<Video> rows, int limit) {
  VideoPage page;
  page.videos = std::move(rows);
  if (limit >= 0 && page.videos.size() > static_cast<size_t>(limit)) {
    page.videos.resize(static_cast<size_t>(limit));
    if (!page.videos.empty()) page.next_cursor = FormatCursor(page.videos.back());
  }
  return page;
}

std::string VideoColumns(std::string_view table_alias) {
  std::string columns;
  for (std::string_view name : kVideoColumnNames) {
    if (!columns.empty()) columns += ", ";
    if (!table_alias.empty()) columns.append(table_alias).append(".");
    columns += name;
  }
  return columns;
}

Video ReadVideo(const Row& row) {
  Video v;
  v.id = row.Text(0);
  v.status = ParseVideoStatus(row.Text(1)).value_or(VideoStatus::kFailed);
  // Text columns are cleaned as they are read: a row written before strings were cleaned at
  // the boundary (or by hand) must not reach JSON or a log line as it is.
  v.filename = SanitizeText(row.Text(2));
  v.created_at_ms = row.Int(3);
  v.updated_at_ms = row.Int(4);
  v.size_bytes = row.Int(5);
  v.progress = row.Double(6);
  if (!row.IsNull(7)) v.eta_seconds = row.Int(7);
  v.attempts = static_cast<int>(row.Int(8));
  v.error_code = SanitizeText(row.Text(9));
  v.error_message = SanitizeText(row.Text(10));
  v.source = ParseJsonColumn(row.Text(11));
  v.output = ParseJsonColumn(row.Text(12));
  v.has_original = row.Bool(13);
  v.external_id = SanitizeText(row.Text(14));
  v.metadata = ParseJsonColumn(row.Text(15));
  if (!v.metadata.is_object()) v.metadata = nullptr;
  // Not cleaned: these name the object and URL the worker reads, byte for byte; they were
  // checked where they entered (storage::CheckSourceKey, storage::CheckSourceUrl).
  v.import_key = row.Text(16);
  v.import_url = row.Text(17);
  v.replace_source = row.Bool(18);
  v.playable = row.Bool(19);
  if (!row.IsNull(20)) v.predicted_memory_mb = row.Double(20);
  if (!row.IsNull(21)) v.predicted_seconds = row.Double(21);
  v.waiting_for = SanitizeText(row.Text(22));
  v.worker = SanitizeText(row.Text(23));
  return v;
}

WorkerInfo ReadWorker(const Row& row) {
  return {SanitizeText(row.Text(0)),
          SanitizeText(row.Text(1)),
          static_cast<int>(row.Int(2)),
          static_cast<int>(row.Int(3)),
          SanitizeText(row.Text(4)),
          row.Int(5),
          row.Int(6)};
}

std::optional<std::string> ExternalIdColumn(const Video& video) {
  if (video.external_id.empty()) return std::nullopt;
  return video.external_id;
}

std::optional<std::string> TextOrNull(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

std::optional<std::string> JsonColumn(const nlohmann::json& value) {
  if (value.is_null()) return std::nullopt;
  return DumpJson(value);
}

}  // namespace vidproc::queue::store_util
