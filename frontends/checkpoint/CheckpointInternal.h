//===- CheckpointInternal.h - Pieces shared by the checkpoint sources -----===//
//
// Not part of the library's interface: the zip directory reader/writer, the
// restricted unpickler and the per-format parsers, declared here so that the
// .cpp files of the library (and its unit tests) can reach them.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_FRONTENDS_CHECKPOINT_CHECKPOINTINTERNAL_H
#define SSMC_FRONTENDS_CHECKPOINT_CHECKPOINTINTERNAL_H

#include "frontends/checkpoint/Checkpoint.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

namespace ssmc::ckpt {

/// An error whose message is `msg` (callers put the file and tensor in it).
llvm::Error makeError(const llvm::Twine &msg);

/// numel of `shape`, or nullopt when a dimension is negative or the product
/// overflows int64.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape);
/// numel * elementSize, or nullopt on a negative dim or overflow.
std::optional<uint64_t> checkedByteSize(llvm::ArrayRef<int64_t> shape, DType dtype);
/// "[2, 3]".
std::string formatShape(llvm::ArrayRef<int64_t> shape);


/// Memory-maps `path` read-only; the error names the file.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> mapFile(llvm::StringRef path);

/// Parses the header of the safetensors file `path` (contents `data`) and
/// appends its tensors to `out`, with absolute offsets.
llvm::Error parseSafetensors(llvm::StringRef path, llvm::ArrayRef<uint8_t> data,
                             std::vector<TensorInfo> &out);

/// Parses the PyTorch zip archive `path` (contents `data`) and appends its
/// tensors to `out`.
llvm::Error parseTorchZip(llvm::StringRef path, llvm::ArrayRef<uint8_t> data,
                          std::vector<TensorInfo> &out);

/// Checks what a writer is given: unique non-empty names, valid shapes.
/// `path` is the file or directory being written, for the message.
llvm::Error validateTensorSpecs(llvm::StringRef path, llvm::ArrayRef<TensorSpec> tensors);

/// Removes the partially written file `path` and returns `err`.
llvm::Error discardPartial(llvm::StringRef path, llvm::Error err);

//===----------------------------------------------------------------------===//
// Zip archives
//===----------------------------------------------------------------------===//

/// One entry of a zip central directory, resolved against its local header.
struct ZipEntry {
  std::string name;
  uint16_t method = 0;     ///< 0 = stored
  uint16_t flags = 0;      ///< general purpose bit flags
  uint32_t crc32 = 0;      ///< as recorded in the central directory
  uint64_t size = 0;       ///< uncompressed (= stored) size
  uint64_t dataOffset = 0; ///< absolute offset of the entry's bytes in the file
};

/// Reads the central directory of the zip archive `path` (contents `data`),
/// including ZIP64 records. Every entry's data range is checked to lie inside
/// the file. Compressed or encrypted entries are rejected.
llvm::Expected<std::vector<ZipEntry>> readZipDirectory(llvm::StringRef path,
                                                       llvm::ArrayRef<uint8_t> data);

/// Streams a zip archive of stored entries to `os`, which must support
/// pwrite (CRC-32 values are patched into the local headers after the data).
/// Each entry's data starts at a multiple of `alignment` in the file, padded
/// through the local header's extra field as PyTorch does.
class ZipWriter {
public:
  ZipWriter(llvm::raw_pwrite_stream &os, unsigned alignment = 64, bool forceZip64 = false)
      : os(os), alignment(alignment), forceZip64(forceZip64) {}
  /// Writes an entry of `size` bytes; `fill` gets a buffer of exactly `size`.
  llvm::Error addEntry(llvm::StringRef name, uint64_t size,
                       llvm::function_ref<llvm::Error(llvm::MutableArrayRef<uint8_t>)> fill);
  llvm::Error addEntry(llvm::StringRef name, llvm::ArrayRef<uint8_t> bytes);
  /// Writes the central directory and end records.
  void finish();

private:
  struct Written {
    std::string name;
    uint32_t crc;
    uint64_t size;
    uint64_t headerOffset;
  };
  llvm::raw_pwrite_stream &os;
  unsigned alignment;
  bool forceZip64;
  std::vector<Written> entries;
};

//===----------------------------------------------------------------------===//
// Restricted unpickler (torch.save's data.pkl)
//===----------------------------------------------------------------------===//

/// A tensor as described by data.pkl: `_rebuild_tensor_v2(storage, offset,
/// size, stride, ...)` with the storage's persistent id resolved.
struct PickledTensor {
  std::string name;
  DType dtype = DType::F32;
  std::string storageKey;    ///< data/<storageKey> in the archive
  int64_t storageNumel = 0;  ///< elements in the storage
  int64_t storageOffset = 0; ///< in elements
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
};

/// Interprets the pickle `pkl` (described as `where` in errors, e.g.
/// "model.bin: archive/data.pkl") without executing anything: only the opcodes
/// and globals that describe a state dict of tensors are accepted. Returns the
/// state dict's entries in pickle order.
llvm::Expected<std::vector<PickledTensor>> unpickleStateDict(llvm::StringRef where,
                                                             llvm::ArrayRef<uint8_t> pkl);

/// Builds a protocol-2 pickle of an OrderedDict of tensors, as torch.save
/// writes it (`tensors` must have contiguous strides).
std::string pickleStateDict(llvm::ArrayRef<PickledTensor> tensors);

/// Torch storage class ("FloatStorage", ...) of a dtype.
llvm::StringRef torchStorageName(DType t);

} // namespace ssmc::ckpt

#endif // SSMC_FRONTENDS_CHECKPOINT_CHECKPOINTINTERNAL_H
