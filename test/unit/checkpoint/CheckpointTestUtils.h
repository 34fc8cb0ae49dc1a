//===- CheckpointTestUtils.h - Helpers of the checkpoint unit tests -------===//
#ifndef SSMC_TEST_UNIT_CHECKPOINT_CHECKPOINTTESTUTILS_H
#define SSMC_TEST_UNIT_CHECKPOINT_CHECKPOINTTESTUTILS_H

#include "frontends/checkpoint/CheckpointInternal.h"

#include "llvm/ADT/SmallString.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ssmc::ckpt::test {

/// A fresh directory, removed with its files when the object dies.
class TempDir {
public:
  TempDir();
  ~TempDir();
  std::string path(llvm::StringRef name) const;
  const std::string &str() const { return dir; }

private:
  std::string dir;
};

void writeFile(llvm::StringRef path, llvm::StringRef bytes);
std::string readFile(llvm::StringRef path);

/// Deterministic bytes for tensor `index` of `nbytes`, shared by the writers'
/// fill functions and the checks on what was read back.
std::vector<uint8_t> patternBytes(size_t index, size_t nbytes);
/// A FillFn-compatible callable that writes patternBytes.
llvm::Error fillPattern(size_t index, llvm::MutableArrayRef<uint8_t> out);

/// One tensor of every dtype, plus a scalar and an empty tensor.
std::vector<TensorSpec> everyDtypeSpecs();

/// A safetensors file from a header (written verbatim, unpadded) and a data
/// section of `dataBytes` zero bytes.
std::string safetensorsBytes(llvm::StringRef header, size_t dataBytes);

/// A zip archive of stored entries written with ZipWriter.
std::string zipBytes(llvm::ArrayRef<std::pair<std::string, std::string>> entries,
                     bool forceZip64 = false);

/// The message of an error (consumes it); "" for success.
std::string errorMessage(llvm::Error err);

/// Fails the test unless `err` is an error whose message contains every one
/// of `needles`.
#define EXPECT_ERROR_CONTAINS(err, ...)                                                            \
  do {                                                                                             \
    std::string msg_ = ::ssmc::ckpt::test::errorMessage(err);                                      \
    EXPECT_FALSE(msg_.empty()) << "expected an error";                                             \
    for (const char *needle_ : {__VA_ARGS__})                                                      \
      EXPECT_NE(msg_.find(needle_), std::string::npos)                                             \
          << "message '" << msg_ << "' lacks '" << needle_ << "'";                                 \
  } while (0)

/// Opens `path` and returns the error message ("" when it opened).
std::string openError(llvm::StringRef path);

} // namespace ssmc::ckpt::test

#endif // SSMC_TEST_UNIT_CHECKPOINT_CHECKPOINTTESTUTILS_H
