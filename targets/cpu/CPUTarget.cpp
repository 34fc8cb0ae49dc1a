//===- CPUTarget.cpp - Compile an imported model for a CPU target ---------===//

#include "targets/cpu/CPUTarget.h"
#include "runtime/include/ssmc/abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace ssmc::cpu;

namespace {
llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

void initializeLLVMTargets() {
  static bool done = [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    return true;
  }();
  (void)done;
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const CPUTargetDesc &target) {
  initializeLLVMTargets();
  llvm::Triple triple(target.triple);
  std::string error;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return makeError("no LLVM target for " + target.triple + ": " + error);
  llvm::TargetOptions options;
  // Global constructors in .init_array (the ELF standard, what clang does):
  // lld keeps a .ctors section as is and glibc never runs it. The CUDA
  // target's host code registers its device image from a constructor.
  options.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return makeError("cannot create a target machine for " + target.triple);
  return std::move(machine);
}

/// The LLVM module of `module` with the target's data layout, optimized at -O2.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(ModuleOp module, llvm::LLVMContext &llvmContext, llvm::TargetMachine &tm) {
  MLIRContext *ctx = module.getContext();
  registerBuiltinDialectTranslation(*ctx);
  registerLLVMDialectTranslation(*ctx);
  // The ssm module attributes have done their job (the driver read the
  // weight layout before); LLVM IR has no place for them.
  OwningOpRef<ModuleOp> clean(cast<ModuleOp>(module->clone()));
  for (NamedAttribute attr : llvm::to_vector(clean->getOperation()->getAttrs()))
    if (attr.getName().strref().starts_with("ssm."))
      clean->getOperation()->removeAttr(attr.getName());
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(*clean, llvmContext);
  if (!llvmModule)
    return makeError("translation of the lowered model to LLVM IR failed");
  llvmModule->setTargetTriple(tm.getTargetTriple());
  llvmModule->setDataLayout(tm.createDataLayout());

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(&tm);
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager passes = builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  passes.run(*llvmModule, mam);
  return std::move(llvmModule);
}
} // namespace

std::string ssmc::cpu::pipelineFor(const CPUTargetDesc &target) {
  return llvm::formatv(
      "ssm-decompose-model{{chunk={3}}, convert-ssm-to-linalg{{scan-all-chunks-at-once={4}}, "
      "ssm-bind-weights, canonicalize, cse, "
      "ssm-fuse-elementwise, canonicalize, "
      "one-shot-bufferize{{bufferize-function-boundaries "
      "function-boundary-type-conversion=identity-layout-map}, "
      "buffer-deallocation-pipeline, convert-bufferization-to-memref, "
      "func.func(ssm-return-updated-arguments), "
      "ssm-vectorize-projections{{vector-width={0} rows={1} cols={2}}, "
      "ssm-lower-reductions, ssm-approximate-exp, "
      "convert-linalg-to-parallel-loops, ssm-outline-parallel-loops, "
      "expand-strided-metadata, lower-affine, convert-scf-to-cf, "
      "arith-expand{{include-bf16=true}, convert-vector-to-llvm, convert-math-to-llvm, "
      "convert-arith-to-llvm, finalize-memref-to-llvm{{use-generic-functions=true}, "
      "convert-cf-to-llvm, convert-func-to-llvm, convert-ub-to-llvm, "
      "reconcile-unrealized-casts",
      target.vectorWidth, target.blockRows, target.blockCols, target.scanChunk,
      target.scanAllChunks ? "true" : "false")
      .str();
}

llvm::Expected<CPUTargetDesc> ssmc::cpu::getCPUTarget(llvm::StringRef name, bool dotprod) {
  CPUTargetDesc desc;
  desc.name = name.str();
  if (name == "host") {
#if defined(__x86_64__)
    desc.triple = "x86_64-unknown-linux-gnu";
    desc.artifactTarget = "host-x86_64";
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
      // AVX-512: 16 lanes and 32 registers, so a 4 x 6 block of accumulators
      // (24) with its operands fits.
      desc.cpu = "x86-64-v4";
      desc.cpuFeatures = {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"};
      desc.vectorWidth = 16;
      desc.blockRows = 4;
      desc.blockCols = 6;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      // AVX2 + FMA when the build machine has them; the artifact records the
      // requirement and the runtime refuses it on a CPU without them.
      desc.cpu = "x86-64-v3";
      desc.cpuFeatures = {"avx2", "fma"};
    } else {
      desc.cpu = "x86-64";
    }
#else
    return makeError("--target host is x86-64 only; use --target aarch64 on this machine");
#endif
    if (dotprod)
      return makeError("--dotprod applies to --target aarch64 only");
    return desc;
  }
  if (name == "aarch64") {
    desc.triple = "aarch64-unknown-linux-gnu";
    desc.artifactTarget = "aarch64";
    desc.cpu = "generic";
    desc.features = dotprod ? "+neon,+dotprod" : "+neon";
    if (dotprod)
      desc.cpuFeatures = {"dotprod"};
    return desc;
  }
  return makeError("unknown target '" + name + "' (expected host, aarch64 or cuda)");
}

llvm::Expected<std::string> ssmc::cpu::withPassOptions(llvm::StringRef pipeline,
                                                       llvm::ArrayRef<std::string> overrides) {
  std::string text = pipeline.str();
  for (const std::string &override : overrides) {
    llvm::StringRef spec(override);
    size_t brace = spec.find('{');
    if (brace == llvm::StringRef::npos || !spec.ends_with("}") || brace == 0)
      return makeError("--pass-options='" + spec + "': expected name{key=value ...}");
    llvm::StringRef name = spec.take_front(brace);
    SmallVector<llvm::StringRef> settings;
    spec.drop_front(brace + 1).drop_back().split(settings, ' ', -1, /*KeepEmpty=*/false);
    auto keyOf = [](llvm::StringRef setting) { return setting.split('=').first; };
    bool found = false;
    auto isNameChar = [](char c) { return llvm::isAlnum(c) || c == '-' || c == '_' || c == '.'; };
    for (size_t at = text.find(name.str()); at != std::string::npos;
         at = text.find(name.str(), at + 1)) {
      size_t end = at + name.size();
      if ((at > 0 && isNameChar(text[at - 1])) || (end < text.size() && isNameChar(text[end])))
        continue;
      found = true;
      // The occurrence's own settings, with those named in the override
      // replaced and the rest appended.
      SmallVector<std::string> merged;
      size_t close = end;
      if (end < text.size() && text[end] == '{') {
        close = text.find('}', end);
        if (close == std::string::npos)
          return makeError("internal error: unbalanced options in the pipeline");
        SmallVector<llvm::StringRef> existing;
        llvm::StringRef(text).slice(end + 1, close).split(existing, ' ', -1, false);
        for (llvm::StringRef setting : existing)
          if (llvm::none_of(settings, [&](llvm::StringRef s) { return keyOf(s) == keyOf(setting); }))
            merged.push_back(setting.str());
        ++close;
      }
      for (llvm::StringRef setting : settings)
        merged.push_back(setting.str());
      std::string replacement = name.str() + "{" + llvm::join(merged, " ") + "}";
      text.replace(at, close - at, replacement);
      at += replacement.size() - 1;
    }
    // A pipeline without the pass (a compilation runs several) is left as it is.
    (void)found;
  }
  return text;
}

llvm::Error ssmc::cpu::runPipeline(ModuleOp module, llvm::StringRef pipeline,
                                   const CompileOptions &options) {
  MLIRContext *ctx = module.getContext();
  PassManager pm(ctx);
  llvm::Expected<std::string> text = withPassOptions(pipeline, options.passOptions);
  if (!text)
    return text.takeError();
  std::string error;
  llvm::raw_string_ostream errorStream(error);
  if (failed(parsePassPipeline(*text, pm, errorStream)))
    return makeError((options.passOptions.empty() ? "internal error: bad pass pipeline: "
                                                  : "bad pass pipeline (after --pass-options): ") +
                     error);
  if (options.printIRAfterAll || !options.printIRAfter.empty()) {
    ctx->disableMultithreading();
    std::string only = options.printIRAfter;
    pm.enableIRPrinting(
        /*shouldPrintBeforePass=*/[](Pass *, Operation *) { return false; },
        /*shouldPrintAfterPass=*/
        [only](Pass *pass, Operation *) { return only.empty() || pass->getArgument() == only; },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false,
        /*printAfterOnlyOnFailure=*/false, llvm::errs());
  }
  if (failed(pm.run(module)))
    return makeError("the lowering pipeline failed (see the diagnostics above)");
  return llvm::Error::success();
}

llvm::Error ssmc::cpu::lowerToLLVMDialect(ModuleOp module, const CPUTargetDesc &target,
                                          const CompileOptions &options) {
  MLIRContext *ctx = module.getContext();
  // The launch code calls @forward through its C interface.
  module.walk([&](func::FuncOp func) {
    if (func.getName() == "forward")
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), UnitAttr::get(ctx));
  });
  CPUTargetDesc chosen = target;
  chosen.scanAllChunks = options.scanAllChunks.value_or(target.scanAllChunks);
  return runPipeline(module, pipelineFor(chosen), options);
}

llvm::Expected<std::string> ssmc::cpu::emitLLVMIR(ModuleOp module, const CPUTargetDesc &target) {
  auto tm = createTargetMachine(target);
  if (!tm)
    return tm.takeError();
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateAndOptimize(module, llvmContext, **tm);
  if (!llvmModule)
    return llvmModule.takeError();
  std::string text;
  llvm::raw_string_ostream os(text);
  (*llvmModule)->print(os, nullptr);
  return text;
}

llvm::Expected<std::vector<char>> ssmc::cpu::emitMachineCode(ModuleOp module,
                                                             const CPUTargetDesc &target,
                                                             bool assembly) {
  auto tm = createTargetMachine(target);
  if (!tm)
    return tm.takeError();
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateAndOptimize(module, llvmContext, **tm);
  if (!llvmModule)
    return llvmModule.takeError();
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager codegen;
  if ((*tm)->addPassesToEmitFile(codegen, os, nullptr,
                                 assembly ? llvm::CodeGenFileType::AssemblyFile
                                          : llvm::CodeGenFileType::ObjectFile))
    return makeError("the " + target.triple + " code generator cannot emit this file type");
  codegen.run(**llvmModule);
  return std::vector<char>(buffer.begin(), buffer.end());
}

namespace {
/// C expression for the size of one state row (one sequence) in units of
/// `unit` bytes per element: constant, or scaled by the call's max_context
/// for a KV cache.
std::string rowExpr(const StateArg &state, int64_t unit) {
  int64_t perRow = unit;
  for (int64_t d : state.shape)
    perRow *= d;
  std::string expr = std::to_string(perRow);
  return state.growsWithContext ? "(c->max_context * " + expr + ")" : expr;
}
} // namespace

std::string ssmc::cpu::generateLaunchCode(const std::vector<StateArg> &states, int64_t vocab,
                                          bool takesPositions) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "/* Launch code generated by ssmc: adapts the runtime ABI (ssmc/abi.h)\n"
        "   to the compiled @forward. No model arithmetic here: only gathers state\n"
        "   rows by slot, calls the model, and scatters results back. */\n"
        "#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
        "typedef struct ssmc_parallel ssmc_parallel;\n"
        "typedef struct ssmc_call {\n"
        "  const uint8_t *weights; void *const *states; int64_t batch_capacity;\n"
        "  int64_t max_context; int64_t batch; int64_t seq_len; const int32_t *tokens;\n"
        "  const int32_t *lengths; const int64_t *positions; const int32_t *slots;\n"
        "  float *logits; void *scratch; uint64_t scratch_bytes;\n"
        "  const ssmc_parallel *parallel;\n"
        "} ssmc_call;\n"
        "const uint32_t ssmc_abi_version = "
     << SSMC_ABI_VERSION << "u;\n\n";
  for (int r = 1; r <= 6; ++r)
    os << "typedef struct { void *allocated; void *aligned; int64_t offset; int64_t sizes[" << r
       << "]; int64_t strides[" << r << "]; } memref" << r << ";\n";
  os << "\nstruct forward_results {\n  memref3 logits;\n";
  for (size_t i = 0; i < states.size(); ++i)
    os << "  memref" << states[i].shape.size() + 1 + states[i].growsWithContext << " state" << i
       << ";\n";
  os << "};\n\nextern void _mlir_ciface_forward(struct forward_results *, memref1 *weights, "
        "memref2 *ids, memref1 *lengths";
  if (takesPositions)
    os << ", memref1 *positions";
  for (size_t i = 0; i < states.size(); ++i)
    os << ", memref" << states[i].shape.size() + 1 + states[i].growsWithContext << " *state" << i;
  os << ");\n\n";
  // MLIR lowers copies between dynamically shaped memrefs to a call to
  // `memrefCopy` (upstream's runner library, which a deployed artifact must not
  // need): a plain strided copy of any rank.
  // Runs of the innermost dimension that are contiguous in both are copied
  // with one memcpy.
  os << "typedef struct { int64_t rank; void *descriptor; } unranked_memref;\n"
        "void memrefCopy(int64_t elem, unranked_memref *src, unranked_memref *dst) {\n"
        "  int64_t rank = src->rank;\n"
        "  char **sd = (char **)src->descriptor, **dd = (char **)dst->descriptor;\n"
        "  int64_t *ss = (int64_t *)(sd + 2), *ds = (int64_t *)(dd + 2);\n"
        "  int64_t soff = ss[0], doff = ds[0];\n"
        "  int64_t *sizes = ss + 1, *sst = ss + 1 + rank, *dst_st = ds + 1 + rank;\n"
        "  if (rank == 0) { memcpy(dd[1] + doff * elem, sd[1] + soff * elem, (size_t)elem); return; }\n"
        "  if (rank > 16) return;\n"
        "  int64_t total = 1; for (int64_t d = 0; d < rank; ++d) total *= sizes[d];\n"
        "  if (total == 0) return;\n"
        "  int64_t inner = sizes[rank - 1];\n"
        "  int runs = sst[rank - 1] == 1 && dst_st[rank - 1] == 1;\n"
        "  int64_t step = runs ? inner : 1;\n"
        "  int64_t idx[16] = {0};\n"
        "  for (int64_t n = 0; n < total; n += step) {\n"
        "    int64_t so = soff, dof = doff;\n"
        "    for (int64_t d = 0; d < rank; ++d) { so += idx[d] * sst[d]; dof += idx[d] * dst_st[d]; }\n"
        "    memcpy(dd[1] + dof * elem, sd[1] + so * elem, (size_t)(elem * step));\n"
        "    for (int64_t d = rank - (runs ? 2 : 1); d >= 0; --d) { if (++idx[d] < sizes[d]) break; idx[d] = 0; }\n"
        "  }\n"
        "}\n\n";
  // The model's intermediate buffers (memref.alloc) come from here: freed
  // blocks are kept per power-of-two size class on the calling thread, so a
  // call reuses the previous call's memory instead of mapping fresh pages
  // (large mallocs are mmaps, and their page faults cost more than the
  // arithmetic of a decode step).
  os << "typedef struct block_header { struct block_header *next; int64_t size_class; char pad[48]; } block_header;\n"
        "static _Thread_local block_header *free_blocks[64];\n"
        "static int size_class_of(uint64_t bytes) {\n"
        "  int c = 6; while (((uint64_t)1 << c) < bytes) ++c; return c;\n"
        "}\n"
        "void *_mlir_memref_to_llvm_alloc(uint64_t bytes) {\n"
        "  int c = size_class_of(bytes ? bytes : 1);\n"
        "  if (c >= 63) return 0;\n"
        "  block_header *h = free_blocks[c];\n"
        "  if (h) { free_blocks[c] = h->next; return h + 1; }\n"
        "  h = (block_header *)aligned_alloc(64, sizeof(block_header) + ((uint64_t)1 << c));\n"
        "  if (!h) return 0;\n"
        "  h->size_class = c; return h + 1;\n"
        "}\n"
        "void *_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t bytes) {\n"
        "  /* Blocks are 64-byte aligned; larger alignments are not requested by the pipeline. */\n"
        "  if (alignment > 64) return 0;\n"
        "  return _mlir_memref_to_llvm_alloc(bytes);\n"
        "}\n"
        "void _mlir_memref_to_llvm_free(void *p) {\n"
        "  if (!p) return;\n"
        "  block_header *h = (block_header *)p - 1;\n"
        "  h->next = free_blocks[h->size_class]; free_blocks[h->size_class] = h;\n"
        "}\n\n";
  // LLVM's backends legalize some bfloat operations by promoting to float and
  // calling the compiler-rt/libgcc conversion; define it here (round to
  // nearest even, NaN kept quiet) so the artifact needs no extra library.
  os << "__bf16 __truncsfbf2(float f) {\n"
        "  uint32_t u; memcpy(&u, &f, 4);\n"
        "  uint16_t h = ((u & 0x7fffffffu) > 0x7f800000u) ? (uint16_t)((u >> 16) | 0x40u)\n"
        "             : (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);\n"
        "  __bf16 r; memcpy(&r, &h, 2); return r;\n"
        "}\n\n";
  // Parallel loops of the model (ssm-outline-parallel-loops) run on the
  // runtime's threads; the call being served is per calling thread.
  os << "typedef void (*ssmc_parallel_body)(void *, int64_t, int64_t);\n"
        "struct ssmc_parallel {\n"
        "  void (*parallel_for)(void *, int64_t, ssmc_parallel_body, void *);\n"
        "  void *pool; int32_t num_threads;\n"
        "};\n"
        "static _Thread_local const ssmc_parallel *current_parallel;\n"
        "__attribute__((visibility(\"hidden\")))\n"
        "void ssmc_parallel_for(int64_t n, ssmc_parallel_body body, void *ctx) {\n"
        "  const ssmc_parallel *p = current_parallel;\n"
        "  if (n <= 0) return;\n"
        "  if (!p || !p->parallel_for || p->num_threads <= 1 || n == 1) { body(ctx, 0, n); return; }\n"
        "  p->parallel_for(p->pool, n, body, ctx);\n"
        "}\n\n";
  os << "static void set_contiguous(int64_t *sizes, int64_t *strides, int rank) {\n"
        "  int64_t stride = 1;\n"
        "  for (int d = rank - 1; d >= 0; --d) { strides[d] = stride; stride *= sizes[d]; }\n"
        "}\n\n";
  os << "static int32_t run_forward(const ssmc_call *c) {\n"
        "  const int64_t B = c->batch, L = c->seq_len, V = " << vocab << ";\n"
        "  int32_t status = 0;\n"
        "  current_parallel = c->parallel;\n"
        "  memref1 weights = {(void *)c->weights, (void *)c->weights, 0, {INT64_MAX / 2}, {1}};\n"
        "  memref2 ids = {(void *)c->tokens, (void *)c->tokens, 0, {B, L}, {L, 1}};\n"
        "  memref1 lengths = {(void *)c->lengths, (void *)c->lengths, 0, {B}, {1}};\n";
  if (takesPositions)
    os << "  memref1 positions = {(void *)c->positions, (void *)c->positions, 0, {B}, {1}};\n";
  os << "  void *owned[" << std::max<size_t>(states.size(), 1) << "] = {0};\n";
  for (size_t i = 0; i < states.size(); ++i) {
    const StateArg &st = states[i];
    std::string rowBytes = rowExpr(st, st.elementBytes);
    size_t rank = st.shape.size() + 1 + st.growsWithContext;
    os << "  /* " << st.name << " */\n"
       << "  memref" << rank << " state" << i << ";\n"
       << "  owned[" << i << "] = _mlir_memref_to_llvm_alloc((uint64_t)B * " << rowBytes << " + 1);\n"
       << "  if (!owned[" << i << "]) return 3;\n"
       << "  for (int64_t b = 0; b < B; ++b)\n"
       << "    memcpy((char *)owned[" << i << "] + b * " << rowBytes
       << ", (const char *)c->states[" << i << "] + (int64_t)c->slots[b] * " << rowBytes
       << ", " << rowBytes << ");\n"
       << "  state" << i << ".allocated = state" << i << ".aligned = owned[" << i << "];\n"
       << "  state" << i << ".offset = 0;\n"
       << "  state" << i << ".sizes[0] = B;\n";
    if (st.growsWithContext)
      os << "  state" << i << ".sizes[1] = c->max_context;\n";
    for (size_t d = 0; d < st.shape.size(); ++d)
      os << "  state" << i << ".sizes[" << d + 1 + st.growsWithContext << "] = " << st.shape[d]
         << ";\n";
    os << "  set_contiguous(state" << i << ".sizes, state" << i << ".strides, " << rank << ");\n";
  }
  os << "  struct forward_results r;\n"
        "  _mlir_ciface_forward(&r, &weights, &ids, &lengths";
  if (takesPositions)
    os << ", &positions";
  for (size_t i = 0; i < states.size(); ++i)
    os << ", &state" << i;
  os << ");\n";
  // @forward returns only the logits after each sequence's last valid token,
  // B x 1 x V (ssm.last_token; the compile driver checks the type).
  os << "  for (int64_t b = 0; b < B; ++b) {\n"
        "    const float *base = (const float *)r.logits.aligned + r.logits.offset +\n"
        "        b * r.logits.strides[0];\n"
        "    for (int64_t v = 0; v < V; ++v) c->logits[b * V + v] = base[v * r.logits.strides[2]];\n"
        "  }\n";
  // New states back into their rows; the result must be contiguous rows.
  for (size_t i = 0; i < states.size(); ++i) {
    const StateArg &st = states[i];
    std::string rowElems = rowExpr(st, 1), rowBytes = rowExpr(st, st.elementBytes);
    size_t rank = st.shape.size() + 1 + st.growsWithContext;
    os << "  {\n    int64_t expect[" << rank << "]; memcpy(expect, r.state" << i
       << ".sizes, sizeof expect);\n"
       << "    int64_t strides[" << rank << "]; set_contiguous(expect, strides, " << rank << ");\n"
       << "    if (memcmp(strides, r.state" << i << ".strides, sizeof strides) != 0) status = 4;\n"
       << "    else for (int64_t b = 0; b < B; ++b)\n"
       << "      memcpy((char *)c->states[" << i << "] + (int64_t)c->slots[b] * " << rowBytes
       << ", (const char *)r.state" << i << ".aligned + (r.state" << i << ".offset + b * "
       << rowElems << ") * " << st.elementBytes << ", " << rowBytes << ");\n  }\n";
  }
  // Free what the model allocated (results it did not alias from inputs), once.
  os << "  void *freed[" << states.size() + 1 << "]; int nfreed = 0;\n"
        "  void *results[] = {r.logits.allocated";
  for (size_t i = 0; i < states.size(); ++i)
    os << ", r.state" << i << ".allocated";
  os << "};\n"
        "  for (unsigned k = 0; k < sizeof results / sizeof results[0]; ++k) {\n"
        "    void *p = results[k]; int skip = (p == 0);\n"
        "    for (unsigned j = 0; j < " << std::max<size_t>(states.size(), 1)
     << "; ++j) if (p == owned[j]) skip = 1;\n"
        "    for (int j = 0; j < nfreed; ++j) if (p == freed[j]) skip = 1;\n"
        "    if (!skip) { _mlir_memref_to_llvm_free(p); freed[nfreed++] = p; }\n"
        "  }\n"
        "  for (unsigned j = 0; j < " << std::max<size_t>(states.size(), 1)
     << "; ++j) _mlir_memref_to_llvm_free(owned[j]);\n"
        "  return status;\n}\n\n"
        "int32_t ssmc_prefill(const ssmc_call *c) { return run_forward(c); }\n"
        "int32_t ssmc_decode(const ssmc_call *c) { return run_forward(c); }\n";
  return s;
}

llvm::Expected<std::vector<char>> ssmc::cpu::linkSharedObject(const CPUTargetDesc &target,
                                                              const std::vector<char> &modelObject,
                                                              const std::string &launchCode) {
  llvm::SmallString<128> dir;
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("ssmc-link", dir))
    return makeError("cannot create a temporary directory: " + ec.message());
  auto path = [&](llvm::StringRef name) {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  std::string object = path("model.o"), source = path("launch.c"), output = path("model.so"),
              log = path("link.log");
  auto cleanup = [&] {
    for (const std::string &f : {object, source, output, log})
      llvm::sys::fs::remove(f);
    llvm::sys::fs::remove(dir);
  };
  {
    std::error_code ec;
    llvm::raw_fd_ostream o(object, ec, llvm::sys::fs::OF_None);
    if (ec)
      return cleanup(), makeError("cannot write " + object + ": " + ec.message());
    o.write(modelObject.data(), modelObject.size());
    llvm::raw_fd_ostream s(source, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return cleanup(), makeError("cannot write " + source + ": " + ec.message());
    s << launchCode;
  }
  const char *clang = "/usr/lib/llvm-22/bin/clang";
  if (!llvm::sys::fs::can_execute(clang))
    return cleanup(), makeError(llvm::Twine(clang) + " not found (run scripts/setup.sh)");
  std::string targetFlag = "--target=" + target.triple;
  llvm::SmallVector<llvm::StringRef> args = {clang,  targetFlag, "-O2",   "-fPIC", "-shared",
                                             "-fuse-ld=lld", source, object, "-lm",   "-o",
                                             output};
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(clang, args, std::nullopt, redirects, 0, 0, &execError);
  if (rc != 0) {
    std::string detail;
    if (auto buf = llvm::MemoryBuffer::getFile(log))
      detail = (*buf)->getBuffer().str();
    cleanup();
    return makeError("linking the model for " + target.triple + " failed: " + execError + "\n" +
                     detail);
  }
  auto buf = llvm::MemoryBuffer::getFile(output, /*IsText=*/false);
  if (!buf)
    return cleanup(), makeError("cannot read " + output);
  std::vector<char> bytes((*buf)->getBufferStart(), (*buf)->getBufferEnd());
  cleanup();
  return bytes;
}
