// The dialect-independent part of every JobStore (store_util), tested once here; the conformance
// suite checks that each store uses it (job_store_conformance.h).
#include "queue/store_common.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vidproc::queue::store_util {
namespace {

Video At(int64_t created_at_ms, std::string id) {
  Video v;
  v.created_at_ms = created_at_ms;
  v.id = std::move(id);
  return v;
}

TEST(PageCursorTest, EmptyIsTheFirstPage) {
  auto cursor = ParseCursor("");
  ASSERT_TRUE(cursor.ok());
  EXPECT_FALSE(cursor.value().has_value());
}

TEST(PageCursorTest, ANextCursorParsesBackToItsVideo) {
  std::vector<Video> rows = {At(300, "c"), At(200, "Bb-_9"), At(200, "a")};
  VideoPage page = MakePage(rows, 2);
  ASSERT_EQ(page.videos.size(), 2u);
  EXPECT_EQ(page.next_cursor, "200.Bb-_9");
  auto cursor = ParseCursor(page.next_cursor);
  ASSERT_TRUE(cursor.ok()) << cursor.status().ToString();
  ASSERT_TRUE(cursor.value().has_value());
  EXPECT_EQ(cursor.value()->created_at_ms, 200);
  EXPECT_EQ(cursor.value()->id, "Bb-_9");
}

TEST(PageCursorTest, TheLargestTimeParses) {
  auto cursor = ParseCursor("9223372036854775807.x");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(cursor.value()->created_at_ms, INT64_MAX);
}

TEST(PageCursorTest, MalformedCursorsGiveOneError) {
  for (const std::string cursor :
       {"12abc.x", "12", ".", ".x", "12.", "-1.x", "+1.x", "1 .x", "x.y", "1.x.y", "1.x y",
        "9223372036854775808.x", "01.x", "00000000000000000001.x"}) {
    auto parsed = ParseCursor(cursor);
    ASSERT_FALSE(parsed.ok()) << cursor;
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << cursor;
    EXPECT_EQ(parsed.status().message(), BadCursor().message()) << cursor;
  }
  EXPECT_FALSE(ParseCursor("1." + std::string(65, 'a')).ok()) << "an id longer than any id";
  EXPECT_TRUE(ParseCursor("1." + std::string(64, 'a')).ok());
}

TEST(MakePageTest, OnlyAnExtraRowMakesANextCursor) {
  EXPECT_EQ(MakePage({At(3, "c"), At(2, "b")}, 2).next_cursor, "");
  EXPECT_EQ(MakePage({At(3, "c")}, 2).videos.size(), 1u);
  VideoPage full = MakePage({At(3, "c"), At(2, "b"), At(1, "a")}, 2);
  EXPECT_EQ(full.videos.size(), 2u);
  EXPECT_EQ(full.next_cursor, "2.b");
}

// A row given as text per column (nullopt is NULL), as a driver would return it.
class FakeRow : public Row {
 public:
  explicit FakeRow(std::vector<std::optional<std::string>> columns)
      : columns_(std::move(columns)) {}
  bool IsNull(int col) const override { return !columns_.at(col).has_value(); }
  std::string Text(int col) const override { return columns_.at(col).value_or(""); }
  int64_t Int(int col) const override { return std::stoll(Text(col)); }
  double Double(int col) const override { return std::stod(Text(col)); }
  bool Bool(int col) const override { return Text(col) == "1"; }

 private:
  std::vector<std::optional<std::string>> columns_;
};

TEST(ReadVideoTest, MapsEveryColumnInVideoColumnsOrder) {
  EXPECT_EQ(VideoColumns(),
            "id, status, filename, created_at, updated_at, size_bytes, progress, eta_seconds, "
            "attempts, error_code, error_message, source, output, has_original, external_id, "
            "metadata, import_key, import_url, replace_source, playable, predicted_memory_mb, "
            "predicted_seconds, waiting_for, lease_owner");
  EXPECT_EQ(VideoColumns("v").substr(0, 16), "v.id, v.status, ");
  Video v = ReadVideo(FakeRow({"id1",
                               "failed",
                               "a.mov",
                               "10",
                               "20",
                               "30",
                               "0.5",
                               "7",
                               "2",
                               "timeout",
                               "too slow",
                               R"({"container":"mov"})",
                               std::nullopt,
                               "1",
                               "order-42",
                               R"({"user":7})",
                               "media/Trip to Rome.mov",
                               "https://cdn.example/a.mov?sig=1",
                               "1",
                               "1",
                               "412.5",
                               "95.25",
                               "memory",
                               "host-a:12"}));
  EXPECT_EQ(v.id, "id1");
  EXPECT_EQ(v.status, VideoStatus::kFailed);
  EXPECT_EQ(v.filename, "a.mov");
  EXPECT_EQ(v.created_at_ms, 10);
  EXPECT_EQ(v.updated_at_ms, 20);
  EXPECT_EQ(v.size_bytes, 30);
  EXPECT_DOUBLE_EQ(v.progress, 0.5);
  EXPECT_EQ(v.eta_seconds, 7);
  EXPECT_EQ(v.attempts, 2);
  EXPECT_EQ(v.error_code, "timeout");
  EXPECT_EQ(v.error_message, "too slow");
  EXPECT_EQ(v.source["container"], "mov");
  EXPECT_TRUE(v.output.is_null());
  EXPECT_TRUE(v.has_original);
  EXPECT_EQ(v.external_id, "order-42");
  EXPECT_EQ(v.metadata["user"], 7);
  EXPECT_EQ(v.import_key, "media/Trip to Rome.mov") << "kept byte for byte: it names an object";
  EXPECT_EQ(v.import_url, "https://cdn.example/a.mov?sig=1");
  EXPECT_TRUE(v.replace_source);
  EXPECT_TRUE(v.playable);
  EXPECT_EQ(v.predicted_memory_mb, 412.5);
  EXPECT_EQ(v.predicted_seconds, 95.25);
  EXPECT_EQ(v.waiting_for, "memory");
  EXPECT_EQ(v.worker, "host-a:12");
}

TEST(ReadVideoTest, NullEtaAndUnreadableJsonReadAsNothing) {
  Video v = ReadVideo(FakeRow({"id2",        "ready",      "",           "0",         "0",
                               "0",          "1",          std::nullopt, "1",         std::nullopt,
                               std::nullopt, "{not json",  R"({"w":1})", "0",         std::nullopt,
                               "[1,2]",      std::nullopt, std::nullopt, "0",         "0",
                               std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
  EXPECT_FALSE(v.eta_seconds.has_value());
  EXPECT_TRUE(v.source.is_null());
  EXPECT_EQ(v.output["w"], 1);
  EXPECT_FALSE(v.has_original);
  EXPECT_EQ(v.external_id, "");
  EXPECT_TRUE(v.metadata.is_null()) << "metadata is an object or nothing";
  EXPECT_EQ(v.import_key, "");
  EXPECT_EQ(v.import_url, "");
  EXPECT_FALSE(v.replace_source);
  EXPECT_FALSE(v.predicted_memory_mb.has_value()) << "not probed yet";
  EXPECT_FALSE(v.predicted_seconds.has_value());
  EXPECT_EQ(v.waiting_for, "");
  EXPECT_EQ(v.worker, "") << "no lease";
}

TEST(ReadWorkerTest, MapsEveryColumn) {
  WorkerInfo w = ReadWorker(FakeRow({"h:1", "h", "1", "4", "1.0", "100", "200"}));
  EXPECT_EQ(w.id, "h:1");
  EXPECT_EQ(w.host, "h");
  EXPECT_EQ(w.pid, 1);
  EXPECT_EQ(w.slots, 4);
  EXPECT_EQ(w.version, "1.0");
  EXPECT_EQ(w.started_at_ms, 100);
  EXPECT_EQ(w.last_seen_ms, 200);
}

TEST(JsonColumnTest, NullIsStoredAsNull) {
  EXPECT_FALSE(JsonColumn(nullptr).has_value());
  EXPECT_EQ(JsonColumn({{"a", 1}}), R"({"a":1})");
}

TEST(StoreErrorsTest, DiskFullIsStorageFull) {
  EXPECT_EQ(DatabaseError("Cannot x", "disk", true).code(), ErrorCode::kStorageFull);
  Status other = DatabaseError("Cannot x", "locked", false);
  EXPECT_EQ(other.code(), ErrorCode::kDatabaseError);
  EXPECT_EQ(other.message(), "Cannot x (locked).");
}

TEST(StoreErrorsTest, OnlyUploadingOrQueuedVideosAreNew) {
  Video v;
  for (auto status : {VideoStatus::kUploading, VideoStatus::kQueued}) {
    v.status = status;
    EXPECT_TRUE(CheckNewVideo(v).ok());
  }
  for (auto status : {VideoStatus::kProcessing, VideoStatus::kReady, VideoStatus::kFailed}) {
    v.status = status;
    EXPECT_EQ(CheckNewVideo(v).code(), ErrorCode::kInvalidArgument);
  }
}

TEST(StatusAfterFailureTest, ARetryTimeQueuesTheJobAgain) {
  EXPECT_EQ(StatusAfterFailure(int64_t{5}), VideoStatus::kQueued);
  EXPECT_EQ(StatusAfterFailure(std::nullopt), VideoStatus::kFailed);
}

TEST(AddCountTest, CountsByStatusNameAndSkipsUnknownNames) {
  QueueCounts c;
  AddCount(&c, "queued", 2, 500);
  AddCount(&c, "ready", 3, 100);
  AddCount(&c, "queued", 1, 700);
  AddCount(&c, "archived", 9, 50);
  EXPECT_EQ(c.queued, 3);
  EXPECT_EQ(c.oldest_queued_ms, 500);  // of the queued rows only
  EXPECT_EQ(c.ready, 3);
  EXPECT_EQ(c.uploading + c.processing + c.failed, 0);
}

}  // namespace
}  // namespace vidproc::queue::store_util
