// The SSE poller without HTTP: polls that throw are survived with backoff, and a change that
// cannot be rendered is skipped (the others still reach the stream) instead of being retried at
// every poll or ending the poller's thread (which ended the process).
#include "http/event_hub.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>

#include "core/ids.h"
#include "queue/fault_injecting_job_store.h"
#include "queue/sqlite_store.h"
#include "support/http_client.h"

namespace vidproc::http {
namespace {

using namespace std::chrono_literals;

class EventHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vidproc-hub-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ =
        queue::SqliteStore::Open((dir_ / "vidproc.db").string(), SystemClock::Default()).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string AddVideo(const std::string& filename, const std::string& id = NewId()) {
    queue::Video v;
    v.id = id;
    v.filename = filename;
    v.status = queue::VideoStatus::kQueued;
    EXPECT_TRUE(store_->CreateVideo(v).ok());
    return v.id;
  }

  std::filesystem::path dir_;
  std::unique_ptr<queue::SqliteStore> store_;
};

TEST_F(EventHubTest, ThrowingPollsAndAnUnrenderableChangeDoNotStopTheStream) {
  queue::FaultInjectingJobStore faulty(store_.get());
  const std::string poisoned_id = NewId();
  auto render = [&poisoned_id](const queue::Video& v) -> std::string {
    if (v.id == poisoned_id) throw std::runtime_error("cannot render this record");
    return "{\"id\":\"" + v.id + "\"}";
  };
  EventHub hub(&faulty, SystemClock::Default(), render, /*poll_ms=*/10);
  boost::asio::io_context io;
  auto subscriber = hub.Subscribe(io.get_executor());
  faulty.ThrowNext("ListChangedSince", 3);
  hub.Start();

  AddVideo("poison.mp4", poisoned_id);
  const std::string healthy = AddVideo("fine.mp4");
  std::string frames;
  bool got = vidproc::testing::WaitUntil(
      [&] {
        for (auto& f : subscriber->Take()) frames += f;
        return frames.find(healthy) != std::string::npos;
      },
      10s);
  ASSERT_TRUE(got) << "the poller stopped after a throwing poll: " << frames;
  EXPECT_GE(faulty.calls("ListChangedSince"), 4);
  EXPECT_EQ(frames.find(poisoned_id), std::string::npos);
  EXPECT_TRUE(subscriber->open());

  // Still polling: a later change arrives too, and the skipped one is not retried forever.
  const int polls = faulty.calls("ListChangedSince");
  const std::string later = AddVideo("later.mp4");
  got = vidproc::testing::WaitUntil(
      [&] {
        for (auto& f : subscriber->Take()) frames += f;
        return frames.find(later) != std::string::npos;
      },
      10s);
  EXPECT_TRUE(got) << frames;
  EXPECT_GT(faulty.calls("ListChangedSince"), polls);
  hub.Stop();
}

}  // namespace
}  // namespace vidproc::http
