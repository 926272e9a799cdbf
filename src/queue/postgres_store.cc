#include "queue/postgres_store.h"

#include <libpq-fe.h>

#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <tuple>
#include <vector>

#include "core/log.h"
#include "core/text.h"
#include "queue/store_common.h"
#include "queue/video_json.h"

namespace vidproc::queue {
namespace {

using store_util::kDeliveryOpen;
using store_util::kDropDeliveryLease;
using store_util::kDropLease;
using store_util::LeaseLost;
using store_util::NoSuchVideo;

constexpr int64_t kMigrationLock = 0x76696470;  // "vidp": one advisory lock for migrations

// Versioned schema: entry i migrates from version i to i + 1. Append only.
constexpr std::array<const char*, 11> kMigrations = {
    R"sql(
CREATE TABLE videos (
  id               TEXT COLLATE "C" PRIMARY KEY,
  status           TEXT NOT NULL,
  filename         TEXT NOT NULL,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  size_bytes       BIGINT NOT NULL DEFAULT 0,
  progress         DOUBLE PRECISION NOT NULL DEFAULT 0,
  eta_seconds      BIGINT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  error_code       TEXT,
  error_message    TEXT,
  source           TEXT,
  output           TEXT,
  has_original     BOOLEAN NOT NULL DEFAULT TRUE,
  available_at     BIGINT NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at BIGINT
);
CREATE INDEX videos_due ON videos (status, available_at, created_at);
CREATE INDEX videos_newest ON videos (created_at DESC, id DESC);
CREATE INDEX videos_owner ON videos (lease_owner) WHERE status = 'processing';
)sql",
    R"sql(
CREATE TABLE workers (
  id         TEXT PRIMARY KEY,
  host       TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  slots      INTEGER NOT NULL,
  version    TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL
);
)sql",
    R"sql(
CREATE INDEX videos_changed ON videos (updated_at, id);
)sql",
    R"sql(
CREATE TABLE webhook_outbox (
  id               BIGSERIAL PRIMARY KEY,
  video_id         TEXT NOT NULL,
  event            TEXT NOT NULL,
  created_at       BIGINT NOT NULL,
  next_attempt_at  BIGINT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  delivered_at     BIGINT,
  gave_up_at       BIGINT,
  last_error       TEXT,
  lease_token      TEXT,
  lease_expires_at BIGINT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id)
  WHERE delivered_at IS NULL AND gave_up_at IS NULL;
)sql",
    // Delivery ids receivers can deduplicate by across databases (a volatile default: rows
    // already there get one each too), and the snapshot of a deleted video.
    R"sql(
ALTER TABLE webhook_outbox ADD COLUMN event_id TEXT NOT NULL
  DEFAULT ('evt_' || replace(gen_random_uuid()::text, '-', ''));
ALTER TABLE webhook_outbox ADD COLUMN video_snapshot TEXT;
CREATE UNIQUE INDEX webhook_outbox_event_id ON webhook_outbox (event_id);
)sql",
    // The uploading platform's id and data; a platform finds its videos by its id.
    R"sql(
ALTER TABLE videos ADD COLUMN external_id TEXT;
ALTER TABLE videos ADD COLUMN metadata TEXT;
CREATE INDEX videos_external_id ON videos (external_id, created_at DESC, id DESC)
  WHERE external_id IS NOT NULL;
)sql",
    // The webhook backlog (/metrics) counted from the undelivered rows alone.
    R"sql(
CREATE INDEX webhook_outbox_undelivered ON webhook_outbox (gave_up_at) WHERE delivered_at IS NULL;
)sql",
    // Direct uploads: capability URLs, of which only the secret's hash is kept.
    R"sql(
CREATE TABLE direct_uploads (
  video_id    TEXT COLLATE "C" PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  max_bytes   BIGINT NOT NULL,
  cors_origin TEXT,
  expires_at  BIGINT NOT NULL,
  used_at     BIGINT
);
CREATE INDEX direct_uploads_expiry ON direct_uploads (expires_at);
)sql",
    // Imports: where the original is (an object of the platform's, or a URL the worker fetches)
    // and whether the processed video replaces that object.
    R"sql(
ALTER TABLE videos ADD COLUMN import_key TEXT;
ALTER TABLE videos ADD COLUMN import_url TEXT;
ALTER TABLE videos ADD COLUMN replace_source BOOLEAN NOT NULL DEFAULT FALSE;
)sql",
    // HLS published while the job runs: the video can be watched before it is ready.
    R"sql(
ALTER TABLE videos ADD COLUMN playable BOOLEAN NOT NULL DEFAULT FALSE;
)sql",
    // Admission: a claimed job's predicted memory and time, and what a deferred job waits for.
    R"sql(
ALTER TABLE videos ADD COLUMN predicted_memory_mb DOUBLE PRECISION;
ALTER TABLE videos ADD COLUMN predicted_seconds DOUBLE PRECISION;
ALTER TABLE videos ADD COLUMN waiting_for TEXT;
)sql",
};

// The video columns of table alias v, in ReadVideo's order.
const std::string& Columns() {
  static const std::string columns = store_util::VideoColumns("v");
  return columns;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;
using Params = std::vector<std::optional<std::string>>;

std::string S(int64_t v) { return std::to_string(v); }

// Row `row` of a result, in text format as libpq returns it.
class PgRow : public store_util::Row {
 public:
  PgRow(const PGresult* result, int row) : result_(result), row_(row) {}
  bool IsNull(int col) const override { return PQgetisnull(result_, row_, col); }
  std::string Text(int col) const override {
    return IsNull(col) ? "" : PQgetvalue(result_, row_, col);
  }
  int64_t Int(int col) const override { return std::atoll(Text(col).c_str()); }
  double Double(int col) const override { return std::atof(Text(col).c_str()); }
  bool Bool(int col) const override { return Text(col) == "t"; }

 private:
  const PGresult* result_;
  int row_;
};

Video ReadVideo(const PGresult* r, int row) { return store_util::ReadVideo(PgRow(r, row)); }

// The driver's last error text, without libpq's trailing newline.
std::string ErrorText(const PGconn* conn) {
  std::string why = PQerrorMessage(conn);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

template <typename T>
Status Check(const Result<T>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

constexpr const char* kJobsChannel = "vidproc_jobs";

int64_t Affected(const PGresult* r) { return std::atoll(PQcmdTuples(const_cast<PGresult*>(r))); }

// The first column of the first row as a number (a SELECT COUNT(*)).
int64_t FirstNumber(const PGresult* r) {
  return PQntuples(r) > 0 ? std::atoll(PQgetvalue(r, 0, 0)) : 0;
}

// Wraps `update`, an UPDATE of videos ending in RETURNING v.id, into one statement that also
// writes a delivery of `event` per updated row when parameter `enabled` is true, and returns
// how many rows were updated. One statement: the status change and its events commit together.
// `now` names the parameter that holds the current time.
std::string WithOutbox(const std::string& update, std::string_view event, const char* now,
                       const char* enabled) {
  return "WITH changed AS (" + update +
         "), events AS (INSERT INTO webhook_outbox (video_id, event, created_at, "
         "next_attempt_at) SELECT id, '" +
         std::string(event) + "', " + now + "::bigint, " + now + "::bigint FROM changed WHERE " +
         enabled + "::boolean ORDER BY id) SELECT COUNT(*) FROM changed";
}

std::string Bool(bool b) { return b ? "t" : "f"; }

}  // namespace

// One libpq connection, re-established when it drops.
class PostgresStore::Connection {
 public:
  explicit Connection(std::string url) : url_(std::move(url)) {}
  ~Connection() {
    if (conn_) PQfinish(conn_);
  }

  Status Connect() {
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    if (conn_) PQfinish(conn_);
    conn_ = PQconnectdb(url_.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      return store_util::DatabaseError("Cannot connect to PostgreSQL", ErrorText(conn_), false);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return Status::Ok();
  }

  // Runs `sql` with text parameters (nullopt is NULL). A dropped connection is re-established
  // once before giving up, unless inside a transaction (its statements are gone with it).
  Result<PgResult> Exec(const std::string& sql, const Params& params = {}) {
    for (int attempt = 0;; ++attempt) {
      RETURN_IF_ERROR(Connect());
      std::vector<const char*> values;
      for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
      // Without parameters, PQexec: it also runs scripts of several statements (migrations).
      PgResult r(params.empty() ? PQexec(conn_, sql.c_str())
                                : PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()),
                                               nullptr, values.data(), nullptr, nullptr, 0));
      ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
      if (PQstatus(conn_) != CONNECTION_OK && attempt == 0 && !in_transaction_) continue;
      const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
      last_sqlstate_ = state ? state : "";
      // 53100: disk_full.
      return store_util::DatabaseError("PostgreSQL", ErrorText(conn_), last_sqlstate_ == "53100");
    }
  }

  template <typename Body>
  Status Transaction(Body&& body) {
    RETURN_IF_ERROR(Check(Exec("BEGIN")));
    in_transaction_ = true;
    Status s = body();
    if (s.ok()) s = Check(Exec("COMMIT"));
    if (!s.ok()) (void)Exec("ROLLBACK");
    in_transaction_ = false;
    return s;
  }

  const std::string& last_sqlstate() const { return last_sqlstate_; }
  PGconn* raw() const { return conn_; }

 private:
  std::string url_;
  PGconn* conn_ = nullptr;
  bool in_transaction_ = false;
  std::string last_sqlstate_;
};

PostgresStore::PostgresStore(std::string url, const Clock* clock)
    : url_(std::move(url)), clock_(clock), conn_(std::make_unique<Connection>(url_)) {}

PostgresStore::~PostgresStore() = default;

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url,
                                                           const Clock* clock) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(url, clock));
  std::lock_guard lock(store->mutex_);
  RETURN_IF_ERROR(store->conn_->Connect());
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

Status PostgresStore::Migrate() {
  // Nodes starting together wait for each other here instead of racing through the migrations.
  RETURN_IF_ERROR(Check(conn_->Exec("SELECT pg_advisory_lock(" + S(kMigrationLock) + ")")));
  Status s = Check(
      conn_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                  "applied_at BIGINT NOT NULL)"));
  int version = 0;
  if (s.ok()) {
    auto r = conn_->Exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (r.ok()) {
      version = std::atoi(PQgetvalue(r->get(), 0, 0));
    } else {
      s = r.status();
    }
  }
  if (s.ok() && version > static_cast<int>(kMigrations.size())) {
    s = store_util::SchemaTooNew(version);
  }
  for (int v = version; s.ok() && v < static_cast<int>(kMigrations.size()); ++v) {
    s = conn_->Transaction([&]() -> Status {
      RETURN_IF_ERROR(Check(conn_->Exec(kMigrations[v])));
      RETURN_IF_ERROR(
          Check(conn_->Exec("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                            {S(v + 1), S(clock_->NowMs())})));
      LogInfo("database migrated", {{"version", v + 1}});
      return Status::Ok();
    });
  }
  (void)conn_->Exec("SELECT pg_advisory_unlock(" + S(kMigrationLock) + ")");
  return s;
}

Status PostgresStore::CreateVideo(const Video& video) {
  RETURN_IF_ERROR(store_util::CheckNewVideo(video));
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  auto r = conn_->Exec(
      "INSERT INTO videos (id, status, filename, created_at, updated_at, size_bytes, "
      "available_at, external_id, metadata, import_key, import_url, replace_source) "
      "VALUES ($1, $2, $3, $4, $4, $5, $4, $6, $7, $8, $9, $10)",
      {video.id, std::string(StatusName(video.status)), video.filename, S(now), S(video.size_bytes),
       store_util::ExternalIdColumn(video), store_util::JsonColumn(video.metadata),
       store_util::TextOrNull(video.import_key), store_util::TextOrNull(video.import_url),
       Bool(video.replace_source)});
  if (!r.ok() && conn_->last_sqlstate() == "23505") return store_util::DuplicateVideo(video.id);
  return Check(r);
}

Status PostgresStore::MarkUploaded(const std::string& id, int64_t size_bytes) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("UPDATE videos SET status = 'queued', size_bytes = $1, "
                                           "updated_at = $2, available_at = $2 "
                                           "WHERE id = $3 AND status = 'uploading'",
                                           {S(size_bytes), S(now), id}));
  if (Affected(r.get()) == 0) return store_util::NotUploading(id);
  (void)conn_->Exec(std::string("NOTIFY ") + kJobsChannel);
  return Status::Ok();
}

Status PostgresStore::CreateDirectUpload(const Video& video, const DirectUpload& upload) {
  if (video.status != VideoStatus::kWaitingForUpload || upload.video_id != video.id) {
    return Status(ErrorCode::kInvalidArgument,
                  "A direct upload's video is new, waiting for its upload, and has its id.");
  }
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  // One statement: both rows or neither.
  auto r = conn_->Exec(
      "WITH v AS (INSERT INTO videos (id, status, filename, created_at, updated_at, size_bytes, "
      "available_at, external_id, metadata) VALUES ($1, $2, $3, $4, $4, 0, $4, $5, $6) "
      "RETURNING id) INSERT INTO direct_uploads (video_id, secret_hash, max_bytes, cors_origin, "
      "expires_at) SELECT id, $7, $8, $9, $10 FROM v",
      {video.id, std::string(StatusName(video.status)), video.filename, S(now),
       store_util::ExternalIdColumn(video), store_util::JsonColumn(video.metadata),
       upload.secret_hash, S(upload.max_bytes),
       upload.cors_origin.empty() ? std::nullopt : std::optional<std::string>(upload.cors_origin),
       S(upload.expires_at_ms)});
  if (!r.ok() && conn_->last_sqlstate() == "23505") return store_util::DuplicateVideo(video.id);
  return Check(r);
}

Result<DirectUpload> PostgresStore::GetDirectUpload(const std::string& video_id) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r,
                   conn_->Exec("SELECT " + std::string(store_util::kDirectUploadColumns) +
                                   " FROM direct_uploads WHERE video_id = $1",
                               {video_id}));
  if (PQntuples(r.get()) == 0) return store_util::NoDirectUpload(video_id);
  return store_util::ReadDirectUpload(PgRow(r.get(), 0));
}

Result<bool> PostgresStore::ConsumeDirectUpload(const std::string& video_id) {
  std::lock_guard lock(mutex_);
  // One statement: the row lock makes a concurrent one wait and then find used_at set.
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE direct_uploads SET used_at = $1 WHERE video_id = $2 AND used_at IS "
                  "NULL AND expires_at > $1 AND EXISTS (SELECT 1 FROM videos WHERE id = $2 AND "
                  "status = 'waiting_for_upload')",
                  {S(clock_->NowMs()), video_id}));
  return Affected(r.get()) == 1;
}

Status PostgresStore::StartDirectUpload(const std::string& video_id, const std::string& filename,
                                        int64_t size_bytes) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE videos SET status = 'uploading', filename = $1, size_bytes = $2, "
                  "updated_at = $3 WHERE id = $4 AND status = 'waiting_for_upload'",
                  {filename, S(size_bytes), S(clock_->NowMs()), video_id}));
  if (Affected(r.get()) == 1) return Status::Ok();
  ASSIGN_OR_RETURN(PgResult exists, conn_->Exec("SELECT 1 FROM videos WHERE id = $1", {video_id}));
  if (PQntuples(exists.get()) == 0) return NoSuchVideo(video_id);
  return store_util::NotWaitingForUpload(video_id);
}

Result<std::vector<std::string>> PostgresStore::ListExpiredDirectUploads(int64_t used_grace_ms,
                                                                         int limit) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("SELECT d.video_id FROM direct_uploads d JOIN videos v ON v.id = d.video_id "
                  "WHERE d.expires_at <= $1 AND v.status = 'waiting_for_upload' AND "
                  "(d.used_at IS NULL OR d.used_at <= $2) ORDER BY d.expires_at, d.video_id "
                  "LIMIT $3",
                  {S(now), S(now - used_grace_ms), S(limit)}));
  std::vector<std::string> ids;
  for (int i = 0; i < PQntuples(r.get()); ++i) ids.push_back(PQgetvalue(r.get(), i, 0));
  return ids;
}

Result<Video> PostgresStore::GetVideo(const std::string& id) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r,
                   conn_->Exec("SELECT " + Columns() + " FROM videos v WHERE v.id = $1", {id}));
  if (PQntuples(r.get()) == 0) return NoSuchVideo(id);
  return ReadVideo(r.get(), 0);
}

Result<VideoPage> PostgresStore::ListVideos(const VideoFilter& filter, int limit,
                                            const std::string& cursor) {
  ASSIGN_OR_RETURN(std::optional<store_util::PageCursor> after, store_util::ParseCursor(cursor));
  Params params = {S(limit + 1)};
  std::string where = "TRUE";
  if (after) {
    params.push_back(S(after->created_at_ms));
    params.push_back(after->id);
    where = "(v.created_at < $2 OR (v.created_at = $2 AND v.id < $3))";
  }
  if (filter.status) {
    params.push_back(std::string(StatusName(*filter.status)));
    where += " AND v.status = $" + std::to_string(params.size());
  }
  if (!filter.external_id.empty()) {
    params.push_back(filter.external_id);
    where += " AND v.external_id = $" + std::to_string(params.size());
  }
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("SELECT " + Columns() + " FROM videos v WHERE " + where +
                                               " ORDER BY v.created_at DESC, v.id DESC LIMIT $1",
                                           params));
  std::vector<Video> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) rows.push_back(ReadVideo(r.get(), i));
  return store_util::MakePage(std::move(rows), limit);
}

Result<std::vector<Video>> PostgresStore::ListChangedSince(int64_t since_ms, int limit) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("SELECT " + Columns() +
                                               " FROM videos v WHERE v.updated_at >= $1"
                                               " ORDER BY v.updated_at, v.id LIMIT $2",
                                           {S(since_ms), S(limit)}));
  std::vector<Video> videos;
  for (int i = 0; i < PQntuples(r.get()); ++i) videos.push_back(ReadVideo(r.get(), i));
  return videos;
}

Result<QueueCounts> PostgresStore::Counts() {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("SELECT status, COUNT(*), MIN(updated_at) FROM videos "
                                           "GROUP BY status"));
  QueueCounts c;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    store_util::AddCount(&c, PQgetvalue(r.get(), i, 0), std::atoll(PQgetvalue(r.get(), i, 1)),
                         std::atoll(PQgetvalue(r.get(), i, 2)));
  }
  return c;
}

Result<std::optional<Claim>> PostgresStore::ClaimNext(const std::string& worker_id,
                                                      int64_t lease_ms, int max_processing,
                                                      std::optional<double> memory_available_mb) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Claim c;
  c.lease_token = store_util::NewLeaseToken();
  c.lease_expires_ms = now + lease_ms;
  // One statement: the worker's cap, the oldest due job that no other worker has locked, the
  // claim. SKIP LOCKED lets concurrent workers pass each other instead of queueing on a row.
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec(
          std::string("WITH next AS (SELECT id FROM videos WHERE status = 'queued' AND "
                      "available_at <= $4 AND ($6::DOUBLE PRECISION IS NULL OR "
                      "predicted_memory_mb IS NULL OR predicted_memory_mb <= $6) "
                      "ORDER BY available_at, created_at, id "
                      "FOR UPDATE SKIP LOCKED LIMIT 1) "
                      "UPDATE videos v SET status = 'processing', attempts = v.attempts + 1, "
                      "progress = 0, playable = FALSE, waiting_for = NULL, eta_seconds = NULL, "
                      "lease_owner = $1, "
                      "lease_token = $2, "
                      "lease_expires_at = $3, updated_at = $4 FROM next WHERE v.id = next.id "
                      "AND (SELECT COUNT(*) FROM videos WHERE status = 'processing' AND "
                      "lease_owner = $1) < $5 RETURNING ") +
              Columns() + ", v.available_at",
          {worker_id, c.lease_token, S(c.lease_expires_ms), S(now), S(max_processing),
           memory_available_mb ? std::optional<std::string>(std::to_string(*memory_available_mb))
                               : std::nullopt}));
  if (PQntuples(r.get()) == 0) return std::optional<Claim>();
  c.video = ReadVideo(r.get(), 0);
  const int64_t due_ms = std::atoll(PQgetvalue(r.get(), 0, PQnfields(r.get()) - 1));
  c.waited_ms = std::max<int64_t>(0, now - due_ms);
  return std::optional<Claim>(std::move(c));
}

Status PostgresStore::RenewLease(const std::string& id, const std::string& token, int64_t lease_ms,
                                 double progress, std::optional<int64_t> eta_seconds) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  std::optional<std::string> eta;
  if (eta_seconds) eta = S(*eta_seconds);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE videos SET lease_expires_at = $1, progress = $2, "
                  "eta_seconds = $3, updated_at = $4 WHERE id = $5 AND "
                  "status = 'processing' AND lease_token = $6",
                  {S(now + lease_ms), std::to_string(progress), eta, S(now), id, token}));
  return Affected(r.get()) == 1 ? Status::Ok() : LeaseLost(id);
}

Status PostgresStore::MarkPlayable(const std::string& id, const std::string& token) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("UPDATE videos SET playable = TRUE, updated_at = $1 "
                                           "WHERE id = $2 AND status = 'processing' AND "
                                           "lease_token = $3",
                                           {S(clock_->NowMs()), id, token}));
  return Affected(r.get()) == 1 ? Status::Ok() : LeaseLost(id);
}

Status PostgresStore::CompleteJob(const std::string& id, const std::string& token,
                                  const nlohmann::json& source, const nlohmann::json& output,
                                  bool original_kept) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec(WithOutbox("UPDATE videos v SET status = 'ready', progress = 1, "
                             "eta_seconds = NULL, error_code = NULL, error_message = NULL, "
                             "source = $1, output = $2, has_original = $3, " +
                                 std::string(kDropLease) +
                                 ", updated_at = $4 WHERE v.id = $5 AND v.status = 'processing' "
                                 "AND v.lease_token = $6 RETURNING v.id",
                             kEventVideoReady, "$4", "$7"),
                  {store_util::JsonColumn(source), store_util::JsonColumn(output),
                   Bool(original_kept), S(clock_->NowMs()), id, token, Bool(outbox_enabled_)}));
  return FirstNumber(r.get()) == 1 ? Status::Ok() : LeaseLost(id);
}

Status PostgresStore::FailJob(const std::string& id, const std::string& token, const Status& error,
                              std::optional<int64_t> retry_at_ms) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec(
          WithOutbox("UPDATE videos v SET status = $1, error_code = $2, "
                     "error_message = $3, progress = 0, playable = FALSE, eta_seconds = NULL, "
                     "available_at = $4, " +
                         std::string(kDropLease) +
                         ", updated_at = $5 WHERE v.id = $6 AND v.status = 'processing' "
                         "AND v.lease_token = $7 RETURNING v.id",
                     kEventVideoFailed, "$5", "$8"),
          {std::string(StatusName(store_util::StatusAfterFailure(retry_at_ms))),
           std::string(error.code_name()), error.message(), S(retry_at_ms.value_or(now)), S(now),
           id, token, Bool(!retry_at_ms && outbox_enabled_)}));
  if (FirstNumber(r.get()) != 1) return LeaseLost(id);
  if (retry_at_ms) (void)conn_->Exec(std::string("NOTIFY ") + kJobsChannel);
  return Status::Ok();
}

Status PostgresStore::RecordEstimate(const std::string& id, const std::string& token,
                                     const JobEstimate& estimate) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE videos SET predicted_memory_mb = $1, predicted_seconds = $2, "
                  "source = $3, updated_at = $4 WHERE id = $5 AND status = 'processing' AND "
                  "lease_token = $6",
                  {std::to_string(estimate.memory_mb), std::to_string(estimate.seconds),
                   store_util::JsonColumn(estimate.source), S(clock_->NowMs()), id, token}));
  return Affected(r.get()) == 1 ? Status::Ok() : LeaseLost(id);
}

Status PostgresStore::DeferJob(const std::string& id, const std::string& token,
                               const std::string& for_what) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE videos SET status = 'queued', attempts = GREATEST(attempts - 1, 0), "
                  "progress = 0, playable = FALSE, eta_seconds = NULL, waiting_for = $1, " +
                      std::string(kDropLease) +
                      ", updated_at = $2 WHERE id = $3 AND status = 'processing' AND "
                      "lease_token = $4",
                  {for_what, S(clock_->NowMs()), id, token}));
  return Affected(r.get()) == 1 ? Status::Ok() : LeaseLost(id);
}

Result<std::vector<Video>> PostgresStore::ListQueue(int limit) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r,
                   conn_->Exec("(SELECT " + Columns() +
                                   ", 0 AS part, v.updated_at AS rank FROM videos v "
                                   "WHERE v.status = 'processing') UNION ALL (SELECT " +
                                   Columns() +
                                   ", 1, v.available_at FROM videos v WHERE v.status = 'queued' "
                                   "ORDER BY v.available_at, v.created_at, v.id LIMIT $1) "
                                   "ORDER BY part, rank, created_at, id",
                               {S(std::max(limit, 0))}));
  std::vector<Video> videos;
  for (int i = 0; i < PQntuples(r.get()); ++i) videos.push_back(ReadVideo(r.get(), i));
  return videos;
}

Status PostgresStore::ReleaseJob(const std::string& id, const std::string& token) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE videos SET status = 'queued', attempts = GREATEST(attempts - 1, 0), "
                  "progress = 0, playable = FALSE, eta_seconds = NULL, available_at = $1, " +
                      std::string(kDropLease) +
                      ", updated_at = $1 WHERE id = $2 AND status = 'processing' AND "
                      "lease_token = $3",
                  {S(now), id, token}));
  if (Affected(r.get()) != 1) return LeaseLost(id);
  (void)conn_->Exec(std::string("NOTIFY ") + kJobsChannel);
  return Status::Ok();
}

Result<int> PostgresStore::RecoverExpiredLeases(int max_attempts) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(
      PgResult failed,
      conn_->Exec(WithOutbox("UPDATE videos v SET status = 'failed', error_code = $3, "
                             "error_message = $4, progress = 0, playable = FALSE, " +
                                 std::string(kDropLease) +
                                 ", updated_at = $1 WHERE v.status = 'processing' AND "
                                 "v.lease_expires_at < $1 AND v.attempts >= $2 RETURNING v.id",
                             kEventVideoFailed, "$1", "$5"),
                  {S(now), S(max_attempts), std::string(store_util::Crashed().code_name()),
                   store_util::Crashed().message(), Bool(outbox_enabled_)}));
  ASSIGN_OR_RETURN(
      PgResult requeued,
      conn_->Exec("UPDATE videos SET status = 'queued', progress = 0, playable = FALSE, "
                  "eta_seconds = NULL, "
                  "available_at = $1, " +
                      std::string(kDropLease) +
                      ", updated_at = $1 WHERE status = 'processing' AND lease_expires_at < $1",
                  {S(now)}));
  if (Affected(requeued.get()) > 0) (void)conn_->Exec(std::string("NOTIFY ") + kJobsChannel);
  return static_cast<int>(FirstNumber(failed.get()) + Affected(requeued.get()));
}

Status PostgresStore::RetryVideo(const std::string& id) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE videos SET status = 'queued', attempts = 0, "
                  "error_code = NULL, error_message = NULL, progress = 0, playable = FALSE, "
                  "available_at = $1, updated_at = $1 "
                  "WHERE id = $2 AND status = 'failed'",
                  {S(now), id}));
  if (Affected(r.get()) == 1) {
    (void)conn_->Exec(std::string("NOTIFY ") + kJobsChannel);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(PgResult exists, conn_->Exec("SELECT status FROM videos WHERE id = $1", {id}));
  if (PQntuples(exists.get()) == 0) return NoSuchVideo(id);
  return store_util::NotRetryable(id, PQgetvalue(exists.get(), 0, 0));
}

Status PostgresStore::DeleteVideo(const std::string& id) {
  std::lock_guard lock(mutex_);
  const std::string remove = "DELETE FROM videos WHERE id = $1";
  if (!outbox_enabled_) {
    ASSIGN_OR_RETURN(PgResult r, conn_->Exec(remove, {id}));
    return Affected(r.get()) == 1 ? Status::Ok() : NoSuchVideo(id);
  }
  return conn_->Transaction([&]() -> Status {
    ASSIGN_OR_RETURN(
        PgResult last,
        conn_->Exec("SELECT " + Columns() + " FROM videos v WHERE v.id = $1 FOR UPDATE", {id}));
    if (PQntuples(last.get()) == 0) return NoSuchVideo(id);
    const std::string snapshot = DumpJson(ToApiJson(ReadVideo(last.get(), 0)));
    RETURN_IF_ERROR(Check(conn_->Exec(
        "INSERT INTO webhook_outbox (video_id, event, created_at, next_attempt_at, video_snapshot) "
        "VALUES ($1, $2, $3, $3, $4)",
        {id, std::string(kEventVideoDeleted), S(clock_->NowMs()), snapshot})));
    ASSIGN_OR_RETURN(PgResult r, conn_->Exec(remove, {id}));
    return Affected(r.get()) == 1 ? Status::Ok() : NoSuchVideo(id);
  });
}

bool PostgresStore::WaitForJobs(int64_t timeout_ms) {
  std::unique_lock lock(listen_mutex_, std::defer_lock);
  if (!lock.try_lock_for(std::chrono::milliseconds(timeout_ms))) return false;
  if (!listener_) listener_ = std::make_unique<Connection>(url_);
  if (!listener_->raw() || PQstatus(listener_->raw()) != CONNECTION_OK) {
    if (!listener_->Connect().ok() ||
        !listener_->Exec(std::string("LISTEN ") + kJobsChannel).ok()) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      return false;
    }
  }
  PGconn* c = listener_->raw();
  auto drain = [c] {
    bool any = false;
    while (PGnotify* n = PQnotifies(c)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  PQconsumeInput(c);
  if (drain()) return true;
  pollfd p{PQsocket(c), POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout_ms)) > 0) {
    PQconsumeInput(c);
    return drain();
  }
  return false;
}

Status PostgresStore::Heartbeat(const WorkerInfo& w) {
  std::lock_guard lock(mutex_);
  return Check(conn_->Exec(
      "INSERT INTO workers (id, host, pid, slots, version, started_at, last_seen) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET host = $2, pid = $3, "
      "slots = $4, version = $5, started_at = $6, last_seen = $7",
      {w.id, w.host, S(w.pid), S(w.slots), w.version, S(w.started_at_ms), S(clock_->NowMs())}));
}

Result<std::vector<WorkerInfo>> PostgresStore::ListWorkers(int64_t seen_within_ms) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("SELECT " + std::string(store_util::kWorkerColumns) +
                                               " FROM workers WHERE last_seen >= $1 ORDER BY id",
                                           {S(clock_->NowMs() - seen_within_ms)}));
  std::vector<WorkerInfo> workers;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    workers.push_back(store_util::ReadWorker(PgRow(r.get(), i)));
  }
  return workers;
}

Status PostgresStore::RemoveWorker(const std::string& id) {
  std::lock_guard lock(mutex_);
  return Check(conn_->Exec("DELETE FROM workers WHERE id = $1", {id}));
}

Result<std::vector<WebhookDelivery>> PostgresStore::ClaimWebhookDeliveries(int limit,
                                                                           int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  std::string token = store_util::NewLeaseToken();
  // SKIP LOCKED: concurrent senders pass each other; the lease keeps a delivery someone is
  // sending from being claimed again after that transaction has committed.
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("WITH due AS (SELECT id FROM webhook_outbox WHERE " + std::string(kDeliveryOpen) +
                      " AND next_attempt_at <= $1 AND (lease_expires_at IS NULL "
                      "OR lease_expires_at <= $1) ORDER BY next_attempt_at, id LIMIT $2 "
                      "FOR UPDATE SKIP LOCKED) "
                      "UPDATE webhook_outbox o SET attempts = o.attempts + 1, lease_token = $3, "
                      "lease_expires_at = $4 FROM due WHERE o.id = due.id "
                      "RETURNING o.id, o.video_id, o.event, o.attempts, o.created_at, "
                      "o.next_attempt_at, o.event_id, COALESCE(o.video_snapshot, '')",
                  {S(now), S(limit), token, S(now + lease_ms)}));
  struct Row {
    int64_t next_attempt_at;
    WebhookDelivery delivery;
  };
  std::vector<Row> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    auto v = [&](int c) { return std::string(PQgetvalue(r.get(), i, c)); };
    rows.push_back({std::atoll(v(5).c_str()),
                    {std::atoll(v(0).c_str()), v(1), v(2), std::atoi(v(3).c_str()),
                     std::atoll(v(4).c_str()), token, v(6), v(7)}});
  }
  // RETURNING does not keep the CTE's order.
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.next_attempt_at, a.delivery.id) < std::tie(b.next_attempt_at, b.delivery.id);
  });
  std::vector<WebhookDelivery> claimed;
  for (Row& row : rows) claimed.push_back(std::move(row.delivery));
  return claimed;
}

Status PostgresStore::SettleDelivery(int64_t id, const std::string& lease_token, const char* column,
                                     int64_t value, const std::optional<std::string>& error) {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE webhook_outbox SET " + std::string(column) + " = $1, last_error = $2, " +
                      std::string(kDropDeliveryLease) + " WHERE id = $3 AND lease_token = $4 AND " +
                      std::string(kDeliveryOpen),
                  {S(value), error, S(id), lease_token}));
  return Affected(r.get()) == 1 ? Status::Ok() : store_util::WebhookLeaseLost(id);
}

Status PostgresStore::MarkWebhookDelivered(int64_t id, const std::string& lease_token) {
  return SettleDelivery(id, lease_token, "delivered_at", clock_->NowMs(), std::nullopt);
}

Status PostgresStore::RecordWebhookFailure(int64_t id, const std::string& lease_token,
                                           int64_t next_attempt_ms, const std::string& error) {
  return SettleDelivery(id, lease_token, "next_attempt_at", next_attempt_ms, error);
}

Status PostgresStore::GiveUpWebhook(int64_t id, const std::string& lease_token,
                                    const std::string& error) {
  return SettleDelivery(id, lease_token, "gave_up_at", clock_->NowMs(), error);
}

Result<WebhookBacklog> PostgresStore::CountWebhookBacklog() {
  std::lock_guard lock(mutex_);
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec(std::string(store_util::kWebhookBacklogQuery)));
  PgRow row(r.get(), 0);
  return WebhookBacklog{.pending = row.Int(0), .failed = row.Int(1), .given_up = row.Int(2)};
}

}  // namespace vidproc::queue
