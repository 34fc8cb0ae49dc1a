//===- ReferenceLoad.h - Checkpoint directories for the reference ---------===//
//
// Reads weights through the shared checkpoint byte reader
// (frontends/checkpoint/Checkpoint.h). Reading bytes is not model math; the
// tensor names and shapes the model asks for are the reference's own
// (Reference.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_TEST_REFERENCE_REFERENCELOAD_H
#define SSMC_TEST_REFERENCE_REFERENCELOAD_H

#include "test/reference/Reference.h"

namespace ssmc::ref {

/// Every floating-point tensor of the checkpoint in `dir`, converted to double.
llvm::Expected<Weights> loadCheckpoint(llvm::StringRef dir);

/// parseConfigDir(dir) and a Model built from the tensors it needs (read one
/// by one from the checkpoint, so unused tensors are never converted).
llvm::Expected<Model> loadModel(llvm::StringRef dir);

} // namespace ssmc::ref

#endif // SSMC_TEST_REFERENCE_REFERENCELOAD_H
