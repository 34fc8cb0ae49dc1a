//===- SSMTypes.cpp - Types of the ssm dialect ----------------------------===//

#include "dialects/ssm/SSMTypes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace ssmc::ssm;

#define GET_TYPEDEF_CLASSES
#include "dialects/ssm/SSMTypes.cpp.inc"

void SSMDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/ssm/SSMTypes.cpp.inc"
      >();
}

llvm::ArrayRef<int64_t> ssmc::ssm::getWeightShape(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return tensor.getShape();
  if (auto q = dyn_cast<QuantizedWeightType>(type))
    return q.getShape();
  return {};
}

//===----------------------------------------------------------------------===//
// State types: `<d0 x d1 x ... x elementType>`
//===----------------------------------------------------------------------===//

namespace {
template <typename StateT>
Type parseStateType(AsmParser &parser, size_t rank) {
  SmallVector<int64_t> shape;
  Type elementType;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false, /*withTrailingX=*/true) ||
      parser.parseType(elementType) || parser.parseGreater())
    return {};
  if (shape.size() != rank) {
    parser.emitError(loc) << "expected " << rank << " dimensions, got " << shape.size();
    return {};
  }
  return parser.getChecked<StateT>(loc, parser.getContext(), shape, elementType);
}

void printStateType(AsmPrinter &printer, ArrayRef<int64_t> shape, Type elementType) {
  printer << "<";
  for (int64_t d : shape)
    printer << d << "x";
  printer << elementType << ">";
}

LogicalResult verifyState(function_ref<InFlightDiagnostic()> emitError, StringRef name,
                          ArrayRef<int64_t> shape, size_t rank, Type elementType) {
  if (shape.size() != rank)
    return emitError() << name << " needs " << rank << " dimensions, got " << shape.size();
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << name << " dimensions must be positive";
  if (!isa<FloatType>(elementType))
    return emitError() << name << " element type must be a float type, got " << elementType;
  return success();
}

int64_t product(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

RankedTensorType batchTensor(ArrayRef<int64_t> shape, Type elementType, int64_t batch) {
  SmallVector<int64_t> dims;
  dims.push_back(batch < 0 ? ShapedType::kDynamic : batch);
  dims.append(shape.begin(), shape.end());
  return RankedTensorType::get(dims, elementType);
}
} // namespace

#define SSM_STATE_TYPE_IMPL(CLASS, NAME, RANK)                                                   \
  Type CLASS::parse(AsmParser &parser) { return parseStateType<CLASS>(parser, RANK); }          \
  void CLASS::print(AsmPrinter &printer) const {                                                \
    printStateType(printer, getShape(), getElementType());                                      \
  }                                                                                             \
  LogicalResult CLASS::verify(function_ref<InFlightDiagnostic()> emitError,                     \
                              ArrayRef<int64_t> shape, Type elementType) {                      \
    return verifyState(emitError, NAME, shape, RANK, elementType);                              \
  }                                                                                             \
  RankedTensorType CLASS::getBatchTensorType(int64_t batch) const {                             \
    return batchTensor(getShape(), getElementType(), batch);                                    \
  }                                                                                             \
  int64_t CLASS::getNumElementsPerSequence() const { return product(getShape()); }

SSM_STATE_TYPE_IMPL(ConvStateType, "conv_state", 2)
SSM_STATE_TYPE_IMPL(SSMStateType, "ssm_state", 3)
SSM_STATE_TYPE_IMPL(KVCacheType, "kv_cache", 2)

//===----------------------------------------------------------------------===//
// QuantizedWeightType:
//   `<N x K x iB, group = G, scale = T, zero_point = Z, packing = P>`
//===----------------------------------------------------------------------===//

Type QuantizedWeightType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  Type storage;
  int64_t group = 0;
  Type scaleType;
  std::string zeroPointName, packingName;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false, /*withTrailingX=*/true) ||
      parser.parseType(storage) || parser.parseComma() || parser.parseKeyword("group") ||
      parser.parseEqual() || parser.parseInteger(group) || parser.parseComma() ||
      parser.parseKeyword("scale") || parser.parseEqual() || parser.parseType(scaleType) ||
      parser.parseComma() || parser.parseKeyword("zero_point") || parser.parseEqual() ||
      parser.parseKeywordOrString(&zeroPointName) || parser.parseComma() ||
      parser.parseKeyword("packing") || parser.parseEqual() ||
      parser.parseKeywordOrString(&packingName) || parser.parseGreater())
    return {};
  auto intType = dyn_cast<IntegerType>(storage);
  if (!intType) {
    parser.emitError(loc) << "qweight storage must be an integer type, got " << storage;
    return {};
  }
  std::optional<ZeroPoint> zeroPoint = symbolizeZeroPoint(zeroPointName);
  if (!zeroPoint) {
    parser.emitError(loc) << "unknown zero_point '" << zeroPointName
                          << "' (expected none, integer or float)";
    return {};
  }
  std::optional<Packing> packing = symbolizePacking(packingName);
  if (!packing) {
    parser.emitError(loc) << "unknown packing '" << packingName
                          << "' (expected none or nibbles_lo_first)";
    return {};
  }
  return parser.getChecked<QuantizedWeightType>(loc, parser.getContext(), shape,
                                                intType.getWidth(), group, scaleType, *zeroPoint,
                                                *packing);
}

void QuantizedWeightType::print(AsmPrinter &printer) const {
  printer << "<";
  for (int64_t d : getShape())
    printer << d << "x";
  printer << "i" << getBits() << ", group = " << getGroup() << ", scale = " << getScaleType()
          << ", zero_point = " << stringifyZeroPoint(getZeroPoint())
          << ", packing = " << stringifyPacking(getPacking()) << ">";
}

LogicalResult QuantizedWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                          ArrayRef<int64_t> shape, unsigned bits, int64_t group,
                                          Type scaleType, ZeroPoint zeroPoint, Packing packing) {
  if (shape.size() != 2)
    return emitError() << "qweight must be a matrix (N x K), got rank " << shape.size();
  if (shape[0] <= 0 || shape[1] <= 0)
    return emitError() << "qweight dimensions must be positive";
  if (bits != 4 && bits != 8)
    return emitError() << "qweight supports 4- and 8-bit elements, got " << bits;
  if (group <= 0 || shape[1] % group != 0)
    return emitError() << "qweight group (" << group << ") must divide K (" << shape[1] << ")";
  if (!isa<FloatType>(scaleType))
    return emitError() << "qweight scale must be a float type, got " << scaleType;
  if (bits == 4 && packing != Packing::nibbles_lo_first)
    return emitError() << "4-bit qweight needs packing = nibbles_lo_first";
  if (bits == 8 && packing != Packing::none)
    return emitError() << "8-bit qweight needs packing = none";
  if (bits == 4 && group % 2 != 0)
    return emitError() << "4-bit qweight needs an even group size";
  (void)zeroPoint;
  return success();
}

int64_t QuantizedWeightType::getPackedBytes() const {
  return getRows() * getCols() * getBits() / 8;
}
