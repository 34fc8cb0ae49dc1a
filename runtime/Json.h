//===- Json.h - Minimal JSON value, reader and writer for manifests -------===//
//
// The runtime may not link LLVM (llvm::json), so the artifact manifest uses this
// small, self-contained JSON implementation. The reader is defensive: it bounds
// nesting depth and input length, never reads past the buffer and reports the
// byte offset of the first error instead of crashing on malformed input.
//
//===----------------------------------------------------------------------===//

#ifndef SSMC_RUNTIME_JSON_H
#define SSMC_RUNTIME_JSON_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ssmc {
namespace rt {

class JsonValue {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  JsonValue() = default;
  static JsonValue makeBool(bool b);
  static JsonValue makeInt(int64_t i);
  static JsonValue makeDouble(double d);
  static JsonValue makeString(std::string s);
  static JsonValue makeArray();
  static JsonValue makeObject();

  Kind kind() const { return valueKind; }
  bool isNull() const { return valueKind == Kind::Null; }
  bool isBool() const { return valueKind == Kind::Bool; }
  bool isNumber() const { return valueKind == Kind::Number; }
  bool isString() const { return valueKind == Kind::String; }
  bool isArray() const { return valueKind == Kind::Array; }
  bool isObject() const { return valueKind == Kind::Object; }
  /// True for numbers written without fraction or exponent that fit int64.
  bool isInteger() const { return valueKind == Kind::Number && exactInteger; }

  bool getBool() const { return boolValue; }
  double getDouble() const { return numberValue; }
  int64_t getInt() const { return intValue; }
  const std::string &getString() const { return stringValue; }
  const std::vector<JsonValue> &getArray() const { return arrayValue; }
  std::vector<JsonValue> &getArray() { return arrayValue; }
  /// Object members keep their insertion order (manifests stay readable).
  const std::vector<std::pair<std::string, JsonValue>> &getObject() const {
    return objectValue;
  }

  /// Object member lookup; nullptr when absent or when this is no object.
  const JsonValue *find(const std::string &key) const;
  /// Sets (or replaces) an object member.
  void set(const std::string &key, JsonValue value);
  void push(JsonValue value) { arrayValue.push_back(std::move(value)); }

  /// Compact serialization; `indent` > 0 pretty-prints.
  std::string serialize(int indent = 0) const;

private:
  void serializeInto(std::string &out, int indent, int depth) const;

  Kind valueKind = Kind::Null;
  bool boolValue = false;
  bool exactInteger = false;
  double numberValue = 0;
  int64_t intValue = 0;
  std::string stringValue;
  std::vector<JsonValue> arrayValue;
  std::vector<std::pair<std::string, JsonValue>> objectValue;
};

struct JsonLimits {
  size_t maxBytes = 64u << 20;
  unsigned maxDepth = 64;
};

/// Parses `text` (exactly one value, surrounding whitespace allowed). On error
/// returns false and sets `error` to "offset N: what is wrong".
bool parseJson(const std::string &text, JsonValue &out, std::string &error,
               const JsonLimits &limits = JsonLimits());

} // namespace rt
} // namespace ssmc

#endif // SSMC_RUNTIME_JSON_H
