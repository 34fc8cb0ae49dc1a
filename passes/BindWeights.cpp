//===- BindWeights.cpp - ssm.weight into views of the weight section ------===//
//
// The layout is decided here, in the IR, and exported as a module attribute:
// the driver that writes the artifact follows `ssm.weight_layout`, so the
// offsets the code reads and the bytes the artifact holds come from one table.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/ssm/SSMOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace ssmc {
#define GEN_PASS_DEF_SSMBINDWEIGHTS
#include "passes/Passes.h.inc"
} // namespace ssmc

using namespace mlir;

namespace {

struct WeightSlot {
  int64_t offset;
  int64_t bytes;
  RankedTensorType type;
};

int64_t alignTo(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

struct SSMBindWeightsPass : public ssmc::impl::SSMBindWeightsBase<SSMBindWeightsPass> {
  using SSMBindWeightsBase::SSMBindWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
      module.emitError() << "ssm-bind-weights: alignment must be a power of two, got "
                         << alignment;
      return signalPassFailure();
    }

    // 1. Layout, in first-use order over the module.
    llvm::StringMap<WeightSlot> slots;
    SmallVector<StringRef> order;
    int64_t end = 0;
    WalkResult walk = module.walk([&](ssmc::ssm::WeightOp op) -> WalkResult {
      auto type = dyn_cast<RankedTensorType>(op.getType());
      if (!type) {
        op.emitOpError() << "quantized weight '" << op.getName()
                         << "' has no weight-section layout yet";
        return WalkResult::interrupt();
      }
      unsigned bits = type.getElementTypeBitWidth();
      if (bits % 8 != 0) {
        op.emitOpError() << "weight '" << op.getName() << "' has sub-byte elements "
                         << type.getElementType();
        return WalkResult::interrupt();
      }
      int64_t bytes = type.getNumElements() * (bits / 8);
      auto [it, inserted] = slots.try_emplace(op.getName(), WeightSlot{0, bytes, type});
      if (!inserted) {
        if (it->second.type != type) {
          op.emitOpError() << "weight '" << op.getName() << "' is used as " << type
                           << " and as " << it->second.type;
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      it->second.offset = alignTo(end, alignment);
      end = it->second.offset + bytes;
      order.push_back(it->first());
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    // 2. Rewrite the functions that read weights.
    MLIRContext *ctx = &getContext();
    auto sectionType = MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
    for (auto func : module.getOps<func::FuncOp>()) {
      SmallVector<ssmc::ssm::WeightOp> uses;
      func.walk([&](ssmc::ssm::WeightOp op) { uses.push_back(op); });
      if (uses.empty())
        continue;
      if (func.isExternal())
        continue;
      if (std::optional<SymbolTable::UseRange> callers = SymbolTable::getSymbolUses(func, module);
          callers && !callers->empty()) {
        func.emitOpError() << "reads weights and is called from the module; inline it before "
                              "ssm-bind-weights";
        return signalPassFailure();
      }
      if (failed(func.insertArgument(0, sectionType,
                                     DictionaryAttr::get(ctx, {NamedAttribute(
                                                                  StringAttr::get(ctx, "ssm.name"),
                                                                  StringAttr::get(ctx, "weights"))}),
                                     func.getLoc())))
        return signalPassFailure();
      Value section = func.getArgument(0);
      for (ssmc::ssm::WeightOp op : uses) {
        const WeightSlot &slot = slots.lookup(op.getName());
        OpBuilder b(op);
        Value offset = arith::ConstantIndexOp::create(b, op.getLoc(), slot.offset);
        auto viewType = MemRefType::get(slot.type.getShape(), slot.type.getElementType());
        Value view = memref::ViewOp::create(b, op.getLoc(), viewType, section, offset, ValueRange{});
        Value tensor = bufferization::ToTensorOp::create(b, op.getLoc(), slot.type, view,
                                                         /*restrict=*/true, /*writable=*/false);
        op.replaceAllUsesWith(tensor);
        op.erase();
      }
    }

    // 3. Export the table.
    Builder b(ctx);
    SmallVector<Attribute> table;
    for (StringRef name : order) {
      const WeightSlot &slot = slots.lookup(name);
      table.push_back(b.getDictionaryAttr({
          b.getNamedAttr("name", b.getStringAttr(name)),
          b.getNamedAttr("offset", b.getI64IntegerAttr(slot.offset)),
          b.getNamedAttr("bytes", b.getI64IntegerAttr(slot.bytes)),
          b.getNamedAttr("type", TypeAttr::get(slot.type)),
      }));
    }
    module->setAttr("ssm.weight_layout", b.getArrayAttr(table));
    module->setAttr("ssm.weight_section_bytes", b.getI64IntegerAttr(alignTo(end, alignment)));
  }
};
} // namespace
