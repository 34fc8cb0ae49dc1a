//===- ModelGenerator.cpp - Checkpoints with seeded random weights --------===//
//
// Distributions, chosen so that a forward pass keeps activations O(1) and the
// SSM parameters sit where trained Mamba-2 models start (u ~ U[0, 1)):
//
//   embedding            U(-a, a), a = sqrt(3 / D), i.e. std 1/sqrt(D). A tied
//                        head then gives logits of std ~1 (unit-RMS hidden
//                        state dotted with a row of std 1/sqrt(D)).
//   linear weights       U(-a, a), a = sqrt(3 / fan_in), i.e. std 1/sqrt(fan_in):
//                        in_proj, out_proj, q/k/v/o_proj, MLP, untied lm_head.
//   norm weights         U(0.8, 1.2)   block, final and gated mixer norms
//   conv1d.weight        U(-1/sqrt(W), 1/sqrt(W))   PyTorch's Conv1d default
//   conv1d.bias, z_bias  U(-0.1, 0.1)
//   D                    U(0.5, 1.5)
//   A_log                log(U(1, 16))              Mamba-2's A_init_range
//   dt_bias              softplus^-1(dt), dt = exp(U(log 0.001, log 0.1)),
//                        Mamba-2's dt initialization
//
// No element is left at exactly 0, +1 or -1: a value that rounds to one of
// them in the stored dtype moves one unit in the last place away, so a weight
// that a bug ignores (a skipped bias, a norm weight taken as 1) always shows.
//
// Determinism: each tensor is cut into blocks of 2^16 elements; block b of
// tensor `name` draws from a xoshiro256** generator seeded by splitmix64 from
// (seed, FNV-1a(name), b). Values are computed in double (IEEE arithmetic,
// FMA contraction off) and rounded once to the stored dtype, so the bytes are
// the same on every machine, independent of the standard library, and blocks
// could be generated in any order. The rule itself (random numbers, the three
// distribution kinds, rounding) is runtime/WeightSynthesis.h, which the
// runtime also uses to fill the weights of `--synthetic-weights` artifacts at
// load; this file only chooses each tensor's distribution (generatedInit).
//
//===----------------------------------------------------------------------===//

#include "frontends/hf/ModelGenerator.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace ssmc::hf;
using ssmc::ckpt::DType;
using llvm::Error;
using llvm::StringRef;

WeightFormat ssmc::hf::defaultWeightFormat(Family f) {
  switch (f) {
  case Family::Llamba:
  case Family::Llama:
    return WeightFormat::Safetensors;
  case Family::MambaInLlama:
  case Family::Mamba2:
    return WeightFormat::TorchZip;
  }
  return WeightFormat::Safetensors;
}

StringRef ssmc::hf::weightFormatName(WeightFormat f) {
  switch (f) {
  case WeightFormat::Default:
    return "default";
  case WeightFormat::Safetensors:
    return "safetensors";
  case WeightFormat::ShardedSafetensors:
    return "sharded";
  case WeightFormat::TorchZip:
    return "torch";
  }
  return "unknown";
}

namespace {

using ssmc::synth::Distribution;
using ssmc::synth::Init;

Init symmetric(double a) { return {Distribution::Uniform, -a, a}; }

llvm::Expected<ssmc::synth::Element> synthElement(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return ssmc::synth::Element::F32;
  case DType::BF16:
    return ssmc::synth::Element::BF16;
  case DType::F16:
    return ssmc::synth::Element::F16;
  default:
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "model generator: dtype %s is not F32, BF16 or F16",
                                   ssmc::ckpt::dtypeName(dtype).str().c_str());
  }
}

int64_t numElements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

bool isWeightFile(StringRef name) {
  if (name == "model.safetensors" || name == "model.safetensors.index.json" ||
      name == "pytorch_model.bin" || name == "pytorch_model.bin.index.json")
    return true;
  // Shards: model-00001-of-00004.safetensors, pytorch_model-00001-of-00004.bin.
  return (name.starts_with("model-") && name.ends_with(".safetensors") &&
          name.contains("-of-")) ||
         (name.starts_with("pytorch_model-") && name.ends_with(".bin") && name.contains("-of-"));
}

llvm::Expected<std::vector<std::string>> listWeightFiles(StringRef dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec))
    if (isWeightFile(llvm::sys::path::filename(it->path())))
      files.push_back(it->path());
  if (ec)
    return llvm::createStringError(ec, "%s: cannot list directory: %s", dir.str().c_str(),
                                   ec.message().c_str());
  llvm::sort(files);
  return files;
}
} // namespace

llvm::Expected<Init> ssmc::hf::generatedInit(const ExpectedTensor &t) {
  StringRef role = t.role;
  auto fanIn = [&]() -> double { return t.shape.size() >= 2 ? double(t.shape[1]) : 1.0; };
  if (role == "embedding")
    return symmetric(std::sqrt(3.0 / double(t.shape.back())));
  if (llvm::is_contained({"in_proj", "out_proj", "q_proj", "k_proj", "v_proj", "o_proj",
                          "mlp_gate", "mlp_up", "mlp_down", "lm_head"},
                         role))
    return symmetric(std::sqrt(3.0 / fanIn()));
  if (llvm::is_contained({"input_norm", "post_norm", "final_norm", "mixer_norm"}, role))
    return Init{Distribution::Uniform, 0.8, 1.2};
  if (role == "conv_weight")
    return symmetric(1.0 / std::sqrt(double(t.shape.back())));
  if (role == "conv_bias" || role == "z_bias")
    return symmetric(0.1);
  if (role == "D")
    return Init{Distribution::Uniform, 0.5, 1.5};
  if (role == "A_log")
    return Init{Distribution::LogOfUniform, 1.0, 16.0};
  if (role == "dt_bias")
    return Init{Distribution::InvSoftplusLogUniform, 0.001, 0.1};
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "model generator: no distribution for tensor '%s' (role '%s')",
                                 t.name.c_str(), t.role.c_str());
}

int64_t ssmc::hf::parameterCount(const ModelConfig &cfg) {
  int64_t n = 0;
  for (const ExpectedTensor &t : expectedTensors(cfg))
    n += numElements(t.shape);
  return n;
}

std::vector<ssmc::ckpt::TensorSpec> ssmc::hf::generatedTensorSpecs(const ModelConfig &cfg,
                                                                   DType dtype) {
  std::vector<ckpt::TensorSpec> specs;
  for (const ExpectedTensor &t : expectedTensors(cfg)) {
    DType stored = dtype;
    // mamba_ssm creates D without the model dtype, so its checkpoints keep it
    // in float32 next to float16 weights (spec §7.3).
    if (cfg.family == Family::Mamba2 && t.role == "D")
      stored = DType::F32;
    specs.push_back(ckpt::TensorSpec{t.name, stored, t.shape});
  }
  return specs;
}

Error ssmc::hf::fillGeneratedTensor(const ExpectedTensor &t, DType dtype, uint64_t seed,
                                    llvm::MutableArrayRef<uint8_t> out) {
  llvm::Expected<Init> init = generatedInit(t);
  if (!init)
    return init.takeError();
  llvm::Expected<ssmc::synth::Element> element = synthElement(dtype);
  if (!element)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "model generator: tensor '%s': dtype %s is not F32, BF16 or F16",
                                   t.name.c_str(), ckpt::dtypeName(dtype).str().c_str());
  int64_t n = numElements(t.shape);
  unsigned elementSize = ssmc::synth::elementBytes(*element);
  if (out.size() != uint64_t(n) * elementSize)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "model generator: tensor '%s': buffer of %zu bytes for %lld elements of %u bytes",
        t.name.c_str(), out.size(), (long long)n, elementSize);
  uint64_t hash = ssmc::synth::nameHash(t.name);
  for (int64_t block = 0, blocks = ssmc::synth::numBlocks(n); block < blocks; ++block)
    ssmc::synth::fillBlock(*init, seed, hash, n, block, *element, *element,
                           out.data() + block * ssmc::synth::kBlockElements * elementSize);
  return Error::success();
}

Error ssmc::hf::generateCheckpoint(const ModelConfig &cfg, StringRef outDir,
                                   const GenerateOptions &options, GenerateReport *report) {
  if (options.dtype != DType::F32 && options.dtype != DType::BF16 && options.dtype != DType::F16)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "model generator: dtype %s is not supported (F32, BF16, F16)",
                                   ckpt::dtypeName(options.dtype).str().c_str());
  WeightFormat format =
      options.format == WeightFormat::Default ? defaultWeightFormat(cfg.family) : options.format;
  if (format == WeightFormat::ShardedSafetensors && options.maxShardBytes == 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "model generator: the shard size must be positive");

  ModelConfig written = cfg;
  // Llama-style configs record the stored dtype.
  if (cfg.family == Family::Llama || cfg.family == Family::MambaInLlama)
    written.torchDtype = options.dtype == DType::F32    ? "float32"
                         : options.dtype == DType::BF16 ? "bfloat16"
                                                        : "float16";
  if (Error e = writeModelConfig(written, outDir)) // validates and creates outDir
    return e;

  llvm::Expected<std::vector<std::string>> stale = listWeightFiles(outDir);
  if (!stale)
    return stale.takeError();
  for (const std::string &path : *stale)
    if (std::error_code ec = llvm::sys::fs::remove(path))
      return llvm::createStringError(ec, "%s: cannot remove stale weight file: %s", path.c_str(),
                                     ec.message().c_str());

  std::vector<ExpectedTensor> tensors = expectedTensors(cfg);
  std::vector<ckpt::TensorSpec> specs = generatedTensorSpecs(cfg, options.dtype);
  auto fill = [&](size_t index, llvm::MutableArrayRef<uint8_t> out) -> Error {
    if (index >= tensors.size())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "model generator: writer asked for tensor %zu of %zu", index,
                                     tensors.size());
    return fillGeneratedTensor(tensors[index], specs[index].dtype, options.seed, out);
  };

  auto writeWeights = [&]() -> Error {
    llvm::SmallString<256> path(outDir);
    switch (format) {
    case WeightFormat::Default:
    case WeightFormat::Safetensors:
      llvm::sys::path::append(path, "model.safetensors");
      return ckpt::writeSafetensors(path, specs, fill, {{"format", "pt"}});
    case WeightFormat::ShardedSafetensors:
      return ckpt::writeShardedSafetensors(outDir, specs, fill, options.maxShardBytes);
    case WeightFormat::TorchZip: {
      llvm::sys::path::append(path, "pytorch_model.bin");
      // mamba_ssm's state_dict lists the tied head under both names, sharing
      // the embedding's storage.
      std::vector<std::pair<std::string, std::string>> aliases;
      if (cfg.family == Family::Mamba2 && cfg.tieEmbeddings)
        aliases.emplace_back("lm_head.weight", "backbone.embedding.weight");
      return ckpt::writeTorchZip(path, specs, fill, aliases);
    }
    }
    return Error::success();
  };
  if (Error e = writeWeights())
    return e;

  if (report) {
    report->format = format;
    report->files.clear();
    for (StringRef name : {"config.json", "mamba_config.json"}) {
      llvm::SmallString<256> p(outDir);
      llvm::sys::path::append(p, name);
      if (llvm::sys::fs::exists(p))
        report->files.push_back(p.str().str());
    }
    llvm::Expected<std::vector<std::string>> weights = listWeightFiles(outDir);
    if (!weights)
      return weights.takeError();
    llvm::append_range(report->files, *weights);
    report->numParameters = parameterCount(cfg);
    report->weightBytes = 0;
    for (const ckpt::TensorSpec &s : specs)
      report->weightBytes += s.nbytes();
  }
  return Error::success();
}
