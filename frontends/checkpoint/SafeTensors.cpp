//===- SafeTensors.cpp - safetensors header parser and writers ------------===//
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]},
//    ..., "__metadata__": {"key": "value"}}
// padded with spaces, then the data section; offsets are relative to its start.
//
//===----------------------------------------------------------------------===//

#include "frontends/checkpoint/CheckpointInternal.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace llvm;

namespace ssmc::ckpt {

/// The reference implementation refuses headers above 100 MB; a real header
/// is a few hundred bytes per tensor.
static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

namespace {
/// A parsed header entry before offsets are made absolute.
struct RawEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};
} // namespace

/// llvm::json keeps one of several equal keys silently; a header naming a
/// tensor twice is ambiguous, so find such keys in the (already validated)
/// JSON text. Returns the first duplicate top-level key, if any.
static std::optional<std::string> findDuplicateTopLevelKey(StringRef text) {
  StringSet<> keys;
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '"') {
      size_t start = i++;
      while (i < text.size() && text[i] != '"')
        i += text[i] == '\\' ? 2 : 1;
      if (i >= text.size())
        return std::nullopt; // unreachable for valid JSON
      StringRef quoted = text.slice(start, i + 1);
      size_t next = text.find_first_not_of(" \t\r\n", i + 1);
      if (depth != 1 || next == StringRef::npos || text[next] != ':')
        continue;
      // Compare decoded keys: "a" and "\u0061" are the same name.
      std::string key = quoted.drop_front().drop_back().str();
      if (quoted.contains('\\')) {
        Expected<json::Value> decoded = json::parse(quoted);
        if (!decoded) {
          consumeError(decoded.takeError());
          continue;
        }
        key = decoded->getAsString().value_or("").str();
      }
      if (!keys.insert(key).second)
        return key;
    }
  }
  return std::nullopt;
}

static Expected<RawEntry> parseEntry(StringRef path, StringRef name, const json::Value &v) {
  auto err = [&](const Twine &what) {
    return makeError(path + ": tensor '" + name + "': " + what);
  };
  const json::Object *obj = v.getAsObject();
  if (!obj)
    return err("header entry is not a JSON object");
  RawEntry e;
  e.name = name.str();

  std::optional<StringRef> dtype = obj->getString("dtype");
  if (!dtype)
    return err("missing string field 'dtype'");
  Expected<DType> dt = parseDType(*dtype);
  if (!dt)
    return err(toString(dt.takeError()));
  e.dtype = *dt;

  const json::Array *shape = obj->getArray("shape");
  if (!shape)
    return err("missing array field 'shape'");
  for (const json::Value &d : *shape) {
    std::optional<int64_t> dim = d.getAsInteger();
    if (!dim)
      return err("shape has a non-integer dimension");
    e.shape.push_back(*dim);
  }
  for (int64_t dim : e.shape)
    if (dim < 0)
      return err("shape " + formatShape(e.shape) + " has a negative dimension");

  const json::Array *offsets = obj->getArray("data_offsets");
  if (!offsets || offsets->size() != 2)
    return err("missing field 'data_offsets' = [begin, end]");
  std::optional<int64_t> b = (*offsets)[0].getAsInteger();
  std::optional<int64_t> en = (*offsets)[1].getAsInteger();
  if (!b || !en || *b < 0 || *en < 0)
    return err("data_offsets must be two non-negative integers");
  if (*en < *b)
    return err("data_offsets [" + Twine(*b) + ", " + Twine(*en) + "] end before they begin");
  e.begin = static_cast<uint64_t>(*b);
  e.end = static_cast<uint64_t>(*en);

  std::optional<uint64_t> bytes = checkedByteSize(e.shape, e.dtype);
  if (!bytes)
    return err("shape " + formatShape(e.shape) + " is too large");
  if (e.end - e.begin != *bytes)
    return err("data_offsets [" + Twine(e.begin) + ", " + Twine(e.end) + "] span " +
               Twine(e.end - e.begin) + " bytes but shape " + formatShape(e.shape) + " of " +
               dtypeName(e.dtype) + " needs " + Twine(*bytes));
  return e;
}

Error parseSafetensors(StringRef path, ArrayRef<uint8_t> data, std::vector<TensorInfo> &out) {
  if (data.size() < 8)
    return makeError(path + ": file too small for a safetensors header (" + Twine(data.size()) +
                     " bytes)");
  uint64_t headerLen = support::endian::read64le(data.data());
  uint64_t avail = data.size() - 8;
  if (headerLen > kMaxHeaderBytes && headerLen > avail)
    return makeError(path + ": safetensors header length " + Twine(headerLen) +
                     " is absurdly large and exceeds the file size (" + Twine(data.size()) +
                     " bytes); not a safetensors file or truncated");
  if (headerLen > avail)
    return makeError(path + ": safetensors header length " + Twine(headerLen) +
                     " exceeds the file size (" + Twine(data.size()) + " bytes); file truncated?");
  if (headerLen > kMaxHeaderBytes)
    return makeError(path + ": safetensors header length " + Twine(headerLen) +
                     " is absurdly large (limit " + Twine(kMaxHeaderBytes) + " bytes)");
  StringRef header(reinterpret_cast<const char *>(data.data() + 8), headerLen);
  uint64_t dataStart = 8 + headerLen;
  uint64_t dataSize = data.size() - dataStart;

  Expected<json::Value> parsed = parseJsonBounded(header);
  if (!parsed)
    return makeError(path + ": malformed safetensors header JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return makeError(path + ": safetensors header is not a JSON object");
  if (std::optional<std::string> dup = findDuplicateTopLevelKey(header))
    return makeError(path + ": tensor '" + *dup + "' appears twice in the safetensors header");

  std::vector<RawEntry> entries;
  for (const auto &kv : *root) {
    StringRef name = kv.first;
    if (name == "__metadata__") {
      const json::Object *meta = kv.second.getAsObject();
      if (!meta)
        return makeError(path + ": '__metadata__' is not a JSON object");
      for (const auto &m : *meta)
        if (!m.second.getAsString())
          return makeError(path + ": '__metadata__' value of '" + m.first.str() +
                           "' is not a string");
      continue;
    }
    Expected<RawEntry> e = parseEntry(path, name, kv.second);
    if (!e)
      return e.takeError();
    if (e->end > dataSize)
      return makeError(path + ": tensor '" + name + "': data_offsets [" + Twine(e->begin) + ", " +
                       Twine(e->end) + "] are out of range of the data section (" +
                       Twine(dataSize) + " bytes); file truncated?");
    entries.push_back(std::move(*e));
  }

  // Non-empty tensors must not share bytes. (Gaps are tolerated.)
  std::vector<const RawEntry *> byOffset;
  for (const RawEntry &e : entries)
    if (e.end > e.begin)
      byOffset.push_back(&e);
  std::sort(byOffset.begin(), byOffset.end(), [](const RawEntry *a, const RawEntry *b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const RawEntry &prev = *byOffset[i - 1], &cur = *byOffset[i];
    if (cur.begin < prev.end)
      return makeError(path + ": tensors '" + prev.name + "' [" + Twine(prev.begin) + ", " +
                       Twine(prev.end) + ") and '" + cur.name + "' [" + Twine(cur.begin) + ", " +
                       Twine(cur.end) + ") overlap");
  }

  for (RawEntry &e : entries) {
    TensorInfo t;
    t.name = std::move(e.name);
    t.dtype = e.dtype;
    t.shape = std::move(e.shape);
    t.file = path.str();
    t.offset = dataStart + e.begin;
    t.nbytes = e.end - e.begin;
    out.push_back(std::move(t));
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Writers
//===----------------------------------------------------------------------===//

Error validateTensorSpecs(StringRef path, ArrayRef<TensorSpec> tensors) {
  StringSet<> seen;
  for (const TensorSpec &t : tensors) {
    if (t.name.empty())
      return makeError(path + ": a tensor has an empty name");
    if (t.name == "__metadata__")
      return makeError(path + ": '__metadata__' cannot be a tensor name");
    if (!seen.insert(t.name).second)
      return makeError(path + ": duplicate tensor name '" + t.name + "'");
    if (!checkedByteSize(t.shape, t.dtype))
      return makeError(path + ": tensor '" + t.name + "': invalid shape " + formatShape(t.shape));
  }
  return Error::success();
}

Error discardPartial(StringRef path, Error err) {
  (void)sys::fs::remove(path);
  return err;
}

Error writeSafetensors(StringRef path, ArrayRef<TensorSpec> tensors, FillFn fill,
                       const std::map<std::string, std::string> &metadata) {
  if (Error e = validateTensorSpecs(path, tensors))
    return e;

  std::string header;
  {
    raw_string_ostream hos(header);
    json::OStream j(hos);
    j.object([&] {
      if (!metadata.empty())
        j.attributeObject("__metadata__", [&] {
          for (const auto &kv : metadata)
            j.attribute(kv.first, kv.second);
        });
      uint64_t offset = 0;
      for (const TensorSpec &t : tensors) {
        uint64_t end = offset + t.nbytes();
        j.attributeObject(t.name, [&] {
          j.attribute("dtype", dtypeName(t.dtype));
          j.attributeArray("shape", [&] {
            for (int64_t d : t.shape)
              j.value(d);
          });
          j.attributeArray("data_offsets", [&] {
            j.value(offset);
            j.value(end);
          });
        });
        offset = end;
      }
    });
  }
  // Pad with spaces so that the data section starts 8-byte aligned.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return makeError(path + ": cannot open for writing: " + ec.message());
  char len[8];
  support::endian::write64le(len, header.size());
  os.write(len, 8);
  os << header;

  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < tensors.size(); ++i) {
    buffer.assign(tensors[i].nbytes(), 0);
    if (Error e = fill(i, buffer)) {
      os.close();
      os.clear_error();
      return discardPartial(path, std::move(e));
    }
    os.write(reinterpret_cast<const char *>(buffer.data()), buffer.size());
  }
  os.close();
  if (os.has_error()) {
    std::string msg = os.error().message();
    os.clear_error();
    return discardPartial(path, makeError(path + ": write failed: " + msg));
  }
  return Error::success();
}

Error writeShardedSafetensors(StringRef dir, ArrayRef<TensorSpec> tensors, FillFn fill,
                              uint64_t maxShardBytes) {
  if (Error e = validateTensorSpecs(dir, tensors))
    return e;
  if (std::error_code ec = sys::fs::create_directories(dir))
    return makeError(dir + ": cannot create directory: " + ec.message());

  // Greedy packing in the given order; a tensor larger than the limit gets a
  // shard of its own.
  std::vector<std::pair<size_t, size_t>> shards; // [first, last) tensor indices
  uint64_t current = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t n = tensors[i].nbytes();
    if (shards.empty() || (shards.back().second > shards.back().first &&
                           (current + n > maxShardBytes || current + n < current))) {
      shards.push_back({i, i});
      current = 0;
    }
    shards.back().second = i + 1;
    current += n;
  }

  std::vector<std::string> shardNames;
  uint64_t totalSize = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    std::string name;
    raw_string_ostream(name) << format("model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    shardNames.push_back(name);
    SmallString<256> shardPath(dir);
    sys::path::append(shardPath, name);
    auto [first, last] = shards[s];
    auto shardFill = [&, first = first](size_t i, MutableArrayRef<uint8_t> buf) {
      return fill(first + i, buf);
    };
    if (Error e = writeSafetensors(shardPath, tensors.slice(first, last - first), shardFill,
                                   {{"format", "pt"}}))
      return e;
    for (size_t i = first; i < last; ++i)
      totalSize += tensors[i].nbytes();
  }

  // The index lists tensors sorted by name, as Hugging Face writes it.
  std::vector<std::pair<std::string, std::string>> weightMap;
  for (size_t s = 0; s < shards.size(); ++s)
    for (size_t i = shards[s].first; i < shards[s].second; ++i)
      weightMap.push_back({tensors[i].name, shardNames[s]});
  std::sort(weightMap.begin(), weightMap.end());

  SmallString<256> indexPath(dir);
  sys::path::append(indexPath, "model.safetensors.index.json");
  std::error_code ec;
  raw_fd_ostream os(indexPath, ec, sys::fs::OF_Text);
  if (ec)
    return makeError(indexPath + ": cannot open for writing: " + ec.message());
  {
    json::OStream j(os, 2);
    j.object([&] {
      j.attributeObject("metadata", [&] { j.attribute("total_size", totalSize); });
      j.attributeObject("weight_map", [&] {
        for (const auto &kv : weightMap)
          j.attribute(kv.first, kv.second);
      });
    });
  }
  os << "\n";
  os.close();
  if (os.has_error()) {
    std::string msg = os.error().message();
    os.clear_error();
    return makeError(indexPath + ": write failed: " + msg);
  }
  return Error::success();
}

} // namespace ssmc::ckpt
