// The HTTP API of docs/API.md: the route table and its dispatch (api.cc), with the handlers by
// resource (handlers.h). Every error is a Status mapped to HTTP in one place (errors.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "http/access_log.h"
#include "http/admission.h"
#include "http/auth.h"
#include "http/event_hub.h"
#include "http/handlers.h"
#include "http/metrics.h"
#include "http/routes.h"
#include "http/server.h"
#include "http/uploads.h"
#include "queue/job_store.h"
#include "storage/blob_store.h"

namespace vidproc::http {

struct ApiOptions {
  std::string api_token;           // empty: no authentication
  std::string url_signing_secret;  // empty: media URL keys derived from the token
  int64_t signed_url_max_s = Auth::kDefaultMaxUrlTtlS;  // the longest a signed media URL lives
  UploadOptions uploads;
  int presign_expiry_s = 3600;    // redirects to S3
  int64_t keepalive_ms = 15'000;  // SSE comment lines
  bool access_log = true;
  AdmissionOptions admission;
  // With auth off, the Host names (a name, or name:port) requests may carry besides loopback
  // ones: what a browser uses to reach this server (VIDPROC_ALLOWED_HOSTS).
  std::vector<std::string> allowed_hosts;
  // VIDPROC_PUBLIC_URL: the base of absolute links; empty: links are origin-relative paths.
  std::string public_url;
  // MediaLinks::public_objects_url (decided by the wiring).
  std::string public_objects_url;
  // `serve --insecure-no-auth`: with auth off, requests from other machines and through proxies
  // are served too (something in front authenticates them). Otherwise RemoteRefusal applies.
  bool serve_remote_without_token = false;
  // VIDPROC_CORS_ORIGINS, each in ParseOrigin's form ("*": any): pages allowed to use direct
  // upload URLs.
  std::vector<std::string> cors_origins;
  // VIDPROC_DIRECT_UPLOAD_MAX_SECONDS: how long a direct upload URL lives.
  int64_t direct_upload_max_ms = 3600 * 1000;
  // Imports may name a `source_key`: the storage is a bucket the platform shares (USE_SPACES).
  // On local storage they are refused (the platform's files are not in vidproc's store).
  bool source_keys = false;
};

// Where a client fetches a ready video's video and thumbnail. Decided once by the wiring from the
// storage settings, and used for every rendering of the resource, so that GET, the list, SSE
// events and webhooks all hand out the same links.
struct MediaLinks {
  // VIDPROC_PUBLIC_URL: the base of the API's own links; empty: origin-relative paths.
  std::string public_url;
  // Set when the processed outputs are public objects (SPACES_PUBLIC_READ): the bucket's URL or
  // SPACES_CDN_URL, to which the object key is appended. Empty: the API's signed links.
  std::string public_objects_url;
};

// The video resource as every client gets it: GET /api/v1/videos/{id}, the list, SSE events and
// webhook bodies (the dispatcher is given this function by the wiring). `record` is the row's
// JSON (queue::ToApiJson, or a snapshot of it kept for a deleted video); when it is ready,
// `video_url` (unless only HLS was stored) and `thumbnail_url` are added, and `hls_url` whenever
// it is `playable` (also while processing): the stable public object URLs when
// `links.public_objects_url` is set, else the API's media paths signed by `auth` (when on) as of
// `now_s`, absolute on `links.public_url` (which may end in a path prefix) when it is set.
nlohmann::json RenderVideo(nlohmann::json record, const Auth& auth, const MediaLinks& links,
                           int64_t now_s);

// With auth off, what keeps other web pages out (DNS rebinding, cross-site requests): a Host that
// is neither a loopback name or address nor in `allowed_hosts` (403 host_not_allowed), and a
// state-changing request (POST, PUT, PATCH, DELETE) from another origin (403
// cross_origin_refused). Pure, so that it is tested without a server.
std::optional<HttpError> BrowserRefusal(bhttp::verb method, std::string_view host,
                                        std::string_view origin, std::string_view fetch_site,
                                        const std::vector<std::string>& allowed_hosts);

// With auth off, what keeps other machines out, a reverse proxy on this one included: a request
// from a client address that is not loopback, or carrying any header a proxy adds (RFC 7239
// Forwarded, Via, the X-Forwarded-* family, X-Real-IP and the client-address headers of CDNs and
// load balancers), gets 403 remote_access_needs_token. `header_names` are the request's field
// names in any case. Pure, so that it is tested without a server.
std::optional<HttpError> RemoteRefusal(std::string_view client,
                                       const std::vector<std::string>& header_names);

// Every route of the API, in the order a 405's Allow header lists a path's methods.
const std::vector<Route>& ApiRoutes();

class Api : public Handler {
 public:
  Api(queue::JobStore* store, storage::BlobStore* blobs, const Clock* clock, ApiOptions options);
  ~Api() override;

  void Start();  // the event poller
  void Stop();   // ends event streams
  Metrics& metrics() { return metrics_; }
  Uploads& uploads() { return uploads_; }

  asio::awaitable<void> Handle(Exchange& ex) override;
  void Finished(const ExchangeRecord& record) override;
  void InFlight(int delta) override { metrics_.InFlight(delta); }

  // The video resource with its URLs (signed when auth is on).
  nlohmann::json Render(const queue::Video& video) const { return services_.Render(video); }

 private:
  bool Admits(Access access, const Exchange& ex) const;

  const ApiOptions options_;
  Auth auth_;
  Metrics metrics_;
  Admission admission_;
  Uploads uploads_;
  EventHub hub_;
  ApiServices services_;
  std::unique_ptr<AccessLog> access_log_;  // null when off
};

}  // namespace vidproc::http
