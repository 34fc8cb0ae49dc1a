//===- Checkpoint.h - Memory-mapped access to checkpoint weight files -----===//
//
// Reads the weight files of a Hugging Face checkpoint directory without
// executing anything and without reading whole files into memory:
//   - model.safetensors, or shards listed in model.safetensors.index.json;
//   - pytorch_model.bin (a PyTorch zip archive; its data.pkl is interpreted by
//     a restricted unpickler that accepts only the opcodes and globals that
//     describe tensor storage), or shards listed in pytorch_model.bin.index.json.
// Files are memory-mapped; tensor bytes are views into the mapping.
//
// Every error names the file and, where there is one, the tensor.
//
// Writers for both formats are here too: the model generator uses them.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_FRONTENDS_CHECKPOINT_CHECKPOINT_H
#define SSMC_FRONTENDS_CHECKPOINT_CHECKPOINT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ssmc::ckpt {

/// Element types a checkpoint tensor may have. Names follow safetensors
/// ("F32", "BF16", ...).
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

/// Size of one element in bytes.
unsigned dtypeSize(DType t);
/// Safetensors spelling: "F32", "BF16", ...
llvm::StringRef dtypeName(DType t);
/// Parses a safetensors dtype string; fails on anything unknown.
llvm::Expected<DType> parseDType(llvm::StringRef s);

/// One tensor as stored: a contiguous row-major run of bytes in a file.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string file;    ///< path of the file holding the bytes
  uint64_t offset = 0; ///< absolute byte offset of the first element in `file`
  uint64_t nbytes = 0; ///< = numElements * dtypeSize

  int64_t numElements() const;
};

/// Weight file format of a checkpoint directory.
enum class Format { Safetensors, TorchZip };

struct TensorSpec;

/// All tensors of a checkpoint directory (possibly spread over shards).
class Checkpoint {
public:
  /// Opens the weights of `dir`. Looks, in order, for model.safetensors.index.json,
  /// model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin.
  static llvm::Expected<std::unique_ptr<Checkpoint>> openDirectory(llvm::StringRef dir);
  /// Opens one weight file (.safetensors or PyTorch zip .bin) directly.
  static llvm::Expected<std::unique_ptr<Checkpoint>> openFile(llvm::StringRef path);

  /// A checkpoint of names, types and shapes only (no files, bytes() is
  /// empty): what the importer needs to build IR for weights that exist
  /// elsewhere, e.g. synthesized at load (`ssmc compile --synthetic-weights`).
  static std::unique_ptr<Checkpoint> fromTensorTable(llvm::ArrayRef<TensorSpec> tensors);

  Format format() const { return fmt; }
  /// Tensors sorted by name.
  llvm::ArrayRef<TensorInfo> tensors() const { return infos; }
  /// Null when absent.
  const TensorInfo *find(llvm::StringRef name) const;
  /// The tensor's bytes, a view into the memory mapping (valid while *this lives).
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &t) const;
  /// Converts any floating-point tensor to float32 (bf16/f16/f64 widened or narrowed).
  llvm::Expected<std::vector<float>> readAsF32(const TensorInfo &t) const;
  /// Converts any floating-point tensor to double (used by the reference).
  llvm::Expected<std::vector<double>> readAsF64(const TensorInfo &t) const;
  /// Weight files that were opened (one per shard).
  std::vector<std::string> files() const;

private:
  Checkpoint() = default;
  Format fmt = Format::Safetensors;
  std::vector<TensorInfo> infos;
  std::map<std::string, std::unique_ptr<llvm::MemoryBuffer>> mapped; // file -> mmap
  friend class CheckpointBuilder;
};

/// A tensor to be written: name, element type, shape.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t nbytes() const; ///< numElements * dtypeSize
};

/// Fills the bytes of tensor `index` (row-major, already in the tensor's dtype).
/// Writers call it once per tensor, in order, so whole models are never held
/// in memory at once.
using FillFn = llvm::function_ref<llvm::Error(size_t index, llvm::MutableArrayRef<uint8_t> out)>;

/// Writes a safetensors file (8-byte little-endian header length, JSON header
/// with dtype/shape/data_offsets per tensor and optional "__metadata__",
/// header padded with spaces to a multiple of 8, then the data).
llvm::Error writeSafetensors(llvm::StringRef path, llvm::ArrayRef<TensorSpec> tensors, FillFn fill,
                             const std::map<std::string, std::string> &metadata = {});

/// Writes `tensors` as safetensors shards of at most `maxShardBytes` each
/// (a tensor larger than that gets a shard of its own), named
/// model-0000k-of-0000n.safetensors, plus model.safetensors.index.json
/// ({"metadata": {"total_size": N}, "weight_map": {name: file}}).
llvm::Error writeShardedSafetensors(llvm::StringRef dir, llvm::ArrayRef<TensorSpec> tensors,
                                    FillFn fill, uint64_t maxShardBytes);

/// Writes a PyTorch zip checkpoint as torch.save does (archive folder
/// "archive/", data.pkl = protocol-2 pickle of an OrderedDict name ->
/// torch._utils._rebuild_tensor_v2(persistent storage id, offset, size, stride,
/// requires_grad, OrderedDict()), one uncompressed entry data/<k> per storage,
/// a "version" entry, 64-byte aligned data). `aliases` lists extra keys that
/// share the storage of an existing tensor, as tied weights are saved
/// (e.g. {"lm_head.weight", "backbone.embedding.weight"}).
llvm::Error writeTorchZip(llvm::StringRef path, llvm::ArrayRef<TensorSpec> tensors, FillFn fill,
                          llvm::ArrayRef<std::pair<std::string, std::string>> aliases = {});

/// llvm::json::parse, refusing text nested deeper than `maxDepth` first: the
/// parser recurses once per level, so hostile nesting would overflow the
/// stack. Every JSON file ssmc reads (safetensors headers, shard indexes,
/// config.json) goes through it.
llvm::Expected<llvm::json::Value> parseJsonBounded(llvm::StringRef text, unsigned maxDepth = 64);

/// Float conversions shared by readers and writers.
uint16_t floatToBF16(float f); ///< round to nearest even
float bf16ToFloat(uint16_t h);
uint16_t floatToF16(float f); ///< round to nearest even, saturating to inf
float f16ToFloat(uint16_t h);

/// Converts the little-endian elements `in` of float type `from` into `out`
/// as float type `to` (F32, BF16 and F16 each way; equal types copy).
/// Narrowing rounds to nearest even, keeps NaNs quiet NaNs and infinities
/// infinite; widening is exact; F16 <-> BF16 goes through F32 (exact, then
/// one rounding). Fails on other types or when `out` does not hold exactly
/// the elements of `in`.
llvm::Error convertFloatElements(DType from, llvm::ArrayRef<uint8_t> in, DType to,
                                 llvm::MutableArrayRef<uint8_t> out);

} // namespace ssmc::ckpt

#endif // SSMC_FRONTENDS_CHECKPOINT_CHECKPOINT_H
