// Imports from a URL: the whole class of addresses that must not be reached (by literal, by name,
// by redirect), and a real fetch from a local HTTP server the operator allowed.
#include "storage/source_fetch.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "support/http_receiver.h"

namespace vidproc::storage {
namespace {

bool Public(const char* text) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    ADD_FAILURE() << "not an address: " << text;
  }
  return IsPublicAddress(reinterpret_cast<sockaddr*>(&storage));
}

TEST(SourceAddressTest, OnlyGlobalUnicastAddressesArePublic) {
  for (const char* address :
       {"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254",
        "127.0.0.1", "127.255.255.254", "169.254.169.254", "169.254.0.1", "172.16.0.1",
        "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.0.1", "192.168.255.255",
        "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1",
        "239.255.255.250", "240.0.0.1", "255.255.255.255",
        // IPv6: unspecified, loopback, and every form that carries a private IPv4 address.
        "::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
        "2002:a00:1::", "2002:c0a8:101::1",
        // Private, link-local, multicast and special ranges.
        "fc00::1", "fd00:ec2::254", "fdff:ffff::1", "fe80::1", "febf::1", "fec0::1", "ff02::1",
        "ff0e::1", "100::1", "2001::1", "2001:0:4136:e378::1", "2001:db8::1", "2001:10::1",
        "2001:20::1", "3fff::1", "64:ff9b:1::1", "4000::1", "::2:3:4:5"}) {
    EXPECT_FALSE(Public(address)) << address;
  }
  for (const char* address :
       {"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.15.255.255",
        "172.32.0.1", "192.167.1.1", "192.169.1.1", "198.17.255.255", "198.20.0.1",
        "223.255.255.254", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
        "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "2001:4860:4860::8888", "2600::1"}) {
    EXPECT_TRUE(Public(address)) << address;
  }
}

TEST(SourceUrlTest, OnlyHttpUrlsWithoutCredentialsAreFetched) {
  for (const char* url : {"https://example.com/v.mp4", "http://example.com:8080/a/b?c=d#e",
                          "HTTPS://Example.COM/v.mp4", "http://[2606:4700::1]/x"}) {
    EXPECT_TRUE(CheckSourceUrl(url).ok()) << url << ": " << CheckSourceUrl(url).ToString();
  }
  for (const char* url :
       {"file:///etc/passwd", "ftp://example.com/v.mp4", "gopher://example.com/", "dict://x/",
        "ldap://example.com/", "scp://example.com/v", "data:video/mp4;base64,AAAA",
        "http://user:secret@example.com/v.mp4", "http://user@example.com/v.mp4", "http:///v.mp4",
        "not a url", "", "//example.com/v.mp4", "/local/path.mp4"}) {
    Status s = CheckSourceUrl(url);
    EXPECT_EQ(s.code(), ErrorCode::kSourceRefused) << url << ": " << s.ToString();
  }
  EXPECT_EQ(CheckSourceUrl("https://example.com/" + std::string(5000, 'a')).code(),
            ErrorCode::kSourceRefused);
}

class SourceFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/vidproc-source-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/original";
    policy_.max_bytes = 1 << 20;
    policy_.allowed_hosts = {"127.0.0.1"};
    policy_.connect_timeout_ms = 5'000;
    policy_.timeout_ms = 20'000;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::string Base() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::string Read() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static std::string Ok(const std::string& body, const std::string& type = "video/mp4") {
    return "HTTP/1.1 200 OK\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body;
  }
  static std::string Redirect(const std::string& location, int status = 302) {
    return "HTTP/1.1 " + std::to_string(status) + " Moved\r\nLocation: " + location +
           "\r\nContent-Length: 4\r\nConnection: close\r\n\r\nmove";
  }

  vidproc::testing::Receiver server_;
  std::string dir_;
  std::string path_;
  SourcePolicy policy_;
};

TEST_F(SourceFetchTest, AnAllowedHostIsFetchedThroughRedirects) {
  const std::string video(300'000, 'v');
  server_.set_responder([&](const vidproc::testing::Received& r) {
    if (r.target == "/start") return Redirect(Base() + "/relative", 301);
    if (r.target == "/relative") return Redirect("/final?sig=abc", 307);
    if (r.target == "/final?sig=abc") return Ok(video);
    return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  });
  auto fetched = FetchSource(Base() + "/start", path_, policy_);
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->bytes, static_cast<int64_t>(video.size()));
  EXPECT_EQ(fetched->content_type, "video/mp4");
  EXPECT_EQ(fetched->redirects, 2);
  EXPECT_EQ(Read(), video) << "a redirect's body must not be part of the file";
  ASSERT_EQ(server_.count(), 3u);
  EXPECT_EQ(server_.requests()[0].header("user-agent").rfind("vidproc/", 0), 0u);
}

TEST_F(SourceFetchTest, PrivateAddressesAreRefusedBeforeAnythingIsSent) {
  policy_.allowed_hosts.clear();
  server_.set_responder([&](const vidproc::testing::Received&) { return Ok("secret"); });
  const std::string port = std::to_string(server_.port());
  for (const std::string& url : std::vector<std::string>{
           Base() + "/x", "http://localhost:" + port + "/x",
           "http://[::ffff:127.0.0.1]:" + port + "/x", "http://127.1:" + port + "/x",
           "http://2130706433:" + port + "/x", "http://0x7f000001:" + port + "/x",
           "http://[::1]:" + port + "/x"}) {
    auto fetched = FetchSource(url, path_, policy_);
    ASSERT_FALSE(fetched.ok()) << url;
    EXPECT_EQ(fetched.status().code(), ErrorCode::kSourceRefused)
        << url << ": " << fetched.status().ToString();
  }
  EXPECT_EQ(server_.count(), 0u) << "a refused address was connected to";
  auto named = FetchSource(Base() + "/x", path_, policy_);
  EXPECT_NE(named.status().message().find("127.0.0.1"), std::string::npos)
      << named.status().message();
}

TEST_F(SourceFetchTest, ARedirectToAPrivateAddressOrAnotherSchemeIsRefused) {
  const std::string port = std::to_string(server_.port());
  // The first hop is allowed by name; where it sends the fetch is checked again.
  for (const std::string& location : std::vector<std::string>{
           "http://localhost:" + port + "/x", "http://[::1]:" + port + "/x",
           "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x", "file:///etc/passwd",
           "ftp://127.0.0.1/x", "gopher://127.0.0.1:" + port + "/x"}) {
    server_.set_responder([&](const vidproc::testing::Received& r) {
      return r.target == "/start" ? Redirect(location) : Ok("secret");
    });
    const size_t before = server_.count();
    auto fetched = FetchSource(Base() + "/start", path_, policy_);
    ASSERT_FALSE(fetched.ok()) << location;
    EXPECT_EQ(fetched.status().code(), ErrorCode::kSourceRefused)
        << location << ": " << fetched.status().ToString();
    EXPECT_EQ(server_.count(), before + 1) << location << " was followed";
    EXPECT_EQ(Read().find("secret"), std::string::npos);
  }
}

TEST_F(SourceFetchTest, RedirectLoopsEndAtTheLimit) {
  server_.set_responder([&](const vidproc::testing::Received&) { return Redirect("/again"); });
  policy_.max_redirects = 3;
  auto fetched = FetchSource(Base() + "/start", path_, policy_);
  ASSERT_FALSE(fetched.ok());
  EXPECT_EQ(fetched.status().code(), ErrorCode::kSourceRefused) << fetched.status().ToString();
  EXPECT_EQ(server_.count(), 4u);
}

TEST_F(SourceFetchTest, TheUploadCapHoldsWithAndWithoutAContentLength) {
  const std::string big(policy_.max_bytes + 1, 'b');
  server_.set_responder([&](const vidproc::testing::Received& r) {
    if (r.target == "/announced") return Ok(big);
    // No length: the body runs until the connection closes.
    return "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n" + big;
  });
  for (const char* target : {"/announced", "/unannounced"}) {
    auto fetched = FetchSource(Base() + target, path_, policy_);
    ASSERT_FALSE(fetched.ok()) << target;
    EXPECT_EQ(fetched.status().code(), ErrorCode::kTooLargeFile) << fetched.status().ToString();
  }
  const std::string fits(policy_.max_bytes, 'f');
  server_.set_responder([&](const vidproc::testing::Received&) {
    return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + fits;
  });
  auto fetched = FetchSource(Base() + "/fits", path_, policy_);
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(fetched->bytes, policy_.max_bytes);
}

TEST_F(SourceFetchTest, ErrorStatusesAreFailedOrUnavailable) {
  for (int status : {400, 401, 403, 404, 410, 451}) {
    server_.set_status(status);
    auto fetched = FetchSource(Base() + "/x", path_, policy_);
    ASSERT_FALSE(fetched.ok()) << status;
    EXPECT_EQ(fetched.status().code(), ErrorCode::kSourceFailed) << status;
  }
  for (int status : {408, 429, 500, 502, 503, 504}) {
    server_.set_status(status);
    auto fetched = FetchSource(Base() + "/x", path_, policy_);
    ASSERT_FALSE(fetched.ok()) << status;
    EXPECT_EQ(fetched.status().code(), ErrorCode::kSourceUnavailable) << status;
  }
  const int closed = vidproc::testing::FreePort();
  auto refused = FetchSource("http://127.0.0.1:" + std::to_string(closed) + "/x", path_, policy_);
  EXPECT_EQ(refused.status().code(), ErrorCode::kSourceUnavailable) << refused.status().ToString();
}

TEST_F(SourceFetchTest, TheEnvironmentsProxyIsNotUsedAndCancelStops) {
  server_.set_responder([&](const vidproc::testing::Received&) { return Ok("direct"); });
  // A proxy would hide the destination from the address check.
  setenv("http_proxy", "http://203.0.113.1:3128", 1);
  setenv("HTTPS_PROXY", "http://203.0.113.1:3128", 1);
  auto fetched = FetchSource(Base() + "/x", path_, policy_);
  unsetenv("http_proxy");
  unsetenv("HTTPS_PROXY");
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  EXPECT_EQ(Read(), "direct");

  std::atomic<bool> cancel{true};
  policy_.cancel = &cancel;
  server_.set_delay_ms(2'000);
  auto cancelled = FetchSource(Base() + "/x", path_, policy_);
  EXPECT_EQ(cancelled.status().code(), ErrorCode::kCancelled) << cancelled.status().ToString();
}

}  // namespace
}  // namespace vidproc::storage
