#include "queue/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <unordered_map>

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

constexpr int kBusyTimeoutMs = 30'000;

// Versioned schema: entry i migrates from version i to i + 1. Append only; never edit one that
// has shipped.
constexpr std::array<const char*, 11> kMigrations = {
    R"sql(
CREATE TABLE videos (
  id               TEXT PRIMARY KEY,
  status           TEXT NOT NULL,
  filename         TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  size_bytes       INTEGER NOT NULL DEFAULT 0,
  progress         REAL NOT NULL DEFAULT 0,
  eta_seconds      INTEGER,
  attempts         INTEGER NOT NULL DEFAULT 0,
  error_code       TEXT,
  error_message    TEXT,
  source           TEXT,
  output           TEXT,
  has_original     INTEGER NOT NULL DEFAULT 1,
  available_at     INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER
);
CREATE INDEX videos_due ON videos (status, available_at, created_at);
CREATE INDEX videos_newest ON videos (created_at DESC, id DESC);
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
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  video_id         TEXT NOT NULL,
  event            TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  next_attempt_at  INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  delivered_at     INTEGER,
  gave_up_at       INTEGER,
  last_error       TEXT,
  lease_token      TEXT,
  lease_expires_at INTEGER
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, id)
  WHERE delivered_at IS NULL AND gave_up_at IS NULL;
)sql",
    // Delivery ids receivers can deduplicate by across databases (rows already there get one
    // too), and the snapshot of a deleted video.
    R"sql(
ALTER TABLE webhook_outbox ADD COLUMN event_id TEXT;
ALTER TABLE webhook_outbox ADD COLUMN video_snapshot TEXT;
UPDATE webhook_outbox SET event_id = 'evt_' || lower(hex(randomblob(16)));
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
  video_id    TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  max_bytes   INTEGER NOT NULL,
  cors_origin TEXT,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
CREATE INDEX direct_uploads_expiry ON direct_uploads (expires_at);
)sql",
    // Imports: where the original is (an object of the platform's, or a URL the worker fetches)
    // and whether the processed video replaces that object.
    R"sql(
ALTER TABLE videos ADD COLUMN import_key TEXT;
ALTER TABLE videos ADD COLUMN import_url TEXT;
ALTER TABLE videos ADD COLUMN replace_source INTEGER NOT NULL DEFAULT 0;
)sql",
    // HLS published while the job runs: the video can be watched before it is ready.
    R"sql(
ALTER TABLE videos ADD COLUMN playable INTEGER NOT NULL DEFAULT 0;
)sql",
    // Admission: a claimed job's predicted memory and time, and what a deferred job waits for.
    R"sql(
ALTER TABLE videos ADD COLUMN predicted_memory_mb REAL;
ALTER TABLE videos ADD COLUMN predicted_seconds REAL;
ALTER TABLE videos ADD COLUMN waiting_for TEXT;
)sql",
};

// A new delivery's event id, per row (SQLite cannot add a column with a volatile default).
constexpr std::string_view kNewEventId = "'evt_' || lower(hex(randomblob(16)))";

// "SELECT <the video columns> FROM videos <rest>".
std::string SelectVideos(std::string_view rest) {
  return "SELECT " + store_util::VideoColumns() + " FROM videos " + std::string(rest);
}

Status FromSqlite(int rc, sqlite3* db, const std::string& what) {
  return store_util::DatabaseError(what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                                   rc == SQLITE_FULL);
}

}  // namespace

// The connection's prepared statements, kept between calls: parsing and planning a statement
// cost more than running it for the API's reads (a status request is one indexed lookup).
// Keyed by SQL text; a statement is taken out while in use, so a nested use of the same SQL
// prepares its own. Used only under the store's mutex.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() {
    for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  sqlite3* db() const { return db_; }

  // A statement for `sql`, reset and unbound, or nullptr with *rc set.
  sqlite3_stmt* Take(const std::string& sql, int* rc) {
    auto it = idle_.find(sql);
    if (it != idle_.end()) {
      sqlite3_stmt* stmt = it->second;
      idle_.erase(it);
      *rc = SQLITE_OK;
      return stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    *rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    return stmt;
  }

  // Gives `stmt` back for the next caller (or finalizes it when one is already kept or the
  // cache is full: the SQL built from filters has a bounded but not tiny set of shapes).
  void Return(std::string sql, sqlite3_stmt* stmt) {
    if (stmt == nullptr) return;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (idle_.size() >= kMaxStatements || idle_.count(sql) != 0) {
      sqlite3_finalize(stmt);
      return;
    }
    idle_.emplace(std::move(sql), stmt);
  }

 private:
  static constexpr size_t kMaxStatements = 128;
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> idle_;
};

namespace {

// One prepared statement from the connection's cache, reset and given back on every path.
class Stmt : public store_util::Row {
 public:
  Stmt(StatementCache& cache, std::string sql)
      : cache_(cache), db_(cache.db()), sql_(std::move(sql)) {
    stmt_ = cache_.Take(sql_, &rc_);
  }
  ~Stmt() { cache_.Return(std::move(sql_), stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, int64_t v) { return Check(sqlite3_bind_int64(stmt_, i, v)); }
  Stmt& Bind(int i, int v) { return Bind(i, int64_t{v}); }
  Stmt& Bind(int i, double v) { return Check(sqlite3_bind_double(stmt_, i, v)); }
  Stmt& Bind(int i, const std::string& v) {
    return Check(
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& BindNull(int i) { return Check(sqlite3_bind_null(stmt_, i)); }
  template <typename T>
  Stmt& Bind(int i, const std::optional<T>& v) {
    return v ? Bind(i, *v) : BindNull(i);
  }

  // SQLITE_ROW or SQLITE_DONE; anything else is an error kept in status().
  int Step() {
    if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW && rc_ != SQLITE_DONE) return rc_;
    rc_ = sqlite3_step(stmt_);
    return rc_;
  }
  // Runs a statement that returns no rows.
  Status Run(const std::string& what) {
    int rc = Step();
    return rc == SQLITE_DONE ? Status::Ok() : FromSqlite(rc, db_, what);
  }
  Status status(const std::string& what) const {
    return rc_ == SQLITE_OK || rc_ == SQLITE_ROW || rc_ == SQLITE_DONE ? Status::Ok()
                                                                       : FromSqlite(rc_, db_, what);
  }

  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const override { return sqlite3_column_double(stmt_, col); }
  bool Bool(int col) const override { return Int(col) != 0; }
  bool IsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const override {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col)) : "";
  }

 private:
  Stmt& Check(int rc) {
    if (rc != SQLITE_OK && rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }
  StatementCache& cache_;
  sqlite3* db_;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

Status Exec(sqlite3* db, const char* sql, const std::string& what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string detail = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return store_util::DatabaseError(what, detail, rc == SQLITE_FULL);
}

// Writes a delivery of `event` about `video_id`, due now, with the video's `snapshot` if given.
// Runs inside the caller's transaction.
Status InsertOutbox(StatementCache& statements, const std::string& video_id, std::string_view event,
                    int64_t now, const std::optional<std::string>& snapshot = std::nullopt) {
  Stmt s(statements,
         "INSERT INTO webhook_outbox (video_id, event, created_at, next_attempt_at, event_id, "
         "video_snapshot) VALUES (?, ?, ?, ?, " +
             std::string(kNewEventId) + ", ?)");
  return s.Bind(1, video_id)
      .Bind(2, std::string(event))
      .Bind(3, now)
      .Bind(4, now)
      .Bind(5, snapshot)
      .Run("Cannot record the webhook delivery");
}

// Sets `column` to `value` and last_error to `error` on delivery `id` and drops its lease, if
// `lease_token` still holds it and it is not settled yet.
Status SettleDelivery(StatementCache& statements, int64_t id, const std::string& lease_token,
                      const char* column, int64_t value, const std::optional<std::string>& error,
                      const std::string& what) {
  Stmt s(statements, "UPDATE webhook_outbox SET " + std::string(column) +
                         " = ?1, last_error = ?2, " + std::string(kDropDeliveryLease) +
                         " WHERE id = ?3 AND lease_token = ?4 AND " + std::string(kDeliveryOpen));
  RETURN_IF_ERROR(s.Bind(1, value).Bind(2, error).Bind(3, id).Bind(4, lease_token).Run(what));
  return sqlite3_changes(statements.db()) == 1 ? Status::Ok() : store_util::WebhookLeaseLost(id);
}

}  // namespace

Status BackupSqliteDatabase(const std::string& source, const std::string& destination) {
  struct Connection {
    sqlite3* db = nullptr;
    ~Connection() { sqlite3_close_v2(db); }
  } from, to;
  int rc = sqlite3_open_v2(source.c_str(), &from.db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(rc, from.db, "Cannot open the database " + source);
  sqlite3_busy_timeout(from.db, kBusyTimeoutMs);
  const std::string partial = destination + ".partial";
  std::remove(partial.c_str());
  rc =
      sqlite3_open_v2(partial.c_str(), &to.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(rc, to.db, "Cannot create " + partial);
  sqlite3_backup* backup = sqlite3_backup_init(to.db, "main", from.db, "main");
  if (backup == nullptr)
    return FromSqlite(sqlite3_errcode(to.db), to.db, "Cannot start the backup");
  // All pages in one step: one read transaction, so one consistent snapshot. Under WAL it does
  // not block the service's writers; a busy source (a checkpoint) is waited for.
  do {
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    Status s = FromSqlite(rc, to.db, "The backup failed");
    std::remove(partial.c_str());
    return s;
  }
  // The copy keeps the source's journal mode; as a single file it must not need a -wal beside it.
  RETURN_IF_ERROR(Exec(to.db, "PRAGMA journal_mode=DELETE", "Cannot finish the backup"));
  sqlite3_close_v2(to.db);
  to.db = nullptr;
  if (std::rename(partial.c_str(), destination.c_str()) != 0) {
    std::remove(partial.c_str());
    return Status(ErrorCode::kDatabaseError,
                  "Cannot move the backup to " + destination + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                       const Clock* clock) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = FromSqlite(rc, db, "Cannot open the database " + path);
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, clock));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // WAL: readers never block the writer; FULL: a committed transaction survives a power cut.
  RETURN_IF_ERROR(Exec(db,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "PRAGMA foreign_keys=ON;",
                       "Cannot configure the database"));
  std::lock_guard lock(store->mutex_);
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, const Clock* clock)
    : db_(db), statements_(std::make_unique<StatementCache>(db)), clock_(clock) {}

SqliteStore::~SqliteStore() {
  statements_.reset();
  sqlite3_close_v2(db_);
}

template <typename Body>
Status SqliteStore::Transaction(Body&& body) {
  RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE", "Cannot start a transaction"));
  Status s = body();
  if (s.ok()) s = Exec(db_, "COMMIT", "Cannot commit");
  if (!s.ok()) (void)Exec(db_, "ROLLBACK", "Cannot roll back");
  return s;
}

Status SqliteStore::Migrate() {
  RETURN_IF_ERROR(Exec(db_,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                       "Cannot create the migrations table"));
  return Transaction([&]() -> Status {
    Stmt q(*statements_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (q.Step() != SQLITE_ROW) return q.status("Cannot read the schema version");
    int version = static_cast<int>(q.Int(0));
    if (version > static_cast<int>(kMigrations.size())) {
      return store_util::SchemaTooNew(version);
    }
    for (int v = version; v < static_cast<int>(kMigrations.size()); ++v) {
      RETURN_IF_ERROR(Exec(db_, kMigrations[v], "Migration " + std::to_string(v + 1) + " failed"));
      Stmt mark(*statements_, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
      RETURN_IF_ERROR(
          mark.Bind(1, v + 1).Bind(2, clock_->NowMs()).Run("Cannot record a migration"));
      LogInfo("database migrated", {{"version", v + 1}});
    }
    schema_version_ = static_cast<int>(kMigrations.size());
    return Status::Ok();
  });
}

Status SqliteStore::InsertVideo(const Video& video) {
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "INSERT INTO videos (id, status, filename, created_at, updated_at, size_bytes, "
         "available_at, external_id, metadata, import_key, import_url, replace_source) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, video.id)
      .Bind(2, std::string(StatusName(video.status)))
      .Bind(3, video.filename)
      .Bind(4, now)
      .Bind(5, now)
      .Bind(6, video.size_bytes)
      .Bind(7, now)
      .Bind(8, store_util::ExternalIdColumn(video))
      .Bind(9, store_util::JsonColumn(video.metadata))
      .Bind(10, store_util::TextOrNull(video.import_key))
      .Bind(11, store_util::TextOrNull(video.import_url))
      .Bind(12, video.replace_source ? 1 : 0);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT) return store_util::DuplicateVideo(video.id);
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot record the video");
  return Status::Ok();
}

Status SqliteStore::CreateVideo(const Video& video) {
  RETURN_IF_ERROR(store_util::CheckNewVideo(video));
  std::lock_guard lock(mutex_);
  RETURN_IF_ERROR(InsertVideo(video));
  if (video.status == VideoStatus::kQueued) WakeWaiters();  // a whole-file upload
  return Status::Ok();
}

Status SqliteStore::MarkUploaded(const std::string& id, int64_t size_bytes) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "UPDATE videos SET status = 'queued', size_bytes = ?, updated_at = ?, available_at = ? "
         "WHERE id = ? AND status = 'uploading'");
  RETURN_IF_ERROR(s.Bind(1, size_bytes).Bind(2, now).Bind(3, now).Bind(4, id).Run("Cannot queue"));
  if (sqlite3_changes(db_) == 0) return store_util::NotUploading(id);
  WakeWaiters();
  return Status::Ok();
}

Status SqliteStore::CreateDirectUpload(const Video& video, const DirectUpload& upload) {
  if (video.status != VideoStatus::kWaitingForUpload || upload.video_id != video.id) {
    return Status(ErrorCode::kInvalidArgument,
                  "A direct upload's video is new, waiting for its upload, and has its id.");
  }
  std::lock_guard lock(mutex_);
  return Transaction([&]() -> Status {
    RETURN_IF_ERROR(InsertVideo(video));
    Stmt d(*statements_,
           "INSERT INTO direct_uploads (video_id, secret_hash, max_bytes, cors_origin, "
           "expires_at) VALUES (?, ?, ?, ?, ?)");
    return d.Bind(1, upload.video_id)
        .Bind(2, upload.secret_hash)
        .Bind(3, upload.max_bytes)
        .Bind(4, upload.cors_origin.empty() ? std::nullopt
                                            : std::optional<std::string>(upload.cors_origin))
        .Bind(5, upload.expires_at_ms)
        .Run("Cannot record the direct upload");
  });
}

Result<DirectUpload> SqliteStore::GetDirectUpload(const std::string& video_id) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, "SELECT " + std::string(store_util::kDirectUploadColumns) +
                           " FROM direct_uploads WHERE video_id = ?");
  s.Bind(1, video_id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return store_util::NoDirectUpload(video_id);
  if (rc != SQLITE_ROW) return FromSqlite(rc, db_, "Cannot read the direct upload");
  return store_util::ReadDirectUpload(s);
}

Result<bool> SqliteStore::ConsumeDirectUpload(const std::string& video_id) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  // One statement: the check and the mark cannot be split by another process's.
  Stmt s(*statements_,
         "UPDATE direct_uploads SET used_at = ?1 WHERE video_id = ?2 AND used_at IS NULL AND "
         "expires_at > ?1 AND EXISTS (SELECT 1 FROM videos WHERE id = ?2 AND status = "
         "'waiting_for_upload')");
  RETURN_IF_ERROR(s.Bind(1, now).Bind(2, video_id).Run("Cannot use the direct upload"));
  return sqlite3_changes(db_) == 1;
}

Status SqliteStore::StartDirectUpload(const std::string& video_id, const std::string& filename,
                                      int64_t size_bytes) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "UPDATE videos SET status = 'uploading', filename = ?, size_bytes = ?, updated_at = ? "
         "WHERE id = ? AND status = 'waiting_for_upload'");
  RETURN_IF_ERROR(s.Bind(1, filename)
                      .Bind(2, size_bytes)
                      .Bind(3, now)
                      .Bind(4, video_id)
                      .Run("Cannot start the upload"));
  if (sqlite3_changes(db_) == 1) return Status::Ok();
  Stmt exists(*statements_, "SELECT 1 FROM videos WHERE id = ?");
  exists.Bind(1, video_id);
  if (exists.Step() != SQLITE_ROW) return NoSuchVideo(video_id);
  return store_util::NotWaitingForUpload(video_id);
}

Result<std::vector<std::string>> SqliteStore::ListExpiredDirectUploads(int64_t used_grace_ms,
                                                                       int limit) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "SELECT d.video_id FROM direct_uploads d JOIN videos v ON v.id = d.video_id "
         "WHERE d.expires_at <= ?1 AND v.status = 'waiting_for_upload' AND "
         "(d.used_at IS NULL OR d.used_at <= ?2) ORDER BY d.expires_at, d.video_id LIMIT ?3");
  s.Bind(1, now).Bind(2, now - used_grace_ms).Bind(3, int64_t{limit});
  std::vector<std::string> ids;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) ids.push_back(s.Text(0));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot list expired direct uploads");
  return ids;
}

Result<Video> SqliteStore::GetVideo(const std::string& id) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, SelectVideos("WHERE id = ?"));
  s.Bind(1, id);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return NoSuchVideo(id);
  if (rc != SQLITE_ROW) return FromSqlite(rc, db_, "Cannot read the video");
  return store_util::ReadVideo(s);
}

Result<VideoPage> SqliteStore::ListVideos(const VideoFilter& filter, int limit,
                                          const std::string& cursor) {
  ASSIGN_OR_RETURN(std::optional<store_util::PageCursor> after, store_util::ParseCursor(cursor));
  std::lock_guard lock(mutex_);
  std::string where = after ? "(created_at < ?1 OR (created_at = ?1 AND id < ?2))" : "1";
  if (filter.status) where += " AND status = ?3";
  if (!filter.external_id.empty()) where += " AND external_id = ?5";
  Stmt s(*statements_,
         SelectVideos("WHERE " + where + " ORDER BY created_at DESC, id DESC LIMIT ?4"));
  if (after) s.Bind(1, after->created_at_ms).Bind(2, after->id);
  if (filter.status) s.Bind(3, std::string(StatusName(*filter.status)));
  s.Bind(4, limit + 1);
  if (!filter.external_id.empty()) s.Bind(5, filter.external_id);
  std::vector<Video> rows;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) rows.push_back(store_util::ReadVideo(s));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot list videos");
  return store_util::MakePage(std::move(rows), limit);
}

Result<std::vector<Video>> SqliteStore::ListChangedSince(int64_t since_ms, int limit) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, SelectVideos("WHERE updated_at >= ? ORDER BY updated_at, id LIMIT ?"));
  s.Bind(1, since_ms).Bind(2, int64_t{limit});
  std::vector<Video> videos;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) videos.push_back(store_util::ReadVideo(s));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot list changed videos");
  return videos;
}

Result<QueueCounts> SqliteStore::Counts() {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, "SELECT status, COUNT(*), MIN(updated_at) FROM videos GROUP BY status");
  QueueCounts c;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) store_util::AddCount(&c, s.Text(0), s.Int(1), s.Int(2));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot count videos");
  return c;
}

Result<std::optional<Claim>> SqliteStore::ClaimNext(const std::string& worker_id, int64_t lease_ms,
                                                    int max_processing,
                                                    std::optional<double> memory_available_mb) {
  std::lock_guard lock(mutex_);
  std::optional<Claim> claim;
  Status s = Transaction([&]() -> Status {
    Stmt running(*statements_,
                 "SELECT COUNT(*) FROM videos WHERE status = 'processing' AND lease_owner = ?");
    running.Bind(1, worker_id);
    if (running.Step() != SQLITE_ROW) return running.status("Cannot count running jobs");
    if (running.Int(0) >= max_processing) return Status::Ok();
    int64_t now = clock_->NowMs();
    Stmt next(*statements_,
              "SELECT id, available_at FROM videos WHERE status = 'queued' AND available_at <= ? "
              "AND (?2 IS NULL OR predicted_memory_mb IS NULL OR predicted_memory_mb <= ?2) "
              "ORDER BY available_at, created_at, id LIMIT 1");
    next.Bind(1, now).Bind(2, memory_available_mb);
    int rc = next.Step();
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return FromSqlite(rc, db_, "Cannot find a queued job");
    std::string id = next.Text(0);
    Claim c;
    c.lease_token = store_util::NewLeaseToken();
    c.lease_expires_ms = now + lease_ms;
    c.waited_ms = std::max<int64_t>(0, now - next.Int(1));
    Stmt take(*statements_,
              "UPDATE videos SET status = 'processing', attempts = attempts + 1, progress = 0, "
              "playable = 0, waiting_for = NULL, "
              "eta_seconds = NULL, lease_owner = ?, lease_token = ?, lease_expires_at = ?, "
              "updated_at = ? WHERE id = ?");
    RETURN_IF_ERROR(take.Bind(1, worker_id)
                        .Bind(2, c.lease_token)
                        .Bind(3, c.lease_expires_ms)
                        .Bind(4, now)
                        .Bind(5, id)
                        .Run("Cannot claim the job"));
    Stmt read(*statements_, SelectVideos("WHERE id = ?"));
    read.Bind(1, id);
    if (read.Step() != SQLITE_ROW) return read.status("Cannot read the claimed job");
    c.video = store_util::ReadVideo(read);
    claim = std::move(c);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return claim;
}

Status SqliteStore::RenewLease(const std::string& id, const std::string& token, int64_t lease_ms,
                               double progress, std::optional<int64_t> eta_seconds) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "UPDATE videos SET lease_expires_at = ?, progress = ?, eta_seconds = ?, updated_at = ? "
         "WHERE id = ? AND status = 'processing' AND lease_token = ?");
  RETURN_IF_ERROR(s.Bind(1, now + lease_ms)
                      .Bind(2, progress)
                      .Bind(3, eta_seconds)
                      .Bind(4, now)
                      .Bind(5, id)
                      .Bind(6, token)
                      .Run("Cannot renew the lease"));
  return sqlite3_changes(db_) == 1 ? Status::Ok() : LeaseLost(id);
}

Status SqliteStore::MarkPlayable(const std::string& id, const std::string& token) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_,
         "UPDATE videos SET playable = 1, updated_at = ? "
         "WHERE id = ? AND status = 'processing' AND lease_token = ?");
  RETURN_IF_ERROR(
      s.Bind(1, clock_->NowMs()).Bind(2, id).Bind(3, token).Run("Cannot mark playable"));
  return sqlite3_changes(db_) == 1 ? Status::Ok() : LeaseLost(id);
}

Status SqliteStore::CompleteJob(const std::string& id, const std::string& token,
                                const nlohmann::json& source, const nlohmann::json& output,
                                bool original_kept) {
  std::lock_guard lock(mutex_);
  return Transaction([&]() -> Status {
    int64_t now = clock_->NowMs();
    Stmt s(*statements_,
           "UPDATE videos SET status = 'ready', progress = 1, eta_seconds = NULL, "
           "error_code = NULL, error_message = NULL, source = ?, output = ?, has_original = ?, " +
               std::string(kDropLease) +
               ", updated_at = ? WHERE id = ? AND status = 'processing' AND lease_token = ?");
    RETURN_IF_ERROR(s.Bind(1, store_util::JsonColumn(source))
                        .Bind(2, store_util::JsonColumn(output))
                        .Bind(3, original_kept ? 1 : 0)
                        .Bind(4, now)
                        .Bind(5, id)
                        .Bind(6, token)
                        .Run("Cannot complete the job"));
    if (sqlite3_changes(db_) != 1) return LeaseLost(id);
    if (outbox_enabled_) RETURN_IF_ERROR(InsertOutbox(*statements_, id, kEventVideoReady, now));
    return Status::Ok();
  });
}

Status SqliteStore::FailJob(const std::string& id, const std::string& token, const Status& error,
                            std::optional<int64_t> retry_at_ms) {
  std::lock_guard lock(mutex_);
  return Transaction([&]() -> Status {
    int64_t now = clock_->NowMs();
    Stmt s(*statements_,
           "UPDATE videos SET status = ?, error_code = ?, error_message = ?, progress = 0, "
           "playable = 0, "
           "eta_seconds = NULL, available_at = ?, " +
               std::string(kDropLease) +
               ", updated_at = ? WHERE id = ? AND status = 'processing' AND lease_token = ?");
    RETURN_IF_ERROR(s.Bind(1, std::string(StatusName(store_util::StatusAfterFailure(retry_at_ms))))
                        .Bind(2, std::string(error.code_name()))
                        .Bind(3, error.message())
                        .Bind(4, retry_at_ms.value_or(now))
                        .Bind(5, now)
                        .Bind(6, id)
                        .Bind(7, token)
                        .Run("Cannot record the failure"));
    if (sqlite3_changes(db_) != 1) return LeaseLost(id);
    if (!retry_at_ms && outbox_enabled_) {
      RETURN_IF_ERROR(InsertOutbox(*statements_, id, kEventVideoFailed, now));
    }
    return Status::Ok();
  });
}

Status SqliteStore::RecordEstimate(const std::string& id, const std::string& token,
                                   const JobEstimate& estimate) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_,
         "UPDATE videos SET predicted_memory_mb = ?, predicted_seconds = ?, source = ?, "
         "updated_at = ? WHERE id = ? AND status = 'processing' AND lease_token = ?");
  RETURN_IF_ERROR(s.Bind(1, estimate.memory_mb)
                      .Bind(2, estimate.seconds)
                      .Bind(3, store_util::JsonColumn(estimate.source))
                      .Bind(4, clock_->NowMs())
                      .Bind(5, id)
                      .Bind(6, token)
                      .Run("Cannot record the estimate"));
  return sqlite3_changes(db_) == 1 ? Status::Ok() : LeaseLost(id);
}

Status SqliteStore::DeferJob(const std::string& id, const std::string& token,
                             const std::string& for_what) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_,
         "UPDATE videos SET status = 'queued', attempts = MAX(attempts - 1, 0), progress = 0, "
         "playable = 0, eta_seconds = NULL, waiting_for = ?, " +
             std::string(kDropLease) +
             ", updated_at = ? WHERE id = ? AND status = 'processing' AND lease_token = ?");
  RETURN_IF_ERROR(s.Bind(1, for_what)
                      .Bind(2, clock_->NowMs())
                      .Bind(3, id)
                      .Bind(4, token)
                      .Run("Cannot defer the job"));
  return sqlite3_changes(db_) == 1 ? Status::Ok() : LeaseLost(id);
}

Result<std::vector<Video>> SqliteStore::ListQueue(int limit) {
  std::lock_guard lock(mutex_);
  std::vector<Video> videos;
  Stmt running(*statements_, SelectVideos("WHERE status = 'processing' ORDER BY updated_at, id"));
  int rc;
  while ((rc = running.Step()) == SQLITE_ROW) videos.push_back(store_util::ReadVideo(running));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot list the running jobs");
  Stmt queued(*statements_, SelectVideos("WHERE status = 'queued' "
                                         "ORDER BY available_at, created_at, id LIMIT ?"));
  queued.Bind(1, std::max(limit, 0));
  while ((rc = queued.Step()) == SQLITE_ROW) videos.push_back(store_util::ReadVideo(queued));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot list the queue");
  return videos;
}

Status SqliteStore::ReleaseJob(const std::string& id, const std::string& token) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "UPDATE videos SET status = 'queued', attempts = MAX(attempts - 1, 0), progress = 0, "
         "playable = 0, "
         "eta_seconds = NULL, available_at = ?, " +
             std::string(kDropLease) +
             ", updated_at = ? WHERE id = ? AND status = 'processing' AND lease_token = ?");
  RETURN_IF_ERROR(
      s.Bind(1, now).Bind(2, now).Bind(3, id).Bind(4, token).Run("Cannot release the job"));
  if (sqlite3_changes(db_) != 1) return LeaseLost(id);
  WakeWaiters();
  return Status::Ok();
}

Result<int> SqliteStore::RecoverExpiredLeases(int max_attempts) {
  std::lock_guard lock(mutex_);
  int moved = 0;
  Status s = Transaction([&]() -> Status {
    int64_t now = clock_->NowMs();
    const Status crashed = store_util::Crashed();
    if (outbox_enabled_) {
      // The same rows as the update below, in the same transaction.
      Stmt events(*statements_,
                  "INSERT INTO webhook_outbox (video_id, event, created_at, next_attempt_at, "
                  "event_id) SELECT id, ?1, ?2, ?2, " +
                      std::string(kNewEventId) +
                      " FROM videos WHERE status = 'processing' "
                      "AND lease_expires_at < ?2 AND attempts >= ?3 ORDER BY id");
      RETURN_IF_ERROR(events.Bind(1, std::string(kEventVideoFailed))
                          .Bind(2, now)
                          .Bind(3, max_attempts)
                          .Run("Cannot record the webhook deliveries"));
    }
    Stmt fail(*statements_,
              "UPDATE videos SET status = 'failed', error_code = ?4, error_message = ?5, "
              "progress = 0, playable = 0, " +
                  std::string(kDropLease) +
                  ", updated_at = ?1 WHERE status = 'processing' AND lease_expires_at < ?2 "
                  "AND attempts >= ?3");
    RETURN_IF_ERROR(fail.Bind(1, now)
                        .Bind(2, now)
                        .Bind(3, max_attempts)
                        .Bind(4, std::string(crashed.code_name()))
                        .Bind(5, crashed.message())
                        .Run("Cannot recover"));
    moved += sqlite3_changes(db_);
    Stmt requeue(
        *statements_,
        "UPDATE videos SET status = 'queued', progress = 0, playable = 0, eta_seconds = NULL, "
        "available_at = ?, " +
            std::string(kDropLease) +
            ", updated_at = ? WHERE status = 'processing' AND lease_expires_at < ?");
    RETURN_IF_ERROR(requeue.Bind(1, now).Bind(2, now).Bind(3, now).Run("Cannot recover"));
    moved += sqlite3_changes(db_);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (moved > 0) WakeWaiters();
  return moved;
}

Status SqliteStore::RetryVideo(const std::string& id) {
  std::lock_guard lock(mutex_);
  int64_t now = clock_->NowMs();
  Stmt s(*statements_,
         "UPDATE videos SET status = 'queued', attempts = 0, error_code = NULL, "
         "error_message = NULL, progress = 0, playable = 0, available_at = ?, updated_at = ? "
         "WHERE id = ? AND status = 'failed'");
  RETURN_IF_ERROR(s.Bind(1, now).Bind(2, now).Bind(3, id).Run("Cannot queue the video again"));
  if (sqlite3_changes(db_) == 1) {
    WakeWaiters();
    return Status::Ok();
  }
  Stmt exists(*statements_, "SELECT status FROM videos WHERE id = ?");
  exists.Bind(1, id);
  if (exists.Step() != SQLITE_ROW) return NoSuchVideo(id);
  return store_util::NotRetryable(id, exists.Text(0));
}

Status SqliteStore::DeleteVideo(const std::string& id) {
  std::lock_guard lock(mutex_);
  return Transaction([&]() -> Status {
    if (outbox_enabled_) {
      Stmt last(*statements_, SelectVideos("WHERE id = ?"));
      last.Bind(1, id);
      int rc = last.Step();
      if (rc == SQLITE_DONE) return NoSuchVideo(id);
      if (rc != SQLITE_ROW) return FromSqlite(rc, db_, "Cannot read the video");
      RETURN_IF_ERROR(InsertOutbox(*statements_, id, kEventVideoDeleted, clock_->NowMs(),
                                   DumpJson(ToApiJson(store_util::ReadVideo(last)))));
    }
    Stmt s(*statements_, "DELETE FROM videos WHERE id = ?");
    RETURN_IF_ERROR(s.Bind(1, id).Run("Cannot delete the video"));
    return sqlite3_changes(db_) == 1 ? Status::Ok() : NoSuchVideo(id);
  });
}

void SqliteStore::WakeWaiters() {
  {
    std::lock_guard lock(wake_mutex_);
    ++wake_generation_;
  }
  wake_.notify_all();
}

bool SqliteStore::WaitForJobs(int64_t timeout_ms) {
  // SQLite has no notifications across processes: jobs queued by another process wait for the
  // caller's next poll. A job queued between the caller's empty claim and this wait does too.
  std::unique_lock lock(wake_mutex_);
  const uint64_t seen = wake_generation_;
  return wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [&] { return wake_generation_ != seen; });
}

Status SqliteStore::Heartbeat(const WorkerInfo& w) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_,
         "INSERT INTO workers (id, host, pid, slots, version, started_at, last_seen) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET host = ?2, pid = ?3, "
         "slots = ?4, version = ?5, started_at = ?6, last_seen = ?7");
  return s.Bind(1, w.id)
      .Bind(2, w.host)
      .Bind(3, w.pid)
      .Bind(4, w.slots)
      .Bind(5, w.version)
      .Bind(6, w.started_at_ms)
      .Bind(7, clock_->NowMs())
      .Run("Cannot record the worker");
}

Result<std::vector<WorkerInfo>> SqliteStore::ListWorkers(int64_t seen_within_ms) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, "SELECT " + std::string(store_util::kWorkerColumns) +
                           " FROM workers WHERE last_seen >= ? ORDER BY id");
  s.Bind(1, clock_->NowMs() - seen_within_ms);
  std::vector<WorkerInfo> workers;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) workers.push_back(store_util::ReadWorker(s));
  if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot list workers");
  return workers;
}

Status SqliteStore::RemoveWorker(const std::string& id) {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, "DELETE FROM workers WHERE id = ?");
  return s.Bind(1, id).Run("Cannot remove the worker");
}

Result<std::vector<WebhookDelivery>> SqliteStore::ClaimWebhookDeliveries(int limit,
                                                                         int64_t lease_ms) {
  std::lock_guard lock(mutex_);
  std::vector<WebhookDelivery> claimed;
  Status s = Transaction([&]() -> Status {
    int64_t now = clock_->NowMs();
    std::string token = store_util::NewLeaseToken();
    Stmt due(*statements_,
             "SELECT id, video_id, event, attempts, created_at, event_id, "
             "COALESCE(video_snapshot, '') FROM webhook_outbox "
             "WHERE " +
                 std::string(kDeliveryOpen) +
                 " AND next_attempt_at <= ?1 "
                 "AND (lease_expires_at IS NULL OR lease_expires_at <= ?1) "
                 "ORDER BY next_attempt_at, id LIMIT ?2");
    due.Bind(1, now).Bind(2, limit);
    int rc;
    while ((rc = due.Step()) == SQLITE_ROW) {
      claimed.push_back({due.Int(0), due.Text(1), due.Text(2), static_cast<int>(due.Int(3)) + 1,
                         due.Int(4), token, due.Text(5), due.Text(6)});
    }
    if (rc != SQLITE_DONE) return FromSqlite(rc, db_, "Cannot find due webhook deliveries");
    for (const WebhookDelivery& d : claimed) {
      Stmt take(*statements_,
                "UPDATE webhook_outbox SET attempts = attempts + 1, lease_token = ?, "
                "lease_expires_at = ? WHERE id = ?");
      RETURN_IF_ERROR(take.Bind(1, token)
                          .Bind(2, now + lease_ms)
                          .Bind(3, d.id)
                          .Run("Cannot claim a webhook delivery"));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return claimed;
}

Status SqliteStore::MarkWebhookDelivered(int64_t id, const std::string& lease_token) {
  std::lock_guard lock(mutex_);
  // A named empty error: GCC 12 warns (falsely) about a temporary std::optional<std::string>.
  static const std::optional<std::string> kNoError;
  return SettleDelivery(*statements_, id, lease_token, "delivered_at", clock_->NowMs(), kNoError,
                        "Cannot record the webhook delivery");
}

Status SqliteStore::RecordWebhookFailure(int64_t id, const std::string& lease_token,
                                         int64_t next_attempt_ms, const std::string& error) {
  std::lock_guard lock(mutex_);
  return SettleDelivery(*statements_, id, lease_token, "next_attempt_at", next_attempt_ms, error,
                        "Cannot record the webhook failure");
}

Status SqliteStore::GiveUpWebhook(int64_t id, const std::string& lease_token,
                                  const std::string& error) {
  std::lock_guard lock(mutex_);
  return SettleDelivery(*statements_, id, lease_token, "gave_up_at", clock_->NowMs(), error,
                        "Cannot give up the webhook delivery");
}

Result<WebhookBacklog> SqliteStore::CountWebhookBacklog() {
  std::lock_guard lock(mutex_);
  Stmt s(*statements_, std::string(store_util::kWebhookBacklogQuery));
  if (int rc = s.Step(); rc != SQLITE_ROW) {
    return FromSqlite(rc, db_, "Cannot count the webhook backlog");
  }
  return WebhookBacklog{.pending = s.Int(0), .failed = s.Int(1), .given_up = s.Int(2)};
}

}  // namespace vidproc::queue
