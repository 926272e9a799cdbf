#include "core/config.h"
#include "core/redact.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace vidproc {
namespace {

TEST(ConfigTest, DefaultsMatchTheContract) {
  auto c = LoadConfig({}, {}, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_tasks, 2);
  EXPECT_EQ(c->timeout_s, 600);
  EXPECT_FALSE(c->use_spaces);
  EXPECT_FALSE(c->keep_original);
  EXPECT_EQ(c->SqlitePath(), "data/vidproc.db");
  EXPECT_FALSE(c->worker_id.empty());
}

TEST(ConfigTest, EnvironmentOverridesDotEnvAndFlagsOverrideBoth) {
  Environment dotenv = {{"MAX_VIDEO_PROCESSING_TASKS", "4"},
                        {"VIDEO_PROCESSING_TIMEOUT", "100"},
                        {"VIDPROC_DATA_DIR", "/from/dotenv"}};
  Environment env = {{"MAX_VIDEO_PROCESSING_TASKS", "3"}, {"VIDPROC_DATA_DIR", "/from/env"}};
  Environment flags = {{"VIDPROC_DATA_DIR", "/from/flag"}};
  auto c = LoadConfig(dotenv, env, flags);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->max_tasks, 3);
  EXPECT_EQ(c->timeout_s, 100);
  EXPECT_EQ(c->data_dir, "/from/flag");
}

TEST(ConfigTest, BadValuesNameTheVariable) {
  struct Case {
    const char* name;
    const char* value;
  };
  for (Case c :
       {Case{"MAX_VIDEO_PROCESSING_TASKS", "two"}, Case{"VIDEO_PROCESSING_TIMEOUT", "-5"},
        Case{"USE_SPACES", "maybe"}, Case{"KEEP_ORIGINAL", "2"}, Case{"LOG_FORMAT", "xml"},
        Case{"VIDPROC_DATABASE_URL", "mysql://x"},
        Case{"VIDPROC_DATABASE_URL", "sqlite://host-not-path.db"},
        Case{"VIDPROC_DATABASE_URL", "sqlite:///"}, Case{"VIDPROC_PUBLIC_URL", "example.com/video"},
        Case{"VIDPROC_PUBLIC_URL", "https://example.com/video?x=1"},
        Case{"VIDPROC_PUBLIC_URL", "https://user:pw@example.com"},
        Case{"VIDPROC_PUBLIC_URL", "https:///video"}, Case{"VIDPROC_PRESET", "warp"},
        Case{"VIDPROC_VIDEO_BITRATE", "lots"}}) {
    auto r = LoadConfig({}, {{c.name, c.value}}, {});
    ASSERT_FALSE(r.ok()) << c.name << "=" << c.value << " was accepted";
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidConfig);
    EXPECT_NE(r.status().message().find(c.name), std::string::npos) << r.status().message();
  }
}

// SQLite URLs as dj-database-url reads them, so one line means one file in both programs.
TEST(ConfigTest, SqliteUrlsFollowDjDatabaseUrl) {
  struct Case {
    const char* url;
    const char* path;
  };
  for (Case c :
       {Case{"sqlite:///db.sqlite3", "db.sqlite3"}, Case{"sqlite:///var/jobs.db", "var/jobs.db"},
        Case{"sqlite:////var/lib/vidproc/jobs.db", "/var/lib/vidproc/jobs.db"},
        Case{"postgres://u@h/db", ""}, Case{"postgresql://h/db", ""}}) {
    auto config = LoadConfig({}, {{"VIDPROC_DATABASE_URL", c.url}}, {});
    ASSERT_TRUE(config.ok()) << c.url << ": " << config.status().ToString();
    EXPECT_EQ(config->SqlitePath(), c.path) << c.url;
  }
  // The default follows the data directory, relative or absolute, and is shown as a URL that
  // means the same file when given back.
  for (const char* dir : {"data", "/srv/vidproc"}) {
    auto config = LoadConfig({}, {{"VIDPROC_DATA_DIR", dir}}, {});
    ASSERT_TRUE(config.ok());
    std::string shown = config->ToJson()["VIDPROC_DATABASE_URL"];
    auto again = LoadConfig({}, {{"VIDPROC_DATABASE_URL", shown}}, {});
    ASSERT_TRUE(again.ok()) << shown;
    EXPECT_EQ(again->SqlitePath(), std::string(dir) + "/vidproc.db") << shown;
  }
}

TEST(ConfigTest, PublicUrlMayCarryASubPath) {
  for (const char* url :
       {"https://example.com", "http://127.0.0.1:8080/", "https://platform.example/media/videos"}) {
    auto c = LoadConfig({}, {{"VIDPROC_PUBLIC_URL", url}}, {});
    ASSERT_TRUE(c.ok()) << url << ": " << c.status().ToString();
    EXPECT_EQ(c->public_url, url);
  }
  EXPECT_EQ(Config().public_url, "");
}

// SPACES_CDN_URL: a base that keys are appended to, so an absolute http(s) URL with a host and
// nothing after its path; a bad value is refused with a message naming the setting, the value
// and the expected form. A CDN serves only public objects: with private storage it is refused.
TEST(ConfigTest, CdnUrlIsAnAbsoluteBaseForPublicObjects) {
  const Environment spaces = {{"USE_SPACES", "True"},
                              {"SPACES_ACCESS_KEY", "key"},
                              {"SPACES_SECRET_KEY", "secret"},
                              {"SPACES_BUCKET_NAME", "media"},
                              {"SPACES_ENDPOINT_URL", "https://nyc3.digitaloceanspaces.com"},
                              {"SPACES_PUBLIC_READ", "True"}};
  for (const char* url : {"https://media.nyc3.cdn.digitaloceanspaces.com",
                          "https://cdn.example.com/", "http://127.0.0.1:7480/media"}) {
    Environment env = spaces;
    env["SPACES_CDN_URL"] = url;
    auto c = LoadConfig({}, env, {});
    ASSERT_TRUE(c.ok()) << url << ": " << c.status().ToString();
    EXPECT_EQ(c->spaces_cdn_url, url);
  }
  for (const char* bad :
       {"media.nyc3.cdn.digitaloceanspaces.com", "ftp://cdn.example.com", "https://",
        "https:///media", "https://cdn.example.com/?v=1", "https://cdn.example.com/#top",
        "https://user:pw@cdn.example.com", "https://cdn.example.com/a b", "//cdn.example.com"}) {
    Environment env = spaces;
    env["SPACES_CDN_URL"] = bad;
    auto c = LoadConfig({}, env, {});
    ASSERT_FALSE(c.ok()) << bad << " was accepted";
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidConfig);
    const std::string& message = c.status().message();
    EXPECT_EQ(message.rfind("SPACES_CDN_URL='", 0), 0u) << message;
    EXPECT_NE(message.find("an http:// or https:// URL with no query, fragment or user"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("pw"), std::string::npos) << "credentials masked: " << message;
  }
  Environment private_bucket = spaces;
  private_bucket["SPACES_PUBLIC_READ"] = "False";
  private_bucket["SPACES_CDN_URL"] = "https://media.nyc3.cdn.digitaloceanspaces.com";
  auto refused = LoadConfig({}, private_bucket, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("SPACES_PUBLIC_READ"), std::string::npos)
      << refused.status().message();
  // Local storage has no public objects: said once at start, links stay the API's.
  auto local = LoadConfig({}, {{"SPACES_CDN_URL", "https://cdn.example.com"}}, {});
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  ASSERT_EQ(local->startup_notes.size(), 1u);
  EXPECT_NE(local->startup_notes[0].find("SPACES_CDN_URL"), std::string::npos);
}

// A web framework's DATABASE_URL (from its .env or the environment) is not vidproc's database.
TEST(ConfigTest, ForeignDatabaseUrlIsIgnoredAndNoticedOnce) {
  const Environment django = {{"DATABASE_URL", "postgres://django:pw@db/site"}};
  for (const auto& [dotenv, env] :
       {std::pair{django, Environment{}}, std::pair{Environment{}, django}}) {
    auto config = LoadConfig(dotenv, env, {});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_TRUE(config->database_url.empty());
    EXPECT_EQ(config->SqlitePath(), "data/vidproc.db");
    ASSERT_EQ(config->startup_notes.size(), 1u);
    EXPECT_NE(config->startup_notes[0].find("DATABASE_URL"), std::string::npos);
    EXPECT_NE(config->startup_notes[0].find("VIDPROC_DATABASE_URL"), std::string::npos);
    EXPECT_EQ(config->startup_notes[0].find("pw"), std::string::npos);
  }
  // With vidproc's own setting there, the other one is simply someone else's: nothing to say.
  auto both = LoadConfig(django, {{"VIDPROC_DATABASE_URL", "sqlite:///jobs.db"}}, {});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->SqlitePath(), "jobs.db");
  EXPECT_TRUE(both->startup_notes.empty());
  EXPECT_TRUE(LoadConfig({}, {}, {})->startup_notes.empty());
}

TEST(ConfigTest, UnknownVidprocVariablesAreErrorsOthersAreIgnored) {
  auto typo = LoadConfig({}, {{"VIDPROC_DATADIR", "/x"}}, {});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("VIDPROC_DATADIR"), std::string::npos);
  EXPECT_TRUE(
      LoadConfig({}, {{"DJANGO_SETTINGS_MODULE", "site.settings"}, {"HOME", "/root"}}, {}).ok());
}

TEST(ConfigTest, MistypedSettingsGetTheClosestName) {
  // In our namespace: an error that names the setting meant.
  for (const auto& [typed, meant] : {std::pair{"VIDPROC_LISTN", "VIDPROC_LISTEN"},
                                     std::pair{"VIDPROC_DATADIR", "VIDPROC_DATA_DIR"},
                                     std::pair{"VIDPROC_API_TOKNE", "VIDPROC_API_TOKEN"}}) {
    auto r = LoadConfig({}, {{typed, "x"}}, {});
    ASSERT_FALSE(r.ok()) << typed;
    EXPECT_NE(r.status().message().find(std::string("did you mean ") + meant + "?"),
              std::string::npos)
        << r.status().message();
  }
  // Elsewhere (the contract's names, or any other prefix): a warning, and the setting is not
  // applied.
  for (const auto& [typed, meant] :
       {std::pair{"USE_SPACE", "USE_SPACES"},
        std::pair{"MAX_VIDEO_PROCESING_TASKS", "MAX_VIDEO_PROCESSING_TASKS"},
        std::pair{"SPACES_ACESS_KEY", "SPACES_ACCESS_KEY"},
        std::pair{"VIDEO_PROCESSING_TIMEOUTS", "VIDEO_PROCESSING_TIMEOUT"},
        std::pair{"WEBHOOK_URI", "WEBHOOK_URL"}}) {
    Environment dotenv = {{typed, "5"}};
    auto r = LoadConfig(dotenv, {}, {});
    ASSERT_TRUE(r.ok()) << typed;
    ASSERT_EQ(r->startup_notes.size(), 1u) << typed;
    EXPECT_NE(r->startup_notes[0].find(typed), std::string::npos) << r->startup_notes[0];
    EXPECT_NE(r->startup_notes[0].find(std::string("did you mean ") + meant + "?"),
              std::string::npos)
        << r->startup_notes[0];
  }
  // Other programs' variables, short or far from every setting, are nobody's mistake.
  auto others = LoadConfig({},
                           {{"HOME", "/root"},
                            {"LANG", "C.UTF-8"},
                            {"DJANGO_SETTINGS_MODULE", "site.settings"},
                            {"SECRET_KEY", "x"},
                            {"PATH", "/usr/bin"}},
                           {});
  ASSERT_TRUE(others.ok());
  EXPECT_TRUE(others->startup_notes.empty()) << others->startup_notes[0];
}

TEST(ConfigTest, SpacesNeedsAllItsSettings) {
  Environment env = {{"USE_SPACES", "True"},
                     {"SPACES_ACCESS_KEY", "AK"},
                     {"SPACES_SECRET_KEY", "secret"},
                     {"SPACES_BUCKET_NAME", "b"}};
  auto missing = LoadConfig({}, env, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("SPACES_ENDPOINT_URL"), std::string::npos);
  env["SPACES_ENDPOINT_URL"] = "https://nyc3.digitaloceanspaces.com";
  auto ok = LoadConfig({}, env, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->use_spaces);
  // Secrets never appear in the printed configuration.
  std::string shown = ok->ToJson().dump();
  EXPECT_EQ(shown.find("secret"), std::string::npos);
}

TEST(ConfigTest, BooleansInTheSpellingsPeopleUse) {
  for (const char* yes : {"True", "true", "1", "yes", "ON"}) {
    EXPECT_TRUE(LoadConfig({}, {{"KEEP_ORIGINAL", yes}}, {})->keep_original) << yes;
  }
  for (const char* no : {"False", "false", "0", "no", ""}) {
    EXPECT_FALSE(LoadConfig({}, {{"KEEP_ORIGINAL", no}}, {})->keep_original) << no;
  }
}

TEST(ConfigTest, EveryShownSettingIsDocumented) {
  Config defaults;
  std::string help = SettingsHelp();
  std::string markdown = SettingsMarkdown();
  const nlohmann::json shown = defaults.ToJson();
  for (const auto& [name, value] : shown.items()) {
    EXPECT_NE(help.find("  " + name + " (default"), std::string::npos) << name;
    EXPECT_NE(markdown.find("| `" + name + "` |"), std::string::npos) << name;
  }
}

TEST(ConfigTest, SecretsAreMaskedInTheShownConfiguration) {
  Environment env = {{"SPACES_ACCESS_KEY", "access-key-value"},
                     {"SPACES_SECRET_KEY", "secret-key-value"},
                     {"VIDPROC_API_TOKEN", "api-token-value-1234"},
                     {"WEBHOOK_SECRET", "webhook-secret-value"},
                     {"VIDPROC_DATABASE_URL", "postgres://user:db-password-value@host/db"}};
  auto c = LoadConfig({}, env, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  nlohmann::json shown = c->ToJson();
  for (const auto& [name, value] : env) {
    EXPECT_EQ(shown.dump().find(value.substr(2)), std::string::npos) << name;
  }
  // A mask shows nothing of the secret: not its first characters, not its length.
  EXPECT_EQ(shown["SPACES_ACCESS_KEY"], "****");
  EXPECT_EQ(shown["VIDPROC_API_TOKEN"], "****");
  EXPECT_EQ(shown["VIDPROC_DATABASE_URL"], "postgres://****@host/db");
  EXPECT_EQ(shown["VIDPROC_DATA_DIR"], "data");
  EXPECT_EQ(shown["WEBHOOK_SECRET"], "****");
  EXPECT_EQ(Config().ToJson()["WEBHOOK_SECRET"], "");  // "not set" stays visible
}

TEST(ConfigTest, UrlCredentialsAreMaskedInTheShownConfigurationAndInErrors) {
  Environment env = {{"WEBHOOK_URL", "https://hook-user:hook-pass-value@hooks.example/in?a=1"},
                     {"SPACES_ENDPOINT_URL", "https://ep-user:ep-pass-value@s3.example"},
                     {"VIDPROC_DATABASE_URL",
                      "postgresql://db.example/app?sslmode=require&password=pq-"
                      "pass-value"}};
  auto c = LoadConfig({}, env, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  nlohmann::json shown = c->ToJson();
  for (const char* secret : {"hook-user", "hook-pass", "ep-user", "ep-pass", "pq-pass"}) {
    EXPECT_EQ(shown.dump().find(secret), std::string::npos) << secret << " in " << shown.dump();
  }
  EXPECT_EQ(shown["WEBHOOK_URL"], "https://****@hooks.example/in?a=1");
  EXPECT_EQ(shown["SPACES_ENDPOINT_URL"], "https://****@s3.example");
  EXPECT_EQ(shown["VIDPROC_DATABASE_URL"],
            "postgresql://db.example/app?sslmode=require&password=****");
  // A refused value is echoed in the error, masked.
  auto bad = LoadConfig({}, {{"VIDPROC_DATABASE_URL", "mysql://root:my-db-pass@db/x"}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("my-db-pass"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("mysql://****@db/x"), std::string::npos)
      << bad.status().message();
}

TEST(RedactTest, MaskUrlCredentialsInAnyText) {
  EXPECT_EQ(MaskUrlCredentials("POST https://u:p@h.example:8443/x failed: timeout."),
            "POST https://****@h.example:8443/x failed: timeout.");
  EXPECT_EQ(MaskUrlCredentials("a http://token@h/ and ftp://x:y@z"),
            "a http://****@h/ and ftp://****@z");
  EXPECT_EQ(MaskUrlCredentials("https://h/p?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1&n=2"),
            "https://h/p?X-Amz-Signature=****&X-Amz-Credential=****&n=2");
  EXPECT_EQ(MaskUrlCredentials("/video?expires=1&sig=deadbeef"), "/video?expires=1&sig=deadbeef")
      << "not a URL: left alone";
  EXPECT_EQ(MaskUrlCredentials("no url here: a@b, c?d=e"), "no url here: a@b, c?d=e");
  EXPECT_EQ(MaskUrlCredentials("https://h/a@b"), "https://h/a@b");  // '@' in the path
  EXPECT_EQ(MaskUrlCredentials(""), "");
  EXPECT_EQ(MaskSecret("abcdefgh"), "****");
  EXPECT_EQ(MaskSecret("ab"), "****");
  EXPECT_EQ(MaskSecret(""), "");
}

TEST(ConfigTest, SandboxSkipAndSignedUrlSettingsAreChecked) {
  EXPECT_EQ(LoadConfig({}, {{"VIDPROC_SANDBOX_SKIP", "network,files"}}, {})->sandbox_skip,
            "network,files");
  EXPECT_FALSE(LoadConfig({}, {{"VIDPROC_SANDBOX_SKIP", "seccomp"}}, {}).ok());
  EXPECT_FALSE(LoadConfig({}, {{"VIDPROC_SANDBOX_SKIP", "network,"}}, {}).ok());
  EXPECT_EQ(Config().signed_url_max_s, 86'400);
  EXPECT_FALSE(LoadConfig({}, {{"VIDPROC_SIGNED_URL_MAX_SECONDS", "0"}}, {}).ok());
  EXPECT_FALSE(LoadConfig({}, {{"VIDPROC_URL_SIGNING_SECRET", "short"}}, {}).ok());
}

// docs/CONFIGURATION.md holds the output of `vidproc config --markdown` between two marker
// comments; a setting added, removed or changed in the table without the doc fails here.
TEST(ConfigTest, ConfigurationDocHasTheSettingsTables) {
  std::ifstream in(VIDPROC_CONFIGURATION_MD);
  ASSERT_TRUE(in) << VIDPROC_CONFIGURATION_MD;
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const std::string begin = "<!-- settings tables: begin -->\n";
  const std::string end = "<!-- settings tables: end -->";
  auto b = doc.find(begin);
  auto e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "no begin marker";
  ASSERT_NE(e, std::string::npos) << "no end marker";
  ASSERT_LT(b, e);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), SettingsMarkdown())
      << "docs/CONFIGURATION.md is out of date: put the output of `vidproc config --markdown` "
         "between its markers";
}

TEST(DotEnvTest, ParsesTheCommonSyntax) {
  char templ[] = "/tmp/vidproc-dotenv-XXXXXX";
  int fd = mkstemp(templ);
  close(fd);
  std::ofstream(templ) << "# settings\n"
                          "MAX_VIDEO_PROCESSING_TASKS=3\n"
                          "export USE_SPACES=False\n"
                          "SPACES_BUCKET_NAME=\"my bucket\"\n"
                          "SPACES_SECRET_KEY='s3cr=t'\n"
                          "VIDEO_PROCESSING_TIMEOUT=120 # two minutes\n"
                          "\n";
  auto env = ReadDotEnv(templ);
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->at("MAX_VIDEO_PROCESSING_TASKS"), "3");
  EXPECT_EQ(env->at("USE_SPACES"), "False");
  EXPECT_EQ(env->at("SPACES_BUCKET_NAME"), "my bucket");
  EXPECT_EQ(env->at("SPACES_SECRET_KEY"), "s3cr=t");
  EXPECT_EQ(env->at("VIDEO_PROCESSING_TIMEOUT"), "120");
  std::ofstream(templ) << "JUST A LINE\n";
  auto bad = ReadDotEnv(templ);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 1"), std::string::npos);
  unlink(templ);
  EXPECT_TRUE(ReadDotEnv("/nonexistent/.env")->empty());
}

}  // namespace
}  // namespace vidproc
