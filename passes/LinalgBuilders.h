//===- LinalgBuilders.h - Tensor math helpers the passes share ----*- C++ -*-===//
//
// Small builders for element-wise and reduction `linalg.generic` ops on
// tensors and for the scalar math (casts, softplus, silu) inside their bodies.
// Every helper keeps dynamic dimensions dynamic.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_LINALGBUILDERS_H
#define SSMC_PASSES_LINALGBUILDERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace ssmc {

/// Body of an element-wise generic: scalar operands in, one scalar out.
using ScalarFn =
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location, mlir::ValueRange)>;

/// Converts a float scalar to `to` (extf, truncf or nothing).
mlir::Value castFloat(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, mlir::Type to);
/// `log(1 + exp(v))`, or `v` itself above 20 (PyTorch's and Triton's threshold).
mlir::Value buildSoftplus(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v);
/// `v * sigmoid(v)` = `v / (1 + exp(-v))`.
mlir::Value buildSilu(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v);
/// A float constant of type `type`.
mlir::Value floatConstant(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type, double value);

/// `v` as `type`, through tensor.cast when only the static-ness of dims differs.
mlir::Value castToType(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, mlir::Type type);

/// `tensor.empty` with the sizes of `like` (dynamic ones read by tensor.dim)
/// and element type `elementType`.
mlir::Value emptyLike(mlir::OpBuilder &b, mlir::Location loc, mlir::Value like,
                      mlir::Type elementType);
/// `tensor.empty` of `sizes` and `elementType`, filled with `value`.
mlir::Value filledTensor(mlir::OpBuilder &b, mlir::Location loc,
                         llvm::ArrayRef<mlir::OpFoldResult> sizes, mlir::Type elementType,
                         double value);

/// An element-wise `linalg.generic` over the shape of `inputs[0]` producing
/// `elementType`. Inputs of lower rank broadcast along the leading
/// dimensions (a `D` vector against a `B x L x D` tensor).
mlir::Value buildElementwise(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange inputs,
                             mlir::Type elementType, ScalarFn body);

/// A parallel `linalg.generic` over the shape of `shapeSource` producing
/// `elementType`, reading `inputs` through `inputMaps` (each a map from the
/// iteration space, of rank `shapeSource`'s rank).
mlir::Value buildMapped(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange inputs,
                        llvm::ArrayRef<mlir::AffineMap> inputMaps, mlir::Value shapeSource,
                        mlir::Type elementType, ScalarFn body);

/// Sum over the last dimension of `f(x)` in float32: `... x D` -> `...`.
mlir::Value buildLastDimSum(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                            ScalarFn f32Term);

/// `result[..., n] = sum_k input[..., k] * weight[n, k]`, accumulated in
/// float32 and converted to `resultType`'s element type.
mlir::Value buildProjection(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
                            mlir::Value weight, mlir::RankedTensorType resultType);

/// A `linalg.generic` writing into `inits` (maps: one per input, then one per
/// init), parallel except for the loop dims listed in `reductions`; `body`
/// gets the input scalars followed by the current output scalars.
mlir::ValueRange
buildGeneric(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange inputs,
             mlir::ValueRange inits, llvm::ArrayRef<mlir::AffineMap> maps,
             llvm::ArrayRef<int64_t> reductions,
             llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::OpBuilder &, mlir::Location,
                                                               mlir::ValueRange)>
                 body);

/// buildGeneric with a single init and a single yielded value.
mlir::Value buildGenericInto(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange inputs,
                             mlir::Value init, llvm::ArrayRef<mlir::AffineMap> maps,
                             llvm::ArrayRef<int64_t> reductions, ScalarFn body);

/// The converted state (batch dynamic) cast to the batch size of `like`, so
/// that a static batch elsewhere never meets the dynamic one in one op.
mlir::Value refineBatch(mlir::OpBuilder &b, mlir::Location loc, mlir::Value state,
                        mlir::Value like);

} // namespace ssmc

#endif // SSMC_PASSES_LINALGBUILDERS_H
