// A BlobStore that forwards to another and fails the calls it is told to: the seam for testing
// how the worker survives storage outages (like LevelDB's FaultInjectionTestEnv).
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "storage/blob_store.h"

namespace vidproc::storage {

class FaultInjectingStore : public BlobStore {
 public:
  explicit FaultInjectingStore(BlobStore* target) : target_(target) {}

  // The next `n` calls of operation `op` ("put", "get", "delete", "stat", ...; "*" for all)
  // fail with `code`.
  void FailNext(const std::string& op, int n, ErrorCode code = ErrorCode::kStorageUnavailable) {
    std::lock_guard lock(mutex_);
    op_ = op;
    remaining_ = n;
    code_ = code;
  }
  int injected() const { return injected_; }

  // "write" fails the opening; "append" and "commit" fail a writer's calls.
  Result<std::unique_ptr<BlobWriter>> OpenWriter(const std::string& key,
                                                 const std::string& type) override {
    RETURN_IF_ERROR(Maybe("write"));
    ASSIGN_OR_RETURN(auto writer, target_->OpenWriter(key, type));
    return std::unique_ptr<BlobWriter>(new Writer(this, std::move(writer)));
  }
  Status PutFile(const std::string& key, const std::string& path,
                 const std::string& type) override {
    RETURN_IF_ERROR(Maybe("put"));
    return target_->PutFile(key, path, type);
  }
  Status PutOutputFile(const std::string& key, const std::string& path,
                       const std::string& type) override {
    RETURN_IF_ERROR(Maybe("put"));
    return target_->PutOutputFile(key, path, type);
  }
  Status GetFile(const std::string& key, const std::string& path) override {
    RETURN_IF_ERROR(Maybe("get"));
    return target_->GetFile(key, path);
  }
  Result<std::string> ReadRange(const std::string& key, int64_t offset, int64_t length) override {
    RETURN_IF_ERROR(Maybe("read"));
    return target_->ReadRange(key, offset, length);
  }
  Result<std::optional<BlobInfo>> Stat(const std::string& key) override {
    RETURN_IF_ERROR(Maybe("stat"));
    return target_->Stat(key);
  }
  Status Delete(const std::string& key) override {
    RETURN_IF_ERROR(Maybe("delete"));
    return target_->Delete(key);
  }
  Result<std::vector<std::string>> List(const std::string& prefix) override {
    RETURN_IF_ERROR(Maybe("list"));
    return target_->List(prefix);
  }
  Result<ServeLocation> Locate(const std::string& key, int expiry_s) override {
    RETURN_IF_ERROR(Maybe("locate"));
    return target_->Locate(key, expiry_s);
  }
  std::optional<std::string> LocalPathFor(const std::string& key) override {
    return target_->LocalPathFor(key);
  }
  std::string Describe() const override { return "faulty(" + target_->Describe() + ")"; }

 private:
  class Writer : public BlobWriter {
   public:
    Writer(FaultInjectingStore* store, std::unique_ptr<BlobWriter> target)
        : store_(store), target_(std::move(target)) {}
    Status Append(const char* data, size_t size) override {
      RETURN_IF_ERROR(store_->Maybe("append"));
      return target_->Append(data, size);
    }
    Status Commit() override {
      RETURN_IF_ERROR(store_->Maybe("commit"));
      return target_->Commit();
    }
    int64_t bytes_written() const override { return target_->bytes_written(); }

   private:
    FaultInjectingStore* store_;
    std::unique_ptr<BlobWriter> target_;
  };

  Status Maybe(const char* op) {
    std::lock_guard lock(mutex_);
    if (remaining_ > 0 && (op_ == "*" || op_ == op)) {
      --remaining_;
      ++injected_;
      return Status(code_, std::string("injected failure of ") + op);
    }
    return Status::Ok();
  }

  BlobStore* target_;
  std::mutex mutex_;
  std::string op_;
  int remaining_ = 0;  // GUARDED_BY(mutex_)
  ErrorCode code_ = ErrorCode::kStorageUnavailable;
  std::atomic<int> injected_{0};
};

}  // namespace vidproc::storage
