//===- ArtifactTest.cpp - .ssmx writer, reader and every validation -------===//

#include "FakeArtifact.h"

#include "runtime/Artifact.h"
#include "runtime/Runtime.h"
#include "ssmc/abi.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace ssmc;
using namespace ssmc::test;
using rt::ArtifactHeader;
using rt::ArtifactReader;
using rt::ArtifactWriter;

namespace {

class RuntimeArtifact : public ::testing::Test {
protected:
  void SetUp() override {
    path = tmp.file("model.ssmx");
    writeFakeArtifact(path);
    bytes = readFileBytes(path);
  }

  /// Loads `path` (fully, code included) and returns the error, or "" when
  /// it loaded.
  std::string loadError(const std::string &p) {
    std::string error;
    std::shared_ptr<rt::Model> model = rt::Model::load(p, error);
    if (model)
      return "";
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(error.rfind(p + ": ", 0), 0u) << "message must name the file: "
                                            << error;
    return error;
  }

  /// Writes `mutated` next to the original and returns its load error.
  std::string loadErrorOf(const std::vector<uint8_t> &mutated) {
    std::string p = tmp.file("mutated.ssmx");
    writeFileBytes(p, mutated);
    return loadError(p);
  }

  /// Applies `edit` to the decoded header and re-encodes it with a valid
  /// header checksum.
  std::vector<uint8_t>
  withHeader(const std::function<void(ArtifactHeader &)> &edit) {
    ArtifactHeader header;
    std::string error;
    EXPECT_TRUE(header.decode(bytes.data(), bytes.size(), error)) << error;
    edit(header);
    std::vector<uint8_t> out = bytes;
    header.encode(out.data());
    return out;
  }

  std::string errorOfArtifact(
      const std::function<void(ArtifactWriter &)> &mutate,
      const std::string &soPath = SSMC_FAKE_MODEL_SO) {
    std::string p = tmp.file("variant.ssmx");
    writeFakeArtifact(p, mutate, soPath);
    return loadError(p);
  }

  TempDir tmp;
  std::string path;
  std::vector<uint8_t> bytes;
};

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)            \
      << "expected '" << (needle) << "' in: " << (haystack)

TEST_F(RuntimeArtifact, RoundTrip) {
  ArtifactReader reader;
  std::string error;
  ASSERT_TRUE(reader.open(path, error)) << error;
  const rt::Manifest &m = reader.manifest();
  EXPECT_EQ(m.family, "toy");
  EXPECT_EQ(m.target, hostTarget());
  EXPECT_EQ(m.vocabSize, kFakeVocab);
  EXPECT_EQ(m.abiVersion, SSMC_ABI_VERSION);
  EXPECT_EQ(m.prefillEntry, "fake_prefill");
  ASSERT_EQ(m.states.size(), 2u);
  EXPECT_EQ(m.states[1].name, "kv");
  EXPECT_TRUE(m.states[1].growsWithContext);
  EXPECT_EQ(m.states[1].perTokenElements, 1u);
  EXPECT_EQ(m.scratchPerToken, 4u);
  EXPECT_EQ(m.hyperParameters.find("layers")->getInt(), 1);
  ASSERT_EQ(m.weights.size(), 2u);
  EXPECT_EQ(m.weights[1].name, "unused");
  EXPECT_EQ(m.weights[1].shape, (std::vector<int64_t>{10, 10}));
  EXPECT_EQ(m.weights[1].offset % rt::kWeightAlignment, 0u);

  // Sections come back byte for byte; weights are 64-byte aligned in memory.
  std::vector<uint8_t> so = readFileBytes(SSMC_FAKE_MODEL_SO);
  ASSERT_EQ(reader.codeBytes(), so.size());
  EXPECT_EQ(std::memcmp(reader.code(), so.data(), so.size()), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(reader.weights()) % 64, 0u);
  std::vector<float> bias = fakeBias();
  EXPECT_EQ(std::memcmp(reader.weights() + m.weights[0].offset, bias.data(),
                        bias.size() * sizeof(float)),
            0);
  float unused;
  std::memcpy(&unused, reader.weights() + m.weights[1].offset, sizeof(float));
  EXPECT_EQ(unused, 1.5f);

  // The manifest is readable JSON and re-serializes to an equal manifest.
  rt::JsonValue json;
  ASSERT_TRUE(rt::parseJson(reader.manifestText(), json, error)) << error;
  EXPECT_EQ(json.serialize(), m.toJson().serialize());
  EXPECT_EQ(loadError(path), "");
}

TEST_F(RuntimeArtifact, WeightChecksumCoversBothEndsAndSize) {
  std::vector<uint8_t> big(3u << 20, 7);
  uint32_t base = rt::weightSectionChecksum(big.data(), big.size());
  big[10] = 8; // head window
  EXPECT_NE(rt::weightSectionChecksum(big.data(), big.size()), base);
  big[10] = 7;
  big[big.size() - 10] = 8; // tail window
  EXPECT_NE(rt::weightSectionChecksum(big.data(), big.size()), base);
  big[big.size() - 10] = 7;
  big[big.size() / 2] = 8; // middle: deliberately not covered (fast loads)
  EXPECT_EQ(rt::weightSectionChecksum(big.data(), big.size()), base);
  EXPECT_NE(rt::weightSectionChecksum(big.data(), big.size() - 1), base);
}

TEST_F(RuntimeArtifact, MissingFile) {
  EXPECT_CONTAINS(loadError(tmp.file("absent.ssmx")), "cannot open");
}

TEST_F(RuntimeArtifact, BadMagic) {
  std::vector<uint8_t> b = bytes;
  b[0] = 'X';
  EXPECT_CONTAINS(loadErrorOf(b), "bad magic");
}

TEST_F(RuntimeArtifact, UnsupportedFormatVersion) {
  std::vector<uint8_t> b = bytes;
  b[8] = 2; // format version field
  EXPECT_CONTAINS(loadErrorOf(b), "unsupported artifact format version 2");
}

TEST_F(RuntimeArtifact, HeaderChecksum) {
  std::vector<uint8_t> b = bytes;
  b[30] ^= 1; // inside manifestOffset
  EXPECT_CONTAINS(loadErrorOf(b), "header checksum mismatch");
}

TEST_F(RuntimeArtifact, TruncatedFile) {
  std::vector<uint8_t> b(bytes.begin(), bytes.begin() + 100);
  EXPECT_CONTAINS(loadErrorOf(b), "smaller than the 128-byte header");
  b.assign(bytes.begin(), bytes.end() - 10);
  EXPECT_CONTAINS(loadErrorOf(b), "(truncated)");
  b = bytes;
  b.push_back(0);
  EXPECT_CONTAINS(loadErrorOf(b), "(trailing data)");
  EXPECT_CONTAINS(loadErrorOf({}), "smaller than the 128-byte header");
}

TEST_F(RuntimeArtifact, ChecksumMismatches) {
  ArtifactHeader h;
  std::string error;
  ASSERT_TRUE(h.decode(bytes.data(), bytes.size(), error));
  std::vector<uint8_t> b = bytes;
  b[h.manifestOffset + 5] ^= 0x20;
  EXPECT_CONTAINS(loadErrorOf(b), "manifest checksum mismatch");
  b = bytes;
  b[h.codeOffset + h.codeBytes / 2] ^= 1;
  EXPECT_CONTAINS(loadErrorOf(b), "code section checksum mismatch");
  b = bytes;
  b[h.weightsOffset + 3] ^= 1;
  EXPECT_CONTAINS(loadErrorOf(b), "weight section checksum mismatch");
}

TEST_F(RuntimeArtifact, SectionsOutsideFile) {
  EXPECT_CONTAINS(loadErrorOf(withHeader([](ArtifactHeader &h) {
                    h.weightsOffset = uint64_t(1) << 40;
                  })),
                  "weight section [1099511627776, +");
  EXPECT_CONTAINS(loadErrorOf(withHeader([](ArtifactHeader &h) {
                    h.codeBytes = UINT64_MAX; // offset + size overflows
                  })),
                  "code section");
  EXPECT_CONTAINS(loadErrorOf(withHeader([](ArtifactHeader &h) {
                    h.manifestOffset = 0;
                  })),
                  "manifest section [0, +");
  EXPECT_CONTAINS(loadErrorOf(withHeader([](ArtifactHeader &h) {
                    h.codeOffset = h.manifestOffset;
                  })),
                  "overlap");
  EXPECT_CONTAINS(loadErrorOf(withHeader([](ArtifactHeader &h) {
                    h.weightsOffset += 1;
                    h.weightsBytes -= 1;
                  })),
                  "not 64-byte aligned");
}

TEST_F(RuntimeArtifact, MalformedManifestJson) {
  std::string p = tmp.file("badjson.ssmx");
  std::string error;
  std::vector<uint8_t> so = readFileBytes(SSMC_FAKE_MODEL_SO);
  ASSERT_TRUE(rt::writeArtifactFile(p, "{\"format_version\": 1,,}", so,
                                    nullptr, 0, error))
      << error;
  EXPECT_CONTAINS(loadError(p), "malformed manifest JSON: offset 21");
  ASSERT_TRUE(rt::writeArtifactFile(p, "[1]", so, nullptr, 0, error));
  EXPECT_CONTAINS(loadError(p), "manifest must be a JSON object");
}

TEST_F(RuntimeArtifact, ManifestSchemaErrors) {
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().vocabSize = 0;
                  }),
                  "vocab_size = 0 is out of range");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().hyperParameters.set("max_prefill_tokens",
                                                     rt::JsonValue::makeInt(0));
                  }),
                  "hyper_parameters.max_prefill_tokens = 0 is out of range");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().hyperParameters.set("max_prefill_tokens",
                                                     rt::JsonValue::makeString("8K"));
                  }),
                  "hyper_parameters.max_prefill_tokens must be an integer");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().prefillEntry = "";
                  }),
                  "entry_points.prefill must not be empty");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().states[0].dtype = "complex";
                  }),
                  "states[0].dtype 'complex' is not a known element type");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().states[1].name = "acc";
                  }),
                  "duplicate state name 'acc'");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().weights[0].offset = 1 << 20;
                  }),
                  "weight 'bias' at [1048576, +256) lies outside");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().weights[1].shape = {10, 11};
                  }),
                  "weight 'unused' has 400 bytes, which does not match");

  // Missing and mistyped fields, through raw JSON.
  std::string p = tmp.file("schema.ssmx");
  ArtifactWriter w;
  buildFakeArtifact(w);
  std::vector<uint8_t> so = readFileBytes(SSMC_FAKE_MODEL_SO);
  std::string error;
  rt::JsonValue json = w.manifest().toJson();
  rt::JsonValue noVocab = rt::JsonValue::makeObject();
  for (const auto &member : json.getObject())
    if (member.first != "vocab_size")
      noVocab.set(member.first, member.second);
  ASSERT_TRUE(rt::writeArtifactFile(p, noVocab.serialize(), so, nullptr, 0,
                                    error));
  EXPECT_CONTAINS(loadError(p), "invalid manifest: vocab_size is missing");
  rt::JsonValue mistyped = json;
  mistyped.set("states", rt::JsonValue::makeString("none"));
  ASSERT_TRUE(rt::writeArtifactFile(p, mistyped.serialize(), so, nullptr, 0,
                                    error));
  EXPECT_CONTAINS(loadError(p), "states must be an array");
}

TEST_F(RuntimeArtifact, WrongTargetArchitecture) {
  std::string other =
      std::string(rt::hostArchitecture()) == "x86_64" ? "aarch64"
                                                      : "host-x86_64";
  EXPECT_CONTAINS(errorOfArtifact([&](ArtifactWriter &w) {
                    w.manifest().target = other;
                  }),
                  std::string("but this host is ") + rt::hostArchitecture());
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().target = "metal-apple7";
                  }),
                  "target 'metal-apple7' needs a device launcher");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().target = "cuda-sm75";
                  }),
                  "target 'cuda-sm75' is not a CUDA target this runtime knows");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().target = "riscv-pdp11";
                  }),
                  "unknown target 'riscv-pdp11'");
}

TEST_F(RuntimeArtifact, RequiredCpuFeatures) {
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().cpuFeatures = {"ssmc-test-no-such-feature"};
                  }),
                  "requires CPU feature 'ssmc-test-no-such-feature'");
  // A feature every host of the architecture has is accepted.
  std::string baseline =
      std::string(rt::hostArchitecture()) == "x86_64" ? "sse2" : "asimd";
  EXPECT_TRUE(rt::hostHasCpuFeature(baseline));
  EXPECT_EQ(errorOfArtifact([&](ArtifactWriter &w) {
              w.manifest().cpuFeatures = {baseline};
            }),
            "");
  // Reading without the target check accepts a foreign target.
  std::string p = tmp.file("foreign.ssmx");
  writeFakeArtifact(p, [](ArtifactWriter &w) {
    w.manifest().cpuFeatures = {"ssmc-test-no-such-feature"};
  });
  ArtifactReader reader;
  std::string error;
  ArtifactReader::Options options;
  options.checkTarget = false;
  EXPECT_TRUE(reader.open(p, options, error)) << error;
}

TEST_F(RuntimeArtifact, MissingEntrySymbol) {
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().decodeEntry = "fake_no_such_entry";
                  }),
                  "does not export the decode entry point "
                  "'fake_no_such_entry'");
}

TEST_F(RuntimeArtifact, AbiVersionMismatch) {
  EXPECT_CONTAINS(errorOfArtifact({}, SSMC_FAKE_MODEL_BADABI_SO),
                  "code section was built for ABI version 999");
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.manifest().abiVersion = SSMC_ABI_VERSION + 1;
                  }),
                  "manifest declares code ABI version");
}

TEST_F(RuntimeArtifact, CodeSectionNotASharedObject) {
  EXPECT_CONTAINS(errorOfArtifact([](ArtifactWriter &w) {
                    w.setCode(std::vector<uint8_t>(200, 0x90));
                  }),
                  "cannot load the code section");
}

// Random byte flips anywhere in a valid artifact: loading either succeeds or
// fails with a message naming the file; it never crashes.
TEST_F(RuntimeArtifact, FuzzByteFlips) {
  uint64_t rng = 2024;
  int failures = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> b = bytes;
    int flips = 1 + static_cast<int>(rt::nextRandom(&rng) % 4);
    for (int k = 0; k < flips; ++k) {
      // Bias half of the flips into the header and manifest.
      uint64_t r = rt::nextRandom(&rng);
      size_t at = (r & 1) ? (r >> 1) % 1024 : (r >> 1) % b.size();
      b[at % b.size()] ^= static_cast<uint8_t>(1 + (r >> 40) % 255);
    }
    if (!loadErrorOf(b).empty())
      ++failures;
  }
  EXPECT_GT(failures, 250);
}

// Mutated manifest text with valid checksums exercises the JSON reader and
// the schema checks behind the checksums.
TEST_F(RuntimeArtifact, FuzzManifestText) {
  ArtifactWriter w;
  buildFakeArtifact(w);
  const std::string text = w.manifest().toJson().serialize(1);
  std::vector<uint8_t> so = readFileBytes(SSMC_FAKE_MODEL_SO);
  std::vector<uint8_t> weights(4096, 0);
  std::string p = tmp.file("fuzz.ssmx");
  uint64_t rng = 7;
  const char replacements[] = "{}[]\":,0123456789-.eEtrufalsn \\x";
  for (int i = 0; i < 300; ++i) {
    std::string mutated = text;
    uint64_t r = rt::nextRandom(&rng);
    switch (r % 3) {
    case 0: // replace characters
      for (int k = 0; k < 3; ++k) {
        uint64_t q = rt::nextRandom(&rng);
        mutated[q % mutated.size()] =
            replacements[(q >> 32) % (sizeof(replacements) - 1)];
      }
      break;
    case 1: // truncate
      mutated.resize((r >> 8) % mutated.size());
      break;
    default: // delete a span
      mutated.erase((r >> 8) % mutated.size(), (r >> 40) % 16);
      break;
    }
    std::string error;
    ASSERT_TRUE(rt::writeArtifactFile(p, mutated, so, weights.data(),
                                      weights.size(), error));
    loadError(p); // checks the message shape when it fails
  }
}

} // namespace
