//===- FakeArtifact.cpp - Artifacts around the fake model for tests -------===//

#include "FakeArtifact.h"

#include "ssmc/abi.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <unistd.h>

namespace ssmc {
namespace test {

std::vector<uint8_t> readFileBytes(const std::string &path) {
  std::vector<uint8_t> bytes;
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    ADD_FAILURE() << "cannot read " << path;
    return bytes;
  }
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return bytes;
}

void writeFileBytes(const std::string &path, const std::vector<uint8_t> &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(f) << "cannot write " << path;
  if (!bytes.empty()) {
    EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  std::fclose(f);
}

std::string hostTarget() {
  return std::string(rt::hostArchitecture()) == "x86_64" ? "host-x86_64"
                                                         : "aarch64";
}

std::vector<float> fakeBias() {
  std::vector<float> bias(kFakeVocab);
  for (int v = 0; v < kFakeVocab; ++v)
    bias[v] = 0.001f * v;
  return bias;
}

void buildFakeArtifact(rt::ArtifactWriter &writer, const std::string &soPath) {
  rt::Manifest &m = writer.manifest();
  m.ssmcVersion = "0.1.0-test";
  m.family = "toy";
  m.target = hostTarget();
  m.dtype = "f32";
  m.vocabSize = kFakeVocab;
  m.hyperParameters.set("note", rt::JsonValue::makeString(
                                    "test double, not a real model"));
  m.hyperParameters.set("layers", rt::JsonValue::makeInt(1));
  m.abiVersion = SSMC_ABI_VERSION;
  m.prefillEntry = "fake_prefill";
  m.decodeEntry = "fake_decode";
  rt::StateSpec acc;
  acc.name = "acc";
  acc.dtype = "i64";
  acc.perSequenceElements = 2;
  rt::StateSpec kv;
  kv.name = "kv";
  kv.dtype = "i32";
  kv.growsWithContext = true;
  kv.perTokenElements = 1;
  m.states = {acc, kv};
  m.scratchPerToken = 4;
  m.scratchFixed = 64;
  std::vector<float> bias = fakeBias();
  writer.addWeight("bias", "f32", {kFakeVocab}, bias.data(),
                   bias.size() * sizeof(float));
  std::vector<float> unused(100, 1.5f);
  writer.addWeight("unused", "f32", {10, 10}, unused.data(),
                   unused.size() * sizeof(float));
  writer.setCode(readFileBytes(soPath));
}

void writeFakeArtifact(const std::string &path,
                       const std::function<void(rt::ArtifactWriter &)> &mutate,
                       const std::string &soPath) {
  rt::ArtifactWriter writer;
  buildFakeArtifact(writer, soPath);
  if (mutate)
    mutate(writer);
  std::string error;
  ASSERT_TRUE(writer.write(path, error)) << error;
}

std::vector<float> toyLogits(const std::vector<int32_t> &tokens) {
  // Mirrors fake_model.c.
  uint64_t sum = 0, kvHash = 0;
  for (int32_t t : tokens) {
    sum += static_cast<uint64_t>(t);
    kvHash = kvHash * 1000003u + static_cast<uint64_t>(t) + 1;
  }
  uint64_t h = (sum * 131u + kvHash * 17u + tokens.size()) % 2147483647u;
  std::vector<float> bias = fakeBias(), logits(kFakeVocab);
  for (int v = 0; v < kFakeVocab; ++v)
    logits[v] = bias[v] + static_cast<float>((v * 31 + h) % 97) / 97.0f;
  logits[(h * 7 + 3) % kFakeVocab] += 10.0f;
  return logits;
}

TempDir::TempDir() {
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/ssmc-runtime-test-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  if (!mkdtemp(name.data()))
    ADD_FAILURE() << "mkdtemp failed";
  dir = name.data();
}

TempDir::~TempDir() {
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..")
        unlink(file(name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

} // namespace test
} // namespace ssmc
