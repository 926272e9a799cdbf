// WebhookDispatcher against a real HTTP receiver on 127.0.0.1 (a small blocking server in
// support/http_receiver.h), a real SQLite store in a temporary directory, and real status changes
// through the JobStore. Signatures are checked with OpenSSL directly, independently of the code
// under test.
#include "worker/webhook_dispatcher.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "queue/fault_injecting_job_store.h"
#include "queue/sqlite_store.h"
#include "queue/video_json.h"
#include "support/http_receiver.h"
#include "worker_test_util.h"

namespace vidproc::worker {
namespace {

using namespace vidproc::worker::testing;
using vidproc::testing::FreePort;
using vidproc::testing::Received;
using vidproc::testing::Receiver;
using vidproc::testing::SignedWith;

constexpr char kSecret[] = "whsec_0123456789";

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    store_ = OpenStore(SystemClock::Default());
  }
  void TearDown() override {
    store_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  std::unique_ptr<queue::SqliteStore> OpenStore(const Clock* clock) {
    auto s = queue::SqliteStore::Open(dir_ + "/jobs.db", clock);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    s.value()->EnableWebhookOutbox(true);
    return std::move(s).value();
  }

  WebhookOptions Options(const std::string& url) {
    WebhookOptions o;
    o.url = url;
    o.secret = kSecret;
    o.poll_ms = 20;
    o.first_backoff_ms = 100;
    o.max_backoff_ms = 400;
    o.request_timeout_ms = 5'000;
    return o;
  }

  // A video taken through the queue to ready, or to failed with `error`.
  std::string Finish(std::optional<Status> error = std::nullopt) {
    queue::Video v;
    v.id = NewId();
    v.filename = "clip.mov";
    EXPECT_TRUE(store_->CreateVideo(v).ok());
    auto claim = store_->ClaimNext("w", 60'000, 1'000, std::nullopt);
    EXPECT_TRUE(claim.ok() && claim.value());
    EXPECT_EQ(claim.value()->video.id, v.id);
    const std::string& token = claim.value()->lease_token;
    Status s = error ? store_->FailJob(v.id, token, *error, std::nullopt)
                     : store_->CompleteJob(v.id, token, {{"container", "mov"}},
                                           {{"width", 1280}, {"height", 720}}, false);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return v.id;
  }

  std::string dir_;
  std::unique_ptr<queue::SqliteStore> store_;
};

TEST(WebhookSignatureTest, MatchesAKnownVector) {
  // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test',
  //   b'1700000000.{\"event\":\"video.ready\",\"video\":{\"id\":\"abc\"}}',
  //   hashlib.sha256).hexdigest())"
  EXPECT_EQ(WebhookSignature("whsec_test", 1'700'000'000,
                             R"({"event":"video.ready","video":{"id":"abc"}})"),
            "t=1700000000,v1=c4a1d7840279ce728f999de10fb12193c5652448419b76603f07417a99d33277");
}

TEST(WebhookSignatureTest, BackoffDoublesFromFiveSecondsUpToTenMinutesWithJitter) {
  WebhookOptions o;  // defaults: 5 s doubling, capped at 10 min
  EXPECT_EQ(WebhookBackoffMs(o, 1, 0.5), 5'000);
  EXPECT_EQ(WebhookBackoffMs(o, 2, 0.5), 10'000);
  EXPECT_EQ(WebhookBackoffMs(o, 3, 0.5), 20'000);
  EXPECT_EQ(WebhookBackoffMs(o, 7, 0.5), 320'000);
  EXPECT_EQ(WebhookBackoffMs(o, 8, 0.5), 600'000);
  EXPECT_EQ(WebhookBackoffMs(o, 1000, 0.5), 600'000);
  EXPECT_EQ(WebhookBackoffMs(o, 1, 0.0), 4'000);
  EXPECT_GT(WebhookBackoffMs(o, 1, 0.999), 5'990);
  EXPECT_LE(WebhookBackoffMs(o, 1, 0.999), 6'000);
}

TEST_F(WebhookTest, ReadyAndFailedVideosAreDeliveredSignedWithTheCurrentResource) {
  Receiver receiver;
  std::string ready = Finish();
  std::string failed = Finish(Status(ErrorCode::kTruncatedInput, "The file was cut short."));
  WebhookDispatcher dispatcher(store_.get(), Options(receiver.url()), SystemClock::Default());
  dispatcher.Start();
  ASSERT_TRUE(WaitFor([&] { return dispatcher.delivered() >= 2; }, 10'000));
  dispatcher.Stop();

  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 2u) << "a delivered event was sent again";
  std::map<std::string, Received> by_video;
  for (const auto& r : got) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_TRUE(SignedWith(r, kSecret));
    EXPECT_FALSE(SignedWith(r, "another secret"));
    auto body = r.Json();
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(r.header("x-vidproc-event"), body["event"]);
    EXPECT_FALSE(r.header("x-vidproc-delivery").empty());
    by_video[body["video"]["id"]] = r;
  }
  ASSERT_EQ(by_video.count(ready), 1u);
  ASSERT_EQ(by_video.count(failed), 1u);
  EXPECT_NE(by_video[ready].header("x-vidproc-delivery"),
            by_video[failed].header("x-vidproc-delivery"));
  auto ready_body = by_video[ready].Json();
  EXPECT_EQ(ready_body["event"], "video.ready");
  EXPECT_EQ(ready_body["video"], queue::ToApiJson(store_->GetVideo(ready).value()));
  EXPECT_EQ(ready_body["video"]["status"], "ready");
  auto failed_body = by_video[failed].Json();
  EXPECT_EQ(failed_body["event"], "video.failed");
  EXPECT_EQ(failed_body["video"], queue::ToApiJson(store_->GetVideo(failed).value()));
  EXPECT_EQ(failed_body["video"]["status"], "failed");
  EXPECT_EQ(dispatcher.delivered(), 2);
  // Settled in the store: nothing is due any more, however long we wait.
  EXPECT_TRUE(store_->ClaimWebhookDeliveries(10, 1'000).value().empty());
}

// A deletion is an event of its own, carrying the video as it was (through the renderer, as
// every body); a video.ready still unsent when its video went is dropped, not sent half empty.
TEST_F(WebhookTest, ADeletedVideoGetsVideoDeletedWithItsLastStateAndNoStaleReady) {
  Receiver receiver;
  std::string id = Finish();
  const nlohmann::json last = queue::ToApiJson(store_->GetVideo(id).value());
  ASSERT_TRUE(store_->DeleteVideo(id).ok());
  WebhookOptions options = Options(receiver.url());
  options.render = [](nlohmann::json record, int64_t) {
    record["rendered"] = true;
    return record;
  };
  WebhookDispatcher dispatcher(store_.get(), options, SystemClock::Default());
  EXPECT_EQ(dispatcher.RunOnce(), 2);
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  auto body = got[0].Json();
  EXPECT_EQ(body["event"], "video.deleted");
  EXPECT_EQ(got[0].header("x-vidproc-event"), "video.deleted");
  EXPECT_EQ(got[0].header("x-vidproc-delivery"), body["id"]);
  nlohmann::json expected = last;
  expected["rendered"] = true;
  EXPECT_EQ(body["video"], expected);
  EXPECT_TRUE(SignedWith(got[0], kSecret));
  EXPECT_EQ(dispatcher.given_up(), 1);
  EXPECT_TRUE(store_->ClaimWebhookDeliveries(10, 1'000).value().empty());
}

TEST_F(WebhookTest, AReceiverAnswering500FirstGetsEveryEventLaterEvenAfterARestart) {
  Receiver receiver;
  receiver.set_status(500);
  std::set<std::string> videos = {Finish(), Finish(Status(ErrorCode::kCorruptInput, "bad")),
                                  Finish()};
  {
    WebhookDispatcher dispatcher(store_.get(), Options(receiver.url()), SystemClock::Default());
    dispatcher.Start();
    // Every delivery is refused at least twice (so it was retried after a failure).
    ASSERT_TRUE(WaitFor([&] { return receiver.count() >= 6; }, 10'000));
    dispatcher.Stop();
    EXPECT_EQ(dispatcher.delivered(), 0);
    EXPECT_GE(dispatcher.failed_attempts(), 6);
  }
  std::map<std::string, std::set<std::string>> refused_deliveries;  // delivery id -> videos
  for (const auto& r : receiver.requests()) {
    EXPECT_EQ(r.answered, 500);
    refused_deliveries[r.header("x-vidproc-delivery")].insert(r.Json()["video"]["id"]);
  }
  EXPECT_EQ(refused_deliveries.size(), 3u) << "retries keep their delivery id";

  // The process restarts; the receiver comes back.
  store_ = OpenStore(SystemClock::Default());
  receiver.set_status(204);
  WebhookDispatcher dispatcher(store_.get(), Options(receiver.url()), SystemClock::Default());
  dispatcher.Start();
  ASSERT_TRUE(WaitFor([&] { return dispatcher.delivered() >= 3; }, 10'000));
  dispatcher.Stop();
  // Settled in the store: nothing more can be sent by anyone.
  EXPECT_TRUE(store_->ClaimWebhookDeliveries(10, 1'000).value().empty());
  auto accepted = receiver.accepted();
  ASSERT_EQ(accepted.size(), 3u);
  std::set<std::string> delivered_videos;
  std::set<std::string> delivered_ids;
  for (const auto& r : accepted) {
    EXPECT_TRUE(SignedWith(r, kSecret));
    delivered_videos.insert(r.Json()["video"]["id"]);
    delivered_ids.insert(r.header("x-vidproc-delivery"));
  }
  EXPECT_EQ(delivered_videos, videos);
  for (const auto& [id, _] : refused_deliveries) EXPECT_EQ(delivered_ids.count(id), 1u);
}

TEST_F(WebhookTest, AReceiverThatIsDownFirstGetsEveryEventLater) {
  int port = FreePort();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hooks";
  std::string a = Finish();
  std::string b = Finish(Status(ErrorCode::kTimeout, "too slow"));
  WebhookDispatcher dispatcher(store_.get(), Options(url), SystemClock::Default());
  dispatcher.Start();
  ASSERT_TRUE(WaitFor([&] { return dispatcher.failed_attempts() >= 4; }, 10'000))
      << "connection refused should count as failed attempts";
  Receiver receiver(port);  // comes up
  ASSERT_EQ(receiver.port(), port);
  ASSERT_TRUE(WaitFor([&] { return dispatcher.delivered() >= 2; }, 10'000));
  dispatcher.Stop();
  EXPECT_TRUE(store_->ClaimWebhookDeliveries(10, 1'000).value().empty()) << "left unsettled";
  std::set<std::string> got;
  for (const auto& r : receiver.accepted()) got.insert(r.Json()["video"]["id"]);
  EXPECT_EQ(got, (std::set<std::string>{a, b}));
  EXPECT_EQ(receiver.count(), 2u);
  EXPECT_EQ(dispatcher.delivered(), 2);
}

TEST_F(WebhookTest, UrlCredentialsNeverReachTheLogOrTheStoredError) {
  ManualClock clock;
  store_ = OpenStore(&clock);
  // Nobody listens there: the attempt fails with libcurl's error, which names the URL.
  std::string url = "http://hook-user:hook-password-xyz@127.0.0.1:" + std::to_string(FreePort()) +
                    "/hooks?token=hook-query-token";
  Finish();
  ::testing::internal::CaptureStderr();
  WebhookDispatcher dispatcher(store_.get(), Options(url), &clock);
  dispatcher.Start();
  bool failed = WaitFor([&] { return dispatcher.failed_attempts() >= 1; }, 10'000);
  dispatcher.Stop();
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(failed);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/jobs.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT last_error FROM webhook_outbox", -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  std::string stored = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);

  for (const char* secret : {"hook-user", "hook-password-xyz", "hook-query-token"}) {
    EXPECT_EQ(stored.find(secret), std::string::npos) << stored;
    EXPECT_EQ(log.find(secret), std::string::npos) << log;
  }
  EXPECT_NE(stored.find("****@127.0.0.1"), std::string::npos) << stored;
  EXPECT_NE(log.find("****@127.0.0.1"), std::string::npos) << log;
}

TEST_F(WebhookTest, ADeliveryPastTheGiveUpTimeIsGivenUpAndNeverSent) {
  ManualClock clock;
  store_ = OpenStore(&clock);
  Receiver receiver;
  WebhookOptions options = Options(receiver.url());
  options.give_up_ms = 3'600'000;
  std::string old = Finish();
  clock.Advance(3'600'000);  // e.g. no dispatcher ran for an hour
  std::string fresh = Finish();
  WebhookDispatcher dispatcher(store_.get(), options, &clock);
  EXPECT_EQ(dispatcher.RunOnce(), 2);
  EXPECT_EQ(dispatcher.given_up(), 1);
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Json()["video"]["id"], fresh) << "the expired delivery was sent";
  clock.Advance(24 * 3'600'000);
  EXPECT_EQ(dispatcher.RunOnce(), 0) << "a given-up delivery was claimed again";
  EXPECT_EQ(receiver.count(), 1u);
}

TEST_F(WebhookTest, RetriesStopAtTheGiveUpTime) {
  ManualClock clock;
  store_ = OpenStore(&clock);
  Receiver receiver;
  receiver.set_status(503);
  WebhookOptions options = Options(receiver.url());
  options.first_backoff_ms = 5'000;
  options.max_backoff_ms = 600'000;
  options.give_up_ms = 60'000;
  Finish();
  WebhookDispatcher dispatcher(store_.get(), options, &clock);
  // Attempts at 0, ~5, ~15, ~35 s; the next would be at ~75 s, past 60 s: given up then.
  for (int i = 0; i < 120; ++i) {
    dispatcher.RunOnce();
    clock.Advance(1'000);
  }
  EXPECT_EQ(dispatcher.given_up(), 1);
  EXPECT_EQ(receiver.count(), 4u);
  EXPECT_EQ(dispatcher.failed_attempts(), 3);
  clock.Advance(3'600'000);
  EXPECT_EQ(dispatcher.RunOnce(), 0);
  EXPECT_EQ(receiver.count(), 4u);
}

TEST_F(WebhookTest, TwoDispatchersNeverDeliverTheSameEventTwice) {
  Receiver receiver;
  receiver.set_delay_ms(5);
  std::set<std::string> videos;
  for (int i = 0; i < 30; ++i) videos.insert(Finish());
  // Two processes: each its own connection to the database and its own dispatcher.
  auto other_store = OpenStore(SystemClock::Default());
  WebhookOptions options = Options(receiver.url());
  options.batch = 3;
  options.poll_ms = 5;
  WebhookDispatcher one(store_.get(), options, SystemClock::Default());
  WebhookDispatcher two(other_store.get(), options, SystemClock::Default());
  one.Start();
  two.Start();
  ASSERT_TRUE(WaitFor([&] { return one.delivered() + two.delivered() >= 30; }, 20'000));
  one.Stop();
  two.Stop();
  // Every event settled: nothing is left for either to send again.
  EXPECT_TRUE(store_->ClaimWebhookDeliveries(100, 1'000).value().empty());
  auto got = receiver.requests();
  std::set<std::string> ids;
  std::set<std::string> got_videos;
  for (const auto& r : got) {
    ids.insert(r.header("x-vidproc-delivery"));
    got_videos.insert(r.Json()["video"]["id"]);
  }
  EXPECT_EQ(got.size(), 30u) << "an event was delivered twice";
  EXPECT_EQ(ids.size(), 30u);
  EXPECT_EQ(got_videos, videos);
  EXPECT_GT(one.delivered(), 0) << "both dispatchers should have worked";
  EXPECT_GT(two.delivered(), 0) << "both dispatchers should have worked";
  EXPECT_EQ(one.delivered() + two.delivered(), 30);
}

TEST_F(WebhookTest, StopIsPromptEvenDuringASlowRequest) {
  Receiver receiver;
  receiver.set_delay_ms(3'000);
  Finish();
  WebhookOptions options = Options(receiver.url());
  options.request_timeout_ms = 10'000;
  options.poll_ms = 60'000;  // an idle wait that Stop must cut short too
  WebhookDispatcher dispatcher(store_.get(), options, SystemClock::Default());
  dispatcher.Start();
  ASSERT_TRUE(WaitFor([&] { return receiver.count() == 1; }, 5'000));
  auto started = std::chrono::steady_clock::now();
  dispatcher.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1'000));
  // The interrupted delivery is due again at once, for the next dispatcher. (Claimed here for a
  // minute, so that the idle dispatcher below finds nothing to send.)
  auto due = store_->ClaimWebhookDeliveries(10, 60'000);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due.value()[0].attempts, 2);
  // An idle dispatcher stops at once too: stopped once it is waiting for its next poll.
  ManualClock idle_clock;
  WebhookDispatcher idle(store_.get(), options, &idle_clock);
  idle.Start();
  ASSERT_TRUE(WaitFor([&] { return idle_clock.waiters() == 1; }, 5'000));
  started = std::chrono::steady_clock::now();
  idle.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
}

// The outbox row of delivery for `video`, read with SQLite directly: gave_up_at set?, last_error.
std::pair<bool, std::string> OutboxRow(const std::string& db_path, const std::string& video) {
  sqlite3* db = nullptr;
  std::pair<bool, std::string> row{false, ""};
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT gave_up_at IS NOT NULL, coalesce(last_error, '') FROM "
                       "webhook_outbox WHERE video_id = ?1",
                       -1, &st, nullptr);
    sqlite3_bind_text(st, 1, video.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      row = {sqlite3_column_int(st, 0) != 0,
             reinterpret_cast<const char*>(sqlite3_column_text(st, 1))};
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return row;
}

TEST_F(WebhookTest, APassThatThrowsIsRetriedAndADeliveryThatThrowsIsQuarantined) {
  Receiver receiver;
  queue::FaultInjectingJobStore faulty(store_.get());
  const std::string poisoned = Finish();
  // The first two passes throw before claiming anything; then the poisoned delivery's body
  // cannot be made (its video cannot be read without an exception).
  faulty.ThrowNext("ClaimWebhookDeliveries", 2);
  faulty.ThrowNext("GetVideo", 1);
  WebhookDispatcher dispatcher(&faulty, Options(receiver.url()), SystemClock::Default());
  dispatcher.Start();
  ASSERT_TRUE(WaitFor([&] { return dispatcher.given_up() == 1; }, 10'000))
      << "the thread died, or the delivery was not quarantined";
  EXPECT_GE(faulty.calls("ClaimWebhookDeliveries"), 3);
  // The thread goes on: the next event is delivered.
  const std::string healthy = Finish();
  ASSERT_TRUE(WaitFor([&] { return dispatcher.delivered() == 1; }, 10'000));
  dispatcher.Stop();

  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].Json()["video"]["id"], healthy);
  auto [gave_up, reason] = OutboxRow(dir_ + "/jobs.db", poisoned);
  EXPECT_TRUE(gave_up) << "the poisoned delivery is still due";
  EXPECT_NE(reason.find("injected exception in GetVideo"), std::string::npos) << reason;
  EXPECT_TRUE(store_->ClaimWebhookDeliveries(10, 1'000).value().empty()) << "left unsettled";
}

TEST_F(WebhookTest, ABadNameStoredBeforeTheFixIsDeliveredCleaned) {
  Receiver receiver;
  const std::string id = Finish();
  // A row as an older vidproc stored it: the raw bytes of a Latin-1 name with an escape.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/jobs.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "UPDATE videos SET filename = ?1 WHERE id = ?2", -1, &st, nullptr);
  const std::string bad = "caf\xE9\x1b[2J.mov";
  sqlite3_bind_text(st, 1, bad.data(), static_cast<int>(bad.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, id.c_str(), -1, SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);

  WebhookDispatcher dispatcher(store_.get(), Options(receiver.url()), SystemClock::Default());
  EXPECT_EQ(dispatcher.RunOnce(), 1);
  ASSERT_EQ(dispatcher.delivered(), 1);
  auto got = receiver.requests();
  ASSERT_EQ(got.size(), 1u);
  auto body = got[0].Json();
  ASSERT_TRUE(body.is_object()) << "not valid JSON: " << got[0].body;
  EXPECT_EQ(body["video"]["filename"], "caf\xEF\xBF\xBD[2J.mov");
}

}  // namespace
}  // namespace vidproc::worker
