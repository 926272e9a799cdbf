#include "http/api.h"

#include <algorithm>

#include "core/text.h"
#include "core/units.h"

namespace vidproc::http {
namespace {

// The name or address of a Host header value, lower case, without its port and brackets;
// nullopt when the value is not a host[:port].
std::optional<std::string> HostName(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = host.substr(1, close - 1);
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    port = rest.empty() ? rest : rest.substr(1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (name.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (name.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out = AsciiLower(name);
  if (out.size() > 1 && out.back() == '.') out.pop_back();  // "localhost." is localhost
  return out;
}

bool IsLoopbackName(const std::string& name) {
  if (name == "localhost") return true;
  beast::error_code ec;
  auto address = asio::ip::make_address(name, ec);
  if (ec) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return address.is_loopback();
}

bool HostAllowed(std::string_view host, const std::vector<std::string>& allowed_hosts) {
  auto name = HostName(host);
  if (!name) return false;
  if (IsLoopbackName(*name)) return true;
  const std::string full = AsciiLower(host);
  return std::any_of(allowed_hosts.begin(), allowed_hosts.end(), [&](const std::string& a) {
    const std::string allowed = AsciiLower(a);
    return allowed == full || allowed == *name;
  });
}

// Lower case. Each is added by a proxy, never by a browser or by a client calling vidproc itself.
constexpr std::string_view kForwardingHeaders[] = {
    "forwarded",           "via",
    "x-real-ip",           "x-client-ip",
    "client-ip",           "true-client-ip",
    "cf-connecting-ip",    "fastly-client-ip",
    "x-cluster-client-ip", "x-originating-ip",
    "x-remote-ip",         "x-remote-addr",
    "x-proxyuser-ip",      "x-envoy-external-address",
    "x-appengine-user-ip", "x-azure-clientip",
};
constexpr std::string_view kForwardingPrefixes[] = {"x-forwarded", "x-original-forwarded"};

bool IsForwardingHeader(std::string_view name) {
  const std::string lower = AsciiLower(name);
  return std::find(std::begin(kForwardingHeaders), std::end(kForwardingHeaders), lower) !=
             std::end(kForwardingHeaders) ||
         std::any_of(std::begin(kForwardingPrefixes), std::end(kForwardingPrefixes),
                     [&](std::string_view prefix) { return lower.starts_with(prefix); });
}

bool ChangesState(bhttp::verb method) {
  using enum bhttp::verb;
  return method == post || method == put || method == patch || method == delete_;
}

}  // namespace

std::optional<HttpError> BrowserRefusal(bhttp::verb method, std::string_view host,
                                        std::string_view origin, std::string_view fetch_site,
                                        const std::vector<std::string>& allowed_hosts) {
  if (!HostAllowed(host, allowed_hosts)) {
    return HttpError{403, "host_not_allowed",
                     "This server answers only to its loopback names and VIDPROC_ALLOWED_HOSTS; "
                     "the request named another host."};
  }
  if (!ChangesState(method)) return std::nullopt;
  const std::string site = AsciiLower(fetch_site);
  const std::string from = AsciiLower(origin);
  const std::string self = AsciiLower(host);
  const bool other_site = site == "cross-site" || site == "same-site";
  const bool other_origin = !from.empty() && from != "http://" + self && from != "https://" + self;
  if (other_site || other_origin) {
    return HttpError{403, "cross_origin_refused",
                     "Requests that change something must come from this server's own page (or "
                     "from a client that is not a browser)."};
  }
  return std::nullopt;
}

std::optional<HttpError> RemoteRefusal(std::string_view client,
                                       const std::vector<std::string>& header_names) {
  const auto forwarded =
      std::find_if(header_names.begin(), header_names.end(),
                   [](const std::string& name) { return IsForwardingHeader(name); });
  const bool from_here = IsLoopbackName(AsciiLower(client));
  if (from_here && forwarded == header_names.end()) return std::nullopt;
  const std::string how = !from_here
                              ? "it came from " + (client.empty() ? std::string("another machine")
                                                                  : std::string(client))
                              : "it came through a proxy (" + *forwarded + ")";
  return HttpError{403, "remote_access_needs_token",
                   "This server has no API token, so it serves only this machine; " + how +
                       ". Set VIDPROC_API_TOKEN (the Debian package makes one) and send "
                       "'Authorization: Bearer <token>'."};
}

const std::vector<Route>& ApiRoutes() {
  using enum bhttp::verb;
  static const std::vector<Route> routes = {
      {{get, head}, "/", Access::kPublic, false, ServePage},
      {{get, head}, "/assets/hls.js", Access::kPublic, false, ServeHlsJs},
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
      {{get, head},
       "/api/v1/videos/{id}/hls/{file}",
       Access::kSignedOrToken,
       false,
       ServeHls,
       "No such video."},
      {{get, head},
       "/api/v1/videos/{id}/storyboard/{file}",
       Access::kSignedOrToken,
       false,
       ServeStoryboard,
       "No such video."},
      // tus clients probe capabilities without credentials.
      {{options}, "/api/v1/uploads", Access::kPublic, false, TusOptions},
      {{post}, "/api/v1/uploads", Access::kToken, true, TusCreate},
      {{options}, "/api/v1/uploads/{id}", Access::kPublic, false, TusOptions},
      {{head}, "/api/v1/uploads/{id}", Access::kToken, true, TusHead, "No such upload."},
      {{patch}, "/api/v1/uploads/{id}", Access::kToken, true, TusPatch, "No such upload."},
      {{delete_}, "/api/v1/uploads/{id}", Access::kToken, true, TusDelete, "No such upload."},
      {{post}, "/api/v1/direct-uploads", Access::kToken, false, CreateDirectUpload},
      // A direct upload URL: its secret is the credential (direct_uploads.h).
      {{options},
       "/api/v1/direct-uploads/{id}/{secret}",
       Access::kCapability,
       false,
       DirectUploadOptions},
      {{post},
       "/api/v1/direct-uploads/{id}/{secret}",
       Access::kCapability,
       true,
       DirectUploadTusCreate,
       "There is no upload at this address."},
      {{head},
       "/api/v1/direct-uploads/{id}/{secret}",
       Access::kCapability,
       true,
       DirectUploadTusHead,
       "There is no upload at this address."},
      {{patch},
       "/api/v1/direct-uploads/{id}/{secret}",
       Access::kCapability,
       true,
       DirectUploadTusPatch,
       "There is no upload at this address."},
      {{put},
       "/api/v1/direct-uploads/{id}/{secret}",
       Access::kCapability,
       false,
       DirectUploadPut,
       "There is no upload at this address."},
      {{get, head}, "/api/v1/queue", Access::kToken, false, ServeQueue},
      {{get}, "/api/v1/events", Access::kToken, false, StreamEvents},
  };
  return routes;
}

Api::Api(queue::JobStore* store, storage::BlobStore* blobs, const Clock* clock, ApiOptions options)
    : options_(std::move(options)),
      auth_(options_.api_token, options_.url_signing_secret, options_.signed_url_max_s),
      admission_(options_.admission),
      uploads_(store, blobs, clock, options_.uploads),
      hub_(store, clock, [this](const queue::Video& v) { return DumpJson(Render(v)); }),
      services_{store, blobs, clock, &options_, &auth_, &metrics_, &uploads_, &hub_, &admission_} {
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
  if (access == Access::kPublic || access == Access::kCapability) return true;
  if (auth_.Allows(ex.header(bhttp::field::authorization))) return true;
  // Media URLs may carry a signature instead of the header (<video src> cannot send one).
  return access == Access::kSignedOrToken && auth_.enabled() && ex.query("sig") &&
         auth_.VerifySignature(ex.path(), ex.query("expires").value_or(""), *ex.query("sig"),
                               services_.NowS());
}

asio::awaitable<void> Api::Handle(Exchange& ex) {
  const RouteMatch match = MatchRoute(ApiRoutes(), ex.method(), ex.path());
  ex.set_route(match.label);
  // A direct upload URL carries its own credential: browsers on other origins and machines use
  // it, so neither the remote-access nor the browser checks below apply (docs/API.md).
  const bool capability = match.access == Access::kCapability;
  if (capability) co_await ApplyCapabilityCors(services_, ex, match.id);
  if (!auth_.enabled() && !capability && match.access != Access::kPublic &&
      !options_.serve_remote_without_token) {
    if (auto refusal = RemoteRefusal(ex.client(), ex.header_names())) {
      ex.close_after();  // a body is not read
      co_return co_await ex.SendError(*refusal);
    }
  }
  if (!auth_.enabled() && !capability) {
    auto refusal =
        BrowserRefusal(ex.method(), ex.header(bhttp::field::host), ex.header(bhttp::field::origin),
                       ex.header("Sec-Fetch-Site"), options_.allowed_hosts);
    if (refusal) {
      ex.close_after();  // a body is not read
      co_return co_await ex.SendError(*refusal);
    }
  }
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
