//===- FakeArtifact.h - Artifacts around the fake model for tests ---------===//
//
// Packs the test-double code (fake_model.c, a toy, not model math) into .ssmx
// files, and offers a re-implementation of the toy so tests can predict its
// logits.
//
//===----------------------------------------------------------------------===//

#ifndef SSMC_TEST_UNIT_RUNTIME_FAKEARTIFACT_H
#define SSMC_TEST_UNIT_RUNTIME_FAKEARTIFACT_H

#include "runtime/Artifact.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ssmc {
namespace test {

constexpr int32_t kFakeVocab = 64;

std::vector<uint8_t> readFileBytes(const std::string &path);
void writeFileBytes(const std::string &path, const std::vector<uint8_t> &bytes);

/// The host's target string ("host-x86_64" or "aarch64").
std::string hostTarget();

/// The toy's weight "bias".
std::vector<float> fakeBias();

/// Fills `writer` with the fake model: manifest, weights and the code of
/// `soPath` (default: the fake model built next to the tests).
void buildFakeArtifact(rt::ArtifactWriter &writer,
                       const std::string &soPath = SSMC_FAKE_MODEL_SO);

/// Writes the fake model to `path` after `mutate` edits the writer; fails the
/// current test on error.
void writeFakeArtifact(
    const std::string &path,
    const std::function<void(rt::ArtifactWriter &)> &mutate = {},
    const std::string &soPath = SSMC_FAKE_MODEL_SO);

/// What the toy computes for a sequence that has seen `tokens` since reset.
std::vector<float> toyLogits(const std::vector<int32_t> &tokens);

/// A fresh directory under $TMPDIR, removed with its files on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  std::string file(const std::string &name) const { return dir + "/" + name; }

private:
  std::string dir;
};

} // namespace test
} // namespace ssmc

#endif
