// RAII for libcurl and for the stdio files its transfers read and write, shared by the S3 client
// (http_client.cc) and the import fetcher (source_fetch.cc).
#pragma once

#include <curl/curl.h>

#include <cstdio>
#include <memory>

namespace vidproc::storage {

// libcurl's global state, set up once per process before the first handle (thread-safe as a
// function-local static) and torn down at exit.
inline void EnsureCurlGlobal() {
  struct CurlGlobal {
    CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~CurlGlobal() { curl_global_cleanup(); }
  };
  static const CurlGlobal global;
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using FilePtr = std::unique_ptr<FILE, FileCloser>;

}  // namespace vidproc::storage
