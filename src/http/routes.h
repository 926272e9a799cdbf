// Routing as data: a route is its methods, its path pattern (which is also the label of its
// requests in metrics and the access log), what a client must show first, and its handler.
// MatchRoute is the pure part of routing (tested without a server); Api::Handle applies a match
// in a fixed order: access (401), tus version (412), path (404), method (405), {id} (404), handler.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace vidproc::http {

struct ApiServices;

// What a client must show before a route answers it, from the least to the most.
enum class Access {
  kPublic,  // nothing (the page, health, tus capability probes)
  // the URL's own secret, checked by the handler (direct upload URLs: docs/API.md). Reachable
  // from any origin and machine, with or without an API token configured: the URL is the
  // credential.
  kCapability,
  kSignedOrToken,  // a signed URL or the API token (<video src> cannot send a header)
  kToken,          // the API token
};

using RouteHandler = asio::awaitable<void> (*)(ApiServices& api, Exchange& ex,
                                               const std::string& id);

struct Route {
  std::vector<bhttp::verb> methods;  // a route with GET answers HEAD too
  // "/api/v1/videos/{id}": {id} is one path segment; any other {name} is one segment too, not
  // kept (the handler reads it from the path)
  std::string_view pattern;
  Access access = Access::kToken;
  bool tus = false;  // asks for "Tus-Resumable: 1.0.0"
  RouteHandler handler = nullptr;
  std::string_view unknown_id = {};  // with {id}: the 404 message for what cannot be an id
};

struct RouteMatch {
  const Route* route = nullptr;  // null: the path has no route for the method, or none at all
  std::string label = "other";   // the pattern of the path, for metrics and logs
  // The label of a request refused before its route runs (no token, no tus version): token
  // routes count refusals under their resource ("/api/v1/videos"), as they always have.
  std::string refused_label = "other";
  std::string id;     // what stood for {id}
  std::string allow;  // the path's methods ("GET, HEAD, POST"); empty: no such path
  // What the client must show first: the route's, or with no route for the method the most any
  // route of the path asks (a 405 tells no more than the route would). Everything under
  // /api/v1/ that exists nowhere asks for the token, so that only clients with it learn so.
  Access access = Access::kPublic;
  bool tus = false;
};

RouteMatch MatchRoute(std::span<const Route> routes, bhttp::verb method, std::string_view path);

// Video and upload ids are vidproc's own (core/ids.h): anything else cannot name one.
bool IsId(std::string_view segment);

}  // namespace vidproc::http
