//===- CUDAPasses.cpp - GPU mapping passes of the CUDA target -------------===//
//
// See Passes.td for what each pass does and why it exists.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <numeric>

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUCOPYTOLINALG
#define GEN_PASS_DEF_GPUTILEPARALLELLOOPS
#define GEN_PASS_DEF_GPUHOSTDEVICEMEMORY
#define GEN_PASS_DEF_GPUMERGEMODULES
#define GEN_PASS_DEF_GPUKERNELOCCUPANCY
#define GEN_PASS_DEF_GPUEXPANDMATH
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

//===----------------------------------------------------------------------===//
// ssm-gpu-copy-to-linalg
//===----------------------------------------------------------------------===//

struct GPUCopyToLinalgPass : ssmc::cuda::impl::GPUCopyToLinalgBase<GPUCopyToLinalgPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp op) { copies.push_back(op); });
    for (memref::CopyOp op : copies) {
      OpBuilder b(op);
      linalg::CopyOp::create(b, op.getLoc(), ValueRange{op.getSource()},
                             ValueRange{op.getTarget()});
      op.erase();
    }
  }
};

//===----------------------------------------------------------------------===//
// ssm-gpu-tile-parallel-loops
//===----------------------------------------------------------------------===//

/// Outermost scf.parallel loops outside kernels.
SmallVector<scf::ParallelOp> outermostParallelLoops(Operation *root) {
  SmallVector<scf::ParallelOp> loops;
  root->walk([&](scf::ParallelOp op) {
    if (!op->getParentOfType<scf::ParallelOp>() && !op->getParentOfType<gpu::LaunchOp>())
      loops.push_back(op);
  });
  return loops;
}

struct GPUTileParallelLoopsPass
    : ssmc::cuda::impl::GPUTileParallelLoopsBase<GPUTileParallelLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (blockSize < 1 || blockSize > 1024) {
      getOperation()->emitError("ssm-gpu-tile-parallel-loops: block-size must be in [1, 1024]");
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp loop : outermostParallelLoops(getOperation())) {
      if (loop.getNumLoops() < 2)
        continue;
      std::vector<unsigned> all(loop.getNumLoops());
      std::iota(all.begin(), all.end(), 0u);
      rewriter.setInsertionPoint(loop);
      collapseParallelLoops(rewriter, loop, {all});
    }
    for (scf::ParallelOp loop : outermostParallelLoops(getOperation()))
      scf::tileParallelLoop(loop, {blockSize}, /*noMinMaxBounds=*/true);
  }
};

//===----------------------------------------------------------------------===//
// ssm-gpu-host-device-memory
//===----------------------------------------------------------------------===//

bool insideKernel(Operation *op) {
  return op->getParentOfType<gpu::LaunchOp>() || op->getParentOfType<gpu::GPUModuleOp>();
}

/// Collects the buffers `value` may alias: memref.alloc/alloca results,
/// function arguments and globals, looking through views, loop-carried values,
/// scf.if results and selects. Fails (with a diagnostic at `user`) on a value
/// whose origin it cannot follow.
LogicalResult collectRoots(Value value, Operation *user, llvm::SetVector<Value> &roots,
                           DenseSet<Value> &visited) {
  if (!visited.insert(value).second)
    return success();
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    Operation *owner = arg.getOwner()->getParentOp();
    if (isa<func::FuncOp>(owner) && arg.getOwner()->isEntryBlock()) {
      roots.insert(value);
      return success();
    }
    if (auto forOp = dyn_cast<scf::ForOp>(owner)) {
      if (arg.getArgNumber() == 0)
        return success(); // the induction variable
      unsigned i = arg.getArgNumber() - 1;
      auto yield = cast<scf::YieldOp>(forOp.getBody()->getTerminator());
      if (failed(collectRoots(forOp.getInitArgs()[i], user, roots, visited)))
        return failure();
      return collectRoots(yield.getOperand(i), user, roots, visited);
    }
    return user->emitError("ssm-gpu-host-device-memory: cannot tell where a buffer carried by '")
           << owner->getName() << "' lives";
  }
  Operation *def = value.getDefiningOp();
  if (isa<memref::AllocOp, memref::AllocaOp, memref::GetGlobalOp, gpu::AllocOp>(def)) {
    roots.insert(value);
    return success();
  }
  if (auto view = dyn_cast<ViewLikeOpInterface>(def))
    return collectRoots(view.getViewSource(), user, roots, visited);
  if (auto meta = dyn_cast<memref::ExtractStridedMetadataOp>(def))
    return collectRoots(meta.getSource(), user, roots, visited);
  if (auto select = dyn_cast<arith::SelectOp>(def)) {
    if (failed(collectRoots(select.getTrueValue(), user, roots, visited)))
      return failure();
    return collectRoots(select.getFalseValue(), user, roots, visited);
  }
  unsigned index = cast<OpResult>(value).getResultNumber();
  if (auto forOp = dyn_cast<scf::ForOp>(def)) {
    auto yield = cast<scf::YieldOp>(forOp.getBody()->getTerminator());
    if (failed(collectRoots(forOp.getInitArgs()[index], user, roots, visited)))
      return failure();
    return collectRoots(yield.getOperand(index), user, roots, visited);
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(def)) {
    for (Region *region : {&ifOp.getThenRegion(), &ifOp.getElseRegion()}) {
      if (region->empty())
        continue;
      auto yield = cast<scf::YieldOp>(region->front().getTerminator());
      if (failed(collectRoots(yield.getOperand(index), user, roots, visited)))
        return failure();
    }
    return success();
  }
  return user->emitError("ssm-gpu-host-device-memory: cannot tell where the buffer produced by '")
         << def->getName() << "' lives";
}

LogicalResult collectRoots(Value value, Operation *user, llvm::SetVector<Value> &roots) {
  DenseSet<Value> visited;
  return collectRoots(value, user, roots, visited);
}

/// Rebuilds the chain of view ops from `arg` to `value` on `mirror`; null if
/// `value` is not such a chain.
Value remapViewChain(Value value, BlockArgument arg, Value mirror, OpBuilder &b) {
  if (value == arg)
    return mirror;
  Operation *def = value.getDefiningOp();
  auto view = def ? dyn_cast<ViewLikeOpInterface>(def) : nullptr;
  if (!view)
    return nullptr;
  Value source = remapViewChain(view.getViewSource(), arg, mirror, b);
  if (!source)
    return nullptr;
  IRMapping mapping;
  mapping.map(view.getViewSource(), source);
  return b.clone(*def, mapping)->getResult(cast<OpResult>(value).getResultNumber());
}

struct GPUHostDeviceMemoryPass
    : ssmc::cuda::impl::GPUHostDeviceMemoryBase<GPUHostDeviceMemoryPass> {
  void runOnOperation() override {
    for (auto func : llvm::to_vector(getOperation().getOps<func::FuncOp>()))
      if (!func.isExternal() && failed(runOnFunction(func)))
        return signalPassFailure();
  }

  LogicalResult runOnFunction(func::FuncOp func) {
    // 0. Constant globals a kernel reads are read inside it: outlining then
    //    copies the memref.global into the kernel module (device memory).
    func.walk([&](gpu::LaunchOp launch) {
      llvm::SetVector<Value> captured;
      getUsedValuesDefinedAbove(launch.getBody(), captured);
      for (Value v : captured) {
        auto global = v.getDefiningOp<memref::GetGlobalOp>();
        if (!global)
          continue;
        OpBuilder b(&launch.getBody().front(), launch.getBody().front().begin());
        Operation *clone = b.clone(*global);
        replaceAllUsesInRegionWith(v, clone->getResult(0), launch.getBody());
      }
    });

    // 1. Buffers that kernels use.
    llvm::SetVector<Value> deviceRoots;
    WalkResult walk = func.walk([&](gpu::LaunchOp launch) {
      llvm::SetVector<Value> captured;
      getUsedValuesDefinedAbove(launch.getBody(), captured);
      for (Value v : captured)
        if (isa<BaseMemRefType>(v.getType()) && failed(collectRoots(v, launch, deviceRoots)))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    // Calls of device functions (the vendor GEMM) take device buffers too.
    walk = func.walk([&](func::CallOp call) {
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(call, call.getCalleeAttr());
      if (!callee || !callee->hasAttr("ssmc.device_call"))
        return WalkResult::advance();
      for (Value v : call.getOperands())
        if (isa<BaseMemRefType>(v.getType()) && failed(collectRoots(v, call, deviceRoots)))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    for (Value root : deviceRoots)
      if (auto global = root.getDefiningOp<memref::GetGlobalOp>())
        return global.emitError("ssm-gpu-host-device-memory: a kernel reads the host global @")
               << global.getName() << "; constant buffers on the device are not supported yet";

    // 2. Host accesses: only to host buffers or (loads) to mirrored arguments.
    SmallVector<std::pair<Operation *, BlockArgument>> mirroredLoads;
    walk = func.walk([&](Operation *op) {
      if (insideKernel(op) || isa<gpu::LaunchOp>(op))
        return WalkResult::advance();
      Value buffer;
      if (auto load = dyn_cast<memref::LoadOp>(op))
        buffer = load.getMemRef();
      else if (auto store = dyn_cast<memref::StoreOp>(op))
        buffer = store.getMemRef();
      else if (isa<memref::CopyOp, linalg::LinalgOp>(op)) {
        op->emitError("ssm-gpu-host-device-memory: '")
            << op->getName() << "' outside a kernel; it should have become a parallel loop";
        return WalkResult::interrupt();
      } else {
        return WalkResult::advance();
      }
      llvm::SetVector<Value> roots;
      if (failed(collectRoots(buffer, op, roots)))
        return WalkResult::interrupt();
      for (Value root : roots) {
        auto arg = dyn_cast<BlockArgument>(root);
        if (arg && isa<memref::LoadOp>(op) &&
            cast<BaseMemRefType>(arg.getType()).getElementType().isIntOrIndex() &&
            roots.size() == 1) {
          mirroredLoads.push_back({op, arg});
          continue;
        }
        if (arg || deviceRoots.contains(root)) {
          op->emitError("ssm-gpu-host-device-memory: host code ")
              << (isa<memref::LoadOp>(op) ? "reads" : "writes")
              << " device memory; only loads of integer arguments can be served from a host copy";
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    // 3. Results are device buffers (the launch code copies them with the driver).
    for (auto ret : llvm::to_vector(func.getOps<func::ReturnOp>()))
      for (Value v : ret.getOperands()) {
        if (!isa<BaseMemRefType>(v.getType()))
          continue;
        llvm::SetVector<Value> roots;
        if (failed(collectRoots(v, ret, roots)))
          return failure();
        for (Value root : roots)
          if (!isa<BlockArgument>(root) && !deviceRoots.contains(root))
            return ret.emitError("ssm-gpu-host-device-memory: a result is a host buffer that "
                                 "no kernel writes; results must live on the device");
      }

    // 4. Device allocations and their deallocations.
    SmallVector<memref::DeallocOp> deallocs;
    func.walk([&](memref::DeallocOp op) {
      if (!insideKernel(op))
        deallocs.push_back(op);
    });
    for (memref::DeallocOp dealloc : deallocs) {
      llvm::SetVector<Value> roots;
      if (failed(collectRoots(dealloc.getMemref(), dealloc, roots)))
        return failure();
      unsigned onDevice = llvm::count_if(roots, [&](Value r) { return deviceRoots.contains(r); });
      if (onDevice == 0)
        continue;
      if (onDevice != roots.size())
        return dealloc.emitError("ssm-gpu-host-device-memory: frees a buffer that may live on "
                                 "the host or on the device");
      OpBuilder b(dealloc);
      gpu::DeallocOp::create(b, dealloc.getLoc(), Type(), ValueRange(), dealloc.getMemref());
      dealloc.erase();
    }
    for (Value root : deviceRoots) {
      auto alloc = root.getDefiningOp<memref::AllocOp>();
      if (!alloc)
        continue;
      OpBuilder b(alloc);
      auto gpuAlloc = gpu::AllocOp::create(b, alloc.getLoc(), alloc.getType(), Type(),
                                           ValueRange(), alloc.getDynamicSizes(),
                                           alloc.getSymbolOperands(), /*hostShared=*/false);
      alloc.getResult().replaceAllUsesWith(gpuAlloc.getMemref());
      alloc.erase();
    }

    // 5. Host copies of integer arguments the host reads.
    DenseMap<BlockArgument, Value> mirrors;
    for (auto [op, arg] : mirroredLoads) {
      Value &mirror = mirrors[arg];
      if (!mirror) {
        unsigned index = func.getNumArguments();
        NamedAttrList attrs;
        attrs.set("ssmc.host_mirror_of",
                  IntegerAttr::get(IntegerType::get(func.getContext(), 64), arg.getArgNumber()));
        if (auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "ssm.name"))
          attrs.set("ssm.name", StringAttr::get(func.getContext(), name.str() + ".host"));
        if (failed(func.insertArgument(index, arg.getType(),
                                       attrs.getDictionary(func.getContext()), arg.getLoc())))
          return func.emitError("ssm-gpu-host-device-memory: cannot add a host argument");
        mirror = func.getArgument(index);
      }
      auto load = cast<memref::LoadOp>(op);
      OpBuilder b(load);
      Value remapped = remapViewChain(load.getMemRef(), arg, mirror, b);
      if (!remapped)
        return load.emitError("ssm-gpu-host-device-memory: host code reads an argument "
                              "through something other than views");
      load.getMemrefMutable().assign(remapped);
    }
    return success();
  }
};

//===----------------------------------------------------------------------===//
// ssm-gpu-kernel-occupancy
//===----------------------------------------------------------------------===//

struct GPUKernelOccupancyPass
    : ssmc::cuda::impl::GPUKernelOccupancyBase<GPUKernelOccupancyPass> {
  void runOnOperation() override {
    constexpr llvm::StringLiteral kRequest = "ssmc.min_blocks_per_sm";
    for (gpu::GPUFuncOp kernel : getOperation().getOps<gpu::GPUFuncOp>()) {
      int64_t blocks = 0;
      kernel.walk([&](Operation *op) {
        if (auto request = op->getAttrOfType<IntegerAttr>(kRequest)) {
          blocks = std::max(blocks, request.getInt());
          op->removeAttr(kRequest);
        }
      });
      if (blocks == 0)
        continue;
      DenseI32ArrayAttr known = kernel.getKnownBlockSizeAttr();
      if (!known) {
        kernel.emitError("ssm-gpu-kernel-occupancy: a kernel asking for ")
            << blocks << " blocks per multiprocessor needs a known block size";
        return signalPassFailure();
      }
      Builder b(kernel.getContext());
      kernel->setAttr("nvvm.minctasm", b.getI32IntegerAttr(static_cast<int32_t>(blocks)));
      kernel->setAttr("nvvm.maxntid", known);
    }
  }
};

//===----------------------------------------------------------------------===//
// ssm-gpu-merge-modules
//===----------------------------------------------------------------------===//

struct GPUMergeModulesPass : ssmc::cuda::impl::GPUMergeModulesBase<GPUMergeModulesPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto gpuModules = llvm::to_vector(module.getOps<gpu::GPUModuleOp>());
    if (gpuModules.empty())
      return;
    gpu::GPUModuleOp target = gpuModules.front();
    if (module.lookupSymbol(moduleName) && module.lookupSymbol(moduleName) != target) {
      module.emitError("ssm-gpu-merge-modules: symbol @") << moduleName << " already exists";
      return signalPassFailure();
    }
    // Outlining names every kernel after its function and uniquifies the
    // module names only: kernels take their module's (unique) name.
    MLIRContext *ctx = module.getContext();
    DenseMap<StringAttr, StringAttr> newKernelName; // old module name -> kernel name
    for (gpu::GPUModuleOp gpuModule : gpuModules) {
      auto kernels = llvm::to_vector(gpuModule.getOps<gpu::GPUFuncOp>());
      if (kernels.size() != 1) {
        gpuModule.emitError("ssm-gpu-merge-modules: expected one kernel per outlined module");
        return signalPassFailure();
      }
      newKernelName[gpuModule.getNameAttr()] = gpuModule.getNameAttr();
      kernels.front().setName(gpuModule.getName());
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      StringAttr kernel = newKernelName.lookup(launch.getKernelModuleName());
      if (kernel)
        launch.setKernelAttr(
            SymbolRefAttr::get(ctx, moduleName, {FlatSymbolRefAttr::get(kernel)}));
    });
    SymbolTable symbols(target);
    for (gpu::GPUModuleOp other : llvm::drop_begin(gpuModules)) {
      for (Operation &op : llvm::make_early_inc_range(other.getBody()->getOperations())) {
        if (op.hasTrait<OpTrait::IsTerminator>())
          continue;
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        if (symbol && symbols.lookup(symbol.getName())) {
          // Globals copied into several kernel modules are the same constant.
          if (isa<memref::GlobalOp>(op) &&
              OperationEquivalence::isEquivalentTo(&op, symbols.lookup(symbol.getName()),
                                                   OperationEquivalence::IgnoreLocations)) {
            op.erase();
            continue;
          }
          op.emitError("ssm-gpu-merge-modules: two kernel-module symbols are named @")
              << symbol.getName();
          return signalPassFailure();
        }
        op.moveBefore(target.getBody(), target.getBody()->end());
        if (symbol)
          symbols.insert(&op);
      }
      other.erase();
    }
    target.setName(moduleName);
  }
};

//===----------------------------------------------------------------------===//
// ssm-gpu-expand-math
//===----------------------------------------------------------------------===//

/// The LLVM intrinsic the NVPTX backend selects natively for a math op on
/// f32/f64 ("" if none). convert-gpu-to-nvvm would turn these ops into
/// libdevice calls, and it rejects the llvm.intr.* forms (to force libdevice),
/// so they become llvm.call_intrinsic, which it leaves alone.
StringRef nativeIntrinsic(Operation *op) {
  return llvm::TypeSwitch<Operation *, StringRef>(op)
      .Case<math::SqrtOp>([](auto) { return "llvm.sqrt"; })
      .Case<math::AbsFOp>([](auto) { return "llvm.fabs"; })
      .Case<math::FmaOp>([](auto) { return "llvm.fma"; })
      .Case<math::FloorOp>([](auto) { return "llvm.floor"; })
      .Case<math::CeilOp>([](auto) { return "llvm.ceil"; })
      .Case<math::TruncOp>([](auto) { return "llvm.trunc"; })
      .Case<math::CopySignOp>([](auto) { return "llvm.copysign"; })
      .Default([](Operation *) { return ""; });
}

/// math.rsqrt(x) = 1 / sqrt(x) (correctly rounded sqrt, then a division;
/// the CPU target computes the same).
struct RsqrtToSqrt : OpRewritePattern<math::RsqrtOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::RsqrtOp op, PatternRewriter &rewriter) const override {
    Type type = op.getType();
    if (!isa<FloatType>(type))
      return failure();
    Value one = arith::ConstantOp::create(rewriter, op.getLoc(), rewriter.getFloatAttr(type, 1.0));
    Value root = math::SqrtOp::create(rewriter, op.getLoc(), op.getOperand());
    rewriter.replaceOpWithNewOp<arith::DivFOp>(op, one, root);
    return success();
  }
};

struct NativeMathToIntrinsic : RewritePattern {
  NativeMathToIntrinsic(MLIRContext *ctx) : RewritePattern(MatchAnyOpTypeTag(), 1, ctx) {}
  LogicalResult matchAndRewrite(Operation *op, PatternRewriter &rewriter) const override {
    StringRef base = nativeIntrinsic(op);
    if (base.empty() || op->getNumResults() != 1)
      return failure();
    Type type = op->getResult(0).getType();
    Location loc = op->getLoc();
    // f16/bf16 through f32 (exact for abs, floor, ceil, trunc, copysign).
    bool widen = type.isF16() || type.isBF16();
    if (!widen && !type.isF32() && !type.isF64())
      return failure();
    Type computeType = widen ? rewriter.getF32Type() : type;
    SmallVector<Value> operands;
    for (Value v : op->getOperands())
      operands.push_back(widen ? arith::ExtFOp::create(rewriter, loc, computeType, v).getResult()
                               : v);
    std::string name = (base + (computeType.isF32() ? ".f32" : ".f64")).str();
    Value result = LLVM::CallIntrinsicOp::create(rewriter, loc, computeType,
                                                 rewriter.getStringAttr(name), operands)
                       .getResult(0);
    if (widen)
      result = arith::TruncFOp::create(rewriter, loc, type, result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct GPUExpandMathPass : ssmc::cuda::impl::GPUExpandMathBase<GPUExpandMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // Functions the polynomial approximations do not cover, in terms of ones they do.
    math::populateExpansionPatterns(patterns, {"tan", "sinh", "cosh", "asinh", "acosh", "atanh",
                                               "powf", "fpowi", "exp2", "round", "roundeven"});
    populateMathF32ExpansionPatterns(patterns, [](StringRef) { return true; });
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) { return name != "rsqrt" && name != "sqrt"; });
    patterns.add<RsqrtToSqrt, NativeMathToIntrinsic>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult walk = getOperation()->walk([](Operation *op) {
      if (op->getDialect() && isa<math::MathDialect>(op->getDialect())) {
        op->emitError("ssm-gpu-expand-math: '")
            << op->getName() << "' has no lowering for kernels that avoids libdevice";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

void ssmc::cuda::registerCUDAPasses() { registerSSMCCUDAPasses(); }
