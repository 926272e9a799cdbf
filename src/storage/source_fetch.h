// Fetching the original of an import from a URL a client named (POST /api/v1/videos with
// "source_url"): the URL is the client's, the network is the worker's, so nothing private may be
// reached through it — not by its name, an address literal, a DNS answer or a redirect.
//
// How: curl resolves each hop's host and every address it is about to connect to passes
// IsPublicAddress in curl's open-socket callback, so the check is made on the address actually
// used (a DNS answer that changes between a check and the connect — rebinding — changes
// nothing). Redirects are followed here, hop by hop, each with the same checks; no proxy from
// the environment is used (it would hide the destination).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vidproc::storage {

// A global unicast address. Refused: unspecified, loopback, RFC 1918 and unique-local private
// ranges, link-local (where clouds serve instance metadata), shared CGNAT space, multicast,
// broadcast, documentation, benchmarking and reserved ranges, the IPv6 discard prefix and
// Teredo — and any IPv6 form that carries an IPv4 address (mapped, compatible, NAT64, 6to4)
// whose IPv4 address is one of those.
bool IsPublicAddress(const sockaddr* address);

struct SourcePolicy {
  int64_t max_bytes = 0;  // the upload size cap (MAX_UPLOAD_BYTES); 0: none
  // Hosts the operator allows whatever their addresses (an internal media server): names or
  // literal addresses as written in URLs, compared without case ("media.internal",
  // "10.0.0.5", "[fd00::5]" or "fd00::5").
  std::vector<std::string> allowed_hosts;
  int max_redirects = 5;
  int64_t connect_timeout_ms = 10'000;
  int64_t timeout_ms = 3'600'000;
  // A transfer slower than this over 60 s is abandoned (a stalled source holds a job slot).
  int64_t min_bytes_per_s = 1024;
  const std::atomic<bool>* cancel = nullptr;
};

struct FetchedSource {
  int64_t bytes = 0;
  std::string content_type;
  int redirects = 0;
};

// Checks the form of `url` before anything is fetched, so that the API refuses at once:
// http or https, a host, no user name or password (they would end up in logs and records), at
// most 4096 characters. kSourceRefused with a message naming what is wrong.
Status CheckSourceUrl(const std::string& url);

// Downloads `url` into `path` (created or truncated). Errors:
//   kSourceRefused      the URL's form, a refused address (named in the message), a redirect to
//                       another scheme or a refused address, more than max_redirects;
//   kTooLargeFile       more than max_bytes (announced or received);
//   kSourceFailed       the source answered with an error status other than 408, 429 or 5xx,
//                       or with no body where a 200 was expected;
//   kSourceUnavailable  DNS, connect, TLS, timeouts, a stall, 408, 429 or 5xx (retryable);
//   kCancelled          `policy.cancel` became true;
//   kOutputWriteFailed  `path` cannot be written.
Result<FetchedSource> FetchSource(const std::string& url, const std::string& path,
                                  const SourcePolicy& policy);

}  // namespace vidproc::storage
