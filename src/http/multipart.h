// An incremental multipart/form-data parser (RFC 7578): the body is fed in chunks as it arrives
// and the bytes of the one file field are handed on as they are found, so an upload of any size
// needs only a chunk and a boundary's worth of memory. Small text fields named in advance are
// kept (bounded); other fields are skipped.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vidproc::http {

class MultipartParser {
 public:
  using Sink = std::function<Status(const char* data, size_t size)>;

  // The boundary parameter of a multipart/form-data Content-Type.
  static Result<std::string> BoundaryOf(std::string_view content_type);

  MultipartParser(std::string boundary, std::string file_field, Sink sink);

  // Keeps the value of the field `name` (its first occurrence), at most `max_bytes` + 1 bytes of
  // it: a longer value reads as longer than `max_bytes` without ever being held whole.
  void CaptureField(const std::string& name, size_t max_bytes);
  // A captured field's value; nullopt when the form had no such field.
  std::optional<std::string> field(const std::string& name) const;

  // kInvalidArgument when the body is not well-formed multipart; a sink error is passed on.
  Status Feed(const char* data, size_t size);
  // After the last chunk: kInvalidArgument if the body ended before its closing boundary, or
  // had no part named `file_field` with a filename.
  Status Finish() const;

  const std::string& filename() const { return filename_; }
  int64_t file_bytes() const { return file_bytes_; }

 private:
  enum class State { kPreamble, kAfterBoundary, kHeaders, kBody, kDone };
  Status ParseHeaders(std::string_view headers);
  Status Emit(const char* data, size_t size);

  const std::string delimiter_;  // "\r\n--" + boundary
  const std::string file_field_;
  Sink sink_;
  State state_ = State::kPreamble;
  std::string pending_;
  struct Capture {
    size_t max_bytes = 0;
    std::optional<std::string> value;
  };
  std::map<std::string, Capture, std::less<>> captures_;
  Capture* capturing_ = nullptr;  // the field whose body is being read, if captured
  bool in_file_ = false;
  bool saw_file_ = false;
  std::string filename_;
  int64_t file_bytes_ = 0;
};

}  // namespace vidproc::http
