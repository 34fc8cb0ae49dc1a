//===- LinalgBuilders.cpp - Tensor math helpers the passes share ----------===//

#include "passes/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace ssmc {

Value castFloat(OpBuilder &b, Location loc, Value v, Type to) {
  unsigned from = v.getType().getIntOrFloatBitWidth(), width = to.getIntOrFloatBitWidth();
  if (v.getType() == to)
    return v;
  if (from < width)
    return arith::ExtFOp::create(b, loc, to, v);
  if (from > width)
    return arith::TruncFOp::create(b, loc, to, v);
  // Same width, different format (bf16 <-> f16): go through f32.
  Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  return arith::TruncFOp::create(b, loc, to, wide);
}

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value buildSoftplus(OpBuilder &b, Location loc, Value v) {
  Value threshold = floatConstant(b, loc, v.getType(), 20.0);
  Value soft = math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, v));
  Value large = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, v, threshold);
  return arith::SelectOp::create(b, loc, large, v, soft);
}

Value buildSilu(OpBuilder &b, Location loc, Value v) {
  Value one = floatConstant(b, loc, v.getType(), 1.0);
  Value negExp = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, v));
  return arith::DivFOp::create(b, loc, v, arith::AddFOp::create(b, loc, one, negExp));
}

Value castToType(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v);
}

Value emptyLike(OpBuilder &b, Location loc, Value like, Type elementType) {
  return tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, like), elementType);
}

Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes, Type elementType,
                   double value) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elementType);
  Value fill = floatConstant(b, loc, elementType, value);
  return linalg::FillOp::create(b, loc, ValueRange{fill}, ValueRange{empty}).getResult(0);
}

Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs, Type elementType,
                       ScalarFn body) {
  auto shape = cast<RankedTensorType>(inputs.front().getType());
  int64_t rank = shape.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps;
  for (Value input : inputs) {
    int64_t inRank = cast<RankedTensorType>(input.getType()).getRank();
    SmallVector<AffineExpr> dims;
    for (int64_t d = rank - inRank; d < rank; ++d)
      dims.push_back(getAffineDimExpr(d, ctx));
    maps.push_back(AffineMap::get(rank, 0, dims, ctx));
  }
  return buildMapped(b, loc, inputs, maps, inputs.front(), elementType, body);
}

Value buildMapped(OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                  Value shapeSource, Type elementType, ScalarFn body) {
  int64_t rank = cast<RankedTensorType>(shapeSource.getType()).getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(rank));
  Value init = emptyLike(b, loc, shapeSource, elementType);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  auto generic =
      linalg::GenericOp::create(b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
                                iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
                                  Value out = body(nb, nloc, args.drop_back());
                                  linalg::YieldOp::create(nb, nloc, out);
                                });
  return generic.getResult(0);
}

Value buildLastDimSum(OpBuilder &b, Location loc, Value input, ScalarFn f32Term) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  sizes.pop_back();
  Type f32 = b.getF32Type();
  Value init = filledTensor(b, loc, sizes, f32, 0.0);
  AffineMap inMap = b.getMultiDimIdentityMap(rank);
  AffineMap outMap = inMap.dropResult(rank - 1);
  SmallVector<utils::IteratorType> iterators(rank, utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{input}, ValueRange{init},
      ArrayRef<AffineMap>{inMap, outMap}, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value term = f32Term(nb, nloc, args.take_front(1));
        linalg::YieldOp::create(nb, nloc,
                                ValueRange{arith::AddFOp::create(nb, nloc, args[1], term)});
      });
  return generic.getResult(0);
}

Value buildProjection(OpBuilder &b, Location loc, Value input, Value weight,
                      RankedTensorType resultType) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t rank = inType.getRank(); // batch dims + K
  int64_t loops = rank + 1;        // batch dims, n, k
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineExpr> inExprs, outExprs;
  for (int64_t d = 0; d < rank - 1; ++d) {
    inExprs.push_back(getAffineDimExpr(d, ctx));
    outExprs.push_back(getAffineDimExpr(d, ctx));
  }
  AffineExpr n = getAffineDimExpr(rank - 1, ctx), k = getAffineDimExpr(rank, ctx);
  inExprs.push_back(k);
  outExprs.push_back(n);
  SmallVector<AffineMap> maps = {AffineMap::get(loops, 0, inExprs, ctx),
                                 AffineMap::get(loops, 0, {n, k}, ctx),
                                 AffineMap::get(loops, 0, outExprs, ctx)};
  SmallVector<utils::IteratorType> iterators(loops, utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;

  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  sizes.back() = b.getIndexAttr(resultType.getShape().back());
  Type f32 = b.getF32Type();
  Value acc = filledTensor(b, loc, sizes, f32, 0.0);
  Value sum = linalg::GenericOp::create(
                  b, loc, TypeRange{acc.getType()}, ValueRange{input, weight}, ValueRange{acc},
                  maps, iterators,
                  [&](OpBuilder &nb, Location nloc, ValueRange args) {
                    Value x = castFloat(nb, nloc, args[0], f32);
                    Value w = castFloat(nb, nloc, args[1], f32);
                    Value prod = arith::MulFOp::create(nb, nloc, x, w);
                    linalg::YieldOp::create(
                        nb, nloc, ValueRange{arith::AddFOp::create(nb, nloc, args[2], prod)});
                  })
                  .getResult(0);
  Type outElement = resultType.getElementType();
  if (outElement == f32)
    return sum;
  return buildElementwise(b, loc, ValueRange{sum}, outElement,
                          [&](OpBuilder &nb, Location nloc, ValueRange args) {
                            return castFloat(nb, nloc, args[0], outElement);
                          });
}

} // namespace ssmc

ValueRange ssmc::buildGeneric(
    OpBuilder &b, Location loc, ValueRange inputs, ValueRange inits, ArrayRef<AffineMap> maps,
    ArrayRef<int64_t> reductions,
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> body) {
  SmallVector<utils::IteratorType> iterators(maps.front().getNumDims(),
                                             utils::IteratorType::parallel);
  for (int64_t d : reductions)
    iterators[d] = utils::IteratorType::reduction;
  return linalg::GenericOp::create(b, loc, TypeRange(inits), inputs, inits, maps, iterators,
                                   [&](OpBuilder &nb, Location l, ValueRange args) {
                                     linalg::YieldOp::create(nb, l, body(nb, l, args));
                                   })
      .getResults();
}

Value ssmc::buildGenericInto(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                             ArrayRef<AffineMap> maps, ArrayRef<int64_t> reductions,
                             ScalarFn body) {
  return buildGeneric(b, loc, inputs, ValueRange{init}, maps, reductions,
                      [&](OpBuilder &nb, Location l, ValueRange args) {
                        return SmallVector<Value>{body(nb, l, args)};
                      })
      .front();
}

Value ssmc::refineBatch(OpBuilder &b, Location loc, Value state, Value like) {
  auto stateType = cast<RankedTensorType>(state.getType());
  int64_t batch = cast<RankedTensorType>(like.getType()).getDimSize(0);
  if (stateType.getDimSize(0) == batch)
    return state;
  SmallVector<int64_t> shape(stateType.getShape());
  shape[0] = batch;
  return tensor::CastOp::create(b, loc, stateType.clone(shape), state);
}
