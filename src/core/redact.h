// Secrets out of text that people read (logs, stored errors, `vidproc config`): a mask shows
// nothing of the secret, not its first characters and not its length.
#pragma once

#include <string>
#include <string_view>

namespace vidproc {

// The mask of a secret: "" for an empty one (so "not set" stays visible), "****" otherwise.
std::string MaskSecret(std::string_view secret);

// `text` with the credentials of every URL in it masked: the user information
// (`https://user:password@host` -> `https://****@host`) and the values of query parameters
// whose name says they are secret (password, secret, token, key, sig...).
// Text without URLs comes back unchanged.
std::string MaskUrlCredentials(std::string_view text);

// The host (and port) of an absolute URL as written ("media.example.com:8443", "[::1]"): what
// may be shown of a URL whose query or path may carry a secret. "" when there is none.
std::string UrlHost(std::string_view url);

// A URL for logs: scheme, host and path, the user information dropped and the query and
// fragment replaced by "?****" (a presigned URL's signature is in its query).
std::string RedactedUrl(std::string_view url);

}  // namespace vidproc
