// SanitizeText against an independent reference built from the definition: the valid UTF-8
// sequences are exactly the encodings of the Unicode scalar values (made here by a plain encoder,
// not by the decoder under test), and an ill-formed sequence is replaced by one U+FFFD per
// maximal subpart (the longest prefix of a valid sequence; Unicode 3.9). Every scalar value,
// every string of one or two bytes and every three-byte string that starts with the lead byte
// of a three- or four-byte sequence is checked against it.
#include "core/text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace vidproc {
namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

// UTF-8 of any value below 2^21 by the bit patterns alone (surrogates included, for the tests
// that need their "encoded" form).
std::string Encode(uint32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

bool IsSurrogate(uint32_t c) { return c >= 0xD800 && c <= 0xDFFF; }

// The characters the cleaning drops, listed from their definitions.
bool Dropped(uint32_t c) {
  if (c <= 0x1F || c == 0x7F || (c >= 0x80 && c <= 0x9F)) return true;  // Cc
  if (c == 0x2028 || c == 0x2029) return true;                          // Zl, Zp
  // Bidi_Control (PropList.txt): ALM, LRM, RLM, LRE..RLO, LRI..PDI.
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

// True if `s` is the UTF-8 encoding of a scalar value: its bits read as a sequence of its
// length, re-encoded by Encode (which always gives the shortest form), give `s` back, and the
// value is neither a surrogate nor above U+10FFFF.
bool IsValidSequence(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  const size_t n = s.size();
  uint32_t c = 0;
  if (n == 1) {
    c = b0;
  } else if (n == 2 && (b0 & 0xE0) == 0xC0) {
    c = b0 & 0x1F;
  } else if (n == 3 && (b0 & 0xF0) == 0xE0) {
    c = b0 & 0x0F;
  } else if (n == 4 && (b0 & 0xF8) == 0xF0) {
    c = b0 & 0x07;
  } else {
    return false;
  }
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return false;
    c = (c << 6) | (b & 0x3F);
  }
  return c <= 0x10FFFF && !IsSurrogate(c) && Encode(c) == s;
}

uint32_t ValueOf(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  uint32_t c = s.size() == 1 ? b0 : b0 & (0x7F >> s.size());
  for (size_t i = 1; i < s.size(); ++i) c = (c << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  return c;
}

// The replacement policy from its definition: at each position, a valid sequence is kept (or
// dropped if it is a control or bidi character); otherwise the longest prefix of some valid
// sequence (at least one byte) becomes one U+FFFD.
class Reference {
 public:
  Reference() : prefix2_(65536) {
    for (int i = 0; i < 65536; ++i) {
      prefix2_[i] = IsProperPrefix(std::string{static_cast<char>(i >> 8), static_cast<char>(i)});
    }
  }
  std::string Clean(std::string_view in) const {
    std::string out;
    size_t i = 0;
    while (i < in.size()) {
      size_t n = std::min<size_t>(4, in.size() - i);
      while (n > 0 && !IsValidSequence(in.substr(i, n))) --n;
      if (n > 0) {
        if (!Dropped(ValueOf(in.substr(i, n)))) out.append(in.substr(i, n));
        i += n;
        continue;
      }
      size_t subpart = 1;
      if (in.size() - i >= 3 && IsProperPrefix(in.substr(i, 3))) {
        subpart = 3;
      } else if (in.size() - i >= 2 &&
                 prefix2_[static_cast<uint8_t>(in[i]) * 256 + static_cast<uint8_t>(in[i + 1])]) {
        subpart = 2;
      }
      out += kFFFD;
      i += subpart;
    }
    return out;
  }

 private:
  // True if some longer valid sequence starts with `p` (two or three bytes). Whether a sequence
  // is valid depends on its first two bytes and on the others being continuation bytes, so
  // trying the continuations 80 and BF for the rest decides it.
  static bool IsProperPrefix(std::string_view p) {
    for (size_t n = p.size() + 1; n <= 4; ++n) {
      for (char fill : {'\x80', '\xBF'}) {
        if (IsValidSequence(std::string(p) + std::string(n - p.size(), fill))) return true;
      }
    }
    return false;
  }
  std::vector<bool> prefix2_;  // IsProperPrefix of every two-byte string
};

const Reference& Ref() {
  static const Reference* ref = new Reference();
  return *ref;
}

std::string Hex(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
    out += ' ';
  }
  return out;
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(TextTest, EveryScalarValueIsKeptUnlessItIsAControlOrBidiCharacter) {
  int failures = 0;
  for (uint32_t c = 0; c <= 0x10FFFF && failures < 5; ++c) {
    if (IsSurrogate(c)) continue;
    std::string e = Encode(c);
    std::string expected = Dropped(c) ? "" : e;
    std::string got = SanitizeText(e);
    if (got != expected) {
      ++failures;
      ADD_FAILURE() << "U+" << std::hex << c << ": " << Hex(got);
    }
    EXPECT_EQ(IsSafeText(e), !Dropped(c)) << std::hex << c;
  }
}

TEST(TextTest, EveryStringOfOneOrTwoBytesMatchesTheReference) {
  int failures = 0;
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    EXPECT_EQ(SanitizeText(one), Ref().Clean(one)) << Hex(one);
    for (int b = 0; b < 256 && failures < 5; ++b) {
      std::string two = one + static_cast<char>(b);
      std::string got = SanitizeText(two);
      if (got != Ref().Clean(two)) {
        ++failures;
        ADD_FAILURE() << Hex(two) << "-> " << Hex(got) << "expected " << Hex(Ref().Clean(two));
      }
      EXPECT_TRUE(IsSafeText(got));
    }
  }
}

TEST(TextTest, EveryThreeByteStringWithALeadOfThreeOrFourMatchesTheReference) {
  int failures = 0;
  for (int a = 0xE0; a <= 0xF4; ++a) {
    for (int b = 0; b < 256; ++b) {
      for (int c = 0; c < 256 && failures < 5; ++c) {
        std::string three = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)};
        std::string got = SanitizeText(three);
        if (got != Ref().Clean(three)) {
          ++failures;
          ADD_FAILURE() << Hex(three) << "-> " << Hex(got);
        }
      }
    }
  }
}

TEST(TextTest, FourByteLeadsWithEveryLastByteMatchTheReference) {
  const int interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                             0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF};
  for (int a = 0xF0; a < 256; ++a) {
    for (int b : interesting) {
      for (int c : interesting) {
        for (int d = 0; d < 256; ++d) {
          std::string four = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                              static_cast<char>(d)};
          ASSERT_EQ(SanitizeText(four), Ref().Clean(four)) << Hex(four);
        }
      }
    }
  }
}

TEST(TextTest, UnicodeStandardExampleOfMaximalSubparts) {
  // Unicode 15, Table 3-8 and the text around it.
  EXPECT_EQ(SanitizeText("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + kFFFD + kFFFD + kFFFD + "b" + kFFFD + "c" + kFFFD + kFFFD + "d");
}

TEST(TextTest, StrayContinuationBytesAreReplacedOneByOne) {
  for (int b = 0x80; b <= 0xBF; ++b) {
    EXPECT_EQ(SanitizeText(std::string("x") + static_cast<char>(b) + "y"), "x" + kFFFD + "y");
  }
  EXPECT_EQ(SanitizeText("\x80\x80\x80"), Repeat(kFFFD, 3));
}

TEST(TextTest, OverlongFormsNeverDecodeToTheirCharacter) {
  // Each overlong form is as many U+FFFD as it has bytes (its lead byte starts no valid sequence
  // with that second byte), never the character: not NUL (C0 80), not '/' (C0 AF, E0 80 AF).
  for (uint32_t c = 0; c < 0x80; ++c) {
    std::string two = {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
    ASSERT_EQ(SanitizeText(two), Repeat(kFFFD, 2)) << c;
  }
  for (uint32_t c = 0; c < 0x800; ++c) {
    std::string three = {static_cast<char>(0xE0), static_cast<char>(0x80 | (c >> 6)),
                         static_cast<char>(0x80 | (c & 0x3F))};
    ASSERT_EQ(SanitizeText(three), Repeat(kFFFD, 3)) << c;
  }
  for (uint32_t c = 0; c < 0x10000; ++c) {
    std::string four = {static_cast<char>(0xF0), static_cast<char>(0x80 | (c >> 12)),
                        static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                        static_cast<char>(0x80 | (c & 0x3F))};
    ASSERT_EQ(SanitizeText(four), Repeat(kFFFD, 4)) << c;
  }
}

TEST(TextTest, EncodedSurrogatesAreReplaced) {
  for (uint32_t c = 0xD800; c <= 0xDFFF; ++c) {
    ASSERT_EQ(SanitizeText(Encode(c)), Repeat(kFFFD, 3)) << std::hex << c;
  }
  // A surrogate pair encoded as two three-byte sequences (CESU-8) is six replacements.
  EXPECT_EQ(SanitizeText(Encode(0xD83D) + Encode(0xDE00)), Repeat(kFFFD, 6));
}

TEST(TextTest, CodePointsAboveTheLastAreReplaced) {
  for (uint32_t c = 0x110000; c < 0x200000; c += 0x1011) {
    ASSERT_EQ(SanitizeText(Encode(c)), Repeat(kFFFD, 4)) << std::hex << c;
  }
  // Five- and six-byte forms of the old UTF-8.
  EXPECT_EQ(SanitizeText("\xF8\x88\x80\x80\x80"), Repeat(kFFFD, 5));
  EXPECT_EQ(SanitizeText("\xFC\x84\x80\x80\x80\x80"), Repeat(kFFFD, 6));
  for (int b = 0xF5; b <= 0xFF; ++b) {
    EXPECT_EQ(SanitizeText(std::string(1, static_cast<char>(b))), kFFFD) << b;
  }
}

TEST(TextTest, TruncatedSequencesAreOneReplacementEach) {
  EXPECT_EQ(SanitizeText("a\xC3"), "a" + kFFFD);
  EXPECT_EQ(SanitizeText("a\xE2\x82"), "a" + kFFFD);
  EXPECT_EQ(SanitizeText("a\xF0\x9F\x98"), "a" + kFFFD);
  EXPECT_EQ(SanitizeText("\xF0\x9F\x98"
                         "b"),
            kFFFD + "b");
  EXPECT_EQ(SanitizeText("\xE2\x82\xF0\x9F\x98\x80"), kFFFD + "\xF0\x9F\x98\x80");
}

TEST(TextTest, Latin1IsReplacedAndUtf8Kept) {
  EXPECT_EQ(SanitizeText("caf\xE9.mov"), "caf" + kFFFD + ".mov");
  EXPECT_EQ(SanitizeText("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\xAC.mov"),
            "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\xAC.mov");
}

TEST(TextTest, ControlAndBidiCharactersAreDropped) {
  EXPECT_EQ(SanitizeText(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(SanitizeText("a\x1b[31mred\x1b[0m\r\nlevel=error\t\x7f"), "a[31mred[0mlevel=error");
  EXPECT_EQ(SanitizeText("evil\xE2\x80\xAEvom.exe"), "evilvom.exe");  // U+202E RLO
  EXPECT_EQ(SanitizeText("\xE2\x81\xA6x\xE2\x81\xA9"), "x");          // U+2066 LRI, U+2069 PDI
  EXPECT_EQ(SanitizeText("a\xC2\x85"
                         "b\xE2\x80\xA8"
                         "c"),
            "abc");                                                           // NEL (C1), U+2028
  EXPECT_EQ(SanitizeText("\xD8\x9C\xE2\x80\x8E\xE2\x80\x8F"), "");            // ALM, LRM, RLM
  EXPECT_EQ(SanitizeText("zero\xE2\x80\x8Bwidth"), "zero\xE2\x80\x8Bwidth");  // not a control
}

TEST(TextTest, TheCapNeverSplitsACodePoint) {
  const std::string text =
      "a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x8E\xAC"
      "b\xFF"
      "c";
  const std::string whole = SanitizeText(text);
  for (size_t cap = 0; cap <= whole.size() + 2; ++cap) {
    std::string got = SanitizeText(text, cap);
    EXPECT_LE(got.size(), cap);
    EXPECT_TRUE(IsSafeText(got)) << cap;
    EXPECT_EQ(whole.substr(0, got.size()), got) << cap;
    // Nothing that fits is cut: the next code point of `whole` would not have fitted.
    if (got.size() < whole.size()) {
      size_t next = DecodeUtf8(std::string_view(whole).substr(got.size())).length;
      EXPECT_GT(got.size() + next, cap) << cap;
    }
  }
  EXPECT_EQ(SanitizeText(std::string(10'000, 'x')).size(), kMaxTextBytes);
  EXPECT_EQ(SanitizeText(std::string(10'000, 'x'), 255), std::string(255, 'x'));
}

TEST(TextTest, FileNamesKeepTheirLastComponentCleanedAndCapped) {
  EXPECT_EQ(SanitizeFilename("holiday.mov"), "holiday.mov");
  EXPECT_EQ(SanitizeFilename("../../etc/passwd"), "passwd");
  EXPECT_EQ(SanitizeFilename("C:\\Users\\me\\trip.mov"), "trip.mov");
  EXPECT_EQ(SanitizeFilename("caf\xE9.mov"), "caf" + kFFFD + ".mov");
  EXPECT_EQ(SanitizeFilename("\xC0\xAF"
                             "etc"),
            kFFFD + kFFFD + "etc");  // an overlong '/' is no '/'
  EXPECT_EQ(SanitizeFilename(std::string("a\0b.mp4", 7)), "ab.mp4");
  EXPECT_EQ(SanitizeFilename(""), "upload");
  EXPECT_EQ(SanitizeFilename("dir/"), "upload");
  EXPECT_EQ(SanitizeFilename("\r\n\x1b"), "upload");
  EXPECT_EQ(SanitizeFilename(std::string(254, 'n') + "\xC3\xA9" + std::string(10'000, 'x')),
            std::string(254, 'n'));
  EXPECT_EQ(SanitizeFilename(std::string(300, 'n')).size(), kMaxFilenameBytes);
}

TEST(TextTest, SanitizeJsonCleansEveryStringAndKey) {
  nlohmann::json dirty = {{"name", "caf\xE9"},
                          {"list",
                           {"ok",
                            "a\x1b"
                            "b",
                            3, nullptr}},
                          {"k\xFF", {{"deep", "x\xE2\x80\xAEy"}}}};
  nlohmann::json clean = SanitizeJson(dirty);
  EXPECT_EQ(clean["name"], "caf" + kFFFD);
  EXPECT_EQ(clean["list"], nlohmann::json({"ok", "ab", 3, nullptr}));
  EXPECT_EQ(clean["k" + kFFFD]["deep"], "xy");
  EXPECT_NO_THROW(clean.dump());
}

TEST(TextTest, DumpJsonNeverThrowsOnBadBytes) {
  nlohmann::json j = {{"name", "caf\xE9\xC0\xAF"}};
  EXPECT_THROW(j.dump(), nlohmann::json::type_error);  // what DumpJson exists for
  std::string text;
  ASSERT_NO_THROW(text = DumpJson(j));
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << text;
  EXPECT_TRUE(IsSafeText(parsed["name"].get<std::string>()));
}

}  // namespace
TEST(TextTest, EditDistanceCountsEachKindOfSlipOnce) {
  EXPECT_EQ(EditDistance("status", "status"), 0u);
  EXPECT_EQ(EditDistance("status", "STATUS"), 0u);   // case does not count
  EXPECT_EQ(EditDistance("statu", "status"), 1u);    // deletion
  EXPECT_EQ(EditDistance("statuss", "status"), 1u);  // insertion
  EXPECT_EQ(EditDistance("statis", "status"), 1u);   // substitution
  EXPECT_EQ(EditDistance("stauts", "status"), 1u);   // adjacent transposition
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("ca", "abc"), 3u);  // optimal string alignment: no edit of a moved pair
}

TEST(TextTest, ClosestNameSuggestsOnlyWhatIsCloseEnough) {
  std::vector<std::string> commands = {"transcode", "probe", "status", "serve", "worker"};
  EXPECT_EQ(ClosestName("stauts", commands), "status");
  EXPECT_EQ(ClosestName("trancode", commands), "transcode");
  EXPECT_EQ(ClosestName("serv", commands), "serve");
  EXPECT_EQ(ClosestName("status", commands), "");  // itself is no suggestion
  EXPECT_EQ(ClosestName("xyz", commands), "");
  EXPECT_EQ(ClosestName("frobnicate", commands), "");
  EXPECT_EQ(ClosestName("", commands), "");
  // Short names allow one slip only: "top" is not "probe".
  EXPECT_EQ(ClosestName("top", commands), "");
}

}  // namespace vidproc
