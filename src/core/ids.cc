#include "core/ids.h"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace vidproc {

std::string NewId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // Ids are unguessable (they appear in URLs): every bit comes from the kernel's CSPRNG, in one
  // getrandom(2) call (std::random_device may use RDRAND, which is very slow on some VMs).
  unsigned char random[23];
  size_t got = 0;
  while (got < sizeof random) {
    ssize_t n = getrandom(random + got, sizeof random - got, 0);
    if (n > 0)
      got += static_cast<size_t>(n);
    else if (errno != EINTR)
      std::abort();  // no entropy source at all: nothing safe to do
  }
  std::string id(22, 'A');  // 22 x 6 bits: 132 bits, more than a UUID
  for (size_t i = 0; i < id.size(); ++i) id[i] = kAlphabet[random[i] & 63];
  // Never a leading '-' or '_': an id is also a command-line argument (`vidproc status ID`).
  if (id[0] == '-' || id[0] == '_') id[0] = kAlphabet[random[22] % 62];
  return id;
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

}  // namespace vidproc
