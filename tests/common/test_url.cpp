// Unit tests: percent_decode (soleus/common/url.hpp).
#include <doctest/doctest.h>

#include <string>

#include "soleus/common/url.hpp"

using soleus::common::percent_decode;

TEST_CASE("percent_decode replaces %XX by its byte, in either case") {
  CHECK(percent_decode("") == "");
  CHECK(percent_decode("/api/v1/sets") == "/api/v1/sets");
  CHECK(percent_decode("%41%62c") == "Abc");
  CHECK(percent_decode("%2f%2F") == "//");
  CHECK(percent_decode("%2e%2E") == "..");
  CHECK(percent_decode("%3Cscript%3E") == "<script>");
  CHECK(percent_decode("%C3%A9") == "\xC3\xA9");
  CHECK(percent_decode("%FF") == "\xFF");  // not UTF-8: the caller judges
  CHECK(percent_decode("a%00b") == std::string("a\0b", 3));
  CHECK(percent_decode("%2541") == "%41");  // decoded once, never twice
}

TEST_CASE("percent_decode: '+' is a space only in query strings") {
  CHECK(percent_decode("a+b") == "a+b");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("a%2Bb", true) == "a+b");
  CHECK(percent_decode("a%20b") == "a b");
}

TEST_CASE("percent_decode: a '%' without two hex digits makes the text malformed") {
  for (const char* s : {"%", "%4", "abc%", "abc%4", "%zz", "%4g", "%g4", "%%41", "%%", "100%",
                        "%-1", "% 41", "a%+1"}) {
    CAPTURE(s);
    CHECK_FALSE(percent_decode(s).has_value());
    CHECK_FALSE(percent_decode(s, true).has_value());
  }
}
