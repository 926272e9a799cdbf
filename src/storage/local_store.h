// BlobStore on this machine's disk: blobs are files under <root>/blobs/<key>. Writes go to a
// temporary file under <root>/tmp, are fsynced and renamed into place (and the directory synced),
// so a crash leaves the old blob or the new one, never a torn one.
#pragma once

#include <memory>
#include <string>

#include "storage/blob_store.h"

namespace vidproc::storage {

class LocalStore : public BlobStore {
 public:
  // Creates <root>/blobs and <root>/tmp if needed.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& root);

  Result<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key,
                                                 const std::string& content_type) override;
  Status PutFile(const std::string& key, const std::string& local_path,
                 const std::string& content_type) override;
  Status GetFile(const std::string& key, const std::string& local_path) override;
  Result<std::string> ReadRange(const std::string& key, int64_t offset, int64_t length) override;
  Result<std::optional<BlobInfo>> Stat(const std::string& key) override;
  Status Delete(const std::string& key) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override;
  Result<ServeLocation> Locate(const std::string& key, int expiry_s) override;
  std::optional<std::string> LocalPathFor(const std::string& key) override;
  std::string Describe() const override { return "local:" + root_; }

 private:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}
  std::string PathOf(const std::string& key) const { return root_ + "/blobs/" + key; }
  // Copies (or hard-links, on the same file system) `from` into a new temporary file.
  Result<std::string> StageCopy(const std::string& from);
  // Moves the synced temporary file `temp` to `key` and syncs the directory.
  Status Publish(const std::string& temp, const std::string& key);

  friend class LocalBlobWriter;

  const std::string root_;
};

}  // namespace vidproc::storage
