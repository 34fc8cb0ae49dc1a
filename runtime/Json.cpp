//===- Json.cpp - Minimal JSON value, reader and writer -------------------===//

#include "runtime/Json.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ssmc {
namespace rt {

JsonValue JsonValue::makeBool(bool b) {
  JsonValue v;
  v.valueKind = Kind::Bool;
  v.boolValue = b;
  return v;
}

JsonValue JsonValue::makeInt(int64_t i) {
  JsonValue v;
  v.valueKind = Kind::Number;
  v.exactInteger = true;
  v.intValue = i;
  v.numberValue = static_cast<double>(i);
  return v;
}

JsonValue JsonValue::makeDouble(double d) {
  JsonValue v;
  v.valueKind = Kind::Number;
  v.numberValue = d;
  return v;
}

JsonValue JsonValue::makeString(std::string s) {
  JsonValue v;
  v.valueKind = Kind::String;
  v.stringValue = std::move(s);
  return v;
}

JsonValue JsonValue::makeArray() {
  JsonValue v;
  v.valueKind = Kind::Array;
  return v;
}

JsonValue JsonValue::makeObject() {
  JsonValue v;
  v.valueKind = Kind::Object;
  return v;
}

const JsonValue *JsonValue::find(const std::string &key) const {
  if (valueKind != Kind::Object)
    return nullptr;
  for (const auto &member : objectValue)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

void JsonValue::set(const std::string &key, JsonValue value) {
  for (auto &member : objectValue) {
    if (member.first == key) {
      member.second = std::move(value);
      return;
    }
  }
  objectValue.emplace_back(key, std::move(value));
}

static void escapeString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

static void newline(std::string &out, int indent, int depth) {
  if (indent <= 0)
    return;
  out += '\n';
  out.append(static_cast<size_t>(indent) * depth, ' ');
}

void JsonValue::serializeInto(std::string &out, int indent, int depth) const {
  switch (valueKind) {
  case Kind::Null:
    out += "null";
    return;
  case Kind::Bool:
    out += boolValue ? "true" : "false";
    return;
  case Kind::Number: {
    char buf[40];
    if (exactInteger)
      std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(intValue));
    else if (!std::isfinite(numberValue))
      std::snprintf(buf, sizeof(buf), "null"); // JSON has no inf/nan.
    else
      std::snprintf(buf, sizeof(buf), "%.17g", numberValue);
    out += buf;
    return;
  }
  case Kind::String:
    escapeString(out, stringValue);
    return;
  case Kind::Array: {
    out += '[';
    bool first = true;
    for (const JsonValue &element : arrayValue) {
      if (!first)
        out += ',';
      first = false;
      newline(out, indent, depth + 1);
      element.serializeInto(out, indent, depth + 1);
    }
    if (!arrayValue.empty())
      newline(out, indent, depth);
    out += ']';
    return;
  }
  case Kind::Object: {
    out += '{';
    bool first = true;
    for (const auto &member : objectValue) {
      if (!first)
        out += ',';
      first = false;
      newline(out, indent, depth + 1);
      escapeString(out, member.first);
      out += indent > 0 ? ": " : ":";
      member.second.serializeInto(out, indent, depth + 1);
    }
    if (!objectValue.empty())
      newline(out, indent, depth);
    out += '}';
    return;
  }
  }
}

std::string JsonValue::serialize(int indent) const {
  std::string out;
  serializeInto(out, indent, 0);
  return out;
}

namespace {

/// Recursive-descent parser over a bounded buffer. Recursion depth is limited
/// by JsonLimits::maxDepth, so hostile nesting cannot exhaust the stack.
class Parser {
public:
  Parser(const std::string &text, const JsonLimits &limits)
      : text(text), limits(limits) {}

  bool parseDocument(JsonValue &out, std::string &error) {
    if (text.size() > limits.maxBytes) {
      error = "document of " + std::to_string(text.size()) +
              " bytes exceeds the limit of " +
              std::to_string(limits.maxBytes);
      return false;
    }
    skipSpace();
    if (!parseValue(out, 0))
      return report(error);
    skipSpace();
    if (pos != text.size()) {
      fail("trailing characters after the JSON value");
      return report(error);
    }
    return true;
  }

private:
  bool report(std::string &error) {
    error = "offset " + std::to_string(failPos) + ": " + failMessage;
    return false;
  }

  bool fail(const char *message) {
    if (failMessage.empty()) {
      failMessage = message;
      failPos = pos;
    }
    return false;
  }

  void skipSpace() {
    while (pos < text.size() &&
           (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' ||
            text[pos] == '\r'))
      ++pos;
  }

  bool consumeLiteral(const char *literal) {
    size_t n = std::strlen(literal);
    if (text.compare(pos, n, literal) != 0)
      return fail("invalid literal");
    pos += n;
    return true;
  }

  bool parseValue(JsonValue &out, unsigned depth) {
    if (depth > limits.maxDepth)
      return fail("nesting deeper than the limit");
    if (pos >= text.size())
      return fail("unexpected end of input");
    char c = text[pos];
    switch (c) {
    case 'n':
      out = JsonValue();
      return consumeLiteral("null");
    case 't':
      out = JsonValue::makeBool(true);
      return consumeLiteral("true");
    case 'f':
      out = JsonValue::makeBool(false);
      return consumeLiteral("false");
    case '"': {
      std::string s;
      if (!parseString(s))
        return false;
      out = JsonValue::makeString(std::move(s));
      return true;
    }
    case '[':
      return parseArray(out, depth);
    case '{':
      return parseObject(out, depth);
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(out);
      return fail("unexpected character");
    }
  }

  bool parseArray(JsonValue &out, unsigned depth) {
    ++pos; // '['
    out = JsonValue::makeArray();
    skipSpace();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      JsonValue element;
      if (!parseValue(element, depth + 1))
        return false;
      out.push(std::move(element));
      skipSpace();
      if (pos >= text.size())
        return fail("unterminated array");
      if (text[pos] == ',') {
        ++pos;
        continue;
      }
      if (text[pos] == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']' in array");
    }
  }

  bool parseObject(JsonValue &out, unsigned depth) {
    ++pos; // '{'
    out = JsonValue::makeObject();
    skipSpace();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        return fail("expected a string key in object");
      std::string key;
      if (!parseString(key))
        return false;
      if (out.find(key))
        return fail("duplicate object key");
      skipSpace();
      if (pos >= text.size() || text[pos] != ':')
        return fail("expected ':' after object key");
      ++pos;
      skipSpace();
      JsonValue value;
      if (!parseValue(value, depth + 1))
        return false;
      out.set(key, std::move(value));
      skipSpace();
      if (pos >= text.size())
        return fail("unterminated object");
      if (text[pos] == ',') {
        ++pos;
        continue;
      }
      if (text[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}' in object");
    }
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool parseHex4(uint32_t &value) {
    if (text.size() - pos < 4)
      return fail("truncated \\u escape");
    value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        return fail("invalid hex digit in \\u escape");
    }
    return true;
  }

  bool parseString(std::string &out) {
    ++pos; // opening quote
    while (true) {
      if (pos >= text.size())
        return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("control character in string");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos;
        continue;
      }
      ++pos;
      if (pos >= text.size())
        return fail("unterminated escape");
      char e = text[pos++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xD800 && cp < 0xDC00) {
          // A high surrogate must be followed by an escaped low surrogate.
          if (text.size() - pos < 2 || text[pos] != '\\' || text[pos + 1] != 'u')
            return fail("unpaired surrogate in \\u escape");
          pos += 2;
          uint32_t low;
          if (!parseHex4(low))
            return false;
          if (low < 0xDC00 || low >= 0xE000)
            return fail("invalid low surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
          return fail("unpaired surrogate in \\u escape");
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        return fail("invalid escape character");
      }
    }
  }

  bool parseNumber(JsonValue &out) {
    size_t start = pos;
    bool integral = true;
    if (text[pos] == '-')
      ++pos;
    if (pos >= text.size() || !(text[pos] >= '0' && text[pos] <= '9'))
      return fail("invalid number");
    if (text[pos] == '0') {
      ++pos;
    } else {
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    if (pos < text.size() && text[pos] == '.') {
      integral = false;
      ++pos;
      if (pos >= text.size() || !(text[pos] >= '0' && text[pos] <= '9'))
        return fail("invalid number: digit expected after '.'");
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      integral = false;
      ++pos;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (pos >= text.size() || !(text[pos] >= '0' && text[pos] <= '9'))
        return fail("invalid number: digit expected in exponent");
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    std::string token = text.substr(start, pos - start);
    if (integral) {
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(token.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') {
        out = JsonValue::makeInt(v);
        return true;
      }
      // Out of int64 range: keep it as a double.
    }
    out = JsonValue::makeDouble(std::strtod(token.c_str(), nullptr));
    return true;
  }

  const std::string &text;
  const JsonLimits &limits;
  size_t pos = 0;
  std::string failMessage;
  size_t failPos = 0;
};

} // namespace

bool parseJson(const std::string &text, JsonValue &out, std::string &error,
               const JsonLimits &limits) {
  Parser parser(text, limits);
  JsonValue result;
  if (!parser.parseDocument(result, error))
    return false;
  out = std::move(result);
  return true;
}

} // namespace rt
} // namespace ssmc
