//===- GPUProjections.cpp - projections as warp kernels or vendor GEMMs ---===//
//
// Every projection (`out[b.., n] += x[b.., k] * w[n, k]`, see
// passes/ProjectionMatch.h) is most of the model's memory traffic (decode)
// and arithmetic (prefill). The generic lowering gives each thread one output
// element and a sequential loop over k: neighbouring threads then read weight
// rows K elements apart, so no load is coalesced. This pass replaces each
// projection, by the number of activation rows M known only at run time:
//
//  * M <= max-rows (decode): one warp per weight row. The lanes stride along
//    k with 16-byte vector loads of the weight row, so a warp reads 512
//    contiguous bytes per step, `unroll` steps' loads issued before their
//    FMAs; the accumulators of `rows-per-tile` activation rows live in
//    registers (a weight vector is loaded once per tile and used for each
//    row), and the warp reduces them with shuffles. One row (batch-1 decode)
//    has its own kernel without the tile. A zero fill of the output right
//    before is folded (the sum is stored), and so is an elementwise consumer
//    of the output (the projection's rounding, a residual add, a gate).
//  * M > max-rows (prefill, large batches): a call of the device's vendor
//    matrix product (`ssmc_device.gemm`, cuBLAS when the runtime finds it),
//    through `@ssmc_gpu_gemm_<x>_<w>` defined by the launch code. Where it
//    reports the operands unsupported (no library, mixed types, strides it
//    cannot express) the original linalg op runs instead, lowered like any
//    other.
//
//===----------------------------------------------------------------------===//

#include "targets/cuda/CUDAPasses.h"

#include "passes/ProjectionMatch.h"
#include "targets/cuda/KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace ssmc::cuda {
#define GEN_PASS_DEF_GPUPROJECTIONS
#include "targets/cuda/Passes.h.inc"
} // namespace ssmc::cuda

using namespace mlir;

namespace {

constexpr int64_t kWarp = 32;

std::string typeName(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isBF16())
    return "bf16";
  if (t.isF16())
    return "f16";
  return "";
}

/// Static offset and strides of a memref type; false when the layout is not
/// strided.
bool stridesOf(MemRefType type, SmallVectorImpl<int64_t> &strides, int64_t &offset) {
  return succeeded(type.getStridesAndOffset(strides, offset));
}

struct ProjectionEmitter {
  OpBuilder &b;
  Location loc;
  Value x, w, out;
  MemRefType xType, wType, outType;
  int64_t n, k;
  int64_t warpsPerBlock, rowsPerTile, unroll;
  /// Warps sharing one weight row (split K; divides warpsPerBlock and k's
  /// steps), 1 for one warp per row.
  int64_t warpsPerRow;
  /// The output was just filled with zeros: store the sums instead of adding
  /// them (the fill then only runs on the other paths).
  bool overwrite;
  /// An elementwise op that only reads the projection's output (see
  /// ssmc::cuda::foldableConsumerOf), computed in the kernel on each sum;
  /// null when none.
  linalg::GenericOp epilogue;

  /// Stores `sum`, the projection's value at `outIndices`, or the epilogue's
  /// value there.
  void storeResult(Value sum, ArrayRef<Value> outIndices) {
    if (!overwrite)
      sum = arith::AddFOp::create(b, loc, memref::LoadOp::create(b, loc, out, outIndices), sum);
    if (!epilogue) {
      memref::StoreOp::create(b, loc, sum, out, outIndices);
      return;
    }
    ssmc::cuda::emitConsumerAt(b, loc, epilogue, out, sum, outIndices);
  }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// Indices of activation row `m` in the batch dimensions of x and out.
  SmallVector<Value> batchIndices(Value m, ArrayRef<Value> batchSizes) {
    SmallVector<Value> indices(batchSizes.size());
    for (int64_t d = static_cast<int64_t>(batchSizes.size()) - 1; d >= 0; --d) {
      if (d == 0) {
        indices[d] = m;
        break;
      }
      indices[d] = arith::RemUIOp::create(b, loc, m, batchSizes[d]);
      m = arith::DivUIOp::create(b, loc, m, batchSizes[d]);
    }
    return indices;
  }

  /// Loads `lanes` elements at [indices..., col] as f32 lanes.
  Value loadWidened(Value buffer, ValueRange indices, Value col, int64_t lanes, int64_t alignment) {
    auto type = cast<MemRefType>(buffer.getType());
    SmallVector<Value> all(indices);
    all.push_back(col);
    auto vecType = VectorType::get({lanes}, type.getElementType());
    Value v = vector::LoadOp::create(b, loc, vecType, buffer, all, /*nontemporal=*/false,
                                     llvm::MaybeAlign(alignment));
    if (!type.getElementType().isF32())
      v = arith::ExtFOp::create(b, loc, VectorType::get({lanes}, b.getF32Type()), v);
    return v;
  }

  /// The warp-per-weight-row kernel for `m` activation rows. With
  /// `warpsPerRow` > 1 (split K), that many warps of a block share a weight
  /// row, each summing a contiguous slice of k; their sums meet in workgroup
  /// memory and the first warp of the row adds them in order and stores.
  void emitWarpKernel(Value rows, ArrayRef<Value> batchSizes) {
    Type f32 = b.getF32Type();
    int64_t wBytes = wType.getElementTypeBitWidth() / 8;
    int64_t lanes = 16 / wBytes; // one 16-byte load of the weight row per lane and step
    auto accType = VectorType::get({lanes}, f32);
    const int64_t split = warpsPerRow;
    const int64_t rowsPerBlock = warpsPerBlock / split;
    const int64_t sliceLen = k / split;

    // x rows are 16-byte aligned when x is a plain contiguous buffer whose
    // rows are whole multiples of 16 bytes; otherwise load at element
    // alignment (activations are small and cached: this costs instructions,
    // not bandwidth).
    int64_t xBytes = xType.getElementTypeBitWidth() / 8;
    int64_t xAlign = xType.getLayout().isIdentity() && (k * xBytes) % (lanes * xBytes) == 0
                         ? lanes * xBytes
                         : xBytes;

    Value c1 = index(1);
    Value blocks = index((n + rowsPerBlock - 1) / rowsPerBlock);
    Value threads = index(warpsPerBlock * kWarp);
    SmallVector<Type> attributions;
    if (split > 1)
      attributions.push_back(MemRefType::get(
          {warpsPerBlock * rowsPerTile}, f32, AffineMap(),
          gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup)));
    auto launch = gpu::LaunchOp::create(b, loc, blocks, c1, c1, threads, c1, c1,
                                        /*dynamicSharedMemorySize=*/nullptr,
                                        /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
                                        attributions);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&launch.getBody().front());
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPoint(launch.getBody().front().getTerminator());
    Value tid = launch.getThreadIds().x, bid = launch.getBlockIds().x;
    Value warp = arith::DivUIOp::create(b, loc, tid, index(kWarp));
    Value lane = arith::RemUIOp::create(b, loc, tid, index(kWarp));
    Value rowInBlock = split > 1 ? arith::DivUIOp::create(b, loc, warp, index(split)).getResult()
                                 : warp;
    Value row = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, bid, index(rowsPerBlock)), rowInBlock);
    Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, row, index(n));
    // Split K: every warp runs to the barrier (uniform control flow), so a
    // warp past the last row reads the last row and stores nothing.
    Value kBegin = index(0);
    if (split > 1) {
      row = arith::MinUIOp::create(b, loc, row, index(n - 1));
      kBegin = arith::MulIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, warp, index(split)), index(sliceLen));
    } else {
      auto ifRow = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
      b.setInsertionPointToStart(ifRow.thenBlock());
    }
    {
      Value lastRow = arith::SubIOp::create(b, loc, rows, c1);
      auto tiles = scf::ForOp::create(b, loc, index(0), rows, index(rowsPerTile));
      b.setInsertionPointToStart(tiles.getBody());
      Value m0 = tiles.getInductionVar();
      // Rows past the end re-read the last row (in bounds, no branch in the
      // inner loop); their sums are not stored.
      SmallVector<SmallVector<Value>> xIndices;
      for (int64_t j = 0; j < rowsPerTile; ++j) {
        Value m = arith::MinUIOp::create(b, loc,
                                         arith::AddIOp::create(b, loc, m0, index(j)), lastRow);
        xIndices.push_back(batchIndices(m, batchSizes));
      }
      Value zero = arith::ConstantOp::create(b, loc, accType, DenseElementsAttr::get(
                                                                    accType, b.getF32FloatAttr(0)));
      SmallVector<Value> acc(rowsPerTile, zero);
      Value laneCol = arith::AddIOp::create(
          b, loc, kBegin, arith::MulIOp::create(b, loc, lane, index(lanes)));
      // One step of the warp covers `step` contiguous weight elements (512
      // bytes). The main loop takes `unroll` steps at once and issues all
      // their weight loads before any FMA: a warp then has `unroll` 16-byte
      // loads in flight per lane, which is what hides HBM latency when there
      // are too few weight rows to fill the GPU with warps. Its bounds are
      // uniform across lanes (k is static), so it needs no guard; the rest
      // of the slice is a per-lane loop of single steps.
      int64_t step = kWarp * lanes;
      // Slices shorter than `unroll` steps are unrolled by as many as they have.
      int64_t unroll = std::max<int64_t>(1, std::min(this->unroll, sliceLen / step));
      int64_t mainEnd = unroll > 1 ? (sliceLen / (step * unroll)) * step * unroll : 0;
      auto accumulate = [&](Value col, Value wv, ValueRange accIn, SmallVectorImpl<Value> &accOut) {
        accOut.clear();
        for (int64_t j = 0; j < rowsPerTile; ++j) {
          Value xv = loadWidened(x, xIndices[j], col, lanes, xAlign);
          accOut.push_back(vector::FMAOp::create(b, loc, xv, wv, accIn[j]));
        }
      };
      if (mainEnd > 0) {
        auto mainLoop = scf::ForOp::create(b, loc, index(0), index(mainEnd), index(step * unroll), acc);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(mainLoop.getBody());
        SmallVector<Value> cols, weights;
        for (int64_t u = 0; u < unroll; ++u) {
          Value col = arith::AddIOp::create(
              b, loc, mainLoop.getInductionVar(),
              arith::AddIOp::create(b, loc, laneCol, index(u * step)));
          cols.push_back(col);
          weights.push_back(loadWidened(w, ValueRange{row}, col, lanes, 16));
        }
        SmallVector<Value> cur(mainLoop.getRegionIterArgs()), next;
        for (int64_t u = 0; u < unroll; ++u) {
          accumulate(cols[u], weights[u], cur, next);
          cur = next;
        }
        scf::YieldOp::create(b, loc, cur);
        b.setInsertionPointAfter(mainLoop);
        acc.assign(mainLoop.getResults().begin(), mainLoop.getResults().end());
      }
      if (mainEnd < sliceLen) {
        Value kStart = arith::AddIOp::create(b, loc, laneCol, index(mainEnd));
        Value kEnd = arith::AddIOp::create(b, loc, kBegin, index(sliceLen));
        auto tail = scf::ForOp::create(b, loc, kStart, kEnd, index(step), acc);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(tail.getBody());
        Value col = tail.getInductionVar();
        SmallVector<Value> next;
        accumulate(col, loadWidened(w, ValueRange{row}, col, lanes, 16),
                   tail.getRegionIterArgs(), next);
        scf::YieldOp::create(b, loc, next);
        b.setInsertionPointAfter(tail);
        acc.assign(tail.getResults().begin(), tail.getResults().end());
      }
      Value isLane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, index(0));
      SmallVector<Value> sums;
      for (int64_t j = 0; j < rowsPerTile; ++j)
        sums.push_back(ssmc::cuda::warpSum(
            b, loc, vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, acc[j])));
      Value storer = isLane0;
      if (split > 1) {
        // Each warp's sums into workgroup memory; the row's first warp adds
        // the slices' sums in k order.
        Value partials = launch.getWorkgroupAttributions()[0];
        auto ifLane0 = scf::IfOp::create(b, loc, isLane0, /*withElseRegion=*/false);
        {
          OpBuilder::InsertionGuard g3(b);
          b.setInsertionPointToStart(ifLane0.thenBlock());
          for (int64_t j = 0; j < rowsPerTile; ++j)
            memref::StoreOp::create(
                b, loc, sums[j], partials,
                ValueRange{arith::AddIOp::create(
                    b, loc, arith::MulIOp::create(b, loc, warp, index(rowsPerTile)), index(j))});
        }
        gpu::BarrierOp::create(b, loc);
        Value firstOfRow = arith::MulIOp::create(b, loc, rowInBlock, index(split));
        for (int64_t j = 0; j < rowsPerTile; ++j) {
          Value total;
          for (int64_t p = 0; p < split; ++p) {
            Value slot = arith::AddIOp::create(
                b, loc,
                arith::MulIOp::create(b, loc,
                                      arith::AddIOp::create(b, loc, firstOfRow, index(p)),
                                      index(rowsPerTile)),
                index(j));
            Value v = memref::LoadOp::create(b, loc, partials, ValueRange{slot});
            total = total ? arith::AddFOp::create(b, loc, total, v).getResult() : v;
          }
          sums[j] = total;
        }
        Value isFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, warp, firstOfRow);
        storer = arith::AndIOp::create(b, loc, arith::AndIOp::create(b, loc, isLane0, isFirst),
                                       inRange);
      }
      for (int64_t j = 0; j < rowsPerTile; ++j) {
        Value m = arith::AddIOp::create(b, loc, m0, index(j));
        Value valid = arith::AndIOp::create(
            b, loc, storer, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, m, rows));
        auto ifStore = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard g3(b);
        b.setInsertionPointToStart(ifStore.thenBlock());
        SmallVector<Value> outIndices = batchIndices(m, batchSizes);
        outIndices.push_back(row);
        storeResult(sums[j], outIndices);
      }
      // The next tile's partial sums reuse the workgroup memory.
      if (split > 1)
        gpu::BarrierOp::create(b, loc);
    }
  }
};

/// `v` as an unranked memref (how the vendor-GEMM entries take operands).
Value toUnranked(OpBuilder &b, Location loc, Value v) {
  auto t = cast<MemRefType>(v.getType());
  return memref::CastOp::create(b, loc, UnrankedMemRefType::get(t.getElementType(), 0), v);
}

/// The vendor-GEMM entry for these operand types, declared once per module:
/// `ssmc_gpu_gemm_<x>_<w>` adds onto an f32 output, `ssmc_gpu_gemm_store_<x>_<w>`
/// stores the product rounded to `x`'s type.
func::FuncOp gemmDeclaration(ModuleOp module, Type xElement, Type wElement, bool store) {
  std::string name = std::string(store ? "ssmc_gpu_gemm_store_" : "ssmc_gpu_gemm_") +
                     typeName(xElement) + "_" + typeName(wElement);
  if (auto f = module.lookupSymbol<func::FuncOp>(name))
    return f;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  MLIRContext *ctx = module.getContext();
  Type outElement = store ? xElement : Float32Type::get(ctx);
  auto fnType = b.getFunctionType({UnrankedMemRefType::get(xElement, 0),
                                   UnrankedMemRefType::get(wElement, 0),
                                   UnrankedMemRefType::get(outElement, 0)},
                                  {b.getI32Type()});
  auto f = func::FuncOp::create(b, module.getLoc(), name, fnType);
  f.setPrivate();
  // ssm-gpu-host-device-memory: the operands are device buffers.
  f->setAttr("ssmc.device_call", UnitAttr::get(ctx));
  return f;
}

/// Whether `epilogue` only ever uses the projection's f32 output `out`
/// rounded to `element` (`arith.truncf`): the vendor GEMM can then store
/// the rounded product and the epilogue read that instead.
bool readsOnlyRounded(linalg::GenericOp epilogue, Value out, Type element) {
  if (epilogue.getDpsInits()[0] == out)
    return false; // in place: the f32 buffer is its output
  Block &body = epilogue.getRegion().front();
  bool any = false;
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    if (input->get() != out)
      continue;
    any = true;
    for (Operation *user : body.getArgument(input->getOperandNumber()).getUsers()) {
      auto trunc = dyn_cast<arith::TruncFOp>(user);
      if (!trunc || trunc.getType() != element)
        return false;
    }
  }
  return any;
}

/// Makes `reader` (which uses `out` only through truncf to `rounded`'s
/// element type, see readsOnlyRounded) read `rounded` instead: its block
/// arguments for `out` take the rounded type and the truncf ops go.
void readRounded(linalg::GenericOp reader, Value out, Value rounded) {
  Type element = cast<MemRefType>(rounded.getType()).getElementType();
  Block &body = reader.getRegion().front();
  for (OpOperand *input : reader.getDpsInputOperands()) {
    if (input->get() != out)
      continue;
    input->set(rounded);
    BlockArgument arg = body.getArgument(input->getOperandNumber());
    arg.setType(element);
    for (Operation *user : llvm::make_early_inc_range(arg.getUsers())) {
      user->getResult(0).replaceAllUsesWith(arg);
      user->erase();
    }
  }
}

/// Whether `epilogue` is nothing but that rounding (`yield truncf(out)`),
/// whose output the GEMM can then write directly.
bool isPureRounding(linalg::GenericOp epilogue, Value out) {
  Block &body = epilogue.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto trunc = yield.getValues()[0].getDefiningOp<arith::TruncFOp>();
  if (!trunc || &body.front() != trunc.getOperation() || epilogue.getNumDpsInputs() != 1 ||
      epilogue.getDpsInputs()[0] != out)
    return false;
  auto arg = dyn_cast<BlockArgument>(trunc.getIn());
  return arg && arg.getArgNumber() == 0 && epilogue.getIndexingMapsArray()[0].isIdentity();
}

/// A projection whose zero-filled f32 output `out` is read, after it, only
/// by elementwise ops that round it to `element` first, but by none that
/// can be folded into its kernel (the MLP's gate: the up projection lies
/// between it and silu(gate) * up). Rounds early instead: a bf16 (f16)
/// buffer written by a new rounding op right after the projection, and the
/// readers read that, without their truncf. The rounding is then the
/// projection's foldable consumer: the warp kernel stores rounded sums and
/// the vendor GEMM writes them itself; the readers load half the bytes.
/// Returns whether it rewrote anything.
bool roundEarly(linalg::GenericOp op, Value out, Type element) {
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  auto outType = cast<MemRefType>(out.getType());
  if (!alloc || !outType.getElementType().isF32() || !isa<BFloat16Type, Float16Type>(element) ||
      !outType.getLayout().isIdentity() || !ssmc::cuda::zeroFillBefore(op, out))
    return false;
  SmallVector<linalg::GenericOp> readers;
  memref::DeallocOp dealloc;
  for (Operation *user : out.getUsers()) {
    if (user == op)
      continue;
    if (auto d = dyn_cast<memref::DeallocOp>(user)) {
      if (dealloc || d->getBlock() != op->getBlock())
        return false;
      dealloc = d;
      continue;
    }
    if (auto fill = dyn_cast<linalg::FillOp>(user); fill && fill->isBeforeInBlock(op))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || generic->getBlock() != op->getBlock() || !op->isBeforeInBlock(generic) ||
        !generic.hasPureBufferSemantics() || !readsOnlyRounded(generic, out, element))
      return false;
    readers.push_back(generic);
  }
  // The new buffer is freed where the f32 one is, after every reader.
  if (readers.empty() || !dealloc ||
      llvm::any_of(readers, [&](Operation *r) { return !r->isBeforeInBlock(dealloc); }))
    return false;
  OpBuilder b(op->getContext());
  b.setInsertionPointAfter(op);
  Location loc = op.getLoc();
  // Sized like `out` by its allocation's own sizes (a memref.dim of `out`
  // would be one more user, and keep the rounding from folding).
  Value rounded = memref::AllocOp::create(b, loc, MemRefType::get(outType.getShape(), element),
                                          alloc.getDynamicSizes());
  AffineMap id = b.getMultiDimIdentityMap(outType.getRank());
  SmallVector<utils::IteratorType> parallel(outType.getRank(), utils::IteratorType::parallel);
  linalg::GenericOp::create(b, loc, ValueRange{out}, ValueRange{rounded},
                            ArrayRef<AffineMap>{id, id}, parallel,
                            [&](OpBuilder &nb, Location l, ValueRange args) {
                              Value r = arith::TruncFOp::create(nb, l, element, args[0]);
                              linalg::YieldOp::create(nb, l, r);
                            });
  for (linalg::GenericOp reader : readers)
    readRounded(reader, out, rounded);
  OpBuilder atDealloc(dealloc);
  memref::DeallocOp::create(atDealloc, loc, rounded);
  return true;
}

/// The constant byte offset of a weight view `memref.view %base[%c][]`.
std::optional<int64_t> viewOffset(Value w, Value &base) {
  auto view = w.getDefiningOp<memref::ViewOp>();
  if (!view || !view.getSizes().empty())
    return std::nullopt;
  base = view.getSource();
  return getConstantIntValue(view.getByteShift());
}

/// Two projections of the same activations x, one right after the other,
/// whose weights lie back to back in one buffer (the MLP's gate and up
/// projections: bound in that order) become one projection over both
/// weights into one buffer whose two halves the readers read: one launch
/// streams both matrices (a 16 us decode launch of a 34 MB matrix spends
/// ~5 us ramping up and draining). When every reader uses the sums only
/// rounded to x's type, the merged sums are rounded right after the
/// projection (its foldable consumer: stored rounded) and read so.
/// Returns the sibling it merged `first` with (both are erased), or null.
Operation *mergeSibling(linalg::GenericOp first) {
  Operation *next = first->getNextNode();
  linalg::GenericOp second;
  for (; next; next = next->getNextNode()) {
    if (auto generic = dyn_cast<linalg::GenericOp>(next)) {
      if (ssmc::isProjection(generic))
        second = generic;
      break;
    }
    if (!isa<memref::AllocOp, linalg::FillOp, memref::ViewOp, arith::ConstantOp, memref::DimOp>(next))
      return nullptr;
  }
  if (!second || second.getDpsInputs()[0] != first.getDpsInputs()[0])
    return nullptr;
  Value x = first.getDpsInputs()[0];
  Value base1, base2;
  Value w1 = first.getDpsInputs()[1], w2 = second.getDpsInputs()[1];
  std::optional<int64_t> off1 = viewOffset(w1, base1), off2 = viewOffset(w2, base2);
  auto w1Type = cast<MemRefType>(w1.getType()), w2Type = cast<MemRefType>(w2.getType());
  if (!off1 || !off2 || base1 != base2 || w1Type.getElementType() != w2Type.getElementType() ||
      !w1Type.hasStaticShape() || !w2Type.hasStaticShape() ||
      w1Type.getDimSize(1) != w2Type.getDimSize(1))
    return nullptr;
  int64_t n1 = w1Type.getDimSize(0), n2 = w2Type.getDimSize(0), k = w1Type.getDimSize(1);
  if (*off2 != *off1 + n1 * k * (w1Type.getElementTypeBitWidth() / 8))
    return nullptr;
  Value o1 = first.getDpsInits()[0], o2 = second.getDpsInits()[0];
  auto a1 = o1.getDefiningOp<memref::AllocOp>(), a2 = o2.getDefiningOp<memref::AllocOp>();
  linalg::FillOp f1 = ssmc::cuda::zeroFillBefore(first, o1),
                 f2 = ssmc::cuda::zeroFillBefore(second, o2);
  if (!a1 || !a2 || !f1 || !f2 || a1.getDynamicSizes() != a2.getDynamicSizes() ||
      !a1.getType().getLayout().isIdentity() || !a2.getType().getLayout().isIdentity() ||
      a1.getType().getRank() != a2.getType().getRank() || !a1.getType().getElementType().isF32())
    return nullptr;
  // Every other user reads after `second` (readers), or frees.
  SmallVector<linalg::GenericOp> readers;
  SmallVector<memref::DeallocOp> deallocs;
  bool rounded = isa<BFloat16Type, Float16Type>(cast<MemRefType>(x.getType()).getElementType());
  Type element = cast<MemRefType>(x.getType()).getElementType();
  for (Value o : {o1, o2}) {
    for (Operation *user : o.getUsers()) {
      if (user == first.getOperation() || user == second.getOperation() || user == f1.getOperation() ||
          user == f2.getOperation())
        continue;
      if (auto d = dyn_cast<memref::DeallocOp>(user)) {
        if (d->getBlock() != second->getBlock() || !second->isBeforeInBlock(d))
          return nullptr;
        deallocs.push_back(d);
        continue;
      }
      auto reader = dyn_cast<linalg::GenericOp>(user);
      if (!reader || reader->getBlock() != second->getBlock() || !second->isBeforeInBlock(reader))
        return nullptr;
      if (!llvm::is_contained(readers, reader))
        readers.push_back(reader);
      rounded &= readsOnlyRounded(reader, o, element);
    }
  }
  if (deallocs.size() != 2 || readers.empty())
    return nullptr;
  memref::DeallocOp lastDealloc =
      deallocs[0]->isBeforeInBlock(deallocs[1]) ? deallocs[1] : deallocs[0];

  OpBuilder b(first);
  Location loc = first.getLoc();
  MemRefType oType = a1.getType();
  int64_t rank = oType.getRank();
  SmallVector<int64_t> shape(oType.getShape());
  shape.back() = n1 + n2;
  // Everything the merged op needs exists before `first`: the new buffers
  // are sized by the allocations' sizes (defined before them).
  b.setInsertionPoint(a1);
  Value w = memref::ViewOp::create(b, loc, MemRefType::get({n1 + n2, k}, w1Type.getElementType()),
                                   base1, cast<memref::ViewOp>(w1.getDefiningOp()).getByteShift(),
                                   ValueRange{});
  Value merged = memref::AllocOp::create(b, loc, MemRefType::get(shape, oType.getElementType()),
                                         a1.getDynamicSizes());
  b.setInsertionPoint(first);
  linalg::FillOp::create(b, loc, f1.getInputs()[0], merged);
  IRMapping mapping;
  mapping.map(w1, w);
  mapping.map(o1, merged);
  b.clone(*first, mapping);
  // The halves the readers read: f32 sums, or their rounding.
  Value halvesOf = merged;
  if (rounded) {
    halvesOf = memref::AllocOp::create(b, loc, MemRefType::get(shape, element), a1.getDynamicSizes());
    AffineMap id = b.getMultiDimIdentityMap(rank);
    SmallVector<utils::IteratorType> parallel(rank, utils::IteratorType::parallel);
    linalg::GenericOp::create(b, loc, ValueRange{merged}, ValueRange{halvesOf},
                              ArrayRef<AffineMap>{id, id}, parallel,
                              [&](OpBuilder &nb, Location l, ValueRange args) {
                                linalg::YieldOp::create(
                                    nb, l, arith::TruncFOp::create(nb, l, element, args[0]).getResult());
                              });
  }
  auto half = [&](int64_t offset, int64_t size) -> Value {
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes, strides(rank, b.getIndexAttr(1));
    unsigned dynamic = 0;
    for (int64_t d = 0; d < rank; ++d)
      sizes.push_back(d + 1 == rank              ? OpFoldResult(b.getIndexAttr(size))
                      : oType.isDynamicDim(d) ? OpFoldResult(a1.getDynamicSizes()[dynamic++])
                                              : OpFoldResult(b.getIndexAttr(oType.getDimSize(d))));
    offsets.back() = b.getIndexAttr(offset);
    return memref::SubViewOp::create(b, loc, halvesOf, offsets, sizes, strides);
  };
  Value h1 = half(0, n1), h2 = half(n1, n2);
  for (linalg::GenericOp reader : readers) {
    if (rounded) {
      readRounded(reader, o1, h1);
      readRounded(reader, o2, h2);
    } else {
      for (OpOperand *input : reader.getDpsInputOperands())
        input->set(input->get() == o1 ? h1 : input->get() == o2 ? h2 : input->get());
    }
  }
  b.setInsertionPoint(lastDealloc);
  memref::DeallocOp::create(b, loc, merged);
  if (rounded)
    memref::DeallocOp::create(b, loc, halvesOf);
  for (memref::DeallocOp d : deallocs)
    d.erase();
  Operation *erased = second.getOperation();
  second.erase();
  first.erase();
  f1.erase();
  f2.erase();
  a1.erase();
  a2.erase();
  return erased;
}

struct GPUProjectionsPass : ssmc::cuda::impl::GPUProjectionsBase<GPUProjectionsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (maxRows < 0 || rowsPerTile < 1 || warpsPerBlock < 1 || warpsPerBlock * kWarp > 1024 ||
        unroll < 1 || unroll > 16) {
      module.emitError("ssm-gpu-projections: expected max-rows >= 0, rows-per-tile >= 1, "
                       "1 <= warps-per-block <= 32 and 1 <= unroll <= 16");
      return signalPassFailure();
    }
    if (mergeSiblings) {
      SmallVector<linalg::GenericOp> candidates;
      module.walk([&](linalg::GenericOp op) {
        if (!op->getParentOfType<gpu::LaunchOp>() && ssmc::isProjection(op))
          candidates.push_back(op);
      });
      llvm::SmallPtrSet<Operation *, 8> erased;
      for (linalg::GenericOp op : candidates) {
        if (erased.contains(op))
          continue;
        if (Operation *sibling = mergeSibling(op))
          erased.insert(sibling);
      }
    }
    SmallVector<linalg::GenericOp> projections;
    module.walk([&](linalg::GenericOp op) {
      if (!op->getParentOfType<gpu::LaunchOp>() && ssmc::isProjection(op))
        projections.push_back(op);
    });
    for (linalg::GenericOp op : projections)
      rewrite(module, op);
  }

  void rewrite(ModuleOp module, linalg::GenericOp op) {
    Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1], out = op.getDpsInits()[0];
    auto xType = cast<MemRefType>(x.getType()), wType = cast<MemRefType>(w.getType()),
         outType = cast<MemRefType>(out.getType());
    if (typeName(xType.getElementType()).empty() || typeName(wType.getElementType()).empty() ||
        wType.isDynamicDim(0) || wType.isDynamicDim(1))
      return;
    int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
    if (!ssmc::cuda::foldableConsumerOf(op, out, /*allowBroadcast=*/false))
      roundEarly(op, out, xType.getElementType());
    SmallVector<int64_t> strides;
    int64_t offset;
    int64_t wBytes = wType.getElementTypeBitWidth() / 8;
    int64_t lanes = 16 / wBytes;
    // The kernel's 16-byte weight loads need rows that start on 16 bytes.
    bool warpKernel = stridesOf(wType, strides, offset) && strides[1] == 1 && strides[0] == k &&
                      offset != ShapedType::kDynamic && (offset * wBytes) % 16 == 0 &&
                      k % lanes == 0 && stridesOf(xType, strides, offset) && strides.back() == 1 &&
                      stridesOf(outType, strides, offset) && strides.back() == 1;

    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Value> batchSizes;
    Value rows = arith::ConstantIndexOp::create(b, loc, 1);
    for (int64_t d = 0; d + 1 < xType.getRank(); ++d) {
      Value size = memref::DimOp::create(b, loc, x, d);
      batchSizes.push_back(size);
      rows = arith::MulIOp::create(b, loc, rows, size);
    }

    // else-branch body: the vendor GEMM, falling back to the op itself.
    auto emitLarge = [&](OpBuilder &bb) {
      if (!vendorGemm) {
        op->moveBefore(bb.getInsertionBlock(), bb.getInsertionPoint());
        return;
      }
      func::FuncOp callee =
          gemmDeclaration(module, xType.getElementType(), wType.getElementType(), false);
      auto call = func::CallOp::create(
          bb, loc, callee,
          ValueRange{toUnranked(bb, loc, x), toUnranked(bb, loc, w), toUnranked(bb, loc, out)});
      Value zero = arith::ConstantIntOp::create(bb, loc, 0, 32);
      Value unsupported =
          arith::CmpIOp::create(bb, loc, arith::CmpIPredicate::ne, call.getResult(0), zero);
      auto fallback = scf::IfOp::create(bb, loc, unsupported, /*withElseRegion=*/false);
      op->moveBefore(fallback.thenBlock()->getTerminator());
    };

    // Prefill's projections start from zeros and are only read rounded to
    // the model's type (the rounding, a residual add, a gate): the vendor
    // GEMM then stores that rounded product itself (beta = 0), which drops
    // the zero fill, the f32 output's write and read-back, and, for a plain
    // rounding, the epilogue's kernel. The f32 path stays as the fallback.
    // Returns false (nothing built) when the projection is not of that form.
    auto emitLargeStored = [&](OpBuilder &bb, linalg::FillOp fill,
                               linalg::GenericOp consumer) -> bool {
      Type element = xType.getElementType();
      if (!vendorGemm || !fill || !consumer || !isa<BFloat16Type, Float16Type>(element) ||
          element != wType.getElementType() || !outType.getElementType().isF32() ||
          !readsOnlyRounded(consumer, out, element))
        return false;
      func::FuncOp callee = gemmDeclaration(module, element, element, true);
      Value target = consumer.getDpsInits()[0];
      bool direct = isPureRounding(consumer, out) &&
                    cast<MemRefType>(target.getType()).getElementType() == element;
      Value rounded;
      if (!direct) {
        SmallVector<Value> dynamicSizes;
        for (int64_t d = 0; d < outType.getRank(); ++d)
          if (outType.isDynamicDim(d))
            dynamicSizes.push_back(memref::DimOp::create(bb, loc, out, d));
        auto roundedType = MemRefType::get(outType.getShape(), element);
        rounded = memref::AllocOp::create(bb, loc, roundedType, dynamicSizes);
        target = rounded;
      }
      auto call = func::CallOp::create(bb, loc, callee,
                                       ValueRange{toUnranked(bb, loc, x), toUnranked(bb, loc, w),
                                                  toUnranked(bb, loc, target)});
      Value zero = arith::ConstantIntOp::create(bb, loc, 0, 32);
      Value unsupported =
          arith::CmpIOp::create(bb, loc, arith::CmpIPredicate::ne, call.getResult(0), zero);
      auto ifUnsupported = scf::IfOp::create(bb, loc, unsupported, /*withElseRegion=*/!direct);
      if (!direct) {
        // The epilogue on the rounded product: `out`'s reads become reads of
        // `rounded`, whose elements are already what the truncf made.
        OpBuilder eb(ifUnsupported.elseBlock()->getTerminator());
        readRounded(cast<linalg::GenericOp>(eb.clone(*consumer)), out, rounded);
        OpBuilder after(ifUnsupported->getNextNode());
        memref::DeallocOp::create(after, loc, rounded);
      }
      Operation *thenEnd = ifUnsupported.thenBlock()->getTerminator();
      fill->moveBefore(thenEnd);
      op->moveBefore(thenEnd);
      consumer->moveBefore(thenEnd);
      return true;
    };

    if (!warpKernel || maxRows == 0) {
      if (!vendorGemm)
        return;
      linalg::FillOp fill = ssmc::cuda::zeroFillBefore(op, out);
      linalg::GenericOp consumer =
          fill ? ssmc::cuda::foldableConsumerOf(op, out, /*allowBroadcast=*/false)
               : linalg::GenericOp();
      if (consumer)
        ssmc::cuda::hoistBetween(op, consumer);
      if (!emitLargeStored(b, fill, consumer))
        emitLarge(b);
      return;
    }
    // Fill then accumulate: the warp kernel writes every output element, so
    // only the other branch needs the zeros.
    linalg::FillOp zeroFill = ssmc::cuda::zeroFillBefore(op, out);
    // An elementwise consumer of the output (the projection's rounding, a
    // residual add, a gate) is computed on each sum in the kernel. It uses
    // its own buffers: hoist the allocations and views between the two ops
    // above the projection (they touch no data).
    linalg::GenericOp epilogue =
        ssmc::cuda::foldableConsumerOf(op, out, /*allowBroadcast=*/false);
    if (epilogue)
      ssmc::cuda::hoistBetween(op, epilogue);
    Value small = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, rows,
                                        arith::ConstantIndexOp::create(b, loc, maxRows));
    auto ifSmall = scf::IfOp::create(b, loc, small, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(ifSmall.thenBlock()->getTerminator());
      // One activation row (batch-1 decode, the most common call) gets its
      // own kernel: no register tile of rows (a tile of 4 would compute and
      // hold 3 dead rows, and the registers it costs halve the warps per
      // SM) and twice the loads in flight per lane.
      // Few weight rows (an output projection: 2048 rows of 8192) leave
      // most SMs idle with one warp per row: split k over up to 4 warps
      // until the kernel has `min-warps` warps.
      int64_t split = 1;
      while (split < 4 && n * split < minWarps && warpsPerBlock % (2 * split) == 0 &&
             k % (2 * split * kWarp * lanes) == 0 && k / (2 * split) >= minWarpK)
        split *= 2;
      auto emit = [&](int64_t tileRows, int64_t steps) {
        ProjectionEmitter emitter{b, loc, x, w, out, xType, wType, outType,
                                  n, k, warpsPerBlock, tileRows, steps, split,
                                  zeroFill != nullptr, epilogue};
        emitter.emitWarpKernel(rows, batchSizes);
      };
      if (rowsPerTile > 1) {
        Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, rows,
                                             arith::ConstantIndexOp::create(b, loc, 1));
        auto ifSingle = scf::IfOp::create(b, loc, single, /*withElseRegion=*/true);
        b.setInsertionPoint(ifSingle.thenBlock()->getTerminator());
        emit(1, std::min<int64_t>(2 * unroll, 16));
        b.setInsertionPoint(ifSingle.elseBlock()->getTerminator());
      }
      emit(rowsPerTile, unroll);
    }
    OpBuilder eb(ifSmall.elseBlock()->getTerminator());
    if (zeroFill)
      zeroFill->moveBefore(ifSmall.elseBlock()->getTerminator());
    // On the other path the epilogue runs after the product, as before.
    auto moveEpilogue = [&] {
      if (epilogue)
        epilogue->moveBefore(ifSmall.elseBlock()->getTerminator());
    };
    if (emitLargeStored(eb, zeroFill, epilogue))
      return;
    if (vendorGemm)
      emitLarge(eb);
    else
      op->moveBefore(ifSmall.elseBlock()->getTerminator());
    moveEpilogue();
  }
};

} // namespace
