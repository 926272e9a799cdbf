#include "http/api.h"

#include "core/text.h"

namespace vidproc::http {

const std::vector<Route>& ApiRoutes() {
  using enum bhttp::verb;
  static const std::vector<Route> routes = {
      {{get, head}, "/", Access::kPublic, false, ServePage},
      {{get, head}, "/healthz", Access::kPublic, false, ServeHealth},
      {{get, head}, "/readyz", Access::kPublic, false, ServeReady},
      {{get, head}, "/metrics", Access::kToken, false, ServeMetrics},
      {{get, head}, "/api/v1/videos", Access::kToken, false, ListVideos},
      {{post}, "/api/v1/videos", Access::kToken, false, UploadVideo},
      {{get, head}, "/api/v1/videos/{id}", Access::kToken, false, GetVideo, "No such video."},
      {{delete_}, "/api/v1/videos/{id}", Access::kToken, false, DeleteVideo, "No such video."},
      {{post}, "/api/v1/videos/{id}/retry", Access::kToken, false, RetryVideo, "No such video."},
      {{get, head},
       "/api/v1/videos/{id}/video",
       Access::kSignedOrToken,
       false,
       ServeVideoFile,
       "No such video."},
      {{get, head},
       "/api/v1/videos/{id}/thumbnail",
       Access::kSignedOrToken,
       false,
       ServeThumbnail,
       "No such video."},
      // tus clients probe capabilities without credentials.
      {{options}, "/api/v1/uploads", Access::kPublic, false, TusOptions},
      {{post}, "/api/v1/uploads", Access::kToken, true, TusCreate},
      {{options}, "/api/v1/uploads/{id}", Access::kPublic, false, TusOptions},
      {{head}, "/api/v1/uploads/{id}", Access::kToken, true, TusHead, "No such upload."},
      {{patch}, "/api/v1/uploads/{id}", Access::kToken, true, TusPatch, "No such upload."},
      {{delete_}, "/api/v1/uploads/{id}", Access::kToken, true, TusDelete, "No such upload."},
      {{get, head}, "/api/v1/queue", Access::kToken, false, ServeQueue},
      {{get}, "/api/v1/events", Access::kToken, false, StreamEvents},
  };
  return routes;
}

Api::Api(queue::JobStore* store, storage::BlobStore* blobs, const Clock* clock, ApiOptions options)
    : options_(std::move(options)),
      auth_(options_.api_token, options_.url_signing_secret, options_.signed_url_max_s),
      uploads_(store, blobs, clock, options_.uploads),
      hub_(store, clock, [this](const queue::Video& v) { return DumpJson(Render(v)); }),
      services_{store, blobs, clock, &options_, &auth_, &metrics_, &uploads_, &hub_} {
  if (options_.access_log) access_log_ = std::make_unique<AccessLog>();
}

Api::~Api() { Stop(); }

void Api::Start() { hub_.Start(); }
void Api::Stop() { hub_.Stop(); }

void Api::Finished(const ExchangeRecord& r) {
  metrics_.RecordRequest(r.method, r.route, r.status, r.seconds);
  if (access_log_) access_log_->Add(r);
}

bool Api::Admits(Access access, const Exchange& ex) const {
  if (access == Access::kPublic) return true;
  if (auth_.Allows(ex.header(bhttp::field::authorization))) return true;
  // Media URLs may carry a signature instead of the header (<video src> cannot send one).
  return access == Access::kSignedOrToken && auth_.enabled() && ex.query("sig") &&
         auth_.VerifySignature(ex.path(), ex.query("expires").value_or(""), *ex.query("sig"),
                               services_.NowS());
}

asio::awaitable<void> Api::Handle(Exchange& ex) {
  const RouteMatch match = MatchRoute(ApiRoutes(), ex.method(), ex.path());
  ex.set_route(match.label);
  if (!Admits(match.access, ex)) {
    ex.set_route(match.refused_label);
    HeaderList challenge = {{"WWW-Authenticate", "Bearer realm=\"vidproc\""}};
    co_return co_await ex.SendError(401, "unauthorized",
                                    "This server needs an API token: send the header "
                                    "'Authorization: Bearer <token>'.",
                                    std::move(challenge));
  }
  if (match.tus && ex.header("Tus-Resumable") != kTusVersion) {
    ex.set_route(match.refused_label);
    ex.close_after();
    HeaderList supported = {{"Tus-Version", kTusVersion}};
    co_return co_await ex.SendError(412, "tus_version_unsupported",
                                    "Send 'Tus-Resumable: 1.0.0' (tus 1.0.0).",
                                    std::move(supported));
  }
  if (match.allow.empty()) {
    co_return co_await ex.SendError(404, "not_found", "There is nothing at this address.");
  }
  if (!match.route) {
    HeaderList allow = {{"Allow", match.allow}};
    co_return co_await ex.SendError(405, "method_not_allowed", "Use one of: " + match.allow + ".",
                                    std::move(allow));
  }
  if (!match.route->unknown_id.empty() && !IsId(match.id)) {
    co_return co_await ex.SendError(404, "not_found", match.route->unknown_id);
  }
  co_await match.route->handler(services_, ex, match.id);
}

}  // namespace vidproc::http
