// The API's handlers, by resource, and the services they share. Each handler parses its request,
// calls the queue, storage or upload service on the blocking pool, and answers; the route table
// (api.cc) says which request reaches which handler and what the client must show first.
//   ops_handlers.cc    the web page, health, readiness, metrics, the queue
//   video_handlers.cc  the video resource: list, get, delete, retry, whole-file upload
//   media_handlers.cc  a ready video's MP4, thumbnail and storyboard (Range, ETag, presigned
//                      redirects)
//   tus_handlers.cc    resumable uploads (tus 1.0.0); their storage is uploads.h
//   event_handlers.cc  the Server-Sent Events stream
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "http/admission.h"
#include "http/auth.h"
#include "http/event_hub.h"
#include "http/metrics.h"
#include "http/server.h"
#include "http/uploads.h"
#include "queue/forecast.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"

namespace vidproc::http {

struct ApiOptions;

inline constexpr const char* kTusVersion = "1.0.0";

// What handlers work with; owned by Api, alive as long as the server.
struct ApiServices {
  queue::JobStore* store;
  storage::BlobStore* blobs;
  const Clock* clock;
  const ApiOptions* options;
  const Auth* auth;
  Metrics* metrics;
  Uploads* uploads;
  EventHub* hub;
  Admission* admission;

  int64_t NowS() const { return clock->NowMs() / 1000; }
  // The video resource with its URLs (signed when auth is on). A queued video's place in the
  // queue and predicted start come from `places` (QueuePlaces); without them they are null.
  nlohmann::json Render(const queue::Video& video,
                        const std::map<std::string, queue::QueuePlace>* places = nullptr) const;
  // The queued videos' places (queue/forecast.h): one look at the queue and at the live workers'
  // slots. Blocking (the store): call it inside Exchange::Blocking.
  Result<std::map<std::string, queue::QueuePlace>> QueuePlaces() const;
  // Deletes a video and all its blobs; nullopt when an upload of it is being written right now.
  asio::awaitable<std::optional<Status>> RemoveUnlessLocked(Exchange& ex, const std::string& id);
  // Admits the body of a new whole-file upload before a byte of it is read: a Content-Length
  // within `max_bytes`, a slot among the uploads in progress, and room for a new video (the
  // queue cap, the disk reserve). A refusal is answered (the connection then closes): nullopt.
  asio::awaitable<std::optional<Admission::UploadSlot>> AdmitWholeUpload(Exchange& ex,
                                                                         int64_t max_bytes);
};

// The refusal of an upload larger than `max_bytes` (413), whole or resumable.
Status TooLargeUpload(int64_t max_bytes);

// The handlers: each takes the {id} of its route's pattern (unused where there is none).
asio::awaitable<void> ServePage(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> ServeHlsJs(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> ServeHealth(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> ServeReady(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> ServeMetrics(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> ServeQueue(ApiServices& api, Exchange& ex, const std::string& id);

asio::awaitable<void> ListVideos(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> GetVideo(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> DeleteVideo(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> RetryVideo(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> UploadVideo(ApiServices& api, Exchange& ex, const std::string& id);

asio::awaitable<void> ServeVideoFile(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> ServeThumbnail(ApiServices& api, Exchange& ex, const std::string& id);
// /api/v1/videos/{id}/hls/{file}: playlists rewritten (hls_playlist.h), segments as blobs.
asio::awaitable<void> ServeHls(ApiServices& api, Exchange& ex, const std::string& id);
// GET .../storyboard/{file}: "storyboard.vtt" (its sheets' URLs made fetchable) or a sheet.
asio::awaitable<void> ServeStoryboard(ApiServices& api, Exchange& ex, const std::string& id);
// The number of sheets a video's output records for its storyboard; 0 when it has none.
int RecordedStoryboardSheets(const nlohmann::json& output);

asio::awaitable<void> TusOptions(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> TusCreate(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> TusHead(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> TusPatch(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> TusDelete(ApiServices& api, Exchange& ex, const std::string& id);

// Direct uploads (direct_upload_handlers.cc, direct_uploads.h): the token-holder's request for an
// upload URL, and the URL's own methods (Access::kCapability: each checks the URL's secret).
asio::awaitable<void> CreateDirectUpload(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> DirectUploadOptions(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> DirectUploadTusCreate(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> DirectUploadTusHead(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> DirectUploadTusPatch(ApiServices& api, Exchange& ex, const std::string& id);
asio::awaitable<void> DirectUploadPut(ApiServices& api, Exchange& ex, const std::string& id);
// Every answer of a direct upload URL carries CORS headers when the request's Origin may read it
// (VIDPROC_CORS_ORIGINS or the upload's cors_origin): called before anything can answer.
asio::awaitable<void> ApplyCapabilityCors(ApiServices& api, Exchange& ex, const std::string& id);

asio::awaitable<void> StreamEvents(ApiServices& api, Exchange& ex, const std::string& id);

}  // namespace vidproc::http
