//===- JsonTest.cpp - The runtime's JSON reader and writer ----------------===//

#include "runtime/Json.h"

#include <gtest/gtest.h>

using ssmc::rt::JsonLimits;
using ssmc::rt::JsonValue;
using ssmc::rt::parseJson;

namespace {

JsonValue parseOk(const std::string &text) {
  JsonValue v;
  std::string error;
  EXPECT_TRUE(parseJson(text, v, error)) << text << ": " << error;
  return v;
}

std::string parseError(const std::string &text,
                       const JsonLimits &limits = JsonLimits()) {
  JsonValue v;
  std::string error;
  EXPECT_FALSE(parseJson(text, v, error)) << text;
  return error;
}

TEST(RuntimeJson, ParsesEveryKind) {
  JsonValue v = parseOk(
      R"( {"a": null, "b": [true, false], "c": -12, "d": 1.5e2, "e": "x"} )");
  ASSERT_TRUE(v.isObject());
  EXPECT_TRUE(v.find("a")->isNull());
  EXPECT_TRUE(v.find("b")->getArray()[0].getBool());
  EXPECT_TRUE(v.find("c")->isInteger());
  EXPECT_EQ(v.find("c")->getInt(), -12);
  EXPECT_FALSE(v.find("d")->isInteger());
  EXPECT_DOUBLE_EQ(v.find("d")->getDouble(), 150.0);
  EXPECT_EQ(v.find("e")->getString(), "x");
  EXPECT_EQ(v.find("missing"), nullptr);
}

TEST(RuntimeJson, LargeIntegersStayExact) {
  JsonValue v = parseOk("[9007199254740993, -9223372036854775808]");
  EXPECT_EQ(v.getArray()[0].getInt(), 9007199254740993ll);
  EXPECT_EQ(v.getArray()[1].getInt(), INT64_MIN);
  // Beyond int64: a double, not an integer.
  JsonValue big = parseOk("99999999999999999999");
  EXPECT_FALSE(big.isInteger());
}

TEST(RuntimeJson, StringEscapesAndUnicode) {
  JsonValue v = parseOk(R"("a\"b\\c\n\u00e9\ud83d\ude00\/")");
  EXPECT_EQ(v.getString(), "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80/");
  // Serialization escapes what must be escaped and parses back equal.
  JsonValue s = JsonValue::makeString(std::string("q\"\\\x01\t", 5));
  JsonValue back = parseOk(s.serialize());
  EXPECT_EQ(back.getString(), s.getString());
}

TEST(RuntimeJson, RoundTripKeepsOrderAndValues) {
  JsonValue obj = JsonValue::makeObject();
  obj.set("z", JsonValue::makeInt(1));
  obj.set("a", JsonValue::makeDouble(0.1));
  JsonValue arr = JsonValue::makeArray();
  arr.push(JsonValue::makeBool(true));
  arr.push(JsonValue());
  obj.set("m", arr);
  for (int indent : {0, 2}) {
    JsonValue back = parseOk(obj.serialize(indent));
    ASSERT_EQ(back.getObject().size(), 3u);
    EXPECT_EQ(back.getObject()[0].first, "z");
    EXPECT_EQ(back.find("z")->getInt(), 1);
    EXPECT_DOUBLE_EQ(back.find("a")->getDouble(), 0.1);
    EXPECT_TRUE(back.find("m")->getArray()[1].isNull());
  }
}

TEST(RuntimeJson, RejectsMalformedInputWithOffset) {
  EXPECT_NE(parseError("").find("unexpected end"), std::string::npos);
  EXPECT_NE(parseError("{\"a\":1,}").find("offset 7"), std::string::npos);
  EXPECT_NE(parseError("[1 2]").find("expected ','"), std::string::npos);
  EXPECT_NE(parseError("\"abc").find("unterminated string"),
            std::string::npos);
  EXPECT_NE(parseError("{\"a\":1,\"a\":2}").find("duplicate"),
            std::string::npos);
  EXPECT_NE(parseError("01").find("trailing"), std::string::npos);
  EXPECT_NE(parseError("-").find("invalid number"), std::string::npos);
  EXPECT_NE(parseError("1.").find("digit expected"), std::string::npos);
  EXPECT_NE(parseError("tru").find("invalid literal"), std::string::npos);
  EXPECT_NE(parseError("\"\\ud800\"").find("surrogate"), std::string::npos);
  EXPECT_NE(parseError("\"\\x\"").find("invalid escape"), std::string::npos);
  EXPECT_NE(parseError("\"a\nb\"").find("control character"),
            std::string::npos);
  EXPECT_NE(parseError("{1:2}").find("string key"), std::string::npos);
}

TEST(RuntimeJson, DepthAndSizeLimits) {
  // Deep nesting fails cleanly instead of overflowing the stack.
  std::string deep(100000, '[');
  EXPECT_NE(parseError(deep).find("nesting"), std::string::npos);
  JsonLimits small;
  small.maxBytes = 8;
  JsonValue v;
  std::string error;
  EXPECT_FALSE(parseJson("[1,2,3,4,5]", v, error, small));
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos);
}

TEST(RuntimeJson, RandomGarbageNeverCrashes) {
  uint64_t state = 12345;
  const char alphabet[] = "{}[]\",:0123456789.eE+-tfnul\\ abc\x01\xff";
  for (int i = 0; i < 2000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    size_t len = (state >> 33) % 40;
    std::string text;
    for (size_t k = 0; k < len; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      text += alphabet[(state >> 33) % (sizeof(alphabet) - 1)];
    }
    JsonValue out;
    std::string error;
    if (!parseJson(text, out, error)) {
      EXPECT_EQ(error.rfind("offset ", 0), 0u) << error;
    }
  }
}

} // namespace
