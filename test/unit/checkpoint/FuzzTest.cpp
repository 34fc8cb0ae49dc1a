//===- FuzzTest.cpp - Mutated files never crash the readers ---------------===//
//
// Flips bytes in and truncates valid files; every attempt must either open
// (and then serve bytes inside the file) or fail with an error.
//
//===----------------------------------------------------------------------===//

#include "CheckpointTestUtils.h"

#include "llvm/ADT/StringExtras.h"

#include <cstdlib>
#include <random>

using namespace llvm;
using namespace ssmc::ckpt;
using namespace ssmc::ckpt::test;

namespace {

/// `base` iterations, times SSMC_FUZZ_SCALE when set (for longer local runs,
/// e.g. under a sanitizer).
int iterations(int base) {
  const char *scale = std::getenv("SSMC_FUZZ_SCALE");
  int factor = scale ? std::atoi(scale) : 1;
  return base * (factor > 0 ? factor : 1);
}

/// Mutates `bytes`: flips a few bytes (half of the time within `hot`, the
/// region holding the structures worth hitting), truncates, or both.
std::string mutate(std::string bytes, std::mt19937 &rng, std::pair<size_t, size_t> hot) {
  std::uniform_int_distribution<int> kind(0, 3);
  int k = kind(rng);
  if (k != 2) {
    int flips = std::uniform_int_distribution<int>(1, 6)(rng);
    for (int f = 0; f < flips && !bytes.empty(); ++f) {
      size_t lo = 0, hi = bytes.size() - 1;
      if (rng() % 2 && hot.first < hot.second && hot.second <= bytes.size()) {
        lo = hot.first;
        hi = hot.second - 1;
      }
      size_t at = std::uniform_int_distribution<size_t>(lo, hi)(rng);
      // Mix bit flips with "interesting" values.
      static const uint8_t special[] = {0x00, 0xff, 0x7f, 0x80, '(', 'R', 'c', 'Q', 'h', 'q'};
      if (rng() % 3 == 0)
        bytes[at] = static_cast<char>(special[rng() % std::size(special)]);
      else
        bytes[at] ^= static_cast<char>(1u << (rng() % 8));
    }
  }
  if (k >= 2 && !bytes.empty())
    bytes.resize(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
  return bytes;
}

/// Opens the mutated file; when that succeeds, touches every tensor.
void openAndTouch(StringRef path, size_t fileSize, int &opened, int &failed) {
  Expected<std::unique_ptr<Checkpoint>> ck = Checkpoint::openFile(path);
  if (!ck) {
    std::string msg = toString(ck.takeError());
    EXPECT_FALSE(msg.empty());
    ++failed;
    return;
  }
  ++opened;
  for (const TensorInfo &t : (*ck)->tensors()) {
    ASSERT_LE(t.offset, fileSize) << t.name;
    ASSERT_LE(t.nbytes, fileSize - t.offset) << t.name;
    ArrayRef<uint8_t> bytes = (*ck)->bytes(t);
    ASSERT_EQ(bytes.size(), t.nbytes) << t.name;
    uint8_t sum = 0;
    for (uint8_t b : bytes)
      sum ^= b;
    (void)sum;
    if (t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16 ||
        t.dtype == DType::F64) {
      Expected<std::vector<float>> f = (*ck)->readAsF32(t);
      ASSERT_TRUE(bool(f)) << toString(f.takeError());
    } else {
      consumeError((*ck)->readAsF64(t).takeError());
    }
  }
}

void fuzzFile(const TempDir &dir, const std::string &valid, std::pair<size_t, size_t> hot,
              unsigned seed, int iterations) {
  std::mt19937 rng(seed);
  std::string path = dir.path("fuzz.bin");
  int opened = 0, failed = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string bytes = mutate(valid, rng, hot);
    writeFile(path, bytes);
    openAndTouch(path, bytes.size(), opened, failed);
    if (::testing::Test::HasFatalFailure())
      return;
  }
  EXPECT_EQ(opened + failed, iterations);
  EXPECT_GT(failed, 0) << "mutations should hit validation";
}

} // namespace

TEST(Fuzz, Safetensors) {
  TempDir dir;
  std::string path = dir.path("valid.safetensors");
  ASSERT_EQ(errorMessage(writeSafetensors(path, everyDtypeSpecs(), fillPattern, {{"k", "v"}})), "");
  std::string valid = readFile(path);
  uint64_t headerEnd = 8 + (static_cast<uint8_t>(valid[0]) | static_cast<uint8_t>(valid[1]) << 8);
  fuzzFile(dir, valid, {0, headerEnd}, 1234, iterations(400));
}

TEST(Fuzz, TorchZip) {
  TempDir dir;
  std::string path = dir.path("valid.bin");
  ASSERT_EQ(
      errorMessage(writeTorchZip(path, everyDtypeSpecs(), fillPattern, {{"alias", "model.f32"}})),
      "");
  std::string valid = readFile(path);
  // The central directory and end records are the last ~1.3 KB.
  size_t hotStart = valid.size() > 1400 ? valid.size() - 1400 : 0;
  fuzzFile(dir, valid, {hotStart, valid.size()}, 5678, iterations(400));
  // And the local headers / pickle at the front.
  fuzzFile(dir, valid, {0, 1024}, 91011, iterations(200));
}

TEST(Fuzz, Unpickler) {
  // data.pkl is CRC-protected inside archives, so mutate it directly.
  std::vector<PickledTensor> tensors;
  for (int i = 0; i < 4; ++i)
    tensors.push_back({"layer." + std::to_string(i),
                       i % 2 ? DType::BF16 : DType::F32,
                       std::to_string(i),
                       12,
                       0,
                       {3, 4},
                       {4, 1}});
  tensors.push_back({"tied", DType::F32, "0", 12, 0, {3, 4}, {4, 1}});
  std::string valid = pickleStateDict(tensors);
  {
    Expected<std::vector<PickledTensor>> r = unpickleStateDict("v", arrayRefFromStringRef(valid));
    ASSERT_TRUE(bool(r)) << toString(r.takeError());
    ASSERT_EQ(r->size(), 5u);
    EXPECT_EQ((*r)[4].name, "tied");
    EXPECT_EQ((*r)[4].storageKey, "0");
    EXPECT_EQ((*r)[1].dtype, DType::BF16);
    EXPECT_EQ((*r)[1].stride, (std::vector<int64_t>{4, 1}));
  }
  std::mt19937 rng(42);
  int ok = 0, bad = 0;
  for (int i = 0, n = iterations(5000); i < n; ++i) {
    std::string bytes = mutate(valid, rng, {0, valid.size()});
    Expected<std::vector<PickledTensor>> r = unpickleStateDict("m", arrayRefFromStringRef(bytes));
    if (r)
      ++ok;
    else {
      EXPECT_FALSE(toString(r.takeError()).empty());
      ++bad;
    }
  }
  EXPECT_GT(bad, 0);
  // Pure noise.
  for (int i = 0, n = iterations(2000); i < n; ++i) {
    std::string bytes(rng() % 256, '\0');
    for (char &c : bytes)
      c = static_cast<char>(rng());
    consumeError(unpickleStateDict("n", arrayRefFromStringRef(bytes)).takeError());
  }
}
