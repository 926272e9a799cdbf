#include "http/routes.h"

#include <algorithm>

namespace vidproc::http {
namespace {

constexpr std::string_view kIdParam = "{id}";
constexpr std::string_view kApiPrefix = "/api/v1/";

// "/api/v1/videos/" -> {"api", "v1", "videos"}; "/" -> {}.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // a trailing slash
  return out;
}

// Whether `path` fits `pattern`; stores the {id} segment in *id.
bool Fits(const std::vector<std::string_view>& pattern, const std::vector<std::string_view>& path,
          std::string* id) {
  if (pattern.size() != path.size()) return false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (pattern[i] == kIdParam) {
      *id = std::string(path[i]);
    } else if (pattern[i].starts_with('{')) {
      if (path[i].empty()) return false;
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}

bool Answers(const Route& route, bhttp::verb method) {
  auto has = [&route](bhttp::verb m) {
    return std::find(route.methods.begin(), route.methods.end(), m) != route.methods.end();
  };
  return has(method) || (method == bhttp::verb::head && has(bhttp::verb::get));
}

// The first three segments of the path: "/api/v1/videos".
std::string ResourceOf(const std::vector<std::string_view>& path) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(path.size(), 3); ++i) out += "/" + std::string(path[i]);
  return out;
}

}  // namespace

RouteMatch MatchRoute(std::span<const Route> routes, bhttp::verb method, std::string_view path) {
  RouteMatch match;
  const auto segments = Segments(path);
  std::vector<bhttp::verb> allowed;
  for (const Route& route : routes) {
    std::string id;
    if (!Fits(Segments(route.pattern), segments, &id)) continue;
    match.label = std::string(route.pattern);
    for (bhttp::verb m : route.methods) {
      if (std::find(allowed.begin(), allowed.end(), m) != allowed.end()) continue;
      allowed.push_back(m);
      match.allow += (match.allow.empty() ? "" : ", ") + std::string(bhttp::to_string(m));
    }
    if (!match.route && Answers(route, method)) {
      match.route = &route;
      match.id = std::move(id);
      match.access = route.access;
      match.tus = route.tus;
    } else if (!match.route) {
      match.access = std::max(match.access, route.access);
      match.tus = match.tus || route.tus;
    }
  }
  if (match.allow.empty() && segments.size() >= 3 &&
      path.substr(0, kApiPrefix.size()) == kApiPrefix) {
    match.access = Access::kToken;
  }
  match.refused_label = match.access == Access::kToken ? ResourceOf(segments) : match.label;
  return match;
}

bool IsId(std::string_view segment) { return IsPlainWord(segment, "-_"); }

}  // namespace vidproc::http
