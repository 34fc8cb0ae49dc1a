//===- CheckpointTestUtils.cpp - Helpers of the checkpoint unit tests -----===//

#include "CheckpointTestUtils.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace ssmc::ckpt::test {

TempDir::TempDir() {
  SmallString<128> p;
  std::error_code ec = sys::fs::createUniqueDirectory("ssmc-ckpt-test", p);
  EXPECT_FALSE(ec) << ec.message();
  dir = std::string(p);
}

TempDir::~TempDir() { (void)sys::fs::remove_directories(dir); }

std::string TempDir::path(StringRef name) const {
  SmallString<256> p(dir);
  sys::path::append(p, name);
  return std::string(p);
}

void writeFile(StringRef path, StringRef bytes) {
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  ASSERT_FALSE(ec) << path.str() << ": " << ec.message();
  os << bytes;
}

std::string readFile(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(path, false, false);
  if (!buf)
    return "";
  return (*buf)->getBuffer().str();
}

std::vector<uint8_t> patternBytes(size_t index, size_t nbytes) {
  std::vector<uint8_t> out(nbytes);
  uint32_t state = 0x9e3779b9u * static_cast<uint32_t>(index + 1);
  for (size_t i = 0; i < nbytes; ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = static_cast<uint8_t>(state >> 24);
  }
  return out;
}

Error fillPattern(size_t index, MutableArrayRef<uint8_t> out) {
  std::vector<uint8_t> p = patternBytes(index, out.size());
  std::copy(p.begin(), p.end(), out.begin());
  return Error::success();
}

std::vector<TensorSpec> everyDtypeSpecs() {
  return {
      {"model.f32", DType::F32, {3, 5}},
      {"model.f16", DType::F16, {7}},
      {"model.bf16", DType::BF16, {2, 3, 2}},
      {"model.f64", DType::F64, {4}},
      {"model.i64", DType::I64, {3}},
      {"model.i32", DType::I32, {2, 2}},
      {"model.i16", DType::I16, {5}},
      {"model.i8", DType::I8, {9}},
      {"model.u8", DType::U8, {1, 11}},
      {"model.bool", DType::Bool, {6}},
      {"scalar", DType::F32, {}},
      {"empty", DType::F16, {0, 4}},
  };
}

std::string safetensorsBytes(StringRef header, size_t dataBytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int k = 0; k < 8; ++k)
    out[k] = static_cast<char>((n >> (8 * k)) & 0xff);
  out += header;
  out.append(dataBytes, '\0');
  return out;
}

std::string zipBytes(ArrayRef<std::pair<std::string, std::string>> entries, bool forceZip64) {
  SmallString<0> buf;
  raw_svector_ostream os(buf);
  ZipWriter zip(os, 64, forceZip64);
  for (const auto &[name, bytes] : entries)
    EXPECT_EQ(errorMessage(zip.addEntry(name, arrayRefFromStringRef(bytes))), "");
  zip.finish();
  return std::string(buf);
}

std::string errorMessage(Error err) {
  if (!err)
    return "";
  return toString(std::move(err));
}

std::string openError(StringRef path) {
  Expected<std::unique_ptr<Checkpoint>> ck =
      sys::fs::is_directory(path) ? Checkpoint::openDirectory(path) : Checkpoint::openFile(path);
  if (ck)
    return "";
  return toString(ck.takeError());
}

} // namespace ssmc::ckpt::test
