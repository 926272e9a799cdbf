// The wiring decides the worker slots and what follows from them, from the final configuration,
// whichever way the slots were set.
#include "cli/wiring.h"

#include <gtest/gtest.h>

#include "http/api.h"
#include "http/server.h"
#include "worker/job_runner.h"
#include "worker/webhook_dispatcher.h"

namespace vidproc::cli {
namespace {

Config Load(const Environment& dotenv, const Environment& env, const Environment& flags) {
  auto config = LoadConfig(dotenv, env, flags);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? config.value() : Config();
}

struct SlotCase {
  const char* how;
  Environment dotenv, env, flags;
  unsigned cores;
  int slots;
};

TEST(WiringTest, SlotsFollowTheFinalSlotCountHoweverItWasSet) {
  const std::string kSlots = "MAX_VIDEO_PROCESSING_TASKS";
  // `flags` is what --workers N and --max-tasks N become (service_context maps both to the
  // variable): the case the old code got wrong, slots from the flag but threads from the rest.
  for (const SlotCase& c : {
           SlotCase{"defaults", {}, {}, {}, 8, 2},
           SlotCase{"environment", {}, {{kSlots, "4"}}, {}, 8, 4},
           SlotCase{".env", {{kSlots, "1"}}, {}, {}, 8, 1},
           SlotCase{"environment over .env", {{kSlots, "1"}}, {{kSlots, "8"}}, {}, 8, 8},
           SlotCase{"flag over environment", {}, {{kSlots, "1"}}, {{kSlots, "4"}}, 8, 4},
           SlotCase{"flag over .env", {{kSlots, "4"}}, {}, {{kSlots, "1"}}, 8, 1},
           SlotCase{"more slots than cores", {}, {{kSlots, "6"}}, {}, 4, 6},
           SlotCase{"unknown core count", {}, {}, {}, 0, 2},
           SlotCase{"an odd split rounds down", {}, {{kSlots, "3"}}, {}, 8, 3},
           SlotCase{"0: serve is API-only", {}, {}, {{kSlots, "0"}}, 8, 0},
       }) {
    Config config = Load(c.dotenv, c.env, c.flags);
    worker::WorkerSettings s = WorkerSettingsFrom(config, c.cores, "/bin/vidproc");
    EXPECT_EQ(s.max_tasks, c.slots) << c.how;
    // The jobs share every core (their threads are decided per claim), and the CPU safety net
    // counts every one of them.
    EXPECT_EQ(s.machine_cores, static_cast<int>(std::max(1u, c.cores))) << c.how;
  }
}

TEST(WiringTest, WorkerSettingsCarryTheConfiguration) {
  Config config = Load({},
                       {{"VIDEO_PROCESSING_TIMEOUT", "90"},
                        {"VIDPROC_DATA_DIR", "/srv/v"},
                        {"VIDPROC_CHILD_MEMORY_MB", "512"},
                        {"VIDPROC_KILL_GRACE_SECONDS", "2"},
                        {"VIDPROC_RETRY_BACKOFF_SECONDS", "7"},
                        {"VIDPROC_PRESET", "fast"},
                        {"VIDPROC_WORKER_ID", "w1"}},
                       {});
  worker::WorkerSettings s = WorkerSettingsFrom(config, 4, "/bin/vidproc");
  EXPECT_EQ(s.worker_id, "w1");
  EXPECT_EQ(s.transcoder_path, "/bin/vidproc");
  EXPECT_EQ(s.scratch_dir, "/srv/v/scratch");
  EXPECT_EQ(s.timeout_ms, 90'000);
  EXPECT_EQ(s.kill_grace_ms, 2'000);
  EXPECT_EQ(s.retry_backoff_ms, 7'000);
  EXPECT_EQ(s.preset, "fast");
  EXPECT_EQ(s.limits.address_space_bytes, int64_t{512} << 20);
  EXPECT_EQ(s.machine_cores, 4);
}

// An import's fetch is capped like an upload and may reach only the hosts the operator allows;
// source keys are read only from a bucket the platform shares, by the worker and the API alike.
TEST(WiringTest, ImportSettingsComeFromTheUploadCapTheAllowlistAndTheStorage) {
  Config local = Load({},
                      {{"MAX_UPLOAD_BYTES", "5000"},
                       {"VIDPROC_IMPORT_ALLOWED_HOSTS", " media.internal, 10.0.0.5,,[fd00::5] "}},
                      {});
  worker::WorkerSettings s = WorkerSettingsFrom(local, 2, "/bin/vidproc");
  EXPECT_EQ(s.import.max_bytes, 5000);
  EXPECT_EQ(s.import.allowed_hosts,
            (std::vector<std::string>{"media.internal", "10.0.0.5", "[fd00::5]"}));
  EXPECT_FALSE(s.import.source_keys);
  EXPECT_FALSE(ApiOptionsFrom(local).source_keys);
  EXPECT_TRUE(WorkerSettingsFrom(Load({}, {}, {}), 2, "/bin/vidproc").import.allowed_hosts.empty());

  Config bucket = Load({},
                       {{"USE_SPACES", "True"},
                        {"SPACES_ACCESS_KEY", "k"},
                        {"SPACES_SECRET_KEY", "s"},
                        {"SPACES_BUCKET_NAME", "b"},
                        {"SPACES_ENDPOINT_URL", "https://nyc3.digitaloceanspaces.com"}},
                       {});
  EXPECT_TRUE(WorkerSettingsFrom(bucket, 2, "/bin/vidproc").import.source_keys);
  EXPECT_TRUE(ApiOptionsFrom(bucket).source_keys);

  for (const char* bad : {"http://media.internal", "media.internal/x", "[fd00::5", "a b"}) {
    auto refused = LoadConfig({}, {{"VIDPROC_IMPORT_ALLOWED_HOSTS", bad}}, {});
    EXPECT_FALSE(refused.ok()) << bad;
  }
}

TEST(WiringTest, HttpAndWebhookSettingsCarryTheConfiguration) {
  Config config = Load({},
                       {{"VIDPROC_LISTEN", "localhost:0"},
                        {"VIDPROC_HTTP_THREADS", "3"},
                        {"VIDPROC_HTTP_IDLE_TIMEOUT_SECONDS", "5"},
                        {"VIDPROC_HTTP_BODY_TIMEOUT_SECONDS", "6"},
                        {"MAX_UPLOAD_BYTES", "1000"},
                        {"VIDPROC_UPLOAD_EXPIRY_HOURS", "2"},
                        {"WEBHOOK_URL", "https://example.com/hook"},
                        {"VIDPROC_WEBHOOK_GIVE_UP_HOURS", "1"}},
                       {});
  EXPECT_EQ(ListenHost(config), "localhost");
  http::ServerOptions server = ServerOptionsFrom(config);
  EXPECT_EQ(server.host, "127.0.0.1");
  EXPECT_EQ(server.port, 0);
  EXPECT_EQ(server.io_threads, 3);
  EXPECT_EQ(server.header_timeout_ms, 5'000);
  EXPECT_EQ(server.body_timeout_ms, 6'000);
  EXPECT_EQ(server.write_timeout_ms, 6'000);
  http::ApiOptions api = ApiOptionsFrom(config);
  EXPECT_EQ(api.uploads.max_upload_bytes, 1000);
  EXPECT_EQ(api.uploads.expiry_ms, 2 * 3'600'000);
  worker::WebhookOptions hooks = WebhookOptionsFrom(config);
  EXPECT_EQ(hooks.url, "https://example.com/hook");
  EXPECT_EQ(hooks.give_up_ms, 3'600'000);
}

// The one decision of which media links clients get: public object URLs (DigitalOcean's virtual
// host, a path-style gateway, or the CDN) only with USE_SPACES and SPACES_PUBLIC_READ; else the
// API's signed links on VIDPROC_PUBLIC_URL. The API and the webhooks get the same.
TEST(WiringTest, MediaLinksArePublicObjectUrlsOnlyForPublicReadStorage) {
  const Environment spaces = {{"USE_SPACES", "True"},
                              {"SPACES_ACCESS_KEY", "key"},
                              {"SPACES_SECRET_KEY", "secret"},
                              {"SPACES_BUCKET_NAME", "media"},
                              {"SPACES_ENDPOINT_URL", "https://nyc3.digitaloceanspaces.com"},
                              {"VIDPROC_PUBLIC_URL", "https://platform.example/video"}};
  auto with = [&](Environment extra) {
    Environment env = spaces;
    for (auto& [k, v] : extra) env[k] = v;
    return Load({}, env, {});
  };
  struct Case {
    Environment extra;
    std::string objects_url;
  } cases[] = {
      {{}, ""},
      {{{"SPACES_PUBLIC_READ", "True"}}, "https://media.nyc3.digitaloceanspaces.com"},
      {{{"SPACES_PUBLIC_READ", "True"}, {"SPACES_ADDRESSING", "path"}},
       "https://nyc3.digitaloceanspaces.com/media"},
      {{{"SPACES_PUBLIC_READ", "True"}, {"SPACES_ENDPOINT_URL", "http://127.0.0.1:7480/"}},
       "http://127.0.0.1:7480/media"},
      {{{"SPACES_PUBLIC_READ", "True"},
        {"SPACES_CDN_URL", "https://media.nyc3.cdn.digitaloceanspaces.com"}},
       "https://media.nyc3.cdn.digitaloceanspaces.com"},
      {{{"USE_SPACES", "False"}, {"SPACES_PUBLIC_READ", "True"}}, ""},
  };
  for (const Case& c : cases) {
    Config config = with(c.extra);
    http::MediaLinks links = MediaLinksFrom(config);
    EXPECT_EQ(links.public_objects_url, c.objects_url) << nlohmann::json(c.extra).dump();
    EXPECT_EQ(links.public_url, "https://platform.example/video");
    EXPECT_EQ(ApiOptionsFrom(config).public_objects_url, c.objects_url);
    const nlohmann::json ready = {{"id", "v1"}, {"status", "ready"}};
    const std::string video_url =
        WebhookOptionsFrom(config).render(ready, 1'700'000'000).value("video_url", "");
    const std::string expected_start = c.objects_url.empty()
                                           ? "https://platform.example/video/api/v1/videos/v1/"
                                           : c.objects_url + "/videos/v1/video.mp4";
    EXPECT_EQ(video_url.rfind(expected_start, 0), 0u) << video_url;
  }
}

TEST(WiringTest, LimitsCarryTheConfigurationAndKeepTheJobsReserve) {
  Config config = Load({},
                       {{"VIDPROC_LISTEN", "192.0.2.7:8080"},
                        {"VIDPROC_ALLOWED_HOSTS", " videos.example.com , tv.local:8080,"},
                        {"VIDPROC_MAX_CONNECTIONS_PER_CLIENT", "7"},
                        {"VIDPROC_MAX_UPLOADS", "5"},
                        {"VIDPROC_MAX_UPLOADS_PER_CLIENT", "2"},
                        {"VIDPROC_MIN_UPLOAD_RATE", "300"},
                        {"VIDPROC_UPLOAD_RATE_WINDOW_SECONDS", "4"},
                        {"VIDPROC_MAX_QUEUED_VIDEOS", "9"},
                        {"VIDPROC_MAX_RESERVED_UPLOAD_BYTES", "1234"},
                        {"VIDPROC_DISK_RESERVE_MB", "3"},
                        {"MAX_VIDEO_PROCESSING_TASKS", "4"}},
                       {});
  http::ServerOptions server = ServerOptionsFrom(config);
  EXPECT_EQ(server.max_connections, 0);  // serve derives it from the descriptor limit
  EXPECT_EQ(server.max_connections_per_client, 7);
  EXPECT_EQ(server.min_body_bytes_per_s, 300);
  EXPECT_EQ(server.body_rate_window_ms, 4'000);
  http::ApiOptions api = ApiOptionsFrom(config);
  EXPECT_EQ(api.admission.max_uploads, 5);
  EXPECT_EQ(api.admission.max_uploads_per_client, 2);
  EXPECT_EQ(api.admission.max_queued_videos, 9);
  EXPECT_EQ(api.admission.max_reserved_upload_bytes, 1234);
  EXPECT_EQ(api.admission.disk_reserve_bytes, int64_t{3} << 20);
  EXPECT_EQ(api.allowed_hosts,
            (std::vector<std::string>{"videos.example.com", "tv.local:8080", "192.0.2.7"}));
  // 4096 descriptors less 128, 16 per slot and 2 per upload.
  EXPECT_EQ(DefaultMaxConnections(config, 4096), 4096 - 128 - 4 * 16 - 5 * 2);
  EXPECT_EQ(DefaultMaxConnections(config, 100), 16);  // a floor, however few there are
  EXPECT_EQ(ServerOptionsFrom(Load({}, {{"VIDPROC_MAX_CONNECTIONS", "50"}}, {})).max_connections,
            50);
}

TEST(WiringTest, DirectUploadsCarryTheirOriginsAndLifetime) {
  http::ApiOptions api = ApiOptionsFrom(
      Load({},
           {{"VIDPROC_CORS_ORIGINS", " https://App.Example.com/ , http://localhost:5173,,*"},
            {"VIDPROC_DIRECT_UPLOAD_MAX_SECONDS", "90"}},
           {}));
  EXPECT_EQ(api.cors_origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:5173", "*"}));
  EXPECT_EQ(api.direct_upload_max_ms, 90'000);
  EXPECT_EQ(ApiOptionsFrom(Load({}, {}, {})).direct_upload_max_ms, 3'600'000);
  EXPECT_TRUE(ApiOptionsFrom(Load({}, {}, {})).cors_origins.empty());
  // A path, or a scheme that is not http(s), is not an origin: refused at start.
  for (const char* bad : {"https://app.example.com/upload", "app.example.com", "ftp://a.example"}) {
    auto refused = LoadConfig({}, {{"VIDPROC_CORS_ORIGINS", bad}}, {});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().code(), ErrorCode::kInvalidConfig) << bad;
  }
}

}  // namespace
}  // namespace vidproc::cli
