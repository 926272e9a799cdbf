#include "core/log.h"
#include "core/units.h"
#include "http/api.h"
#include "http/handlers.h"
#include "http/platform_ids.h"

namespace vidproc::http {
namespace {

HeaderList TusHeaders() { return {{"Tus-Resumable", kTusVersion}, {"Cache-Control", "no-store"}}; }

HeaderList OffsetHeaders(int64_t offset) {
  HeaderList headers = TusHeaders();
  headers.push_back({"Upload-Offset", std::to_string(offset)});
  return headers;
}

// When an upload not finished by then is removed (uploads.h, RemoveExpired).
std::pair<std::string, std::string> ExpiresHeader(const ApiServices& api,
                                                  const queue::Video& video) {
  return {"Upload-Expires",
          HttpDate((video.created_at_ms + api.options->uploads.expiry_ms) / 1000)};
}

}  // namespace

asio::awaitable<void> TusOptions(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  HeaderList headers = {{"Tus-Resumable", kTusVersion},
                        {"Tus-Version", kTusVersion},
                        {"Tus-Extension", "creation,termination,expiration"},
                        {"Tus-Max-Size", std::to_string(api.options->uploads.max_upload_bytes)}};
  co_await ex.SendEmpty(204, std::move(headers));
}

asio::awaitable<void> TusCreate(ApiServices& api, Exchange& ex, const std::string& /*id*/) {
  auto length = ParseNonNegative(ex.header("Upload-Length"));
  if (!length || *length == 0) {
    ex.close_after();
    co_return co_await ex.SendError(400, "invalid_argument",
                                    "Upload-Length must be the file's size in bytes (deferred "
                                    "lengths are not supported).");
  }
  if (*length > api.options->uploads.max_upload_bytes) {
    ex.close_after();
    co_return co_await ex.SendError(TooLargeUpload(api.options->uploads.max_upload_bytes));
  }
  if (ex.content_length().value_or(0) > 0) {
    ex.close_after();  // creation-with-upload is not offered
    co_return co_await ex.SendError(400, "invalid_argument",
                                    "Create the upload with an empty POST, then PATCH its bytes.");
  }
  auto check = [&api, n = *length] { return api.admission->CheckNewVideo(api.store, n); };
  if (auto refusal = co_await ex.Blocking(std::move(check))) {
    co_return co_await ex.SendError(*refusal, TusHeaders());
  }
  std::string metadata = ex.header("Upload-Metadata");
  PlatformIdsCheck ids = PlatformIdsFromTusMetadata(metadata);
  if (!ids.ok()) co_return co_await ex.SendError(*ids.refusal, TusHeaders());
  std::string filename = MetadataValue(metadata, "filename");
  if (filename.empty()) filename = MetadataValue(metadata, "name");
  auto create = [&api, filename, n = *length, ids = std::move(ids.ids)] {
    return api.uploads->CreateResumable(filename, n, ids);
  };
  auto video = co_await ex.Blocking(std::move(create));
  if (!video.ok()) co_return co_await ex.SendError(video.status());
  LogInfo("upload created",
          {{"video", video->id}, {"filename", video->filename}, {"bytes", *length}});
  HeaderList headers = TusHeaders();
  headers.push_back({"Location", "/api/v1/uploads/" + video->id});
  headers.push_back(ExpiresHeader(api, *video));
  co_await ex.SendEmpty(201, std::move(headers));
}

asio::awaitable<void> TusHead(ApiServices& api, Exchange& ex, const std::string& id) {
  auto find = [&api, id] { return api.uploads->Find(id); };
  auto state = co_await ex.Blocking(std::move(find));
  if (!state.ok()) co_return co_await ex.SendError(state.status(), TusHeaders());
  HeaderList headers = OffsetHeaders(state->offset);
  headers.push_back({"Upload-Length", std::to_string(state->video.size_bytes)});
  co_await ex.SendEmpty(200, std::move(headers));
}

namespace {

// What a PATCH decided while it held the upload's lock: an error, or the headers of its 204.
struct PatchReply {
  std::optional<HttpError> error;
  HeaderList headers;
};

Status PastUploadLength() {
  return Status(ErrorCode::kTooLargeFile, "The body goes past Upload-Length.");
}

// Refuses a PATCH before its body is read: the connection ends after the answer.
PatchReply Refuse(Exchange& ex, HttpError error) {
  ex.close_after();
  return {std::move(error), {}};
}

// The PATCH itself, under the upload's lock: checks the offset, streams the body into a part,
// and records the new offset.
asio::awaitable<PatchReply> PatchLocked(ApiServices& api, Exchange& ex, const std::string& id,
                                        int64_t claimed) {
  auto find = [&api, id] { return api.uploads->Find(id); };
  auto state = co_await ex.Blocking(std::move(find));
  if (!state.ok()) co_return Refuse(ex, ToHttpError(state.status()));
  const queue::Video video = state->video;
  const int64_t offset = state->offset;
  if (claimed != offset) {
    HttpError mismatch{409, "offset_mismatch",
                       "The upload is at byte " + std::to_string(offset) +
                           "; send a HEAD request and resume from there."};
    co_return Refuse(ex, std::move(mismatch));
  }
  const int64_t room = video.size_bytes - offset;
  if (room == 0) {  // already complete
    ex.close_after();
    co_return PatchReply{std::nullopt, OffsetHeaders(offset)};
  }
  if (auto n = ex.content_length(); n && static_cast<int64_t>(*n) > room) {
    co_return Refuse(ex, ToHttpError(PastUploadLength()));
  }
  auto open = [&api, id, offset] { return api.uploads->OpenPart(id, offset); };
  auto opened = co_await ex.Blocking(std::move(open));
  if (!opened.ok()) co_return Refuse(ex, ToHttpError(opened.status()));
  std::unique_ptr<storage::BlobWriter> writer = std::move(opened).value();
  int64_t received = 0;
  auto append = [&writer, &received, room](const char* data, size_t size) {
    if (received + static_cast<int64_t>(size) > room) {
      return PastUploadLength();
    }
    received += static_cast<int64_t>(size);
    return writer->Append(data, size);
  };
  auto body = co_await ex.StreamBody(std::move(append));
  api.metrics->AddUploadBytes(received);
  const bool cut = !body.ok() && body.status().code() == ErrorCode::kInputReadFailed;
  // What arrived is kept even when the connection was cut: the client resumes from there.
  auto finish = [&writer, &body, cut, received, offset, &api, video]() -> Result<int64_t> {
    int64_t stored = 0;
    if (received > 0 && (body.ok() || cut)) {
      RETURN_IF_ERROR(writer->Commit());
      stored = received;
    } else {
      writer.reset();
    }
    if (!body.ok() && !cut) return body.status();
    return api.uploads->AfterPatch(video, offset + stored);
  };
  auto after = co_await ex.Blocking(std::move(finish));
  if (cut) {
    LogInfo("upload paused", {{"video", id}, {"bytes", received}});
    co_return PatchReply{ToHttpError(body.status()), {}};  // the client is gone: nobody reads it
  }
  if (!after.ok()) {
    api.metrics->UploadFinished(false);
    co_return PatchReply{ToHttpError(after.status()), {}};
  }
  if (after.value() == video.size_bytes) api.metrics->UploadFinished(true);
  HeaderList headers = OffsetHeaders(after.value());
  headers.push_back(ExpiresHeader(api, video));
  co_return PatchReply{std::nullopt, std::move(headers)};
}

}  // namespace

asio::awaitable<void> TusPatch(ApiServices& api, Exchange& ex, const std::string& id) {
  if (AsciiLower(ex.header(bhttp::field::content_type)) != "application/offset+octet-stream") {
    ex.close_after();
    co_return co_await ex.SendError(415, "unsupported_media_type",
                                    "PATCH bodies are 'application/offset+octet-stream'.");
  }
  auto claimed = ParseNonNegative(ex.header("Upload-Offset"));
  if (!claimed) {
    ex.close_after();
    co_return co_await ex.SendError(400, "invalid_argument", "Upload-Offset is missing.");
  }
  auto admitted = api.admission->TryUpload(ex.client());
  if (admitted.second) {
    ex.close_after();
    co_return co_await ex.SendError(*admitted.second, TusHeaders());
  }
  auto check_disk = [&api] { return api.admission->CheckDisk(); };
  if (auto refusal = co_await ex.Blocking(std::move(check_disk))) {
    ex.close_after();
    co_return co_await ex.SendError(*refusal, TusHeaders());
  }
  PatchReply reply;
  {
    // Released before the reply goes out: a client sends its next PATCH the moment it has the
    // answer, and must not find the upload still locked.
    auto lock = api.uploads->TryLock(id);
    if (lock) {
      reply = co_await PatchLocked(api, ex, id, *claimed);
    } else {
      reply = Refuse(
          ex, {409, "upload_locked", "Another request is writing this upload; wait and resume."});
    }
  }
  admitted.first.reset();  // like the lock: free before the client has the answer
  if (reply.error) co_return co_await ex.SendError(*reply.error);
  co_await ex.SendEmpty(204, std::move(reply.headers));
}

asio::awaitable<void> TusDelete(ApiServices& api, Exchange& ex, const std::string& id) {
  auto removed = co_await api.RemoveUnlessLocked(ex, id);
  if (!removed) {
    co_return co_await ex.SendError(409, "upload_locked",
                                    "Another request is writing this upload; try again.");
  }
  if (!removed->ok()) co_return co_await ex.SendError(*removed, TusHeaders());
  co_await ex.SendEmpty(204, TusHeaders());
}

}  // namespace vidproc::http
