#include "core/ids.h"

#include <cstdint>
#include <random>

namespace vidproc {

std::string NewId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // Ids are unguessable (they appear in URLs): every bit comes from the kernel's CSPRNG.
  thread_local std::random_device device;  // getrandom(2) on Linux
  std::string id(22, 'A');                 // 22 x 6 bits: 132 bits, more than a UUID
  uint32_t bits = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i % 5 == 0) bits = device();
    id[i] = kAlphabet[bits & 63];
    bits >>= 6;
  }
  // Never a leading '-' or '_': an id is also a command-line argument (`vidproc status ID`).
  while (id[0] == '-' || id[0] == '_') id[0] = kAlphabet[device() % 62];
  return id;
}

}  // namespace vidproc
