//===- IRQueries.cpp - questions the passes and targets ask of the IR ----===//

#include "passes/IRQueries.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

Value ssmc::rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

Type ssmc::modelElementType(Operation *op) {
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    module = op->getParentOfType<ModuleOp>();
  if (!module)
    return {};
  auto model = module->getAttrOfType<DictionaryAttr>("ssm.model");
  auto dtype = model ? model.getAs<TypeAttr>("dtype") : TypeAttr();
  return dtype ? dtype.getValue() : Type();
}
