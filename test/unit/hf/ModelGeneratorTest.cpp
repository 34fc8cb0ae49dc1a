//===- ModelGeneratorTest.cpp - Seeded checkpoint generation --------------===//

#include "TestUtil.h"

#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/ModelConfig.h"
#include "frontends/hf/ModelGenerator.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <cmath>
#include <map>
#include <set>

using namespace ssmc::hf;
using ssmc::ckpt::Checkpoint;
using ssmc::ckpt::DType;
using ssmc::ckpt::TensorInfo;
using ssmc::hf::test::numElements;
using ssmc::hf::test::countParameters;
using ssmc::hf::test::TempDir;

namespace {

const char *const kTinyPresets[] = {"tiny-llamba", "tiny-mamba2", "tiny-mil", "tiny-llama"};

ModelConfig preset(llvm::StringRef name) {
  llvm::Expected<ModelConfig> cfg = presetConfig(name);
  if (!cfg) {
    ADD_FAILURE() << llvm::toString(cfg.takeError());
    return ModelConfig();
  }
  return *cfg;
}

std::string readFile(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf) {
    ADD_FAILURE() << path << ": " << buf.getError().message();
    return "";
  }
  return (*buf)->getBuffer().str();
}

/// Contents of every weight file of a report, by file name.
std::map<std::string, std::string> weightFiles(const GenerateReport &report) {
  std::map<std::string, std::string> out;
  for (const std::string &path : report.files) {
    llvm::StringRef name = llvm::sys::path::filename(path);
    if (name != "config.json" && name != "mamba_config.json")
      out[name.str()] = readFile(path);
  }
  return out;
}

GenerateReport generate(const ModelConfig &cfg, const std::string &dir, GenerateOptions opts) {
  GenerateReport report;
  llvm::Error e = generateCheckpoint(cfg, dir, opts, &report);
  EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
  return report;
}

std::vector<uint8_t> fillTensor(const ExpectedTensor &t, DType dtype, uint64_t seed) {
  std::vector<uint8_t> bytes(size_t(numElements(t.shape)) * ssmc::ckpt::dtypeSize(dtype));
  llvm::Error e = fillGeneratedTensor(t, dtype, seed, bytes);
  EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
  return bytes;
}

std::vector<float> decode(const std::vector<uint8_t> &bytes, DType dtype) {
  std::vector<float> out;
  for (size_t i = 0; i < bytes.size(); i += ssmc::ckpt::dtypeSize(dtype)) {
    if (dtype == DType::F32) {
      uint32_t bits = uint32_t(bytes[i]) | uint32_t(bytes[i + 1]) << 8 |
                      uint32_t(bytes[i + 2]) << 16 | uint32_t(bytes[i + 3]) << 24;
      float f;
      std::memcpy(&f, &bits, 4);
      out.push_back(f);
    } else {
      uint16_t bits = uint16_t(bytes[i] | bytes[i + 1] << 8);
      out.push_back(dtype == DType::BF16 ? ssmc::ckpt::bf16ToFloat(bits)
                                         : ssmc::ckpt::f16ToFloat(bits));
    }
  }
  return out;
}

#define EXPECT_EQ_HASH(a, b) EXPECT_EQ(a, b) << std::hex << "0x" << (a)
uint64_t fnv1a(const std::vector<uint8_t> &bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : bytes)
    h = (h ^ b) * 0x100000001B3ull;
  return h;
}

TEST(ModelGenerator, DefaultFormats) {
  EXPECT_EQ(defaultWeightFormat(Family::Llamba), WeightFormat::Safetensors);
  EXPECT_EQ(defaultWeightFormat(Family::Llama), WeightFormat::Safetensors);
  EXPECT_EQ(defaultWeightFormat(Family::MambaInLlama), WeightFormat::TorchZip);
  EXPECT_EQ(defaultWeightFormat(Family::Mamba2), WeightFormat::TorchZip);
}

TEST(ModelGenerator, Mamba2KeepsDInFloat32) {
  for (const ssmc::ckpt::TensorSpec &s : generatedTensorSpecs(preset("tiny-mamba2"), DType::F16))
    EXPECT_EQ(s.dtype, llvm::StringRef(s.name).ends_with(".mixer.D") ? DType::F32 : DType::F16)
        << s.name;
  for (const ssmc::ckpt::TensorSpec &s : generatedTensorSpecs(preset("tiny-mil"), DType::F16))
    EXPECT_EQ(s.dtype, DType::F16) << s.name;
}

// Pins the generator's output so that a change of algorithm, or a machine
// that computes different bits, shows up here first.
TEST(ModelGenerator, ValuesArePinned) {
  ExpectedTensor linear{"backbone.layers.0.mixer.in_proj.weight", {196, 64}, "in_proj", 0};
  std::vector<uint8_t> f32 = fillTensor(linear, DType::F32, 0);
  std::vector<float> v = decode(f32, DType::F32);
  // a = sqrt(3/64): values lie in (-0.2166, 0.2166).
  for (float x : v)
    ASSERT_LT(std::fabs(x), 0.2166f);
  EXPECT_EQ(v[0], 0.14072620868682861f);
  EXPECT_EQ_HASH(fnv1a(f32), 0x449d232bece48652ull);
  EXPECT_EQ_HASH(fnv1a(fillTensor(linear, DType::BF16, 5)), 0xaac220147b9ed905ull);
  EXPECT_EQ_HASH(fnv1a(fillTensor(linear, DType::F16, 5)), 0x39b35f5c0c559eedull);
  // The two transcendental distributions (libm log/exp/expm1).
  ExpectedTensor dtBias{"model.layers.0.mamba.dt_bias", {4096}, "dt_bias", 0};
  ExpectedTensor aLog{"model.layers.0.mamba.A_log", {4096}, "A_log", 0};
  EXPECT_EQ_HASH(fnv1a(fillTensor(dtBias, DType::F32, 1)), 0x9a6b0a55c459aa61ull);
  EXPECT_EQ_HASH(fnv1a(fillTensor(aLog, DType::F32, 1)), 0x03269b30e31fcc08ull);
}

TEST(ModelGenerator, SameSeedSameValuesOtherSeedOthers) {
  for (const ExpectedTensor &t : expectedTensors(preset("tiny-mamba2"))) {
    for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
      std::vector<uint8_t> a = fillTensor(t, dt, 7), b = fillTensor(t, dt, 7),
                           c = fillTensor(t, dt, 8);
      EXPECT_EQ(a, b) << t.name;
      EXPECT_NE(a, c) << t.name;
    }
  }
}

TEST(ModelGenerator, DistributionsHaveTheirRanges) {
  ModelConfig cfg = preset("tiny-mil");
  for (const ExpectedTensor &t : expectedTensors(cfg)) {
    std::vector<float> v = decode(fillTensor(t, DType::F32, 3), DType::F32);
    double sum = 0, sumSq = 0, lo = 1e30, hi = -1e30;
    for (float x : v) {
      sum += x;
      sumSq += double(x) * x;
      lo = std::min<double>(lo, x);
      hi = std::max<double>(hi, x);
      // No element left at exactly 0 or +-1.
      ASSERT_TRUE(x != 0.0f && x != 1.0f && x != -1.0f) << t.name;
    }
    double mean = sum / double(v.size()), rms = std::sqrt(sumSq / double(v.size()));
    SCOPED_TRACE(t.name);
    if (t.role == "input_norm" || t.role == "post_norm" || t.role == "final_norm" ||
        t.role == "mixer_norm") {
      EXPECT_GE(lo, 0.8);
      EXPECT_LE(hi, 1.2);
    } else if (t.role == "D") {
      EXPECT_GE(lo, 0.5);
      EXPECT_LE(hi, 1.5);
    } else if (t.role == "A_log") {
      EXPECT_GE(lo, 0.0);
      EXPECT_LE(hi, std::log(16.0) + 1e-6);
    } else if (t.role == "dt_bias") {
      // softplus^-1 of dt in [0.001, 0.1].
      EXPECT_GE(lo, std::log(std::expm1(0.001)) - 1e-4);
      EXPECT_LE(hi, std::log(std::expm1(0.1)) + 1e-4);
    } else if (t.role == "conv_bias" || t.role == "z_bias") {
      EXPECT_LE(std::max(-lo, hi), 0.1);
    } else if (t.role == "conv_weight") {
      EXPECT_LE(std::max(-lo, hi), 0.5);
    } else {
      // Linear and embedding weights: std 1/sqrt(fan_in) (embedding: 1/sqrt(D)).
      double fanIn = double(t.shape[1]);
      EXPECT_NEAR(rms * std::sqrt(fanIn), 1.0, 0.1);
      EXPECT_NEAR(mean, 0.0, 3.0 / std::sqrt(fanIn * double(v.size())) + 1e-3);
    }
  }
}

TEST(ModelGenerator, NoExactZeroOrOneInHalfTypes) {
  // bf16 spacing near 1 is 2^-7, so U(0.8, 1.2) would hit 1.0 often unrounded.
  ExpectedTensor norm{"n", {100000}, "input_norm", 0};
  ExpectedTensor small{"s", {100000}, "conv_bias", 0};
  for (DType dt : {DType::BF16, DType::F16}) {
    for (const ExpectedTensor &t : {norm, small})
      for (float x : decode(fillTensor(t, dt, 1), dt))
        ASSERT_TRUE(x != 0.0f && x != 1.0f && x != -1.0f) << t.name;
  }
}

TEST(ModelGenerator, WrongBufferSizeIsAnError) {
  ExpectedTensor t{"x", {4, 4}, "in_proj", 0};
  std::vector<uint8_t> bytes(10);
  llvm::Error e = fillGeneratedTensor(t, DType::F32, 0, bytes);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("'x'"), std::string::npos);
  std::vector<uint8_t> ok(16 * 8);
  llvm::Error e2 = fillGeneratedTensor(t, DType::F64, 0, ok);
  EXPECT_TRUE(bool(e2));
  llvm::consumeError(std::move(e2));
}

//===----------------------------------------------------------------------===//
// Whole checkpoints (through the checkpoint writers and reader)
//===----------------------------------------------------------------------===//

TEST(ModelGenerator, TinyPresetsMatchTheirExpectedTensors) {
  for (const char *name : kTinyPresets) {
    SCOPED_TRACE(name);
    ModelConfig cfg = preset(name);
    TempDir dir;
    GenerateOptions opts;
    opts.dtype = DType::BF16;
    GenerateReport report = generate(cfg, dir.str(), opts);
    EXPECT_EQ(report.format, defaultWeightFormat(cfg.family));
    EXPECT_EQ(report.numParameters, countParameters(cfg));
    llvm::Expected<ModelConfig> back = parseModelConfig(dir.str());
    ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
    EXPECT_EQ(back->family, cfg.family);
    if (cfg.family == Family::Llama || cfg.family == Family::MambaInLlama) {
      EXPECT_EQ(back->torchDtype, "bfloat16");
    }

    auto ckpt = Checkpoint::openDirectory(dir.str());
    ASSERT_TRUE(bool(ckpt)) << llvm::toString(ckpt.takeError());
    std::set<std::string> names;
    for (const TensorInfo &t : (*ckpt)->tensors())
      names.insert(t.name);
    std::set<std::string> want;
    for (const ExpectedTensor &t : expectedTensors(cfg)) {
      want.insert(t.name);
      const TensorInfo *info = (*ckpt)->find(t.name);
      ASSERT_NE(info, nullptr) << t.name;
      EXPECT_EQ(info->shape, t.shape) << t.name;
      EXPECT_EQ(info->dtype, cfg.family == Family::Mamba2 && t.role == "D" ? DType::F32
                                                                           : DType::BF16)
          << t.name;
      // Stored bytes are the generator's.
      llvm::ArrayRef<uint8_t> stored = (*ckpt)->bytes(*info);
      std::vector<uint8_t> expected = fillTensor(t, info->dtype, 0);
      EXPECT_TRUE(stored.equals(expected)) << t.name;
    }
    // mamba_ssm pickles save the tied head under its own name too.
    if (cfg.family == Family::Mamba2 && cfg.tieEmbeddings)
      want.insert("lm_head.weight");
    EXPECT_EQ(names, want);
  }
}

TEST(ModelGenerator, DeterministicBytesPerSeed) {
  for (const char *name : kTinyPresets) {
    SCOPED_TRACE(name);
    ModelConfig cfg = preset(name);
    TempDir a, b, c;
    GenerateOptions opts;
    opts.seed = 42;
    std::map<std::string, std::string> fa = weightFiles(generate(cfg, a.str(), opts));
    std::map<std::string, std::string> fb = weightFiles(generate(cfg, b.str(), opts));
    opts.seed = 43;
    std::map<std::string, std::string> fc = weightFiles(generate(cfg, c.str(), opts));
    ASSERT_FALSE(fa.empty());
    EXPECT_TRUE(fa == fb);
    EXPECT_FALSE(fa == fc);
    EXPECT_EQ(fa.size(), fc.size());
  }
}

TEST(ModelGenerator, FormatsAndStaleFiles) {
  ModelConfig cfg = preset("tiny-llamba");
  TempDir dir;
  GenerateOptions opts;
  opts.format = WeightFormat::TorchZip;
  GenerateReport torch = generate(cfg, dir.str(), opts);
  EXPECT_TRUE(llvm::sys::fs::exists(dir.file("pytorch_model.bin")));

  opts.format = WeightFormat::ShardedSafetensors;
  opts.maxShardBytes = 64 * 1024;
  GenerateReport sharded = generate(cfg, dir.str(), opts);
  EXPECT_FALSE(llvm::sys::fs::exists(dir.file("pytorch_model.bin")));
  EXPECT_TRUE(llvm::sys::fs::exists(dir.file("model.safetensors.index.json")));
  size_t shards = 0;
  for (const std::string &f : sharded.files)
    shards += llvm::StringRef(f).ends_with(".safetensors");
  EXPECT_GT(shards, 1u);
  auto ckpt = Checkpoint::openDirectory(dir.str());
  ASSERT_TRUE(bool(ckpt)) << llvm::toString(ckpt.takeError());
  EXPECT_EQ((*ckpt)->tensors().size(), expectedTensors(cfg).size());

  opts.format = WeightFormat::Safetensors;
  GenerateReport single = generate(cfg, dir.str(), opts);
  EXPECT_FALSE(llvm::sys::fs::exists(dir.file("model.safetensors.index.json")));
  EXPECT_EQ(single.files.size(), 2u); // config.json + model.safetensors
  EXPECT_EQ(single.weightBytes, uint64_t(countParameters(cfg)) * 4);
}

TEST(ModelGenerator, RejectsInvalidConfigAndDType) {
  TempDir dir;
  ModelConfig cfg = preset("tiny-llamba");
  GenerateOptions opts;
  opts.dtype = DType::I32;
  llvm::Error e = generateCheckpoint(cfg, dir.str(), opts);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("I32"), std::string::npos);
  cfg.nLayer = 0;
  llvm::Error e2 = generateCheckpoint(cfg, dir.str(), {});
  ASSERT_TRUE(bool(e2));
  EXPECT_NE(llvm::toString(std::move(e2)).find("nLayer"), std::string::npos);
}

} // namespace
