//===- Checkpoint.cpp - Checkpoint directories, shards and tensor access --===//

#include "frontends/checkpoint/CheckpointInternal.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

#include <algorithm>

using namespace llvm;

namespace ssmc::ckpt {

Expected<std::unique_ptr<MemoryBuffer>> mapFile(StringRef path) {
  if (sys::fs::is_directory(path))
    return makeError(path + ": is a directory, not a weight file");
  // Not null-terminated, so that large files are mapped rather than read.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
      MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf)
    return makeError(path + ": cannot open: " + buf.getError().message());
  return std::move(*buf);
}

static ArrayRef<uint8_t> bytesOf(const MemoryBuffer &buf) {
  return ArrayRef(reinterpret_cast<const uint8_t *>(buf.getBufferStart()), buf.getBufferSize());
}

/// A zip archive starts with a local header (or, if empty, the end record).
static bool looksLikeZip(ArrayRef<uint8_t> d) {
  return d.size() >= 4 && d[0] == 'P' && d[1] == 'K' &&
         ((d[2] == 3 && d[3] == 4) || (d[2] == 5 && d[3] == 6));
}

/// torch.save's pre-1.6 format is a bare pickle stream starting with a
/// protocol-2 marker and a LONG1 magic number.
static bool looksLikeLegacyTorch(ArrayRef<uint8_t> d) {
  return d.size() >= 3 && d[0] == 0x80 && d[1] == 0x02 && d[2] == 0x8a;
}

class CheckpointBuilder {
public:
  /// Maps `path`, detects its format and appends its tensors to `ck`.
  static Error addFile(Checkpoint &ck, StringRef path, Format &fmt) {
    Expected<std::unique_ptr<MemoryBuffer>> buf = mapFile(path);
    if (!buf)
      return buf.takeError();
    ArrayRef<uint8_t> data = bytesOf(**buf);
    if (looksLikeZip(data)) {
      fmt = Format::TorchZip;
      if (Error e = parseTorchZip(path, data, ck.infos))
        return e;
    } else if (looksLikeLegacyTorch(data)) {
      return makeError(path + ": legacy (pre-zip) torch.save format is not supported; re-save "
                              "it with a current torch.save");
    } else {
      fmt = Format::Safetensors;
      if (Error e = parseSafetensors(path, data, ck.infos))
        return e;
    }
    ck.mapped[path.str()] = std::move(*buf);
    return Error::success();
  }

  static void finish(Checkpoint &ck) {
    std::sort(ck.infos.begin(), ck.infos.end(),
              [](const TensorInfo &a, const TensorInfo &b) { return a.name < b.name; });
  }

  static Expected<std::unique_ptr<Checkpoint>> openSingle(StringRef path) {
    std::unique_ptr<Checkpoint> ck(new Checkpoint());
    if (Error e = addFile(*ck, path, ck->fmt))
      return e;
    // A single file cannot repeat a name in safetensors (JSON object keys) and
    // torch archives are checked while parsing.
    finish(*ck);
    return ck;
  }

  static Expected<std::unique_ptr<Checkpoint>> openIndex(StringRef indexPath);
};

/// Reads the "weight_map" of a sharded checkpoint's index.
static Expected<std::vector<std::pair<std::string, std::string>>>
readWeightMap(StringRef indexPath) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getFile(indexPath, /*IsText=*/true);
  if (!buf)
    return makeError(indexPath + ": cannot open: " + buf.getError().message());
  Expected<json::Value> parsed = parseJsonBounded((*buf)->getBuffer());
  if (!parsed)
    return makeError(indexPath + ": malformed JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  const json::Object *map = root ? root->getObject("weight_map") : nullptr;
  if (!map)
    return makeError(indexPath + ": no \"weight_map\" object");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto &kv : *map) {
    std::optional<StringRef> file = kv.second.getAsString();
    if (!file || file->empty())
      return makeError(indexPath + ": weight_map entry of tensor '" + kv.first.str() +
                       "' is not a file name");
    // Shards live next to the index; refuse names that would leave the folder.
    bool escapes = sys::path::is_absolute(*file);
    for (auto it = sys::path::begin(*file), e = sys::path::end(*file); it != e; ++it)
      escapes |= *it == "..";
    if (escapes)
      return makeError(indexPath + ": shard name '" + *file + "' of tensor '" + kv.first.str() +
                       "' points outside the checkpoint folder");
    out.push_back({kv.first.str(), file->str()});
  }
  std::sort(out.begin(), out.end());
  return out;
}

Expected<std::unique_ptr<Checkpoint>> CheckpointBuilder::openIndex(StringRef indexPath) {
  Expected<std::vector<std::pair<std::string, std::string>>> weightMap = readWeightMap(indexPath);
  if (!weightMap)
    return weightMap.takeError();
  StringRef dir = sys::path::parent_path(indexPath);

  // Shard file name -> the first tensor the index assigns to it.
  std::map<std::string, std::string> shards;
  StringMap<std::string> listedIn;
  for (const auto &[tensor, file] : *weightMap) {
    shards.try_emplace(file, tensor);
    listedIn[tensor] = file;
  }

  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  std::optional<Format> fmt;
  StringMap<std::string> foundIn; // tensor -> shard file name
  for (const auto &[file, firstTensor] : shards) {
    SmallString<256> path(dir);
    sys::path::append(path, file);
    if (!sys::fs::exists(path))
      return makeError(indexPath + ": shard '" + path + "' (holding tensor '" + firstTensor +
                       "') is missing");
    size_t before = ck->infos.size();
    Format shardFmt;
    if (Error e = addFile(*ck, path, shardFmt))
      return e;
    if (fmt && *fmt != shardFmt)
      return makeError(indexPath + ": shard '" + path + "' mixes weight file formats");
    fmt = shardFmt;
    for (size_t i = before; i < ck->infos.size(); ++i) {
      const std::string &name = ck->infos[i].name;
      auto [it, inserted] = foundIn.try_emplace(name, file);
      if (!inserted)
        return makeError(indexPath + ": duplicate tensor '" + name + "' in shards '" + it->second +
                         "' and '" + file + "'");
    }
  }
  for (const auto &kv : foundIn) {
    auto it = listedIn.find(kv.first());
    if (it == listedIn.end())
      return makeError(indexPath + ": tensor '" + kv.first() + "' in shard '" + kv.second +
                       "' is not listed in the weight_map");
    if (it->second != kv.second)
      return makeError(indexPath + ": tensor '" + kv.first() + "' is in shard '" + kv.second +
                       "' but the weight_map lists it in '" + it->second + "'");
  }
  for (const auto &[tensor, file] : *weightMap)
    if (!foundIn.count(tensor))
      return makeError(indexPath + ": tensor '" + tensor +
                       "' listed in the weight_map is not in shard '" + file + "'");
  ck->fmt = fmt.value_or(Format::Safetensors);
  finish(*ck);
  return ck;
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::openDirectory(StringRef dir) {
  if (!sys::fs::is_directory(dir))
    return makeError(dir + ": not a directory");
  for (StringRef name : {"model.safetensors.index.json", "model.safetensors",
                         "pytorch_model.bin.index.json", "pytorch_model.bin"}) {
    SmallString<256> path(dir);
    sys::path::append(path, name);
    if (!sys::fs::exists(path))
      continue;
    if (name.ends_with(".index.json"))
      return CheckpointBuilder::openIndex(path);
    return CheckpointBuilder::openSingle(path);
  }
  return makeError(dir + ": no weights found (looked for model.safetensors.index.json, "
                         "model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin)");
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::openFile(StringRef path) {
  if (path.ends_with(".index.json"))
    return CheckpointBuilder::openIndex(path);
  return CheckpointBuilder::openSingle(path);
}

std::unique_ptr<Checkpoint> Checkpoint::fromTensorTable(ArrayRef<TensorSpec> tensors) {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  for (const TensorSpec &spec : tensors) {
    TensorInfo info;
    info.name = spec.name;
    info.dtype = spec.dtype;
    info.shape = spec.shape;
    info.nbytes = spec.nbytes();
    ck->infos.push_back(std::move(info));
  }
  std::sort(ck->infos.begin(), ck->infos.end(),
            [](const TensorInfo &a, const TensorInfo &b) { return a.name < b.name; });
  return ck;
}

const TensorInfo *Checkpoint::find(StringRef name) const {
  auto it = std::lower_bound(infos.begin(), infos.end(), name,
                             [](const TensorInfo &t, StringRef n) { return t.name < n; });
  if (it == infos.end() || it->name != name)
    return nullptr;
  return &*it;
}

ArrayRef<uint8_t> Checkpoint::bytes(const TensorInfo &t) const {
  auto it = mapped.find(t.file);
  if (it == mapped.end())
    return {};
  ArrayRef<uint8_t> file = bytesOf(*it->second);
  if (t.offset > file.size() || t.nbytes > file.size() - t.offset)
    return {};
  return file.slice(t.offset, t.nbytes);
}

std::vector<std::string> Checkpoint::files() const {
  std::vector<std::string> out;
  for (const auto &kv : mapped)
    out.push_back(kv.first);
  return out;
}

/// Converts the elements of a floating-point tensor with `convert(float or
/// double)`; integer tensors are an error.
template <typename T>
static Expected<std::vector<T>> readAsFloat(const Checkpoint &ck, const TensorInfo &t) {
  auto err = [&](const Twine &what) {
    return makeError(t.file + ": tensor '" + t.name + "': " + what);
  };
  ArrayRef<uint8_t> raw = ck.bytes(t);
  std::optional<uint64_t> expected = checkedByteSize(t.shape, t.dtype);
  if (!expected || raw.size() != t.nbytes || *expected != t.nbytes)
    return err("is not a tensor of this checkpoint");
  size_t n = static_cast<size_t>(t.nbytes / dtypeSize(t.dtype));
  std::vector<T> out(n);
  const uint8_t *p = raw.data();
  using namespace llvm::support;
  switch (t.dtype) {
  case DType::F32:
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(endian::read<float, llvm::endianness::little>(p + 4 * i));
    break;
  case DType::F64:
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(endian::read<double, llvm::endianness::little>(p + 8 * i));
    break;
  case DType::F16:
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(f16ToFloat(endian::read16le(p + 2 * i)));
    break;
  case DType::BF16:
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<T>(bf16ToFloat(endian::read16le(p + 2 * i)));
    break;
  default:
    return err("has integer dtype " + dtypeName(t.dtype) +
               "; only floating-point tensors can be read as floats");
  }
  return out;
}

Expected<std::vector<float>> Checkpoint::readAsF32(const TensorInfo &t) const {
  return readAsFloat<float>(*this, t);
}

Expected<std::vector<double>> Checkpoint::readAsF64(const TensorInfo &t) const {
  return readAsFloat<double>(*this, t);
}

} // namespace ssmc::ckpt
