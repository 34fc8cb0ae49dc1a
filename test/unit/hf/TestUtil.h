//===- TestUtil.h - Helpers shared by the hf unit tests -------------------===//
#ifndef SSMC_TEST_UNIT_HF_TESTUTIL_H
#define SSMC_TEST_UNIT_HF_TESTUTIL_H

#include "frontends/hf/ModelConfig.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <string>

namespace ssmc::hf::test {

/// A fresh directory, removed with its contents at the end of the scope.
class TempDir {
public:
  TempDir() {
    std::error_code ec = llvm::sys::fs::createUniqueDirectory("ssmc-hf-test", path);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  std::string str() const { return path.str().str(); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<256> p(path);
    llvm::sys::path::append(p, name);
    return p.str().str();
  }
  void write(llvm::StringRef name, llvm::StringRef text) const {
    std::error_code ec;
    llvm::raw_fd_ostream os(file(name), ec);
    ASSERT_FALSE(ec) << ec.message();
    os << text;
  }

private:
  llvm::SmallString<256> path;
};

inline int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Counted here rather than with the library's parameterCount, so that the
/// spec's totals check the layout table independently.
inline int64_t countParameters(const ModelConfig &cfg) {
  int64_t n = 0;
  for (const ExpectedTensor &t : expectedTensors(cfg))
    n += numElements(t.shape);
  return n;
}

} // namespace ssmc::hf::test

#endif // SSMC_TEST_UNIT_HF_TESTUTIL_H
