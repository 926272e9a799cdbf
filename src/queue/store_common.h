// What every JobStore implementation does the same way, whatever its SQL dialect: the errors they
// share, the list cursor and paging, the mapping of result rows to Video and WorkerInfo, and the
// SQL fragments that read the same in every dialect. Defined and tested once
// (tests/queue/store_common_test.cc); the statements themselves stay in each store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "queue/job_store.h"

namespace vidproc::queue::store_util {

// --- Errors every store reports in the same words.
Status NoSuchVideo(const std::string& id);
Status LeaseLost(const std::string& id);
// A webhook delivery whose lease is not the caller's (it expired and was claimed again, or the
// delivery was settled meanwhile).
Status WebhookLeaseLost(int64_t id);
// The error recorded on a job whose lease expired too many times.
Status Crashed();
Status DuplicateVideo(const std::string& id);
// MarkUploaded of a video that is not uploading.
Status NotUploading(const std::string& id);
// A video without a direct upload (GetDirectUpload).
Status NoDirectUpload(const std::string& id);
// StartDirectUpload of a video that is not waiting for its upload.
Status NotWaitingForUpload(const std::string& id);
// RetryVideo of a video in `status` (its name as stored), which is not failed.
Status NotRetryable(const std::string& id, std::string_view status);
// The database was migrated by a newer vidproc to `version`.
Status SchemaTooNew(int version);
// A failed database call: kStorageFull when the database's disk is full, else kDatabaseError.
// `what` says what was being done, `detail` is the driver's text.
Status DatabaseError(std::string_view what, std::string_view detail, bool disk_full);
// CreateVideo's precondition on the new video.
Status CheckNewVideo(const Video& video);

// What FailJob makes of a job: queued again when it has a retry time, else failed.
VideoStatus StatusAfterFailure(const std::optional<int64_t>& retry_at_ms);

std::string NewLeaseToken();
// Adds `n` videos of the status named `status` (as stored) to `counts`, the one changed longest ago
// at `oldest_ms`; unknown names are skipped.
void AddCount(QueueCounts* counts, std::string_view status, int64_t n, int64_t oldest_ms);

// --- Paging of ListVideos: newest first, by (created_at, id) descending.
// A position in the list: after the video created at `created_at_ms` with `id`.
struct PageCursor {
  int64_t created_at_ms = 0;
  std::string id;
};
// The cursor is "<created_at>.<id>" of the last video of the previous page: a non-negative int64
// in decimal without leading zeros, a dot, an id of 1 to 64 URL-safe characters ([A-Za-z0-9_-],
// what NewId makes). An
// empty cursor is the first page (nullopt); anything else is refused with BadCursor().
Result<std::optional<PageCursor>> ParseCursor(std::string_view cursor);
Status BadCursor();
// A page from `rows`, fetched newest first with a LIMIT of `limit + 1`: the extra row, if any,
// is dropped and says there is a next page.
VideoPage MakePage(std::vector<Video> rows, int limit);

// --- Rows: one result row as each dialect's driver reads it, columns by position.
class Row {
 public:
  virtual bool IsNull(int col) const = 0;
  virtual std::string Text(int col) const = 0;  // "" for NULL
  virtual int64_t Int(int col) const = 0;
  virtual double Double(int col) const = 0;
  virtual bool Bool(int col) const = 0;

 protected:
  ~Row() = default;
};

// The columns of the videos table in the order ReadVideo reads them, each prefixed with
// `table_alias` and a dot when it is not empty.
std::string VideoColumns(std::string_view table_alias = "");
Video ReadVideo(const Row& row);
// The columns of the direct_uploads table in the order ReadDirectUpload reads them.
inline constexpr std::string_view kDirectUploadColumns =
    "video_id, secret_hash, max_bytes, cors_origin, expires_at, used_at";
DirectUpload ReadDirectUpload(const Row& row);
// The columns of the workers table in the order ReadWorker reads them.
inline constexpr std::string_view kWorkerColumns =
    "id, host, pid, slots, version, started_at, last_seen";
WorkerInfo ReadWorker(const Row& row);
// The external_id column as stored: NULL when the video has none.
std::optional<std::string> ExternalIdColumn(const Video& video);
// A text column that is NULL when empty (import_key, import_url).
std::optional<std::string> TextOrNull(const std::string& text);
// A JSON column (source, output, metadata) as stored: its text, NULL for null.
std::optional<std::string> JsonColumn(const nlohmann::json& value);

// --- SQL fragments that are the same text in every dialect.
// SET clause: the job has no lease any more (completed, failed, released, recovered).
inline constexpr std::string_view kDropLease =
    "lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL";
// SET clause: the webhook delivery has no lease any more.
inline constexpr std::string_view kDropDeliveryLease =
    "lease_token = NULL, lease_expires_at = NULL";
// WHERE condition: the delivery is neither delivered nor given up.
inline constexpr std::string_view kDeliveryOpen = "delivered_at IS NULL AND gave_up_at IS NULL";
// CountWebhookBacklog's query: pending, failed, given up (an open delivery has a last_error once
// a send of it did not succeed, including one cut short by a shutdown). The WHERE clause matches
// the partial index webhook_outbox_undelivered, so delivered rows are never read.
inline constexpr std::string_view kWebhookBacklogQuery =
    "SELECT COUNT(CASE WHEN gave_up_at IS NULL AND last_error IS NULL THEN 1 END), "
    "COUNT(CASE WHEN gave_up_at IS NULL AND last_error IS NOT NULL THEN 1 END), "
    "COUNT(gave_up_at) FROM webhook_outbox WHERE delivered_at IS NULL";

}  // namespace vidproc::queue::store_util
