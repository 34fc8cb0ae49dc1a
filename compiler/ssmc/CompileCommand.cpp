//===- CompileCommand.cpp - ssmc compile ----------------------------------===//
//
// `ssmc compile <checkpoint-dir> --target host|aarch64|cuda [--dotprod]
//  [--sm 80|90] [--dtype f32|bf16|f16] [--emit=mlir|llvm|asm|obj|artifact]
//  [--print-ir-after-all] [--print-ir-after=<pass>] -o <out>`: imports, lowers
// and emits a model. The artifact holds the shared object (model code +
// generated launch code; for CUDA the host code with the embedded PTX/cubin),
// the weight section laid out as `ssm-bind-weights` decided (each weight
// converted from the checkpoint's type to the model type when --dtype asks
// for another), and the manifest.
//
// `ssmc compile --preset P --synthetic-weights [--seed N] ...` needs no
// checkpoint: the model is the preset's config, the tensor table the one
// `ssmc make-model` writes for it, and the artifact stores no weights. Its
// manifest records the seed and, per weight, the distribution make-model
// draws it from; the runtime fills the section at load with the same rule
// (runtime/WeightSynthesis.h), so the artifact computes exactly what the
// compiled `make-model --preset P --seed N --dtype T` checkpoint computes.
//
//===----------------------------------------------------------------------===//

#include "compiler/ssmc-opt/Registration.h"
#include "compiler/ssmc/Commands.h"
#include "dialects/ssm/SSMOps.h"
#include "frontends/checkpoint/Checkpoint.h"
#include "frontends/hf/HFImporter.h"
#include "frontends/hf/ModelGenerator.h"
#include "runtime/Artifact.h"
#include "runtime/include/ssmc/abi.h"
#include "targets/cpu/CPUTarget.h"
#include "targets/cuda/CUDATarget.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <map>
#include <optional>
#include <string>

using namespace mlir;

namespace {
const char *kUsage =
    "USAGE: ssmc compile <checkpoint-dir> [--target host|aarch64|cuda] [--dotprod]\n"
    "         [--sm 80|90] [--dtype f32|bf16|f16] -o <out> [--emit=mlir|llvm|asm|obj|artifact]\n"
    "         [--print-ir-after-all] [--print-ir-after=<pass>] [--scan=loop|all-chunks]\n"
    "         [--pass-options='<pass>{key=value ...}']...\n"
    "  Compiles a checkpoint into a deployable artifact (default, .ssmx) or emits\n"
    "  an intermediate stage: the lowered MLIR, LLVM IR, assembly or an object file.\n"
    "  --target host     x86-64 of this machine (AVX2/FMA when present)\n"
    "  --target aarch64  AArch64 with NEON (--dotprod adds +dotprod)\n"
    "  --target cuda     NVIDIA GPU (--sm 80 or 90, default 90): --emit=llvm is the\n"
    "                    kernels' NVVM LLVM IR, --emit=asm their PTX; the artifact\n"
    "                    embeds PTX and, when ptxas is found, a cubin\n"
    "  --dtype T         weights and activations in T (state stays f32); the\n"
    "                    checkpoint's weights are converted (round to nearest\n"
    "                    even). Default: the checkpoint's own types.\n"
    "  --scan=S          the chunked scan's schedule: `loop` (one chunk after the\n"
    "                    other; default on CPUs) or `all-chunks` (every whole\n"
    "                    chunk in the same kernels; default on CUDA)\n"
    "  --pass-options=P  sets options of a pass of the target's pipeline, e.g.\n"
    "                    'ssm-gpu-tile-contractions{ldmatrix=false}' (repeatable;\n"
    "                    `ssmc-opt --help` lists each pass's options)\n"
    "\n"
    "USAGE: ssmc compile --preset NAME --synthetic-weights [--seed N] [--dtype T] [options] -o <out>\n"
    "  Compiles a preset (ssmc make-model --list-presets) without a checkpoint:\n"
    "  the artifact stores no weights; the runtime fills them at load, exactly\n"
    "  as `ssmc make-model --preset NAME --seed N --dtype T` writes them\n"
    "  (default seed 0, dtype f32), so real-size models make artifacts of a\n"
    "  few MB.\n";

int fail(const llvm::Twine &message) {
  llvm::errs() << "ssmc compile: error: " << message << "\n";
  return 1;
}

/// Where `--synthetic-weights` takes the weight table from.
struct SyntheticSource {
  ssmc::hf::ModelConfig cfg;
  ssmc::ckpt::DType dtype = ssmc::ckpt::DType::F32;
  uint64_t seed = 0;
};

std::string dtypeOf(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isBF16())
    return "bf16";
  if (t.isF16())
    return "f16";
  return "unknown";
}

/// The checkpoint element type of a float IR type (F32, BF16, F16).
std::optional<ssmc::ckpt::DType> ckptDTypeOf(Type t) {
  if (t.isF32())
    return ssmc::ckpt::DType::F32;
  if (t.isBF16())
    return ssmc::ckpt::DType::BF16;
  if (t.isF16())
    return ssmc::ckpt::DType::F16;
  return std::nullopt;
}

/// Name of the ssm.weight feeding operand `operand` of the first `Op` in
/// @forward ("" if there is none).
template <typename Op> std::string weightNameOf(ModuleOp module, unsigned operand) {
  std::string name;
  module.walk([&](Op op) {
    if (auto w = op->getOperand(operand).template getDefiningOp<ssmc::ssm::WeightOp>())
      name = w.getName().str();
    return WalkResult::interrupt();
  });
  return name;
}

/// The per-sequence state arguments of the imported @forward, in order.
llvm::Expected<std::vector<ssmc::cpu::StateArg>> collectStates(ModuleOp module) {
  std::vector<ssmc::cpu::StateArg> states;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward)
    return llvm::createStringError("imported module has no @forward");
  // The launch code reads one row of logits per sequence.
  auto logits = forward.getNumResults() > 0
                    ? dyn_cast<RankedTensorType>(forward.getFunctionType().getResult(0))
                    : RankedTensorType();
  if (!logits || logits.getRank() != 3 || logits.getDimSize(1) != 1)
    return llvm::createStringError(
        "@forward must return the logits after each sequence's last token (B x 1 x V)");
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    Type t = forward.getArgument(i).getType();
    auto name = forward.getArgAttrOfType<StringAttr>(i, "ssm.name");
    std::string argName = name ? name.str() : "arg" + std::to_string(i);
    ArrayRef<int64_t> shape;
    Type element;
    bool grows = false;
    if (auto kv = dyn_cast<ssmc::ssm::KVCacheType>(t)) {
      // Lowered as [batch, context, K/V, kv heads, head dim] (AttentionLowering.h).
      states.push_back({argName, {2, kv.getShape()[0], kv.getShape()[1]},
                        kv.getElementType().getIntOrFloatBitWidth() / 8,
                        dtypeOf(kv.getElementType()), /*growsWithContext=*/true});
      continue;
    }
    if (auto c = dyn_cast<ssmc::ssm::ConvStateType>(t)) {
      shape = c.getShape();
      element = c.getElementType();
    } else if (auto s = dyn_cast<ssmc::ssm::SSMStateType>(t)) {
      shape = s.getShape();
      element = s.getElementType();
    } else {
      continue;
    }
    if (!element.isF32())
      return llvm::createStringError("'" + argName + "': only f32 state is supported");
    states.push_back({argName, std::vector<int64_t>(shape.begin(), shape.end()), 4, "f32", grows});
  }
  return states;
}


/// Writes the artifact: manifest, the code (a shared object) and the weight
/// section exactly as ssm-bind-weights laid it out.
int writeArtifact(ModuleOp module, const std::string &dir, const SyntheticSource *synthetic,
                  const std::string &output, const std::string &family,
                  const std::string &artifactTarget,
                  const std::vector<std::string> &cpuFeatures, const std::string &dtype,
                  int64_t vocab, const ssmc::rt::JsonValue &hyper,
                  const std::vector<ssmc::cpu::StateArg> &states,
                  const std::vector<char> &shared) {
  ssmc::rt::ArtifactWriter writer;
  ssmc::rt::Manifest &m = writer.manifest();
  m.ssmcVersion = SSMC_VERSION;
  m.family = family;
  m.target = artifactTarget;
  m.cpuFeatures = cpuFeatures;
  m.dtype = dtype;
  m.vocabSize = vocab;
  m.hyperParameters = hyper;
  m.abiVersion = SSMC_ABI_VERSION;
  m.prefillEntry = "ssmc_prefill";
  m.decodeEntry = "ssmc_decode";
  for (const ssmc::cpu::StateArg &s : states) {
    ssmc::rt::StateSpec spec;
    spec.name = s.name;
    spec.dtype = s.dtype;
    uint64_t elems = 1;
    for (int64_t d : s.shape)
      elems *= d;
    spec.growsWithContext = s.growsWithContext;
    (s.growsWithContext ? spec.perTokenElements : spec.perSequenceElements) = elems;
    m.states.push_back(spec);
  }
  writer.setCode(std::vector<uint8_t>(shared.begin(), shared.end()));

  auto layout = module->getAttrOfType<ArrayAttr>("ssm.weight_layout");
  if (!layout)
    return fail("internal error: the lowered module has no ssm.weight_layout");
  auto checkOffset = [&](const std::string &name, int64_t offset) {
    if (static_cast<int64_t>(m.weights.back().offset) == offset)
      return 0;
    return fail("internal error: weight '" + name + "' landed at offset " +
                llvm::Twine(m.weights.back().offset) + ", the code expects " +
                llvm::Twine(offset));
  };

  if (synthetic) {
    // No bytes: per weight the distribution make-model draws it from and
    // the type it generates it in (Mamba-2's D: f32), which the runtime
    // converts to the compiled type as the checkpoint path below would.
    std::map<std::string, ssmc::hf::ExpectedTensor> tensors;
    for (const ssmc::hf::ExpectedTensor &t : ssmc::hf::expectedTensors(synthetic->cfg))
      tensors.emplace(t.name, t);
    std::map<std::string, ssmc::ckpt::DType> generated;
    for (const ssmc::ckpt::TensorSpec &spec :
         ssmc::hf::generatedTensorSpecs(synthetic->cfg, synthetic->dtype))
      generated.emplace(spec.name, spec.dtype);
    for (Attribute a : layout) {
      auto entry = cast<DictionaryAttr>(a);
      std::string name = cast<StringAttr>(entry.get("name")).str();
      int64_t offset = cast<IntegerAttr>(entry.get("offset")).getInt();
      int64_t bytes = cast<IntegerAttr>(entry.get("bytes")).getInt();
      auto type = cast<RankedTensorType>(cast<TypeAttr>(entry.get("type")).getValue());
      auto t = tensors.find(name);
      std::optional<ssmc::ckpt::DType> want = ckptDTypeOf(type.getElementType());
      if (t == tensors.end() || !want ||
          static_cast<int64_t>(ssmc::ckpt::dtypeSize(*want)) * type.getNumElements() != bytes)
        return fail("internal error: weight '" + name +
                    "' of the compiled layout is not a generated tensor");
      llvm::Expected<ssmc::synth::Init> init = ssmc::hf::generatedInit(t->second);
      if (!init)
        return fail(llvm::toString(init.takeError()));
      ssmc::rt::WeightInit weightInit;
      weightInit.distribution = ssmc::synth::distributionName(init->kind);
      weightInit.lo = init->lo;
      weightInit.hi = init->hi;
      weightInit.generatedDtype = llvm::StringRef(
          ssmc::ckpt::dtypeName(generated.at(name))).lower();
      writer.addSyntheticWeight(
          name, dtypeOf(type.getElementType()),
          std::vector<int64_t>(type.getShape().begin(), type.getShape().end()), bytes,
          weightInit, synthetic->seed);
      if (int rc = checkOffset(name, offset))
        return rc;
    }
  } else {
    // The weight section, exactly as ssm-bind-weights laid it out, each
    // weight converted from its stored type to the type the code reads.
    auto ck = ssmc::ckpt::Checkpoint::openDirectory(dir);
    if (!ck)
      return fail(llvm::toString(ck.takeError()));
    for (Attribute a : layout) {
      auto entry = cast<DictionaryAttr>(a);
      std::string name = cast<StringAttr>(entry.get("name")).str();
      int64_t offset = cast<IntegerAttr>(entry.get("offset")).getInt();
      int64_t bytes = cast<IntegerAttr>(entry.get("bytes")).getInt();
      auto type = cast<RankedTensorType>(cast<TypeAttr>(entry.get("type")).getValue());
      const ssmc::ckpt::TensorInfo *t = (*ck)->find(name);
      std::optional<ssmc::ckpt::DType> want = ckptDTypeOf(type.getElementType());
      if (!t || !want || t->numElements() != type.getNumElements() ||
          static_cast<int64_t>(ssmc::ckpt::dtypeSize(*want)) * type.getNumElements() != bytes)
        return fail(dir + ": tensor '" + name + "' does not match the compiled layout");
      llvm::ArrayRef<uint8_t> data = (*ck)->bytes(*t);
      std::vector<uint8_t> converted;
      if (t->dtype != *want) {
        converted.resize(bytes);
        if (llvm::Error e = ssmc::ckpt::convertFloatElements(t->dtype, data, *want, converted))
          return fail(dir + ": tensor '" + name + "': " + llvm::toString(std::move(e)));
        data = converted;
      }
      writer.addWeight(name, dtypeOf(type.getElementType()),
                       std::vector<int64_t>(type.getShape().begin(), type.getShape().end()),
                       data.data(), data.size());
      if (int rc = checkOffset(name, offset))
        return rc;
    }
  }
  std::string error;
  if (!writer.write(output, error))
    return fail(error);
  llvm::outs() << "wrote " << output << ": " << family << " for " << artifactTarget << " ("
               << m.weights.size() << " weights, " << m.states.size() << " state buffers, "
               << shared.size() << " bytes of code)\n";
  if (synthetic) {
    uint64_t fileBytes = 0;
    (void)llvm::sys::fs::file_size(output, fileBytes);
    llvm::outs() << "weights: " << m.synthetic.sectionBytes << " bytes synthesized at load ("
                 << m.synthetic.rule << ", seed " << m.synthetic.seed << "); artifact "
                 << fileBytes << " bytes\n";
  }
  return 0;
}

int writeText(const std::string &output, llvm::StringRef bytes, bool text) {
  std::error_code ec;
  llvm::ToolOutputFile out(output, ec, text ? llvm::sys::fs::OF_Text : llvm::sys::fs::OF_None);
  if (ec)
    return fail("cannot write '" + output + "': " + ec.message());
  out.os() << bytes;
  out.keep();
  return 0;
}

/// The CUDA half of `ssmc compile`: kernels to NVVM, PTX (+ cubin), host code
/// and launch code linked into the artifact's shared object.
int compileCUDA(ModuleOp module, const std::string &sm, const std::string &emit,
                const ssmc::cpu::CompileOptions &options, const std::string &dir,
                const SyntheticSource *synthetic, const std::string &output, const std::string &family, const std::string &dtype,
                int64_t vocab, const ssmc::rt::JsonValue &hyper,
                const std::vector<ssmc::cpu::StateArg> &states) {
  auto target = ssmc::cuda::getCUDATarget(sm);
  if (!target)
    return fail(llvm::toString(target.takeError()));
  if (llvm::Error e = ssmc::cuda::lowerToKernels(module, *target, options))
    return fail(llvm::toString(std::move(e)));
  if (emit == "mlir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return writeText(output, text, true);
  }
  if (emit == "llvm") {
    auto ir = ssmc::cuda::emitKernelLLVMIR(module, *target);
    if (!ir)
      return fail(llvm::toString(ir.takeError()));
    return writeText(output, *ir, true);
  }
  auto ptx = ssmc::cuda::emitPTX(module, *target);
  if (!ptx)
    return fail(llvm::toString(ptx.takeError()));
  if (emit == "asm")
    return writeText(output, *ptx, true);

  std::vector<char> cubin;
  if (!target->ptxas.empty()) {
    auto assembled = ssmc::cuda::assemblePTX(*ptx, *target);
    if (!assembled)
      return fail("assembling the kernels for " + target->chip + ": " +
                  llvm::toString(assembled.takeError()));
    cubin = std::move(*assembled);
  }
  size_t kernels = 0;
  for (size_t at = ptx->find(".entry "); at != std::string::npos; at = ptx->find(".entry ", at + 1))
    ++kernels;
  llvm::outs() << "device code: " << kernels << " kernels for " << target->chip << ", PTX ("
               << ptx->size() << " bytes)";
  if (cubin.empty())
    llvm::outs() << ", no cubin (ptxas not found; the driver compiles the PTX at load)\n";
  else
    llvm::outs() << " + cubin (" << cubin.size() << " bytes, " << target->ptxas << ")\n";
  auto mirrors = ssmc::cuda::collectHostMirrors(module);
  if (!mirrors)
    return fail(llvm::toString(mirrors.takeError()));
  if (llvm::Error e =
          ssmc::cuda::lowerHost(module, ssmc::cuda::packDeviceImage(*ptx, cubin), options))
    return fail(llvm::toString(std::move(e)));
  auto code = ssmc::cpu::emitMachineCode(module, target->host, /*assembly=*/false);
  if (!code)
    return fail(llvm::toString(code.takeError()));
  bool takesPositions = llvm::any_of(states, [](const auto &s) { return s.growsWithContext; });
  std::string launch = ssmc::cuda::generateLaunchCode(states, vocab, takesPositions, *mirrors);
  auto shared = ssmc::cpu::linkSharedObject(target->host, *code, launch);
  if (!shared)
    return fail(llvm::toString(shared.takeError()));
  return writeArtifact(module, dir, synthetic, output, family, target->artifactTarget, {}, dtype,
                       vocab, hyper, states, *shared);
}
} // namespace

int ssmc::driver::runCompile(int argc, char **argv) {
  std::string dir, output, targetName = "host", emit = "artifact", sm, preset, seedText;
  bool dotprod = false, syntheticWeights = false;
  ssmc::hf::ImportOptions importOptions;
  ssmc::cpu::CompileOptions options;
  for (int i = 1; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      llvm::outs() << kUsage;
      return 0;
    }
    if (llvm::Expected<bool> dtype = consumeDTypeFlag(argc, argv, i, importOptions); !dtype) {
      return fail(llvm::toString(dtype.takeError()));
    } else if (*dtype) {
      continue;
    }
    if (arg == "-o" || arg == "--target" || arg == "--sm" || arg == "--preset" ||
        arg == "--seed") {
      if (i + 1 >= argc)
        return fail(arg + " needs a value");
      (arg == "-o"         ? output
       : arg == "--sm"     ? sm
       : arg == "--preset" ? preset
       : arg == "--seed"   ? seedText
                           : targetName) = argv[++i];
    } else if (arg.consume_front("--preset=")) {
      preset = arg.str();
    } else if (arg.consume_front("--seed=")) {
      seedText = arg.str();
    } else if (arg == "--synthetic-weights") {
      syntheticWeights = true;
    } else if (arg.consume_front("--target=")) {
      targetName = arg.str();
    } else if (arg.consume_front("--sm=")) {
      sm = arg.str();
    } else if (arg.consume_front("--emit=")) {
      emit = arg.str();
    } else if (arg == "--dotprod") {
      dotprod = true;
    } else if (arg.consume_front("--scan=")) {
      if (arg != "loop" && arg != "all-chunks")
        return fail("unknown --scan=" + arg + " (expected loop or all-chunks)");
      options.scanAllChunks = arg == "all-chunks";
    } else if (arg.consume_front("--pass-options=")) {
      if (!arg.contains('{') || !arg.ends_with("}"))
        return fail("--pass-options='" + arg + "': expected <pass>{key=value ...}");
      options.passOptions.push_back(arg.str());
    } else if (arg == "--print-ir-after-all") {
      options.printIRAfterAll = true;
    } else if (arg.consume_front("--print-ir-after=")) {
      options.printIRAfter = arg.str();
    } else if (arg.starts_with("-")) {
      return fail("unknown option '" + arg + "' (see ssmc compile --help)");
    } else if (dir.empty()) {
      dir = arg.str();
    } else {
      return fail("more than one checkpoint directory given");
    }
  }
  // The model: a checkpoint directory, or a preset with synthesized weights.
  std::optional<SyntheticSource> synthetic;
  if (syntheticWeights || !preset.empty() || !seedText.empty()) {
    if (!syntheticWeights)
      return fail(!preset.empty()
                      ? "--preset needs --synthetic-weights (a checkpoint of the preset: ssmc "
                        "make-model --preset " + preset + ")"
                      : "--seed applies to --synthetic-weights only");
    if (!dir.empty())
      return fail("--synthetic-weights takes the model from --preset, not from a checkpoint "
                  "directory ('" + dir + "')");
    if (preset.empty())
      return fail("--synthetic-weights needs --preset NAME (see ssmc make-model --list-presets)");
    synthetic.emplace();
    if (!seedText.empty() &&
        (llvm::StringRef(seedText).getAsInteger(10, synthetic->seed) ||
         synthetic->seed > uint64_t(INT64_MAX)))
      return fail("--seed expects an integer in [0, 2^63), got '" + seedText + "'");
    llvm::Expected<ssmc::hf::ModelConfig> cfg = ssmc::hf::presetConfig(preset);
    if (!cfg)
      return fail(llvm::toString(cfg.takeError()));
    synthetic->cfg = std::move(*cfg);
    synthetic->dtype = importOptions.modelDType.value_or(ssmc::ckpt::DType::F32);
  } else if (dir.empty()) {
    return fail("no checkpoint directory given\n" + llvm::Twine(kUsage));
  }
  if (output.empty())
    return fail("no output given (-o)");
  if (emit != "mlir" && emit != "llvm" && emit != "asm" && emit != "obj" && emit != "artifact")
    return fail("unknown --emit=" + emit + " (expected mlir, llvm, asm, obj or artifact)");
  bool cuda = targetName == "cuda";
  if (cuda && dotprod)
    return fail("--dotprod applies to --target aarch64 only");
  if (!cuda && !sm.empty())
    return fail("--sm applies to --target cuda only");
  if (cuda && emit == "obj")
    return fail("--emit=obj is not available for --target cuda (--emit=asm writes the PTX)");
  if (cuda) {
    // Checked before the (slow) import.
    if (auto t = ssmc::cuda::getCUDATarget(sm.empty() ? "90" : sm); !t)
      return fail(llvm::toString(t.takeError()));
  }
  llvm::Expected<ssmc::cpu::CPUTargetDesc> target =
      cuda ? ssmc::cpu::CPUTargetDesc() : ssmc::cpu::getCPUTarget(targetName, dotprod);
  if (!target)
    return fail(llvm::toString(target.takeError()));

  DialectRegistry registry;
  ssmc::registerSSMCDialects(registry);
  ssmc::registerSSMCPasses();
  for (const std::string &override : options.passOptions)
    if (!mlir::PassInfo::lookup(llvm::StringRef(override).split('{').first))
      return fail("--pass-options='" + override + "': no such pass (ssmc-opt --help lists them)");
  MLIRContext context(registry);
  auto module = synthetic ? ssmc::hf::importSynthetic(context, synthetic->cfg,
                                                       "preset " + preset, synthetic->dtype)
                          : ssmc::hf::importCheckpoint(context, dir, importOptions);
  if (!module)
    return fail(llvm::toString(module.takeError()));
  auto states = collectStates(**module);
  if (!states)
    return fail((synthetic ? "preset " + preset : dir) + ": " +
                llvm::toString(states.takeError()));
  auto modelAttrs = (*module)->getOperation()->getAttrOfType<DictionaryAttr>("ssm.model");
  int64_t vocab = cast<IntegerAttr>(modelAttrs.get("vocab")).getInt();
  std::string family = cast<StringAttr>(modelAttrs.get("family")).str();
  std::string dtype = dtypeOf(cast<TypeAttr>(modelAttrs.get("dtype")).getValue());
  // What a reader of the artifact (ssmc bench) needs to know about the model
  // beyond the weight table: which 2-D weights are the embedding table (a
  // gather) and the LM head (applied to the last positions only).
  ssmc::rt::JsonValue hyper = ssmc::rt::JsonValue::makeObject();
  hyper.set("layers", ssmc::rt::JsonValue::makeInt(
                          cast<IntegerAttr>(modelAttrs.get("layers")).getInt()));
  hyper.set("d_model", ssmc::rt::JsonValue::makeInt(
                           cast<IntegerAttr>(modelAttrs.get("d_model")).getInt()));
  hyper.set("vocab", ssmc::rt::JsonValue::makeInt(vocab));
  hyper.set("embedding", ssmc::rt::JsonValue::makeString(
                             weightNameOf<ssmc::ssm::EmbedOp>(**module, /*table=*/0)));
  hyper.set("lm_head", ssmc::rt::JsonValue::makeString(
                           weightNameOf<ssmc::ssm::LMHeadOp>(**module, /*weight=*/1)));
  // Most batch-tokens the runtime hands one prefill call (it splits longer
  // prompts; the state carries across calls). The intermediates grow with
  // batch x tokens: a host's memory and a per-call thread pool do well with
  // 2048. A GPU holds more, and longer calls give its scan kernels more
  // chunks per launch; attention's scores grow with the square of the
  // call's length, so models with a KV cache stay at 2048.
  bool hasKVCache = llvm::any_of(*states, [](const auto &s) { return s.growsWithContext; });
  hyper.set("max_prefill_tokens",
            ssmc::rt::JsonValue::makeInt(cuda && !hasKVCache ? 8192 : 2048));


  if (cuda)
    return compileCUDA(**module, sm.empty() ? "90" : sm, emit, options, dir,
                       synthetic ? &*synthetic : nullptr, output, family, dtype, vocab, hyper,
                       *states);

  if (llvm::Error e = ssmc::cpu::lowerToLLVMDialect(**module, *target, options))
    return fail(llvm::toString(std::move(e)));

  if (emit == "mlir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    (*module)->print(os);
    return writeText(output, text, true);
  }
  if (emit == "llvm") {
    auto ir = ssmc::cpu::emitLLVMIR(**module, *target);
    if (!ir)
      return fail(llvm::toString(ir.takeError()));
    return writeText(output, *ir, true);
  }
  auto code = ssmc::cpu::emitMachineCode(**module, *target, emit == "asm");
  if (!code)
    return fail(llvm::toString(code.takeError()));
  if (emit == "asm" || emit == "obj")
    return writeText(output, llvm::StringRef(code->data(), code->size()), emit == "asm");

  bool takesPositions = llvm::any_of(*states, [](const auto &s) { return s.growsWithContext; });
  std::string launch = ssmc::cpu::generateLaunchCode(*states, vocab, takesPositions);
  auto shared = ssmc::cpu::linkSharedObject(*target, *code, launch);
  if (!shared)
    return fail(llvm::toString(shared.takeError()));

  return writeArtifact(**module, dir, synthetic ? &*synthetic : nullptr, output, family,
                       target->artifactTarget, target->cpuFeatures, dtype, vocab, hyper, *states,
                       *shared);
}
