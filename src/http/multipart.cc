#include "http/multipart.h"

#include <algorithm>
#include <cctype>

#include "core/units.h"

namespace vidproc::http {
namespace {

constexpr size_t kMaxPartHeaders = 16 * 1024;

Status Malformed(const std::string& why) {
  return Status(ErrorCode::kInvalidArgument, "The multipart/form-data body is malformed: " + why);
}

// The value of `name="..."` (or unquoted) in a header's parameters.
std::string Parameter(std::string_view header, std::string_view name) {
  std::string lower = AsciiLower(header);
  size_t pos = 0;
  while ((pos = lower.find(name, pos)) != std::string::npos) {
    bool starts = pos == 0 || lower[pos - 1] == ';' || lower[pos - 1] == ' ';
    size_t eq = pos + name.size();
    if (starts && eq < lower.size() && lower[eq] == '=') {
      size_t v = eq + 1;
      if (v < header.size() && header[v] == '"') {
        std::string out;
        for (size_t i = v + 1; i < header.size() && header[i] != '"'; ++i) {
          // A backslash escapes only a quote or a backslash: browsers send Windows paths
          // ("C:\\Users\\me\\trip.mov") with plain backslashes.
          if (header[i] == '\\' && i + 1 < header.size() &&
              (header[i + 1] == '"' || header[i + 1] == '\\')) {
            ++i;
          }
          out += header[i];
        }
        return out;
      }
      size_t end = header.find(';', v);
      return std::string(header.substr(v, end == std::string_view::npos ? end : end - v));
    }
    pos = eq;
  }
  return "";
}

}  // namespace

Result<std::string> MultipartParser::BoundaryOf(std::string_view content_type) {
  if (AsciiLower(content_type).rfind("multipart/form-data", 0) != 0) {
    return Status(ErrorCode::kInvalidArgument, "Not multipart/form-data.");
  }
  std::string boundary = Parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70) {
    return Status(ErrorCode::kInvalidArgument,
                  "The multipart/form-data Content-Type has no valid boundary.");
  }
  return boundary;
}

MultipartParser::MultipartParser(std::string boundary, std::string file_field, Sink sink)
    : delimiter_("\r\n--" + boundary), file_field_(std::move(file_field)), sink_(std::move(sink)) {
  // The first boundary may open the body without a preceding CRLF.
  pending_ = "\r\n";
}

void MultipartParser::CaptureField(const std::string& name, size_t max_bytes) {
  captures_[name] = Capture{max_bytes, std::nullopt};
}

std::optional<std::string> MultipartParser::field(const std::string& name) const {
  auto it = captures_.find(name);
  return it == captures_.end() ? std::nullopt : it->second.value;
}

Status MultipartParser::Emit(const char* data, size_t size) {
  if (capturing_ != nullptr) {
    std::string& value = *capturing_->value;
    size_t room = capturing_->max_bytes + 1 - std::min(value.size(), capturing_->max_bytes + 1);
    value.append(data, std::min(size, room));
    return Status::Ok();
  }
  if (!in_file_ || size == 0) return Status::Ok();
  file_bytes_ += static_cast<int64_t>(size);
  return sink_(data, size);
}

Status MultipartParser::ParseHeaders(std::string_view headers) {
  in_file_ = false;
  capturing_ = nullptr;
  size_t start = 0;
  while (start < headers.size()) {
    size_t end = headers.find("\r\n", start);
    if (end == std::string_view::npos) end = headers.size();
    std::string_view line = headers.substr(start, end - start);
    start = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (AsciiLower(line.substr(0, colon)) != "content-disposition") continue;
    std::string_view value = line.substr(colon + 1);
    const std::string name = Parameter(value, "name");
    if (auto capture = captures_.find(name); capture != captures_.end() && name != file_field_) {
      if (!capture->second.value) {
        capture->second.value.emplace();
        capturing_ = &capture->second;
      }
      continue;
    }
    if (name == file_field_ && !saw_file_) {
      in_file_ = true;
      saw_file_ = true;
      filename_ = Parameter(value, "filename");
      // Browsers send a bare name; some clients send a path. Only the last component is kept,
      // and only as a label: it never names a file anywhere.
      size_t slash = filename_.find_last_of("/\\");
      if (slash != std::string::npos) filename_ = filename_.substr(slash + 1);
    }
  }
  return Status::Ok();
}

Status MultipartParser::Feed(const char* data, size_t size) {
  pending_.append(data, size);
  while (true) {
    switch (state_) {
      case State::kPreamble: {
        size_t at = pending_.find(delimiter_);
        if (at == std::string::npos) {
          // Keep only what could be the start of the delimiter.
          if (pending_.size() > delimiter_.size()) {
            pending_.erase(0, pending_.size() - delimiter_.size());
          }
          return Status::Ok();
        }
        pending_.erase(0, at + delimiter_.size());
        state_ = State::kAfterBoundary;
        break;
      }
      case State::kAfterBoundary: {
        if (pending_.size() < 2) return Status::Ok();
        if (pending_.compare(0, 2, "--") == 0) {
          state_ = State::kDone;
          pending_.clear();
          return Status::Ok();
        }
        if (pending_.compare(0, 2, "\r\n") != 0) return Malformed("bad boundary line.");
        pending_.erase(0, 2);
        state_ = State::kHeaders;
        break;
      }
      case State::kHeaders: {
        size_t end = pending_.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (pending_.size() > kMaxPartHeaders) return Malformed("part headers are too long.");
          return Status::Ok();
        }
        RETURN_IF_ERROR(ParseHeaders(std::string_view(pending_).substr(0, end)));
        pending_.erase(0, end + 4);
        state_ = State::kBody;
        break;
      }
      case State::kBody: {
        size_t at = pending_.find(delimiter_);
        if (at == std::string::npos) {
          // Everything but a possible partial delimiter at the end belongs to this part.
          if (pending_.size() > delimiter_.size()) {
            size_t safe = pending_.size() - delimiter_.size();
            RETURN_IF_ERROR(Emit(pending_.data(), safe));
            pending_.erase(0, safe);
          }
          return Status::Ok();
        }
        RETURN_IF_ERROR(Emit(pending_.data(), at));
        pending_.erase(0, at + delimiter_.size());
        in_file_ = false;
        capturing_ = nullptr;
        state_ = State::kAfterBoundary;
        break;
      }
      case State::kDone:
        pending_.clear();  // the epilogue is ignored
        return Status::Ok();
    }
  }
}

Status MultipartParser::Finish() const {
  if (state_ != State::kDone) return Malformed("it ends before its closing boundary.");
  if (!saw_file_) {
    return Status(ErrorCode::kInvalidArgument,
                  "The form has no file field named '" + file_field_ + "'.");
  }
  return Status::Ok();
}

}  // namespace vidproc::http
