// The JobStore contract as a typed test suite, run against every implementation: a factory
// provides `std::unique_ptr<JobStore> Open(const Clock*)`, where a second Open() reaches the same
// data (a restart). SqliteStore: job_store_conformance_test.cc; PostgresStore:
// postgres_store_test.cc against a real server.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "queue/job_store.h"
#include "queue/store_common.h"

namespace vidproc::queue::testing {

template <typename Factory>
class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = factory_.Open(&clock_); }
  void Reopen() {
    store_.reset();
    store_ = factory_.Open(&clock_);
  }

  std::string Add(const std::string& filename = "clip.mov",
                  VideoStatus status = VideoStatus::kQueued) {
    Video v;
    v.id = NewId();
    v.filename = filename;
    v.status = status;
    v.size_bytes = 1234;
    EXPECT_TRUE(store_->CreateVideo(v).ok());
    clock_.Advance(1);  // distinct creation times keep the order deterministic
    return v.id;
  }

  Claim MustClaim(const std::string& worker = "w1", int cap = 100) {
    auto c = store_->ClaimNext(worker, 30'000, cap, std::nullopt);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_TRUE(c.value().has_value()) << "nothing was claimed";
    return c.value().value_or(Claim{});
  }

  // Every due delivery, claimed for `lease_ms`.
  std::vector<WebhookDelivery> ClaimAll(int64_t lease_ms = 60'000) {
    auto claimed = store_->ClaimWebhookDeliveries(1000, lease_ms);
    EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
    return claimed.ok() ? claimed.value() : std::vector<WebhookDelivery>{};
  }

  // Takes `id` from queued to ready (or to failed, with `error`).
  void Finish(const std::string& id, std::optional<Status> error = std::nullopt) {
    Claim c = MustClaim();
    ASSERT_EQ(c.video.id, id);
    Status s = error ? store_->FailJob(id, c.lease_token, *error, std::nullopt)
                     : store_->CompleteJob(id, c.lease_token, nullptr, {{"w", 1}}, false);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Whether ConsumeDirectUpload(id) used the direct upload (an error counts as no).
  bool Consume(const std::string& id) {
    auto won = store_->ConsumeDirectUpload(id);
    EXPECT_TRUE(won.ok()) << won.status().ToString();
    return won.ok() && won.value();
  }

  // A direct upload's video and its row, expiring `ttl_ms` from now.
  DirectUpload AddDirectUpload(int64_t ttl_ms, const std::string& cors_origin = "") {
    Video v;
    v.id = NewId();
    v.status = VideoStatus::kWaitingForUpload;
    v.external_id = "order-" + v.id;
    DirectUpload d;
    d.video_id = v.id;
    d.secret_hash = std::string(64, 'a');
    d.max_bytes = 5'000'000;
    d.cors_origin = cors_origin;
    d.expires_at_ms = clock_.NowMs() + ttl_ms;
    Status s = store_->CreateDirectUpload(v, d);
    EXPECT_TRUE(s.ok()) << s.ToString();
    clock_.Advance(1);
    return d;
  }

  Factory factory_;
  ManualClock clock_;
  std::unique_ptr<JobStore> store_;
};

TYPED_TEST_SUITE_P(JobStoreTest);

TYPED_TEST_P(JobStoreTest, CreatedVideoReadsBack) {
  std::string id = this->Add("holiday.mov");
  auto v = this->store_->GetVideo(id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->id, id);
  EXPECT_EQ(v->filename, "holiday.mov");
  EXPECT_EQ(v->status, VideoStatus::kQueued);
  EXPECT_EQ(v->size_bytes, 1234);
  EXPECT_EQ(v->attempts, 0);
  EXPECT_TRUE(v->source.is_null());
  EXPECT_EQ(this->store_->GetVideo("nope").status().code(), ErrorCode::kNotFound);
}

TYPED_TEST_P(JobStoreTest, DuplicateIdIsRefused) {
  Video v;
  v.id = "same";
  v.filename = "a";
  ASSERT_TRUE(this->store_->CreateVideo(v).ok());
  EXPECT_FALSE(this->store_->CreateVideo(v).ok());
}

TYPED_TEST_P(JobStoreTest, UploadingVideosAreNotClaimedUntilUploaded) {
  std::string id = this->Add("up.mov", VideoStatus::kUploading);
  auto none = this->store_->ClaimNext("w", 30'000, 10, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().has_value());
  ASSERT_TRUE(this->store_->MarkUploaded(id, 999).ok());
  Claim c = this->MustClaim();
  EXPECT_EQ(c.video.id, id);
  EXPECT_EQ(c.video.size_bytes, 999);
  EXPECT_EQ(this->store_->MarkUploaded(id, 1).code(), ErrorCode::kInvalidState);
}

TYPED_TEST_P(JobStoreTest, ClaimsOldestFirstAndCountsAttempts) {
  std::string first = this->Add();
  std::string second = this->Add();
  Claim a = this->MustClaim();
  Claim b = this->MustClaim();
  EXPECT_EQ(a.video.id, first);
  EXPECT_EQ(b.video.id, second);
  EXPECT_EQ(a.video.status, VideoStatus::kProcessing);
  EXPECT_EQ(a.video.attempts, 1);
  EXPECT_NE(a.lease_token, b.lease_token);
  auto none = this->store_->ClaimNext("w", 30'000, 10, std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().has_value());
}

TYPED_TEST_P(JobStoreTest, ClaimRespectsTheCap) {
  for (int i = 0; i < 5; ++i) this->Add();
  this->MustClaim("w", 2);
  this->MustClaim("w", 2);
  auto third = this->store_->ClaimNext("w", 30'000, 2, std::nullopt);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(third.value().has_value()) << "a third job was claimed with a cap of 2";
  auto counts = this->store_->Counts();
  EXPECT_EQ(counts->processing, 2);
  EXPECT_EQ(counts->queued, 3);
  // The cap is each worker's own: another worker can still claim.
  this->MustClaim("other-worker", 2);
}

TYPED_TEST_P(JobStoreTest, ConcurrentClaimsNeverShareAJobOrExceedTheCap) {
  for (int i = 0; i < 40; ++i) this->Add();
  std::mutex m;
  std::vector<std::string> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        // Eight slots of one worker, all claiming at once.
        auto c = this->store_->ClaimNext("one-worker", 30'000, 25, std::nullopt);
        if (c.ok() && c.value()) {
          std::lock_guard lock(m);
          claimed.push_back(c.value()->video.id);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(unique.size(), claimed.size()) << "a job was claimed twice";
  EXPECT_EQ(claimed.size(), 25u);
}

TYPED_TEST_P(JobStoreTest, CompletionRecordsOutputAndClearsTheLease) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  ASSERT_TRUE(this->store_->RenewLease(id, c.lease_token, 30'000, 0.5, 12).ok());
  auto mid = this->store_->GetVideo(id);
  EXPECT_DOUBLE_EQ(mid->progress, 0.5);
  EXPECT_EQ(mid->eta_seconds.value_or(-1), 12);
  nlohmann::json source = {{"container", "mov"}};
  nlohmann::json output = {{"width", 1280}, {"height", 720}};
  ASSERT_TRUE(this->store_->CompleteJob(id, c.lease_token, source, output, false).ok());
  auto v = this->store_->GetVideo(id);
  EXPECT_EQ(v->status, VideoStatus::kReady);
  EXPECT_DOUBLE_EQ(v->progress, 1.0);
  EXPECT_EQ(v->output["width"], 1280);
  EXPECT_EQ(v->source["container"], "mov");
  EXPECT_FALSE(v->has_original);
  // The same lease cannot complete twice.
  EXPECT_EQ(this->store_->CompleteJob(id, c.lease_token, source, output, false).code(),
            ErrorCode::kLeaseLost);
}

TYPED_TEST_P(JobStoreTest, PlayableWhileItsAttemptLastsOnly) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  EXPECT_FALSE(this->store_->GetVideo(id)->playable);
  const int64_t before = this->store_->GetVideo(id)->updated_at_ms;
  this->clock_.Advance(1000);
  ASSERT_TRUE(this->store_->MarkPlayable(id, c.lease_token).ok());
  auto v = this->store_->GetVideo(id);
  EXPECT_TRUE(v->playable);
  EXPECT_GT(v->updated_at_ms, before) << "the change feed must carry it";
  // A failed attempt (to be retried) withdrew its HLS: the video is no longer playable.
  Status err(ErrorCode::kStorageUnavailable, "x");
  ASSERT_TRUE(this->store_->FailJob(id, c.lease_token, err, this->clock_.NowMs()).ok());
  EXPECT_FALSE(this->store_->GetVideo(id)->playable);
  this->clock_.Advance(1000);
  Claim again = this->MustClaim();
  EXPECT_FALSE(this->store_->GetVideo(id)->playable);
  ASSERT_TRUE(this->store_->MarkPlayable(id, again.lease_token).ok());
  ASSERT_TRUE(this->store_->ReleaseJob(id, again.lease_token).ok());
  EXPECT_FALSE(this->store_->GetVideo(id)->playable);
  EXPECT_EQ(this->store_->MarkPlayable(id, again.lease_token).code(), ErrorCode::kLeaseLost);
}

TYPED_TEST_P(JobStoreTest, AnEstimateIsKeptAndADeferredJobKeepsItsPlace) {
  std::string big = this->Add("big.mov");
  std::string small = this->Add("small.mov");
  Claim c = this->MustClaim();
  ASSERT_EQ(c.video.id, big);
  JobEstimate estimate{640.5, 312.25, {{"container", "mov"}, {"duration_s", 12.5}}};
  ASSERT_TRUE(this->store_->RecordEstimate(big, c.lease_token, estimate).ok());
  auto v = this->store_->GetVideo(big);
  ASSERT_TRUE(v->predicted_memory_mb && v->predicted_seconds);
  EXPECT_DOUBLE_EQ(*v->predicted_memory_mb, 640.5);
  EXPECT_DOUBLE_EQ(*v->predicted_seconds, 312.25);
  EXPECT_EQ(v->source.value("duration_s", 0.0), 12.5) << "the probe is the source from now on";
  this->clock_.Advance(5000);
  ASSERT_TRUE(this->store_->DeferJob(big, c.lease_token, "memory").ok());
  v = this->store_->GetVideo(big);
  EXPECT_EQ(v->status, VideoStatus::kQueued);
  EXPECT_EQ(v->waiting_for, "memory");
  EXPECT_EQ(v->attempts, 0) << "a deferred attempt does not count";
  EXPECT_TRUE(v->predicted_memory_mb.has_value()) << "the estimate stays with the file";

  // Too big for what is free: passed over, the next job is claimed instead.
  auto next = this->store_->ClaimNext("w1", 30'000, 100, 500.0);
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->video.id, small);
  // Room again: the deferred job comes first, its place in the queue kept.
  std::string later = this->Add("later.mov");
  auto again = this->store_->ClaimNext("w1", 30'000, 100, 700.0);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->video.id, big);
  EXPECT_EQ((*again)->video.waiting_for, "") << "cleared by the claim";
  EXPECT_EQ((*again)->video.attempts, 1);
  // A job never estimated is not passed over, however little memory is free.
  auto unknown = this->store_->ClaimNext("w1", 30'000, 100, 1.0);
  ASSERT_TRUE(unknown.ok() && unknown->has_value());
  EXPECT_EQ((*unknown)->video.id, later);
  EXPECT_EQ(this->store_->DeferJob(big, "forged", "memory").code(), ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->RecordEstimate(big, "forged", estimate).code(), ErrorCode::kLeaseLost);
}

TYPED_TEST_P(JobStoreTest, TheQueueListsRunningJobsThenQueuedOnesInClaimOrder) {
  std::string first = this->Add();
  std::string second = this->Add();
  std::string third = this->Add();
  std::string fourth = this->Add();
  this->Add("uploading.mov", VideoStatus::kUploading);
  Claim c = this->MustClaim();
  ASSERT_EQ(c.video.id, first);
  // A retry due later goes behind the others, as a claim would take them.
  Claim retried = this->MustClaim();
  ASSERT_EQ(retried.video.id, second);
  ASSERT_TRUE(this->store_
                  ->FailJob(second, retried.lease_token,
                            Status(ErrorCode::kStorageUnavailable, "x"),
                            this->clock_.NowMs() + 60'000)
                  .ok());
  auto queue = this->store_->ListQueue(10);
  ASSERT_TRUE(queue.ok()) << queue.status().ToString();
  std::vector<std::string> ids;
  for (const Video& v : *queue) ids.push_back(v.id);
  EXPECT_EQ(ids, (std::vector<std::string>{first, third, fourth, second}));
  // Who runs a job (the admission counts the jobs of a machine's other workers); nobody a queued
  // one, a retried one included.
  EXPECT_EQ((*queue)[0].worker, "w1");
  for (size_t i = 1; i < queue->size(); ++i) EXPECT_EQ((*queue)[i].worker, "") << (*queue)[i].id;
  auto limited = this->store_->ListQueue(1);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->size(), 2u) << "the running jobs and one queued";
  EXPECT_EQ((*limited)[1].id, third);
}

TYPED_TEST_P(JobStoreTest, AWrongTokenIsRefusedEverywhere) {
  std::string id = this->Add();
  this->MustClaim();
  Status err(ErrorCode::kCorruptInput, "x");
  EXPECT_EQ(this->store_->MarkPlayable(id, "forged").code(), ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->RenewLease(id, "forged", 1000, 0, std::nullopt).code(),
            ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->CompleteJob(id, "forged", nullptr, nullptr, false).code(),
            ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->FailJob(id, "forged", err, std::nullopt).code(), ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->ReleaseJob(id, "forged").code(), ErrorCode::kLeaseLost);
}

TYPED_TEST_P(JobStoreTest, LateCompletionFromAnExpiredLeaseIsRejected) {
  std::string id = this->Add();
  Claim old = this->MustClaim("slow-worker");
  this->clock_.Advance(31'000);  // the lease (30 s) expires: the worker is presumed dead
  auto moved = this->store_->RecoverExpiredLeases(5);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved.value(), 1);
  Claim fresh = this->MustClaim("other-worker");
  EXPECT_EQ(fresh.video.id, id);
  EXPECT_EQ(fresh.video.attempts, 2);
  // The first worker wakes up and reports: refused, the newer holder's result stands.
  EXPECT_EQ(
      this->store_->CompleteJob(id, old.lease_token, nullptr, {{"stale", true}}, false).code(),
      ErrorCode::kLeaseLost);
  ASSERT_TRUE(
      this->store_->CompleteJob(id, fresh.lease_token, nullptr, {{"fresh", true}}, false).ok());
  EXPECT_TRUE(this->store_->GetVideo(id)->output.contains("fresh"));
}

TYPED_TEST_P(JobStoreTest, RenewedLeasesAreNotRecovered) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  for (int i = 0; i < 5; ++i) {
    this->clock_.Advance(20'000);
    ASSERT_TRUE(this->store_->RenewLease(id, c.lease_token, 30'000, 0.1 * i, std::nullopt).ok());
    EXPECT_EQ(this->store_->RecoverExpiredLeases(5).value(), 0);
  }
}

TYPED_TEST_P(JobStoreTest, ExpiredLeasesFailAfterMaxAttempts) {
  std::string id = this->Add();
  for (int attempt = 1; attempt <= 2; ++attempt) {
    Claim c = this->MustClaim();
    EXPECT_EQ(c.video.attempts, attempt);
    this->clock_.Advance(31'000);
    ASSERT_EQ(this->store_->RecoverExpiredLeases(2).value(), 1);
  }
  auto v = this->store_->GetVideo(id);
  EXPECT_EQ(v->status, VideoStatus::kFailed);
  EXPECT_EQ(v->error_code, "process_crashed");
  EXPECT_TRUE(v->has_original);
}

TYPED_TEST_P(JobStoreTest, TransientFailureRequeuesWhenDue) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  Status err(ErrorCode::kStorageUnavailable, "down");
  ASSERT_TRUE(this->store_->FailJob(id, c.lease_token, err, this->clock_.NowMs() + 10'000).ok());
  auto v = this->store_->GetVideo(id);
  EXPECT_EQ(v->status, VideoStatus::kQueued);
  EXPECT_EQ(v->error_code, "storage_unavailable");
  EXPECT_FALSE(this->store_->ClaimNext("w", 30'000, 5, std::nullopt).value().has_value())
      << "claimed early";
  this->clock_.Advance(10'001);
  Claim again = this->MustClaim();
  EXPECT_EQ(again.video.id, id);
  EXPECT_EQ(again.video.attempts, 2);
}

TYPED_TEST_P(JobStoreTest, PermanentFailureKeepsTheOriginalAndCanBeRetried) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  Status err(ErrorCode::kTruncatedInput, "The file was cut short.");
  ASSERT_TRUE(this->store_->FailJob(id, c.lease_token, err, std::nullopt).ok());
  auto v = this->store_->GetVideo(id);
  EXPECT_EQ(v->status, VideoStatus::kFailed);
  EXPECT_EQ(v->error_code, "truncated_input");
  EXPECT_EQ(v->error_message, "The file was cut short.");
  EXPECT_TRUE(v->has_original);
  ASSERT_TRUE(this->store_->RetryVideo(id).ok());
  v = this->store_->GetVideo(id);
  EXPECT_EQ(v->status, VideoStatus::kQueued);
  EXPECT_EQ(v->attempts, 0);
  EXPECT_TRUE(v->error_code.empty());
  EXPECT_EQ(this->MustClaim().video.id, id);
}

TYPED_TEST_P(JobStoreTest, OnlyFailedVideosCanBeRetried) {
  std::string id = this->Add();
  EXPECT_EQ(this->store_->RetryVideo(id).code(), ErrorCode::kInvalidState);
  EXPECT_EQ(this->store_->RetryVideo("missing").code(), ErrorCode::kNotFound);
}

TYPED_TEST_P(JobStoreTest, ReleasedJobIsClaimableWithoutCountingTheAttempt) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  ASSERT_TRUE(this->store_->ReleaseJob(id, c.lease_token).ok());
  EXPECT_EQ(this->store_->GetVideo(id)->attempts, 0);
  EXPECT_EQ(this->MustClaim().video.attempts, 1);
}

TYPED_TEST_P(JobStoreTest, ListsNewestFirstInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(this->Add("v" + std::to_string(i)));
  std::vector<std::string> seen;
  std::string cursor;
  do {
    auto page = this->store_->ListVideos({}, 3, cursor);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->videos.size(), 3u);
    for (const auto& v : page->videos) seen.push_back(v.id);
    cursor = page->next_cursor;
  } while (!cursor.empty());
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, expected);
  Claim c = this->MustClaim();
  auto processing =
      this->store_->ListVideos({.status = VideoStatus::kProcessing, .external_id = ""}, 10, "");
  ASSERT_EQ(processing->videos.size(), 1u);
  EXPECT_EQ(processing->videos[0].id, c.video.id);
  EXPECT_FALSE(this->store_->ListVideos({}, 3, "garbage").ok());
}

// Every store refuses every malformed cursor with the same code and the same words, and before
// reading anything: the cursor is parsed once, in store_util, for all of them.
TYPED_TEST_P(JobStoreTest, MalformedCursorsAreRefusedAlike) {
  this->Add();
  const Status expected = store_util::BadCursor();
  const std::vector<std::string> malformed = {
      "12abc.x",                          // trailing junk after the time
      "12",                               // no separator
      "garbage",                          // no separator, no digits
      ".",                                // both parts empty
      ".abc",                             // empty time
      "12.",                              // empty id
      "-5.abc",                           // negative
      "+5.abc",                           // a sign
      " 5.abc",                           // a space
      "0x10.abc",                         // not decimal
      "1e3.abc",                          // not an integer
      "012.abc",                          // a leading zero
      "abc.def",                          // no digits
      "9223372036854775808.abc",          // INT64_MAX + 1
      "99999999999999999999999.abc",      // overflow
      "12.a b",                           // a space in the id
      "12.a/b",                           // a character no id has
      "12.a.b",                           // a second separator
      std::string(100'000, '7') + ".x",   // huge time
      "12." + std::string(100'000, 'a'),  // huge id
  };
  for (const std::string& cursor : malformed) {
    for (auto status : {std::optional<VideoStatus>(), std::optional(VideoStatus::kQueued)}) {
      auto page = this->store_->ListVideos({.status = status, .external_id = ""}, 3, cursor);
      ASSERT_FALSE(page.ok()) << "accepted the cursor '" << cursor.substr(0, 40) << "'";
      EXPECT_EQ(page.status().code(), expected.code()) << cursor.substr(0, 40);
      EXPECT_EQ(page.status().message(), expected.message()) << cursor.substr(0, 40);
    }
  }
  // Well-formed cursors are accepted, whether or not a video is at that position.
  for (const char* cursor : {"0.a", "9223372036854775807.zz", "17.AZaz09-_"}) {
    auto page = this->store_->ListVideos({}, 3, cursor);
    EXPECT_TRUE(page.ok()) << cursor << ": " << page.status().ToString();
  }
}

TYPED_TEST_P(JobStoreTest, ChangeFeedListsChangesInOrderSinceATime) {
  std::string a = this->Add("a");
  std::string b = this->Add("b");
  this->clock_.Advance(100);
  int64_t mark = this->clock_.NowMs();
  Claim c = this->MustClaim();  // a changes at `mark`
  ASSERT_EQ(c.video.id, a);
  this->clock_.Advance(5);
  ASSERT_TRUE(this->store_->RenewLease(a, c.lease_token, 30'000, 0.5, 3).ok());
  this->clock_.Advance(5);
  ASSERT_TRUE(this->store_->RetryVideo(b).code() == ErrorCode::kInvalidState);  // no change
  auto own = [&](const std::vector<Video>& all) {
    std::vector<Video> mine;
    for (const auto& v : all) {
      if (v.id == a || v.id == b) mine.push_back(v);
    }
    return mine;
  };
  auto changed = this->store_->ListChangedSince(mark, 100);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  auto mine = own(changed.value());
  ASSERT_EQ(mine.size(), 1u);  // b did not change after `mark`
  EXPECT_EQ(mine[0].id, a);
  EXPECT_EQ(mine[0].updated_at_ms, mark + 5);
  EXPECT_DOUBLE_EQ(mine[0].progress, 0.5);
  auto all = own(this->store_->ListChangedSince(0, 1000).value());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, b);  // oldest change first
  EXPECT_EQ(all[1].id, a);
  EXPECT_TRUE(own(this->store_->ListChangedSince(mark + 6, 100).value()).empty());
}

TYPED_TEST_P(JobStoreTest, DeleteRemovesTheVideoAndItsLease) {
  std::string id = this->Add();
  Claim c = this->MustClaim();
  ASSERT_TRUE(this->store_->DeleteVideo(id).ok());
  EXPECT_EQ(this->store_->GetVideo(id).status().code(), ErrorCode::kNotFound);
  EXPECT_NE(this->store_->RenewLease(id, c.lease_token, 1000, 0, std::nullopt).code(),
            ErrorCode::kOk);
  EXPECT_EQ(this->store_->DeleteVideo(id).code(), ErrorCode::kNotFound);
}

// The uploading platform's id and data are kept as given, read back by every read, found by an
// exact id (paged, and with the status filter), and survive a restart.
TYPED_TEST_P(JobStoreTest, PlatformIdsReadBackAndFilterTheList) {
  auto add = [&](const std::string& external_id, const nlohmann::json& metadata) {
    Video v;
    v.id = NewId();
    v.filename = "ids.mov";
    v.status = VideoStatus::kQueued;
    v.external_id = external_id;
    v.metadata = metadata;
    EXPECT_TRUE(this->store_->CreateVideo(v).ok());
    this->clock_.Advance(1);
    return v.id;
  };
  const nlohmann::json metadata = {{"user", 42}, {"tags", {"a", "\u00e9t\u00e9"}}, {"x", nullptr}};
  const std::string first = add("order-\u00e9-17", metadata);
  const std::string other = add("order-18", nlohmann::json::object());
  const std::string plain = add("", nullptr);
  const std::string second = add("order-\u00e9-17", {{"n", 2}});
  const std::string third = add("order-\u00e9-17", nullptr);

  auto v = this->store_->GetVideo(first);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->external_id, "order-\u00e9-17");
  EXPECT_EQ(v->metadata, metadata);
  EXPECT_EQ(this->store_->GetVideo(other)->metadata, nlohmann::json::object());
  EXPECT_EQ(this->store_->GetVideo(plain)->external_id, "");
  EXPECT_TRUE(this->store_->GetVideo(plain)->metadata.is_null());
  Claim c = this->MustClaim();  // the claim reads the whole record too
  ASSERT_EQ(c.video.id, first);
  EXPECT_EQ(c.video.external_id, "order-\u00e9-17");
  EXPECT_EQ(c.video.metadata, metadata);

  // Exact matches only, newest first, in pages.
  std::vector<std::string> seen;
  std::string cursor;
  do {
    auto page = this->store_->ListVideos({.status = std::nullopt, .external_id = "order-\u00e9-17"},
                                         2, cursor);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& listed : page->videos) seen.push_back(listed.id);
    cursor = page->next_cursor;
  } while (!cursor.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{third, second, first}));
  for (const char* near : {"order-", "ORDER-\u00c9-17", "order-\u00e9-17 ", "%", "order-_-17"}) {
    auto none = this->store_->ListVideos({.status = std::nullopt, .external_id = near}, 10, "");
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->videos.empty()) << near;
  }
  auto processing = this->store_->ListVideos(
      {.status = VideoStatus::kProcessing, .external_id = "order-\u00e9-17"}, 10, "");
  ASSERT_TRUE(processing.ok());
  ASSERT_EQ(processing->videos.size(), 1u);
  EXPECT_EQ(processing->videos[0].id, first);

  this->Reopen();
  auto after =
      this->store_->ListVideos({.status = std::nullopt, .external_id = "order-18"}, 10, "");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->videos.size(), 1u);
  EXPECT_EQ(after->videos[0].id, other);
  EXPECT_EQ(this->store_->GetVideo(first)->metadata, metadata);
}

// An import's source (a key or a URL, byte for byte) and replace_source are kept, read by the
// claim, and survive a restart; an upload has none.
TYPED_TEST_P(JobStoreTest, ImportSourcesReadBack) {
  auto add = [&](const std::string& key, const std::string& url, bool replace) {
    Video v;
    v.id = NewId();
    v.filename = "import.mov";
    v.status = VideoStatus::kQueued;
    v.import_key = key;
    v.import_url = url;
    v.replace_source = replace;
    EXPECT_TRUE(this->store_->CreateVideo(v).ok());
    this->clock_.Advance(1);
    return v.id;
  };
  const std::string key = "media/2026/Trip to Rome (\u00e9).mov";
  const std::string url = "https://cdn.example.com/a.mov?X-Amz-Signature=abc&x=%20";
  const std::string by_key = add(key, "", true);
  const std::string by_url = add("", url, false);
  const std::string upload = add("", "", false);
  Claim c = this->MustClaim();
  ASSERT_EQ(c.video.id, by_key);
  EXPECT_EQ(c.video.import_key, key);
  EXPECT_TRUE(c.video.import_url.empty());
  EXPECT_TRUE(c.video.replace_source);
  this->Reopen();
  auto v = this->store_->GetVideo(by_url);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->import_url, url);
  EXPECT_TRUE(v->import_key.empty());
  EXPECT_FALSE(v->replace_source);
  auto plain = this->store_->GetVideo(upload);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->import_key.empty() && plain->import_url.empty() && !plain->replace_source);
  EXPECT_EQ(this->store_->GetVideo(by_key)->import_key, key);
}

TYPED_TEST_P(JobStoreTest, EverythingSurvivesARestart) {
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(this->Add());
  Claim c = this->MustClaim();
  this->Reopen();
  auto counts = this->store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->queued, 49);
  EXPECT_EQ(counts->processing, 1);
  // The lease survives too: the holder can still complete after the restart.
  EXPECT_TRUE(this->store_->CompleteJob(c.video.id, c.lease_token, nullptr, nullptr, true).ok());
}

TYPED_TEST_P(JobStoreTest, OutboxIsOffByDefault) {
  std::string ready = this->Add();
  std::string failed = this->Add();
  this->Finish(ready);
  this->Finish(failed, Status(ErrorCode::kCorruptInput, "bad"));
  EXPECT_TRUE(this->ClaimAll().empty()) << "a delivery was written with the outbox off";
}

TYPED_TEST_P(JobStoreTest, OutboxRecordsReadyAndFailedTransitionsOnly) {
  this->store_->EnableWebhookOutbox(true);
  std::string ready = this->Add();
  std::string failed = this->Add();
  std::string released = this->Add();
  std::string uploading = this->Add("up.mov", VideoStatus::kUploading);
  int64_t t_ready = this->clock_.NowMs();
  this->Finish(ready);
  this->clock_.Advance(10);
  int64_t t_failed = this->clock_.NowMs();
  this->Finish(failed, Status(ErrorCode::kTruncatedInput, "cut"));
  // None of these is a ready/failed transition.
  ASSERT_TRUE(this->store_->MarkUploaded(uploading, 10).ok());
  Claim r = this->MustClaim();
  ASSERT_EQ(r.video.id, released);
  ASSERT_TRUE(this->store_->RenewLease(released, r.lease_token, 30'000, 0.5, 1).ok());
  ASSERT_TRUE(this->store_->ReleaseJob(released, r.lease_token).ok());
  ASSERT_TRUE(this->store_->RetryVideo(failed).ok());
  // A refused completion (a stale lease) invents nothing.
  EXPECT_EQ(this->store_->CompleteJob(failed, "forged", nullptr, nullptr, false).code(),
            ErrorCode::kLeaseLost);

  auto claimed = this->ClaimAll();
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].video_id, ready);  // oldest first
  EXPECT_EQ(claimed[0].event, "video.ready");
  EXPECT_EQ(claimed[0].created_at_ms, t_ready);
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_FALSE(claimed[0].lease_token.empty());
  EXPECT_EQ(claimed[1].video_id, failed);
  EXPECT_EQ(claimed[1].event, "video.failed");
  EXPECT_EQ(claimed[1].created_at_ms, t_failed);
  EXPECT_NE(claimed[0].id, claimed[1].id);
}

TYPED_TEST_P(JobStoreTest, TransientFailureWritesNoDelivery) {
  this->store_->EnableWebhookOutbox(true);
  std::string id = this->Add();
  Claim c = this->MustClaim();
  Status err(ErrorCode::kStorageUnavailable, "down");
  ASSERT_TRUE(this->store_->FailJob(id, c.lease_token, err, this->clock_.NowMs() + 1'000).ok());
  EXPECT_TRUE(this->ClaimAll().empty()) << "a retried job is not failed";
  // Disabling works too: the final failure below writes nothing.
  this->store_->EnableWebhookOutbox(false);
  this->clock_.Advance(1'001);
  this->Finish(id, err);
  EXPECT_TRUE(this->ClaimAll().empty());
}

TYPED_TEST_P(JobStoreTest, RecoveredLeaseThatFailsWritesADelivery) {
  this->store_->EnableWebhookOutbox(true);
  std::string fails = this->Add();
  std::string requeued = this->Add();
  Claim a = this->MustClaim();
  ASSERT_EQ(a.video.id, fails);
  this->clock_.Advance(31'000);
  ASSERT_EQ(this->store_->RecoverExpiredLeases(5).value(), 1);  // back to the queue: no event
  EXPECT_TRUE(this->ClaimAll().empty());
  // `fails` is now at the back of the queue (due later); `requeued` was never claimed.
  Claim b = this->MustClaim();
  Claim c = this->MustClaim();
  std::set<std::string> claimed_ids = {b.video.id, c.video.id};
  ASSERT_EQ(claimed_ids, (std::set<std::string>{fails, requeued}));
  this->clock_.Advance(31'000);
  // `fails` has had 2 attempts, `requeued` 1: with a maximum of 2 only `fails` fails.
  ASSERT_EQ(this->store_->RecoverExpiredLeases(2).value(), 2);
  EXPECT_EQ(this->store_->GetVideo(fails)->status, VideoStatus::kFailed);
  EXPECT_EQ(this->store_->GetVideo(requeued)->status, VideoStatus::kQueued);
  auto claimed = this->ClaimAll();
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].video_id, fails);
  EXPECT_EQ(claimed[0].event, "video.failed");
}

TYPED_TEST_P(JobStoreTest, AClaimedDeliveryIsNotClaimedAgainUntilItsLeaseExpires) {
  this->store_->EnableWebhookOutbox(true);
  std::string id = this->Add();
  this->Finish(id);
  auto first = this->ClaimAll(10'000);
  ASSERT_EQ(first.size(), 1u);
  // A second sender (another thread or process) finds nothing while the lease holds.
  auto second = this->store_->ClaimWebhookDeliveries(10, 10'000);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->empty()) << "a leased delivery was claimed twice";
  this->clock_.Advance(9'999);
  EXPECT_TRUE(this->ClaimAll().empty());
  this->clock_.Advance(1);  // the first sender is presumed dead
  auto taken_over = this->ClaimAll(10'000);
  ASSERT_EQ(taken_over.size(), 1u);
  EXPECT_EQ(taken_over[0].id, first[0].id);
  EXPECT_EQ(taken_over[0].attempts, 2);
  EXPECT_NE(taken_over[0].lease_token, first[0].lease_token);
  // The first sender's lease is gone: it cannot settle the delivery any more.
  EXPECT_EQ(this->store_->MarkWebhookDelivered(first[0].id, first[0].lease_token).code(),
            ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_
                ->RecordWebhookFailure(first[0].id, first[0].lease_token, this->clock_.NowMs(), "x")
                .code(),
            ErrorCode::kLeaseLost);
  EXPECT_TRUE(this->store_->MarkWebhookDelivered(taken_over[0].id, taken_over[0].lease_token).ok());
}

TYPED_TEST_P(JobStoreTest, ConcurrentDeliveryClaimsNeverShareADelivery) {
  this->store_->EnableWebhookOutbox(true);
  for (int i = 0; i < 20; ++i) this->Finish(this->Add());
  std::mutex m;
  std::vector<int64_t> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto c = this->store_->ClaimWebhookDeliveries(2, 60'000);
        if (!c.ok()) continue;
        std::lock_guard lock(m);
        for (const auto& d : c.value()) claimed.push_back(d.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int64_t> unique(claimed.begin(), claimed.end());
  EXPECT_EQ(unique.size(), claimed.size()) << "a delivery was claimed twice";
  EXPECT_EQ(claimed.size(), 20u);
}

TYPED_TEST_P(JobStoreTest, FailedDeliveryAttemptsAreRetriedWhenDue) {
  this->store_->EnableWebhookOutbox(true);
  std::string id = this->Add();
  this->Finish(id, Status(ErrorCode::kCorruptInput, "bad"));
  auto first = this->ClaimAll(60'000);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(this->store_
                  ->RecordWebhookFailure(first[0].id, first[0].lease_token,
                                         this->clock_.NowMs() + 5'000, "HTTP 500")
                  .ok());
  EXPECT_TRUE(this->ClaimAll().empty()) << "claimed before it was due";
  this->clock_.Advance(4'999);
  EXPECT_TRUE(this->ClaimAll().empty()) << "claimed before it was due";
  this->clock_.Advance(1);
  auto again = this->ClaimAll();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, first[0].id);
  EXPECT_EQ(again[0].video_id, id);
  EXPECT_EQ(again[0].event, "video.failed");
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].created_at_ms, first[0].created_at_ms);
}

TYPED_TEST_P(JobStoreTest, DeliveredAndGivenUpDeliveriesAreNeverClaimedAgain) {
  this->store_->EnableWebhookOutbox(true);
  std::string a = this->Add();
  std::string b = this->Add();
  this->Finish(a);
  this->Finish(b);
  auto claimed = this->ClaimAll(1'000);
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_TRUE(this->store_->MarkWebhookDelivered(claimed[0].id, claimed[0].lease_token).ok());
  ASSERT_TRUE(this->store_->GiveUpWebhook(claimed[1].id, claimed[1].lease_token, "too old").ok());
  this->clock_.Advance(24 * 3'600'000);  // far past any lease or retry time
  EXPECT_TRUE(this->ClaimAll().empty());
  // Settled is final: neither can be settled again, even with the last lease token.
  EXPECT_EQ(this->store_->MarkWebhookDelivered(claimed[0].id, claimed[0].lease_token).code(),
            ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->MarkWebhookDelivered(claimed[1].id, claimed[1].lease_token).code(),
            ErrorCode::kLeaseLost);
  EXPECT_EQ(this->store_->GiveUpWebhook(claimed[0].id, claimed[0].lease_token, "x").code(),
            ErrorCode::kLeaseLost);
  // A deleted video's deliveries stay in the outbox: its video.ready, and its video.deleted.
  std::string c = this->Add();
  this->Finish(c);
  ASSERT_TRUE(this->store_->DeleteVideo(c).ok());
  auto orphan = this->ClaimAll();
  ASSERT_EQ(orphan.size(), 2u);
  EXPECT_EQ(orphan[0].video_id, c);
  EXPECT_EQ(orphan[0].event, "video.ready");
  EXPECT_EQ(orphan[1].video_id, c);
  EXPECT_EQ(orphan[1].event, "video.deleted");
}

TYPED_TEST_P(JobStoreTest, OutboxSurvivesARestart) {
  this->store_->EnableWebhookOutbox(true);
  std::string leased = this->Add();
  std::string retried = this->Add();
  std::string due = this->Add();
  this->Finish(leased);
  this->Finish(retried);
  this->Finish(due, Status(ErrorCode::kCorruptInput, "bad"));
  auto claimed = this->store_->ClaimWebhookDeliveries(2, 10'000).value();
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_EQ(claimed[0].video_id, leased);
  ASSERT_EQ(claimed[1].video_id, retried);
  ASSERT_TRUE(this->store_
                  ->RecordWebhookFailure(claimed[1].id, claimed[1].lease_token,
                                         this->clock_.NowMs() + 5'000, "refused")
                  .ok());
  this->Reopen();  // the outbox is off in the new store: claiming does not need it
  auto after = this->ClaimAll(10'000);
  ASSERT_EQ(after.size(), 1u) << "only the never-tried delivery is due";
  EXPECT_EQ(after[0].video_id, due);
  EXPECT_EQ(after[0].event, "video.failed");
  this->clock_.Advance(10'000);  // the lease taken before the restart expires; the retry is due
  auto later = this->ClaimAll();
  ASSERT_EQ(later.size(), 3u);  // `due` again too: its lease of 10 s ran out as well
  std::map<std::string, int> attempts;
  for (const auto& d : later) attempts[d.video_id] = d.attempts;
  EXPECT_EQ(attempts[leased], 2);
  EXPECT_EQ(attempts[retried], 2);
  EXPECT_EQ(attempts[due], 2);
}

TYPED_TEST_P(JobStoreTest, CountsNameTheLongestWaitingQueuedVideo) {
  auto counts = this->store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->oldest_queued_ms, 0) << "nothing is queued";
  this->Add("uploading.mov", VideoStatus::kUploading);  // not waiting for a worker yet
  const int64_t first_queued_at = this->clock_.NowMs();
  std::string first = this->Add("first.mov");
  const int64_t second_queued_at = this->clock_.NowMs();
  this->Add("second.mov");
  counts = this->store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->queued, 2);
  EXPECT_EQ(counts->uploading, 1);
  EXPECT_EQ(counts->oldest_queued_ms, first_queued_at);
  EXPECT_EQ(this->MustClaim().video.id, first);  // no longer waiting
  counts = this->store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->oldest_queued_ms, second_queued_at);
  this->MustClaim();
  counts = this->store_->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->oldest_queued_ms, 0);
}

// Receivers deduplicate by the event id: random, so two databases never repeat one, and the same
// for a delivery on every claim.
TYPED_TEST_P(JobStoreTest, DeliveriesHaveRandomEventIdsKeptAcrossClaims) {
  this->store_->EnableWebhookOutbox(true);
  std::vector<std::string> videos;
  for (int i = 0; i < 4; ++i) {
    videos.push_back(this->Add());
    this->Finish(videos.back(),
                 i % 2 ? std::optional(Status(ErrorCode::kCorruptInput, "bad")) : std::nullopt);
  }
  // Two recovered in one statement (RecoverExpiredLeases writes its events in bulk).
  for (int i = 0; i < 2; ++i) this->Add();
  this->MustClaim();
  this->MustClaim();
  this->clock_.Advance(31'000);
  ASSERT_EQ(this->store_->RecoverExpiredLeases(1).value(), 2);
  auto first = this->ClaimAll(1'000);
  ASSERT_EQ(first.size(), 6u);
  std::set<std::string> ids;
  const std::regex shape("evt_[0-9a-f]{32}");
  for (const auto& d : first) {
    EXPECT_TRUE(std::regex_match(d.event_id, shape)) << d.event_id;
    ids.insert(d.event_id);
  }
  EXPECT_EQ(ids.size(), first.size());
  this->clock_.Advance(1'000);
  auto again = this->ClaimAll();
  ASSERT_EQ(again.size(), first.size());
  std::map<int64_t, std::string> by_row;
  for (const auto& d : first) by_row[d.id] = d.event_id;
  for (const auto& d : again) EXPECT_EQ(d.event_id, by_row[d.id]);
}

TYPED_TEST_P(JobStoreTest, DeletionWritesADeliveryWithTheVideoAsItWas) {
  std::string quiet = this->Add();
  ASSERT_TRUE(this->store_->DeleteVideo(quiet).ok());
  EXPECT_TRUE(this->ClaimAll().empty()) << "a delivery was written with the outbox off";

  this->store_->EnableWebhookOutbox(true);
  std::string id = this->Add("holiday.mov");
  this->Finish(id);
  ASSERT_EQ(this->ClaimAll().size(), 1u);  // its video.ready, leased for the next 60 s
  this->clock_.Advance(1'000);
  int64_t t_deleted = this->clock_.NowMs();
  ASSERT_TRUE(this->store_->DeleteVideo(id).ok());
  EXPECT_EQ(this->store_->DeleteVideo(id).code(), ErrorCode::kNotFound);
  auto claimed = this->ClaimAll();
  ASSERT_EQ(claimed.size(), 1u) << "one video.deleted; a second delete of nothing writes none";
  EXPECT_EQ(claimed[0].event, "video.deleted");
  EXPECT_EQ(claimed[0].video_id, id);
  EXPECT_EQ(claimed[0].created_at_ms, t_deleted);
  auto snapshot = nlohmann::json::parse(claimed[0].video_snapshot, nullptr, false);
  ASSERT_TRUE(snapshot.is_object()) << claimed[0].video_snapshot;
  EXPECT_EQ(snapshot["id"], id);
  EXPECT_EQ(snapshot["status"], "ready");
  EXPECT_EQ(snapshot["filename"], "holiday.mov");
  EXPECT_EQ(this->store_->GetVideo(id).status().code(), ErrorCode::kNotFound);
}

// The webhook backlog /metrics shows, as deltas: a database shared by test runs keeps the given-up
// deliveries of earlier ones.
TYPED_TEST_P(JobStoreTest, WebhookBacklogCountsPendingFailedAndGivenUp) {
  auto before = this->store_->CountWebhookBacklog();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto expect = [&](int64_t pending, int64_t failed, int64_t given_up, const char* when) {
    auto now = this->store_->CountWebhookBacklog();
    ASSERT_TRUE(now.ok()) << now.status().ToString();
    EXPECT_EQ(now->pending - before->pending, pending) << when;
    EXPECT_EQ(now->failed - before->failed, failed) << when;
    EXPECT_EQ(now->given_up - before->given_up, given_up) << when;
  };
  this->store_->EnableWebhookOutbox(true);
  for (int i = 0; i < 4; ++i) this->Finish(this->Add());
  expect(4, 0, 0, "four events written");
  auto claimed = this->ClaimAll(1'000);
  ASSERT_EQ(claimed.size(), 4u);
  expect(4, 0, 0, "a first send in flight is still pending");
  ASSERT_TRUE(this->store_
                  ->RecordWebhookFailure(claimed[0].id, claimed[0].lease_token,
                                         this->clock_.NowMs() + 5'000, "connection refused")
                  .ok());
  ASSERT_TRUE(this->store_->MarkWebhookDelivered(claimed[1].id, claimed[1].lease_token).ok());
  ASSERT_TRUE(this->store_->GiveUpWebhook(claimed[2].id, claimed[2].lease_token, "too old").ok());
  expect(1, 1, 1, "one failed, one delivered, one given up, one still sending");
  this->clock_.Advance(5'000);
  auto again = this->ClaimAll();
  ASSERT_EQ(again.size(), 2u);  // the retry, and the one whose lease ran out
  expect(1, 1, 1, "a resend in flight is still a failed delivery");
  for (const auto& d : again) {
    ASSERT_TRUE(this->store_->MarkWebhookDelivered(d.id, d.lease_token).ok());
  }
  expect(0, 0, 1, "delivered at last");
  this->Reopen();
  expect(0, 0, 1, "after a restart");
}

// The queue-wait histogram's input: from when the job became due to its claim, by the store's
// clock; a retry's backoff is not waiting for a worker.
TYPED_TEST_P(JobStoreTest, ClaimSaysHowLongTheJobWaited) {
  std::string id = this->Add();  // queued now; Add then advances 1 ms
  this->clock_.Advance(4'999);
  Claim c = this->MustClaim();
  ASSERT_EQ(c.video.id, id);
  EXPECT_EQ(c.waited_ms, 5'000);
  const int64_t retry_at = this->clock_.NowMs() + 10'000;
  ASSERT_TRUE(
      this->store_
          ->FailJob(id, c.lease_token, Status(ErrorCode::kStorageUnavailable, "down"), retry_at)
          .ok());
  this->clock_.Advance(10'250);
  c = this->MustClaim();
  EXPECT_EQ(c.waited_ms, 250) << "counted from the end of the backoff";
  ASSERT_TRUE(this->store_->ReleaseJob(id, c.lease_token).ok());
  this->clock_.Advance(40);
  EXPECT_EQ(this->MustClaim().waited_ms, 40) << "counted from the release";
  // An upload waits from when it was complete, not from when it started.
  std::string uploaded = this->Add("big.mov", VideoStatus::kUploading);
  this->clock_.Advance(60'000);
  ASSERT_TRUE(this->store_->MarkUploaded(uploaded, 10).ok());
  this->clock_.Advance(7);
  c = this->MustClaim();
  ASSERT_EQ(c.video.id, uploaded);
  EXPECT_EQ(c.waited_ms, 7);
}

// --- Direct uploads.

TYPED_TEST_P(JobStoreTest, DirectUploadIsCreatedWithItsWaitingVideo) {
  DirectUpload d = this->AddDirectUpload(60'000, "https://app.example.com");
  auto v = this->store_->GetVideo(d.video_id);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->status, VideoStatus::kWaitingForUpload);
  EXPECT_EQ(v->external_id, "order-" + d.video_id);
  auto read = this->store_->GetDirectUpload(d.video_id);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->secret_hash, d.secret_hash);
  EXPECT_EQ(read->max_bytes, 5'000'000);
  EXPECT_EQ(read->cors_origin, "https://app.example.com");
  EXPECT_EQ(read->expires_at_ms, d.expires_at_ms);
  EXPECT_FALSE(read->used_at_ms.has_value());
  EXPECT_EQ(this->store_->GetDirectUpload(NewId()).status().code(), ErrorCode::kNotFound);
  // A queued video is not claimable before its upload, and counts as waiting.
  EXPECT_FALSE(this->store_->ClaimNext("w1", 30'000, 10, std::nullopt).value().has_value());
  EXPECT_GE(this->store_->Counts()->waiting_for_upload, 1);
  // Listed under its status.
  auto page = this->store_->ListVideos(
      {.status = VideoStatus::kWaitingForUpload, .external_id = "order-" + d.video_id}, 10, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->videos.size(), 1u);
  // The same id again is refused, and leaves the first as it was.
  Video again;
  again.id = d.video_id;
  again.status = VideoStatus::kWaitingForUpload;
  EXPECT_FALSE(this->store_->CreateDirectUpload(again, d).ok());
  EXPECT_EQ(this->store_->GetDirectUpload(d.video_id)->expires_at_ms, d.expires_at_ms);
  this->Reopen();
  EXPECT_EQ(this->store_->GetDirectUpload(d.video_id)->secret_hash, d.secret_hash);
}

TYPED_TEST_P(JobStoreTest, DirectUploadIsConsumedOnceAcrossConnections) {
  DirectUpload d = this->AddDirectUpload(60'000);
  std::atomic<int> won{0};
  std::atomic<int> lost{0};
  // Each thread with a store of its own (its own connection, as another process would have).
  std::vector<std::unique_ptr<JobStore>> stores;
  for (int t = 0; t < 8; ++t) stores.push_back(this->factory_.Open(&this->clock_));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = stores[t]->ConsumeDirectUpload(d.video_id);
      if (r.ok() && *r) ++won;
      if (r.ok() && !*r) ++lost;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), 7);
  auto read = this->store_->GetDirectUpload(d.video_id);
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(read->used_at_ms.has_value());
  EXPECT_EQ(this->Consume(d.video_id), false);
  // The upload begins: uploading with its name and size, then queued like any upload.
  ASSERT_TRUE(this->store_->StartDirectUpload(d.video_id, "beach.mov", 4321).ok());
  auto v = this->store_->GetVideo(d.video_id);
  EXPECT_EQ(v->status, VideoStatus::kUploading);
  EXPECT_EQ(v->filename, "beach.mov");
  EXPECT_EQ(v->size_bytes, 4321);
  EXPECT_EQ(this->store_->StartDirectUpload(d.video_id, "x", 1).code(), ErrorCode::kInvalidState);
  EXPECT_EQ(this->store_->StartDirectUpload(NewId(), "x", 1).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(this->store_->MarkUploaded(d.video_id, 4321).ok());
  EXPECT_EQ(this->MustClaim().video.id, d.video_id);
}

TYPED_TEST_P(JobStoreTest, ExpiredDirectUploadIsNotConsumedAndIsListedForRemoval) {
  DirectUpload expiring = this->AddDirectUpload(1'000);
  DirectUpload lasting = this->AddDirectUpload(60'000);
  DirectUpload begun = this->AddDirectUpload(1'000);
  ASSERT_TRUE(this->Consume(begun.video_id));
  ASSERT_TRUE(this->store_->StartDirectUpload(begun.video_id, "a.mov", 10).ok());
  DirectUpload stalled = this->AddDirectUpload(1'000);  // a PUT that never finished
  ASSERT_TRUE(this->Consume(stalled.video_id));
  auto mine = [&](int64_t grace_ms) {
    std::set<std::string> ids;
    auto listed = this->store_->ListExpiredDirectUploads(grace_ms, 1000);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    for (const auto& id : listed.ok() ? listed.value() : std::vector<std::string>{}) {
      if (id == expiring.video_id || id == lasting.video_id || id == begun.video_id ||
          id == stalled.video_id) {
        ids.insert(id);
      }
    }
    return ids;
  };
  EXPECT_TRUE(mine(10'000).empty());
  this->clock_.Advance(1'000);
  EXPECT_EQ(this->Consume(expiring.video_id), false) << "expired";
  EXPECT_EQ(mine(10'000), std::set<std::string>{expiring.video_id})
      << "the used one waits for the grace; the begun and the lasting ones are not listed";
  this->clock_.Advance(10'000);
  EXPECT_EQ(mine(10'000), (std::set<std::string>{expiring.video_id, stalled.video_id}));
  // Removal is the video's deletion: its video.deleted; the direct upload stays as a record.
  this->store_->EnableWebhookOutbox(true);
  for (const auto& id : mine(10'000)) ASSERT_TRUE(this->store_->DeleteVideo(id).ok());
  std::set<std::string> deleted;
  for (const auto& delivery : this->ClaimAll()) {
    if (delivery.event == "video.deleted") deleted.insert(delivery.video_id);
  }
  EXPECT_EQ(deleted, (std::set<std::string>{expiring.video_id, stalled.video_id}));
  EXPECT_EQ(this->store_->GetVideo(expiring.video_id).status().code(), ErrorCode::kNotFound);
  auto record = this->store_->GetDirectUpload(expiring.video_id);
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_FALSE(record->used_at_ms.has_value());
  EXPECT_FALSE(this->Consume(expiring.video_id));
  EXPECT_TRUE(mine(10'000).empty());
  EXPECT_TRUE(this->store_->GetDirectUpload(begun.video_id).ok());
}

REGISTER_TYPED_TEST_SUITE_P(
    JobStoreTest, WebhookBacklogCountsPendingFailedAndGivenUp, ClaimSaysHowLongTheJobWaited,
    CountsNameTheLongestWaitingQueuedVideo, DeliveriesHaveRandomEventIdsKeptAcrossClaims,
    DeletionWritesADeliveryWithTheVideoAsItWas, CreatedVideoReadsBack, DuplicateIdIsRefused,
    UploadingVideosAreNotClaimedUntilUploaded, ClaimsOldestFirstAndCountsAttempts,
    ClaimRespectsTheCap, ConcurrentClaimsNeverShareAJobOrExceedTheCap,
    CompletionRecordsOutputAndClearsTheLease, PlayableWhileItsAttemptLastsOnly,
    AnEstimateIsKeptAndADeferredJobKeepsItsPlace,
    TheQueueListsRunningJobsThenQueuedOnesInClaimOrder, AWrongTokenIsRefusedEverywhere,
    LateCompletionFromAnExpiredLeaseIsRejected, RenewedLeasesAreNotRecovered,
    ExpiredLeasesFailAfterMaxAttempts, TransientFailureRequeuesWhenDue,
    PermanentFailureKeepsTheOriginalAndCanBeRetried, OnlyFailedVideosCanBeRetried,
    ReleasedJobIsClaimableWithoutCountingTheAttempt, ListsNewestFirstInPages,
    MalformedCursorsAreRefusedAlike, ChangeFeedListsChangesInOrderSinceATime,
    DeleteRemovesTheVideoAndItsLease, EverythingSurvivesARestart, OutboxIsOffByDefault,
    OutboxRecordsReadyAndFailedTransitionsOnly, TransientFailureWritesNoDelivery,
    RecoveredLeaseThatFailsWritesADelivery, AClaimedDeliveryIsNotClaimedAgainUntilItsLeaseExpires,
    ConcurrentDeliveryClaimsNeverShareADelivery, FailedDeliveryAttemptsAreRetriedWhenDue,
    DeliveredAndGivenUpDeliveriesAreNeverClaimedAgain, OutboxSurvivesARestart,
    PlatformIdsReadBackAndFilterTheList, DirectUploadIsCreatedWithItsWaitingVideo,
    DirectUploadIsConsumedOnceAcrossConnections,
    ExpiredDirectUploadIsNotConsumedAndIsListedForRemoval, ImportSourcesReadBack);

}  // namespace vidproc::queue::testing
