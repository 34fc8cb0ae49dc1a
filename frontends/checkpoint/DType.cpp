//===- DType.cpp - Element types and float conversions --------------------===//

#include "frontends/checkpoint/CheckpointInternal.h"
#include "runtime/WeightSynthesis.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"

#include <cstring>

using namespace llvm;

namespace ssmc::ckpt {

unsigned dtypeSize(DType t) {
  switch (t) {
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
  case DType::I16:
    return 2;
  case DType::I8:
  case DType::U8:
  case DType::Bool:
    return 1;
  }
  return 1;
}

StringRef dtypeName(DType t) {
  switch (t) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::BF16:
    return "BF16";
  case DType::F64:
    return "F64";
  case DType::I64:
    return "I64";
  case DType::I32:
    return "I32";
  case DType::I16:
    return "I16";
  case DType::I8:
    return "I8";
  case DType::U8:
    return "U8";
  case DType::Bool:
    return "BOOL";
  }
  return "?";
}

Expected<DType> parseDType(StringRef s) {
  std::optional<DType> t = StringSwitch<std::optional<DType>>(s)
                               .Case("F32", DType::F32)
                               .Case("F16", DType::F16)
                               .Case("BF16", DType::BF16)
                               .Case("F64", DType::F64)
                               .Case("I64", DType::I64)
                               .Case("I32", DType::I32)
                               .Case("I16", DType::I16)
                               .Case("I8", DType::I8)
                               .Case("U8", DType::U8)
                               .Case("BOOL", DType::Bool)
                               .Default(std::nullopt);
  if (!t)
    return makeError("unknown dtype '" + s + "'");
  return *t;
}

StringRef torchStorageName(DType t) {
  switch (t) {
  case DType::F32:
    return "FloatStorage";
  case DType::F16:
    return "HalfStorage";
  case DType::BF16:
    return "BFloat16Storage";
  case DType::F64:
    return "DoubleStorage";
  case DType::I64:
    return "LongStorage";
  case DType::I32:
    return "IntStorage";
  case DType::I16:
    return "ShortStorage";
  case DType::I8:
    return "CharStorage";
  case DType::U8:
    return "ByteStorage";
  case DType::Bool:
    return "BoolStorage";
  }
  return "FloatStorage";
}

Error makeError(const Twine &msg) { return createStringError(msg); }

std::optional<int64_t> checkedNumElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || MulOverflow(n, d, n))
      return std::nullopt;
  }
  return n;
}

std::optional<uint64_t> checkedByteSize(ArrayRef<int64_t> shape, DType dtype) {
  std::optional<int64_t> n = checkedNumElements(shape);
  int64_t bytes;
  if (!n || MulOverflow(*n, static_cast<int64_t>(dtypeSize(dtype)), bytes))
    return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Expected<json::Value> parseJsonBounded(StringRef text, unsigned maxDepth) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // skip the escaped character
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > maxDepth)
        return makeError("JSON nests deeper than " + Twine(maxDepth) + " levels (at byte " +
                         Twine(i) + ")");
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return json::parse(text);
}

int64_t TensorInfo::numElements() const {
  // Shapes are validated when a checkpoint is opened; a hand-built info with a
  // bad shape counts as empty rather than overflowing.
  return checkedNumElements(shape).value_or(0);
}

uint64_t TensorSpec::nbytes() const { return checkedByteSize(shape, dtype).value_or(0); }

//===----------------------------------------------------------------------===//
// Float conversions
//===----------------------------------------------------------------------===//

using synth::bitsFloat;
using synth::floatBits;

// One implementation with the runtime, which converts synthesized weights.
uint16_t floatToBF16(float f) { return synth::floatToBF16(f); }
float bf16ToFloat(uint16_t h) { return synth::bf16ToFloat(h); }
uint16_t floatToF16(float f) { return synth::floatToF16(f); }
float f16ToFloat(uint16_t h) { return synth::f16ToFloat(h); }

static bool isConvertibleFloat(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16;
}

Error convertFloatElements(DType from, ArrayRef<uint8_t> in, DType to,
                           MutableArrayRef<uint8_t> out) {
  if (!isConvertibleFloat(from) || !isConvertibleFloat(to))
    return makeError("cannot convert " + dtypeName(from) + " to " + dtypeName(to) +
                     " (F32, BF16 and F16 only)");
  unsigned inSize = dtypeSize(from), outSize = dtypeSize(to);
  if (in.size() % inSize != 0 || in.size() / inSize != out.size() / outSize ||
      out.size() % outSize != 0)
    return makeError("converting " + dtypeName(from) + " to " + dtypeName(to) + ": " +
                     Twine(in.size()) + " input bytes do not match " + Twine(out.size()) +
                     " output bytes");
  if (from == to) {
    if (!in.empty())
      std::memcpy(out.data(), in.data(), in.size());
    return Error::success();
  }
  using namespace llvm::support::endian;
  size_t n = in.size() / inSize;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t *src = in.data() + i * inSize;
    float f = from == DType::F32    ? bitsFloat(read32le(src))
              : from == DType::BF16 ? bf16ToFloat(read16le(src))
                                    : f16ToFloat(read16le(src));
    uint8_t *dst = out.data() + i * outSize;
    if (to == DType::F32)
      write32le(dst, floatBits(f));
    else
      write16le(dst, to == DType::BF16 ? floatToBF16(f) : floatToF16(f));
  }
  return Error::success();
}

} // namespace ssmc::ckpt
