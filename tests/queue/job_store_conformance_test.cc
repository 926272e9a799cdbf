#include "job_store_conformance.h"

#include <unistd.h>

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

using SqliteStores = ::testing::Types<SqliteFactory>;

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, JobStoreTest, SqliteStores);
}  // namespace testing

}  // namespace vidproc::queue
