#include "job_store_conformance.h"

#include <unistd.h>

#include "queue/fault_injecting_job_store.h"
#include "queue/sqlite_store.h"

namespace vidproc::queue {
namespace {

struct SqliteFactory {
  std::string dir;
  SqliteFactory() {
    char templ[] = "/tmp/vidproc-jobstore-XXXXXX";
    dir = mkdtemp(templ);
  }
  ~SqliteFactory() { std::system(("rm -rf '" + dir + "'").c_str()); }
  // Opens the same database again (a restart).
  std::unique_ptr<JobStore> Open(const Clock* clock) {
    auto store = SqliteStore::Open(dir + "/jobs.db", clock);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }
};

// The fault-injecting wrapper with no fault set must be the store it wraps: every call forwarded.
struct FaultInjectingSqliteFactory {
  SqliteFactory sqlite;
  std::unique_ptr<JobStore> target;  // outlives the wrapper: the suite drops its store first
  std::unique_ptr<JobStore> Open(const Clock* clock) {
    target = sqlite.Open(clock);
    return std::make_unique<FaultInjectingJobStore>(target.get());
  }
};

using SqliteStores = ::testing::Types<SqliteFactory>;
using FaultInjectingStores = ::testing::Types<FaultInjectingSqliteFactory>;

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, JobStoreTest, SqliteStores);
INSTANTIATE_TYPED_TEST_SUITE_P(FaultInjectingSqlite, JobStoreTest, FaultInjectingStores);
}  // namespace testing

}  // namespace vidproc::queue
