//===- ChunkedScanLowering.h - Chunked SSD lowering of chunked_scan -*- C++ -*-===//
//
// The pattern lowering `ssm.chunked_scan` by the chunked SSD algorithm of
// spec §1.6 (intra-chunk quadratic form, per-chunk states, inter-chunk
// recurrence, state-to-output term) instead of the token-by-token recurrence
// that `ssm.selective_scan` uses.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_PASSES_CHUNKEDSCANLOWERING_H
#define SSMC_PASSES_CHUNKEDSCANLOWERING_H

#include "mlir/Transforms/DialectConversion.h"

namespace ssmc {

/// Adds the chunked lowering of `ssm.chunked_scan` to linalg/tensor/scf on
/// tensors: an scf.for over chunks carrying the float32 state of the batch,
/// or, with `allChunksAtOnce`, every whole chunk in the same ops (a chunk
/// loop inside each op; the inter-chunk recurrence one sequential op). A last
/// partial chunk follows either way. State operands and results are
/// converted by `converter`.
void populateChunkedScanLoweringPatterns(const mlir::TypeConverter &converter,
                                         mlir::RewritePatternSet &patterns,
                                         bool allChunksAtOnce = false);

} // namespace ssmc

#endif // SSMC_PASSES_CHUNKEDSCANLOWERING_H
