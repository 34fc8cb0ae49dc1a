//===- OutlineParallelLoops.cpp - scf.parallel onto the runtime's threads -===//
//
// The runtime owns the threads (runtime/include/ssmc/abi.h: `parallel_for`
// runs `body(ctx, begin, end)` over disjoint ranges). This pass makes an
// `scf.parallel` on buffers use them: the loop body becomes a function
// `(ctx, begin, end)` running iterations [begin, end) of the loop's outer
// dimensions (linearized; the innermost dimension of a multi-dimensional loop
// stays a serial inner loop so it can still be vectorized), the values it
// captures are written into a stack record `ctx` (a memref as its descriptor
// fields, a scalar as 64 bits), and the loop itself becomes a call to
// `@ssmc_parallel_for(n, body, ctx)`, which the target's launch code
// provides. A loop whose captures cannot be passed this way, or that is
// nested in another parallel loop, stays an `scf.parallel` and runs serially.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/StringMap.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMOUTLINEPARALLELLOOPS
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kRuntimeEntry = "ssmc_parallel_for";

/// Number of 64-bit fields a captured value occupies in the record, or
/// nullopt when it cannot be passed.
std::optional<int64_t> fieldCount(Type type) {
  if (auto memref = dyn_cast<MemRefType>(type)) {
    if (!memref.getLayout().isIdentity() && !isa<StridedLayoutAttr>(memref.getLayout()))
      return std::nullopt;
    if (memref.getMemorySpace())
      return std::nullopt;
    return 2 + 2 * memref.getRank(); // aligned pointer, offset, sizes, strides
  }
  if (type.isIndex())
    return 1;
  if (auto integer = dyn_cast<IntegerType>(type))
    return integer.getWidth() <= 64 ? std::optional<int64_t>(1) : std::nullopt;
  if (auto fp = dyn_cast<FloatType>(type))
    return fp.getWidth() <= 64 ? std::optional<int64_t>(1) : std::nullopt;
  return std::nullopt;
}

Value toI64(OpBuilder &b, Location loc, Value v) {
  Type i64 = b.getI64Type();
  Type t = v.getType();
  if (t.isIndex())
    return arith::IndexCastOp::create(b, loc, i64, v);
  if (auto fp = dyn_cast<FloatType>(t)) {
    Value bits = arith::BitcastOp::create(b, loc, b.getIntegerType(fp.getWidth()), v);
    return fp.getWidth() == 64 ? bits : arith::ExtUIOp::create(b, loc, i64, bits).getResult();
  }
  auto it = cast<IntegerType>(t);
  if (it.getWidth() == 64)
    return v;
  return arith::ExtUIOp::create(b, loc, i64, v);
}

Value fromI64(OpBuilder &b, Location loc, Value v, Type t) {
  if (t.isIndex())
    return arith::IndexCastOp::create(b, loc, t, v);
  if (auto fp = dyn_cast<FloatType>(t)) {
    Value bits = v;
    if (fp.getWidth() != 64)
      bits = arith::TruncIOp::create(b, loc, b.getIntegerType(fp.getWidth()), v);
    return arith::BitcastOp::create(b, loc, t, bits);
  }
  if (cast<IntegerType>(t).getWidth() == 64)
    return v;
  return arith::TruncIOp::create(b, loc, t, v);
}

struct SSMOutlineParallelLoopsPass
    : public ssmc::impl::SSMOutlineParallelLoopsBase<SSMOutlineParallelLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Type i64 = IntegerType::get(ctx, 64);
    Type ptr = LLVM::LLVMPointerType::get(ctx);
    auto bodyType = FunctionType::get(ctx, {ptr, i64, i64}, {});

    SmallVector<scf::ParallelOp> loops;
    module.walk([&](scf::ParallelOp loop) {
      if (loop->getParentOfType<scf::ParallelOp>() || loop.getNumResults() != 0)
        return;
      loops.push_back(loop);
    });
    if (loops.empty())
      return;

    SymbolTable symbols(module);
    OpBuilder mb(ctx);
    mb.setInsertionPointToEnd(module.getBody());
    if (!symbols.lookup(kRuntimeEntry)) {
      auto decl = func::FuncOp::create(mb, module.getLoc(), kRuntimeEntry,
                                       FunctionType::get(ctx, {i64, bodyType, ptr}, {}));
      decl.setPrivate();
      symbols.insert(decl);
    }

    llvm::StringMap<unsigned> counters; // per function, for readable names
    for (scf::ParallelOp loop : loops) {
      Location loc = loop.getLoc();
      llvm::SetVector<Value> captured;
      getUsedValuesDefinedAbove(loop.getRegion(), captured);
      // The bounds travel in the record as well.
      for (Value bound : loop.getLowerBound())
        captured.insert(bound);
      for (Value bound : loop.getUpperBound())
        captured.insert(bound);
      for (Value bound : loop.getStep())
        captured.insert(bound);
      // Constants are re-created in the body, not passed: LLVM then sees
      // constant strides and trip counts there.
      SmallVector<Operation *> constants;
      llvm::SetVector<Value> passed;
      for (Value v : captured) {
        Operation *def = v.getDefiningOp();
        if (def && def->hasTrait<OpTrait::ConstantLike>() && def->getNumResults() == 1)
          constants.push_back(def);
        else
          passed.insert(v);
      }
      captured = std::move(passed);
      int64_t fields = 0;
      bool passable = true;
      for (Value v : captured) {
        std::optional<int64_t> n = fieldCount(v.getType());
        if (!n) {
          passable = false;
          break;
        }
        fields += *n;
      }
      if (!passable)
        continue;
      auto parent = loop->getParentOfType<func::FuncOp>();

      // Caller: the record on the stack, filled field by field.
      OpBuilder b(loop);
      Value record;
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&parent.getBody().front());
        Value size = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(fields));
        record = LLVM::AllocaOp::create(b, loc, ptr, i64, size, /*alignment=*/8);
      }
      int64_t field = 0;
      auto store = [&](Value v) {
        Value slot = LLVM::GEPOp::create(b, loc, ptr, i64, record,
                                         ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(field++)});
        LLVM::StoreOp::create(b, loc, v, slot);
      };
      for (Value v : captured) {
        if (auto memref = dyn_cast<MemRefType>(v.getType())) {
          Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, v);
          store(toI64(b, loc, base));
          auto meta = memref::ExtractStridedMetadataOp::create(b, loc, v);
          store(toI64(b, loc, meta.getOffset()));
          for (Value s : meta.getSizes())
            store(toI64(b, loc, s));
          for (Value s : meta.getStrides())
            store(toI64(b, loc, s));
          continue;
        }
        store(toI64(b, loc, v));
      }
      // Threads split the outer dimensions (all but the innermost of a
      // multi-dimensional loop, which stays a serial inner loop that LLVM can
      // vectorize), linearized.
      unsigned dims = loop.getNumLoops();
      unsigned outer = dims == 1 ? 1 : dims - 1;
      auto tripCount = [&](OpBuilder &tb, IRMapping *map, unsigned d) -> Value {
        auto get = [&](Value v) { return map ? map->lookup(v) : v; };
        Value span = arith::SubIOp::create(tb, loc, get(loop.getUpperBound()[d]),
                                           get(loop.getLowerBound()[d]));
        Value trips = arith::CeilDivSIOp::create(tb, loc, span, get(loop.getStep()[d]));
        return arith::MaxSIOp::create(tb, loc, trips, arith::ConstantIndexOp::create(tb, loc, 0));
      };
      Value trips = tripCount(b, nullptr, 0);
      for (unsigned d = 1; d < outer; ++d)
        trips = arith::MulIOp::create(b, loc, trips, tripCount(b, nullptr, d));

      // Callee: rebuild the captures, then the iterations [begin, end).
      std::string name =
          (parent.getName() + "_parallel_" + llvm::Twine(counters[parent.getName()]++)).str();
      mb.setInsertionPointToEnd(module.getBody());
      auto body = func::FuncOp::create(mb, loc, name, bodyType);
      body.setPrivate();
      symbols.insert(body);
      Block *entry = body.addEntryBlock();
      OpBuilder cb = OpBuilder::atBlockBegin(entry);
      Value inRecord = entry->getArgument(0);
      int64_t readField = 0;
      auto load = [&]() -> Value {
        Value slot = LLVM::GEPOp::create(cb, loc, ptr, i64, inRecord,
                                         ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(readField++)});
        return LLVM::LoadOp::create(cb, loc, i64, slot);
      };
      IRMapping mapping;
      for (Operation *constant : constants)
        cb.clone(*constant, mapping);
      for (Value v : captured) {
        auto memref = dyn_cast<MemRefType>(v.getType());
        if (!memref) {
          mapping.map(v, fromI64(cb, loc, load(), v.getType()));
          continue;
        }
        // The memref descriptor as the LLVM lowering lays it out; the
        // unrealized cast disappears when that lowering runs.
        int64_t rank = memref.getRank();
        auto array = LLVM::LLVMArrayType::get(i64, rank);
        SmallVector<Type> members = {ptr, ptr, i64};
        if (rank > 0) {
          members.push_back(array);
          members.push_back(array);
        }
        auto descType = LLVM::LLVMStructType::getLiteral(ctx, members);
        Value desc = LLVM::PoisonOp::create(cb, loc, descType);
        Value pointer = LLVM::IntToPtrOp::create(cb, loc, ptr, load());
        desc = LLVM::InsertValueOp::create(cb, loc, desc, pointer, ArrayRef<int64_t>{0});
        desc = LLVM::InsertValueOp::create(cb, loc, desc, pointer, ArrayRef<int64_t>{1});
        desc = LLVM::InsertValueOp::create(cb, loc, desc, load(), ArrayRef<int64_t>{2});
        for (int64_t d = 0; d < rank; ++d)
          desc = LLVM::InsertValueOp::create(cb, loc, desc, load(), ArrayRef<int64_t>{3, d});
        for (int64_t d = 0; d < rank; ++d)
          desc = LLVM::InsertValueOp::create(cb, loc, desc, load(), ArrayRef<int64_t>{4, d});
        Value rebuilt =
            UnrealizedConversionCastOp::create(cb, loc, TypeRange{memref}, ValueRange{desc})
                .getResult(0);
        mapping.map(v, rebuilt);
      }
      Value begin = arith::IndexCastOp::create(cb, loc, cb.getIndexType(), entry->getArgument(1));
      Value end = arith::IndexCastOp::create(cb, loc, cb.getIndexType(), entry->getArgument(2));
      Value cOne = arith::ConstantIndexOp::create(cb, loc, 1);
      auto serial = scf::ForOp::create(cb, loc, begin, end, cOne);
      func::ReturnOp::create(cb, loc);
      {
        OpBuilder ib = OpBuilder::atBlockBegin(serial.getBody());
        Value linear = serial.getInductionVar();
        for (int d = static_cast<int>(outer) - 1; d >= 0; --d) {
          Value position = linear;
          if (d > 0) {
            Value count = tripCount(ib, &mapping, d);
            position = arith::RemUIOp::create(ib, loc, linear, count);
            linear = arith::DivUIOp::create(ib, loc, linear, count);
          }
          Value iv = arith::AddIOp::create(
              ib, loc, mapping.lookup(loop.getLowerBound()[d]),
              arith::MulIOp::create(ib, loc, position, mapping.lookup(loop.getStep()[d])));
          mapping.map(loop.getInductionVars()[d], iv);
        }
        if (dims > 1) {
          auto inner = scf::ForOp::create(ib, loc, mapping.lookup(loop.getLowerBound()[dims - 1]),
                                          mapping.lookup(loop.getUpperBound()[dims - 1]),
                                          mapping.lookup(loop.getStep()[dims - 1]));
          mapping.map(loop.getInductionVars()[dims - 1], inner.getInductionVar());
          ib.setInsertionPointToStart(inner.getBody());
        }
        for (Operation &op : loop.getBody()->without_terminator())
          ib.clone(op, mapping);
      }

      // The loop becomes the runtime call.
      Value fn = func::ConstantOp::create(b, loc, bodyType, SymbolRefAttr::get(body));
      Value n = arith::IndexCastOp::create(b, loc, i64, trips);
      func::CallOp::create(b, loc, kRuntimeEntry, TypeRange{}, ValueRange{n, fn, record});
      loop.erase();
    }
  }
};
} // namespace
