//===- TorchZip.cpp - PyTorch zip checkpoints: reader and writer ----------===//
//
// torch.save writes a zip archive of stored (uncompressed) entries:
//   <folder>/data.pkl    a pickle of the state dict; each tensor is
//                        torch._utils._rebuild_tensor_v2(storage, offset, size,
//                        stride, requires_grad, hooks) whose storage is a
//                        persistent id ('storage', <Type>Storage, key, location, numel)
//   <folder>/data/<key>  the raw bytes of each storage
//   <folder>/version, optionally <folder>/byteorder
// The zip directory is parsed here (ZIP64 included) and data.pkl is
// interpreted by a restricted unpickler that executes nothing: it accepts only
// the opcodes and globals that describe such a state dict.
//
//===----------------------------------------------------------------------===//

#include "frontends/checkpoint/CheckpointInternal.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"

#include <cstdio>
#include <cstring>

using namespace llvm;
using namespace llvm::support;

namespace ssmc::ckpt {

//===----------------------------------------------------------------------===//
// Zip directory reader
//===----------------------------------------------------------------------===//

static constexpr uint32_t kLocalHeaderSig = 0x04034b50;
static constexpr uint32_t kCentralHeaderSig = 0x02014b50;
static constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
static constexpr uint32_t kZip64EndSig = 0x06064b50;
static constexpr uint32_t kZip64LocatorSig = 0x07064b50;
static constexpr uint16_t kZip64ExtraId = 0x0001;
/// Extra field id PyTorch uses to pad local headers ('F', 'B').
static constexpr uint16_t kPaddingExtraId = 0x4246;
static constexpr size_t kLocalHeaderSize = 30;
static constexpr size_t kCentralHeaderSize = 46;
static constexpr size_t kEndOfCentralDirSize = 22;
static constexpr size_t kZip64EndSize = 56;
static constexpr size_t kZip64LocatorSize = 20;

static uint16_t rd16(ArrayRef<uint8_t> d, uint64_t off) { return endian::read16le(d.data() + off); }
static uint32_t rd32(ArrayRef<uint8_t> d, uint64_t off) { return endian::read32le(d.data() + off); }
static uint64_t rd64(ArrayRef<uint8_t> d, uint64_t off) { return endian::read64le(d.data() + off); }

/// True when [off, off+len) lies within [0, limit), without overflowing.
static bool inRange(uint64_t off, uint64_t len, uint64_t limit) {
  return off <= limit && len <= limit - off;
}

Expected<std::vector<ZipEntry>> readZipDirectory(StringRef path, ArrayRef<uint8_t> data) {
  auto err = [&](const Twine &what) { return makeError(path + ": " + what); };
  uint64_t size = data.size();
  if (size < kEndOfCentralDirSize)
    return err("not a zip archive (too small)");

  // The end-of-central-directory record sits at the end, before a comment of
  // up to 64 KiB. Prefer a record whose comment length reaches exactly the end
  // of the file; fall back to the last signature found.
  uint64_t lowest = size - kEndOfCentralDirSize > 0xffff ? size - kEndOfCentralDirSize - 0xffff : 0;
  std::optional<uint64_t> eocd, anyEocd;
  for (uint64_t p = size - kEndOfCentralDirSize + 1; p-- > lowest;) {
    if (rd32(data, p) != kEndOfCentralDirSig)
      continue;
    if (!anyEocd)
      anyEocd = p;
    if (p + kEndOfCentralDirSize + rd16(data, p + 20) == size) {
      eocd = p;
      break;
    }
  }
  if (!eocd)
    eocd = anyEocd;
  if (!eocd)
    return err("not a zip archive (no end-of-central-directory record; truncated?)");

  uint64_t disk = rd16(data, *eocd + 4);
  uint64_t cdDisk = rd16(data, *eocd + 6);
  uint64_t numEntries = rd16(data, *eocd + 10);
  uint64_t cdSize = rd32(data, *eocd + 12);
  uint64_t cdOffset = rd32(data, *eocd + 16);
  uint64_t directoryEnd = *eocd; // where the central directory must end

  if (*eocd >= kZip64LocatorSize && rd32(data, *eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    uint64_t loc = *eocd - kZip64LocatorSize;
    uint64_t recordOffset = rd64(data, loc + 8);
    if (rd32(data, loc + 4) != 0 || rd32(data, loc + 16) > 1)
      return err("multi-disk zip archives are not supported");
    if (!inRange(recordOffset, kZip64EndSize, loc) || rd32(data, recordOffset) != kZip64EndSig)
      return err("ZIP64 end-of-central-directory record not found at offset " +
                 Twine(recordOffset));
    disk = rd32(data, recordOffset + 16);
    cdDisk = rd32(data, recordOffset + 20);
    numEntries = rd64(data, recordOffset + 32);
    cdSize = rd64(data, recordOffset + 40);
    cdOffset = rd64(data, recordOffset + 48);
    directoryEnd = recordOffset;
  } else if (cdOffset == 0xffffffffu || cdSize == 0xffffffffu) {
    return err("zip archive needs ZIP64 records but has no ZIP64 end-of-central-directory "
               "locator");
  }
  if (disk != 0 || cdDisk != 0)
    return err("multi-disk zip archives are not supported");
  if (!inRange(cdOffset, cdSize, directoryEnd))
    return err("central directory [" + Twine(cdOffset) + ", +" + Twine(cdSize) +
               ") lies outside the file; truncated?");
  if (numEntries > cdSize / kCentralHeaderSize)
    return err("central directory claims " + Twine(numEntries) + " entries in " + Twine(cdSize) +
               " bytes");

  std::vector<ZipEntry> entries;
  entries.reserve(numEntries);
  StringSet<> names;
  uint64_t cdEnd = cdOffset + cdSize;
  uint64_t p = cdOffset;
  for (uint64_t i = 0; i < numEntries; ++i) {
    if (!inRange(p, kCentralHeaderSize, cdEnd) || rd32(data, p) != kCentralHeaderSig)
      return err("corrupt central directory entry " + Twine(i) + " at offset " + Twine(p));
    uint16_t flags = rd16(data, p + 8);
    uint16_t method = rd16(data, p + 10);
    uint32_t crc = rd32(data, p + 16);
    uint64_t compressedSize = rd32(data, p + 20);
    uint64_t size = rd32(data, p + 24);
    uint16_t nameLen = rd16(data, p + 28);
    uint16_t extraLen = rd16(data, p + 30);
    uint16_t commentLen = rd16(data, p + 32);
    uint64_t entryDisk = rd16(data, p + 34);
    uint64_t headerOffset = rd32(data, p + 42);
    uint64_t varLen = uint64_t(nameLen) + extraLen + commentLen;
    if (!inRange(p + kCentralHeaderSize, varLen, cdEnd))
      return err("corrupt central directory entry " + Twine(i) + " at offset " + Twine(p));
    std::string name(reinterpret_cast<const char *>(data.data() + p + kCentralHeaderSize), nameLen);
    auto entryErr = [&](const Twine &what) { return err("entry '" + name + "': " + what); };

    // ZIP64 extended information: 8-byte values replace, in this order, the
    // fields that hold their all-ones marker.
    uint64_t extra = p + kCentralHeaderSize + nameLen;
    uint64_t extraEnd = extra + extraLen;
    while (extra + 4 <= extraEnd) {
      uint16_t id = rd16(data, extra);
      uint16_t len = rd16(data, extra + 2);
      uint64_t field = extra + 4;
      if (!inRange(field, len, extraEnd))
        return entryErr("corrupt extra field");
      if (id == kZip64ExtraId) {
        uint64_t q = field, fieldEnd = field + len;
        auto take = [&](uint64_t &v) {
          if (q + 8 > fieldEnd)
            return false;
          v = rd64(data, q);
          q += 8;
          return true;
        };
        if ((size == 0xffffffffu && !take(size)) ||
            (compressedSize == 0xffffffffu && !take(compressedSize)) ||
            (headerOffset == 0xffffffffu && !take(headerOffset)))
          return entryErr("truncated ZIP64 extra field");
        if (entryDisk == 0xffff) {
          if (q + 4 > fieldEnd)
            return entryErr("truncated ZIP64 extra field");
          entryDisk = rd32(data, q);
        }
      }
      extra = field + len;
    }

    if (flags & 1u)
      return entryErr("encrypted entries are not supported");
    if (method != 0)
      return entryErr("compressed with method " + Twine(method) +
                      "; only stored (uncompressed) entries are supported");
    if (compressedSize != size)
      return entryErr("stored entry has compressed size " + Twine(compressedSize) + " != size " +
                      Twine(size));
    if (entryDisk != 0)
      return err("multi-disk zip archives are not supported");
    if (!names.insert(name).second)
      return entryErr("listed twice in the central directory");

    // The data follows the local header, whose name and extra lengths may
    // differ from the central directory's.
    if (!inRange(headerOffset, kLocalHeaderSize, cdOffset) ||
        rd32(data, headerOffset) != kLocalHeaderSig)
      return entryErr("local header not found at offset " + Twine(headerOffset));
    uint64_t localNameLen = rd16(data, headerOffset + 26);
    uint64_t localExtraLen = rd16(data, headerOffset + 28);
    uint64_t dataOffset = headerOffset + kLocalHeaderSize + localNameLen + localExtraLen;
    if (localNameLen != nameLen ||
        !inRange(headerOffset + kLocalHeaderSize, localNameLen, cdOffset) ||
        std::memcmp(data.data() + headerOffset + kLocalHeaderSize, name.data(), nameLen) != 0)
      return entryErr("local header name does not match the central directory");
    if (!inRange(dataOffset, size, cdOffset))
      return entryErr("data [" + Twine(dataOffset) + ", +" + Twine(size) +
                      ") runs past the start of the central directory; truncated?");

    ZipEntry e;
    e.name = std::move(name);
    e.method = method;
    e.flags = flags;
    e.crc32 = crc;
    e.size = size;
    e.dataOffset = dataOffset;
    entries.push_back(std::move(e));
    p += kCentralHeaderSize + varLen;
  }
  return entries;
}

//===----------------------------------------------------------------------===//
// Zip writer
//===----------------------------------------------------------------------===//

namespace {
/// Little-endian field appender.
struct Bytes {
  std::string s;
  void u16(uint64_t v) {
    char b[2];
    endian::write16le(b, static_cast<uint16_t>(v));
    s.append(b, 2);
  }
  void u32(uint64_t v) {
    char b[4];
    endian::write32le(b, static_cast<uint32_t>(v));
    s.append(b, 4);
  }
  void u64(uint64_t v) {
    char b[8];
    endian::write64le(b, v);
    s.append(b, 8);
  }
};
} // namespace

/// 1980-01-01 00:00, the earliest DOS date: archives are reproducible.
static constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
static constexpr uint16_t kDosTime = 0;

Error ZipWriter::addEntry(StringRef name, uint64_t size,
                          function_ref<Error(MutableArrayRef<uint8_t>)> fill) {
  if (name.size() > 0xffff)
    return makeError("zip entry name too long: " + name.substr(0, 64) + "...");
  uint64_t headerOffset = os.tell();
  bool zip64 = forceZip64 || size >= 0xffffffffu;

  Bytes extra;
  if (zip64) {
    extra.u16(kZip64ExtraId);
    extra.u16(16);
    extra.u64(size);
    extra.u64(size);
  }
  if (alignment > 1) {
    // Pad so that the data starts at a multiple of `alignment`.
    uint64_t dataStart = headerOffset + kLocalHeaderSize + name.size() + extra.s.size() + 4;
    uint64_t pad = (alignment - dataStart % alignment) % alignment;
    extra.u16(kPaddingExtraId);
    extra.u16(pad);
    extra.s.append(pad, 'Z');
  }

  Bytes h;
  h.u32(kLocalHeaderSig);
  h.u16(zip64 ? 45 : 20); // version needed to extract
  h.u16(0);               // flags
  h.u16(0);               // method: stored
  h.u16(kDosTime);
  h.u16(kDosDate);
  h.u32(0); // CRC-32, patched below once the data is known
  h.u32(zip64 ? 0xffffffffu : size);
  h.u32(zip64 ? 0xffffffffu : size);
  h.u16(name.size());
  h.u16(extra.s.size());
  os << h.s << name << extra.s;

  std::vector<uint8_t> buffer(size);
  if (Error e = fill(buffer))
    return e;
  uint32_t crc = llvm::crc32(buffer);
  os.write(reinterpret_cast<const char *>(buffer.data()), buffer.size());
  char crcBytes[4];
  endian::write32le(crcBytes, crc);
  os.pwrite(crcBytes, 4, headerOffset + 14);

  entries.push_back({name.str(), crc, size, headerOffset});
  return Error::success();
}

Error ZipWriter::addEntry(StringRef name, ArrayRef<uint8_t> bytes) {
  return addEntry(name, bytes.size(), [&](MutableArrayRef<uint8_t> out) {
    if (!bytes.empty())
      std::memcpy(out.data(), bytes.data(), bytes.size());
    return Error::success();
  });
}

void ZipWriter::finish() {
  uint64_t cdOffset = os.tell();
  for (const Written &e : entries) {
    bool bigSize = forceZip64 || e.size >= 0xffffffffu;
    bool bigOffset = forceZip64 || e.headerOffset >= 0xffffffffu;
    Bytes extra;
    if (bigSize || bigOffset) {
      extra.u16(kZip64ExtraId);
      extra.u16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0));
      if (bigSize) {
        extra.u64(e.size);
        extra.u64(e.size);
      }
      if (bigOffset)
        extra.u64(e.headerOffset);
    }
    bool zip64 = bigSize || bigOffset;
    Bytes h;
    h.u32(kCentralHeaderSig);
    h.u16(zip64 ? 45 : 20); // version made by (MS-DOS attributes)
    h.u16(zip64 ? 45 : 20); // version needed
    h.u16(0);
    h.u16(0);
    h.u16(kDosTime);
    h.u16(kDosDate);
    h.u32(e.crc);
    h.u32(bigSize ? 0xffffffffu : e.size);
    h.u32(bigSize ? 0xffffffffu : e.size);
    h.u16(e.name.size());
    h.u16(extra.s.size());
    h.u16(0); // comment length
    h.u16(0); // disk number
    h.u16(0); // internal attributes
    h.u32(0); // external attributes
    h.u32(bigOffset ? 0xffffffffu : e.headerOffset);
    os << h.s << e.name << extra.s;
  }
  uint64_t cdSize = os.tell() - cdOffset;
  uint64_t count = entries.size();
  bool zip64End = forceZip64 || count >= 0xffff || cdOffset >= 0xffffffffu || cdSize >= 0xffffffffu;
  Bytes end;
  if (zip64End) {
    uint64_t recordOffset = os.tell();
    end.u32(kZip64EndSig);
    end.u64(kZip64EndSize - 12); // size of the rest of the record
    end.u16(45);
    end.u16(45);
    end.u32(0);
    end.u32(0);
    end.u64(count);
    end.u64(count);
    end.u64(cdSize);
    end.u64(cdOffset);
    end.u32(kZip64LocatorSig);
    end.u32(0);
    end.u64(recordOffset);
    end.u32(1);
  }
  end.u32(kEndOfCentralDirSig);
  end.u16(0);
  end.u16(0);
  end.u16(zip64End ? 0xffff : count);
  end.u16(zip64End ? 0xffff : count);
  end.u32(zip64End ? 0xffffffffu : cdSize);
  end.u32(zip64End ? 0xffffffffu : cdOffset);
  end.u16(0);
  os << end.s;
}

//===----------------------------------------------------------------------===//
// Restricted unpickler
//===----------------------------------------------------------------------===//

namespace {

/// Pickle opcodes this reader understands (a subset of protocols 2-5).
enum Opcode : uint8_t {
  MARK = '(',
  STOP = '.',
  BINFLOAT = 'G',
  BININT = 'J',
  BININT1 = 'K',
  BININT2 = 'M',
  NONE = 'N',
  BINPERSID = 'Q',
  REDUCE = 'R',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  APPENDS = 'e',
  BINGET = 'h',
  LONG_BINGET = 'j',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  SETITEMS = 'u',
  EMPTY_DICT = '}',
  EMPTY_LIST = ']',
  EMPTY_TUPLE = ')',
  PROTO = 0x80,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
};

/// The only callables and classes a state dict needs.
enum class GlobalKind : uint8_t { OrderedDict, RebuildTensorV2, RebuildParameter, StorageType };

struct Global {
  const char *module;
  const char *name;
  GlobalKind kind;
  DType dtype; // for storage types
};

const Global kAllowedGlobals[] = {
    {"collections", "OrderedDict", GlobalKind::OrderedDict, DType::F32},
    {"torch._utils", "_rebuild_tensor_v2", GlobalKind::RebuildTensorV2, DType::F32},
    {"torch._utils", "_rebuild_parameter", GlobalKind::RebuildParameter, DType::F32},
    {"torch", "FloatStorage", GlobalKind::StorageType, DType::F32},
    {"torch", "HalfStorage", GlobalKind::StorageType, DType::F16},
    {"torch", "BFloat16Storage", GlobalKind::StorageType, DType::BF16},
    {"torch", "DoubleStorage", GlobalKind::StorageType, DType::F64},
    {"torch", "LongStorage", GlobalKind::StorageType, DType::I64},
    {"torch", "IntStorage", GlobalKind::StorageType, DType::I32},
    {"torch", "ShortStorage", GlobalKind::StorageType, DType::I16},
    {"torch", "CharStorage", GlobalKind::StorageType, DType::I8},
    {"torch", "ByteStorage", GlobalKind::StorageType, DType::U8},
    {"torch", "BoolStorage", GlobalKind::StorageType, DType::Bool},
};

enum class Kind : uint8_t {
  None,
  Bool,
  Int,
  Float,
  Str,
  Tuple,
  List,
  Dict,
  Global,
  Storage,
  Tensor
};

/// A value built by the unpickler. Values live in an arena and refer to each
/// other by index, so that cyclic or deeply nested garbage costs neither a
/// leak nor a recursive destructor.
struct Value {
  Kind kind = Kind::None;
  int64_t i = 0;                      // Bool, Int; Storage: numel; Tensor: storage offset
  double f = 0;                       // Float
  std::string s;                      // Str; Storage: key
  const Global *global = nullptr;     // Global
  DType dtype = DType::F32;           // Storage, Tensor
  std::vector<uint32_t> items;        // Tuple, List; Dict: key, value, key, value...
  uint32_t storage = 0;               // Tensor
  std::vector<int64_t> shape, stride; // Tensor
};

class Unpickler {
public:
  Unpickler(StringRef where, ArrayRef<uint8_t> pkl) : where(where), pkl(pkl) {}
  Expected<std::vector<PickledTensor>> run();

private:
  // Bounds that keep hostile input from exhausting memory; a state dict of
  // 100k tensors needs about a tenth of them.
  static constexpr size_t kMaxValues = 1u << 22;
  static constexpr size_t kMaxStack = 1u << 20;
  static constexpr size_t kMaxMarks = 1u << 16;
  static constexpr size_t kMaxMemo = 1u << 22;
  static constexpr uint64_t kMaxString = 1u << 24;
  static constexpr size_t kMaxGlobalName = 256;

  Error fail(const Twine &what) {
    return makeError(where + ": " + what + " at byte " + Twine(opPos));
  }
  Error refuseOpcode(uint8_t op) {
    std::string shown = (op >= 0x21 && op < 0x7f) ? " ('" + std::string(1, char(op)) + "')" : "";
    char hex[8];
    snprintf(hex, sizeof(hex), "0x%02x", op);
    return makeError(where + ": refusing pickle opcode " + hex + shown + " at byte " +
                     Twine(opPos));
  }

  Error need(uint64_t n) {
    if (n > pkl.size() - pos)
      return fail("truncated pickle");
    return Error::success();
  }
  Expected<uint64_t> readLE(unsigned n) {
    if (Error e = need(n))
      return e;
    uint64_t v = 0;
    for (unsigned k = 0; k < n; ++k)
      v |= uint64_t(pkl[pos + k]) << (8 * k);
    pos += n;
    return v;
  }
  Expected<std::string> readBytes(uint64_t n) {
    if (n > kMaxString)
      return fail("string of " + Twine(n) + " bytes is too long");
    if (Error e = need(n))
      return e;
    std::string s(reinterpret_cast<const char *>(pkl.data() + pos), n);
    pos += n;
    return s;
  }
  Expected<std::string> readLine() {
    for (uint64_t k = pos; k < pkl.size() && k - pos <= kMaxGlobalName; ++k) {
      if (pkl[k] == '\n') {
        std::string s(reinterpret_cast<const char *>(pkl.data() + pos), k - pos);
        pos = k + 1;
        return s;
      }
    }
    return fail("unterminated or overlong GLOBAL name");
  }

  Expected<uint32_t> make(Value v) {
    if (values.size() >= kMaxValues)
      return fail("pickle too large (more than " + Twine(kMaxValues) + " objects)");
    values.push_back(std::move(v));
    return static_cast<uint32_t>(values.size() - 1);
  }
  Error push(uint32_t id) {
    if (stack.size() >= kMaxStack)
      return fail("pickle stack too deep");
    stack.push_back(id);
    return Error::success();
  }
  Error pushNew(Value v) {
    Expected<uint32_t> id = make(std::move(v));
    if (!id)
      return id.takeError();
    return push(*id);
  }
  size_t frameBase() const { return marks.empty() ? 0 : marks.back(); }
  Expected<uint32_t> pop() {
    if (stack.size() <= frameBase())
      return fail("pickle stack underflow");
    uint32_t id = stack.back();
    stack.pop_back();
    return id;
  }
  Expected<uint32_t> top() {
    if (stack.size() <= frameBase())
      return fail("pickle stack underflow");
    return stack.back();
  }
  /// Pops everything above the last MARK, and the MARK.
  Expected<std::vector<uint32_t>> popToMark() {
    if (marks.empty())
      return fail("no MARK on the pickle stack");
    size_t base = marks.back();
    marks.pop_back();
    std::vector<uint32_t> items(stack.begin() + base, stack.end());
    stack.resize(base);
    return items;
  }
  Error memoPut(uint64_t key) {
    Expected<uint32_t> id = top();
    if (!id)
      return id.takeError();
    if (memo.size() >= kMaxMemo && !memo.count(key))
      return fail("pickle memo too large");
    memo[key] = *id;
    return Error::success();
  }
  Error memoGet(uint64_t key) {
    auto it = memo.find(key);
    if (it == memo.end())
      return fail("memo entry " + Twine(key) + " is not defined");
    return push(it->second);
  }

  Error step(uint8_t op);
  Error doGlobal(StringRef module, StringRef name);
  Error doReduce();
  Error doPersistentId();
  Error addToDict(uint32_t dict, ArrayRef<uint32_t> kv);
  Expected<std::vector<int64_t>> intTuple(uint32_t id, StringRef what);

  std::string where;
  ArrayRef<uint8_t> pkl;
  uint64_t pos = 0;
  uint64_t opPos = 0;
  std::vector<Value> values;
  std::vector<uint32_t> stack;
  std::vector<size_t> marks;
  DenseMap<uint64_t, uint32_t> memo;
  std::optional<uint32_t> result;
};

} // namespace

Error Unpickler::doGlobal(StringRef module, StringRef name) {
  for (const Global &g : kAllowedGlobals) {
    if (module == g.module && name == g.name) {
      Value v;
      v.kind = Kind::Global;
      v.global = &g;
      return pushNew(std::move(v));
    }
  }
  std::string shown = (module + "." + name).str();
  // Keep garbage readable in the message.
  for (char &c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      c = '?';
  return makeError(where + ": refusing global '" + shown + "' at byte " + Twine(opPos));
}

Expected<std::vector<int64_t>> Unpickler::intTuple(uint32_t id, StringRef what) {
  const Value &v = values[id];
  if (v.kind != Kind::Tuple)
    return fail("_rebuild_tensor_v2: " + what + " is not a tuple");
  std::vector<int64_t> out;
  for (uint32_t item : v.items) {
    if (values[item].kind != Kind::Int)
      return fail("_rebuild_tensor_v2: " + what + " holds a non-integer");
    out.push_back(values[item].i);
  }
  return out;
}

Error Unpickler::doReduce() {
  Expected<uint32_t> argsId = pop();
  if (!argsId)
    return argsId.takeError();
  Expected<uint32_t> fnId = pop();
  if (!fnId)
    return fnId.takeError();
  if (values[*fnId].kind != Kind::Global)
    return fail("REDUCE of something that is not an allowed global");
  if (values[*argsId].kind != Kind::Tuple)
    return fail("REDUCE arguments are not a tuple");
  const Global &fn = *values[*fnId].global;
  std::vector<uint32_t> args = values[*argsId].items;

  switch (fn.kind) {
  case GlobalKind::OrderedDict: {
    if (!args.empty())
      return fail("collections.OrderedDict called with arguments");
    Value d;
    d.kind = Kind::Dict;
    return pushNew(std::move(d));
  }
  case GlobalKind::RebuildTensorV2: {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.size() != 6 && args.size() != 7)
      return fail("_rebuild_tensor_v2 expects 6 or 7 arguments, got " + Twine(args.size()));
    const Value &storage = values[args[0]];
    if (storage.kind != Kind::Storage)
      return fail("_rebuild_tensor_v2: first argument is not a storage");
    if (values[args[1]].kind != Kind::Int)
      return fail("_rebuild_tensor_v2: storage offset is not an integer");
    Expected<std::vector<int64_t>> shape = intTuple(args[2], "size");
    if (!shape)
      return shape.takeError();
    Expected<std::vector<int64_t>> stride = intTuple(args[3], "stride");
    if (!stride)
      return stride.takeError();
    Value t;
    t.kind = Kind::Tensor;
    t.storage = args[0];
    t.dtype = storage.dtype;
    t.i = values[args[1]].i;
    t.shape = std::move(*shape);
    t.stride = std::move(*stride);
    return pushNew(std::move(t));
  }
  case GlobalKind::RebuildParameter: {
    // (data, requires_grad, backward_hooks): the parameter is its tensor.
    if (args.size() != 3 || values[args[0]].kind != Kind::Tensor)
      return fail("_rebuild_parameter expects (tensor, requires_grad, hooks)");
    return push(args[0]);
  }
  case GlobalKind::StorageType:
    return fail("refusing to call storage class torch." + Twine(fn.name));
  }
  return fail("unsupported REDUCE");
}

Error Unpickler::doPersistentId() {
  Expected<uint32_t> pidId = pop();
  if (!pidId)
    return pidId.takeError();
  const Value &pid = values[*pidId];
  // ('storage', <Type>Storage, key, location, numel)
  if (pid.kind != Kind::Tuple || pid.items.size() != 5)
    return fail("persistent id is not a 5-tuple ('storage', type, key, location, numel)");
  const Value &tag = values[pid.items[0]];
  const Value &type = values[pid.items[1]];
  const Value &key = values[pid.items[2]];
  const Value &location = values[pid.items[3]];
  const Value &numel = values[pid.items[4]];
  if (tag.kind != Kind::Str || tag.s != "storage")
    return fail("persistent id does not start with 'storage'");
  if (type.kind != Kind::Global || type.global->kind != GlobalKind::StorageType)
    return fail("persistent id does not name a storage type");
  if (key.kind != Kind::Str || location.kind != Kind::Str || numel.kind != Kind::Int)
    return fail("persistent id has malformed key, location or size");
  Value s;
  s.kind = Kind::Storage;
  s.dtype = type.global->dtype;
  s.s = key.s;
  s.i = numel.i;
  return pushNew(std::move(s));
}

Error Unpickler::addToDict(uint32_t dict, ArrayRef<uint32_t> kv) {
  if (values[dict].kind != Kind::Dict)
    return fail("SETITEM(S) on something that is not a dict");
  if (kv.size() % 2)
    return fail("SETITEMS with an odd number of items");
  if (values[dict].items.size() + kv.size() > kMaxValues)
    return fail("dict too large");
  values[dict].items.insert(values[dict].items.end(), kv.begin(), kv.end());
  return Error::success();
}

Error Unpickler::step(uint8_t op) {
  switch (op) {
  case PROTO: {
    Expected<uint64_t> v = readLE(1);
    if (!v)
      return v.takeError();
    if (*v > 5)
      return fail("unsupported pickle protocol " + Twine(*v));
    return Error::success();
  }
  case FRAME: {
    // Frames only group opcodes for buffered reading; their content follows.
    Expected<uint64_t> n = readLE(8);
    if (!n)
      return n.takeError();
    return need(*n);
  }
  case STOP: {
    Expected<uint32_t> v = pop();
    if (!v)
      return v.takeError();
    result = *v;
    return Error::success();
  }
  case MARK:
    if (marks.size() >= kMaxMarks)
      return fail("too many nested MARKs");
    marks.push_back(stack.size());
    return Error::success();
  case EMPTY_DICT: {
    Value v;
    v.kind = Kind::Dict;
    return pushNew(std::move(v));
  }
  case EMPTY_LIST: {
    Value v;
    v.kind = Kind::List;
    return pushNew(std::move(v));
  }
  case EMPTY_TUPLE: {
    Value v;
    v.kind = Kind::Tuple;
    return pushNew(std::move(v));
  }
  case TUPLE: {
    Expected<std::vector<uint32_t>> items = popToMark();
    if (!items)
      return items.takeError();
    Value v;
    v.kind = Kind::Tuple;
    v.items = std::move(*items);
    return pushNew(std::move(v));
  }
  case TUPLE1:
  case TUPLE2:
  case TUPLE3: {
    unsigned n = op - TUPLE1 + 1;
    Value v;
    v.kind = Kind::Tuple;
    v.items.resize(n);
    for (unsigned k = n; k-- > 0;) {
      Expected<uint32_t> item = pop();
      if (!item)
        return item.takeError();
      v.items[k] = *item;
    }
    return pushNew(std::move(v));
  }
  case SETITEM: {
    Expected<uint32_t> value = pop();
    if (!value)
      return value.takeError();
    Expected<uint32_t> key = pop();
    if (!key)
      return key.takeError();
    Expected<uint32_t> dict = top();
    if (!dict)
      return dict.takeError();
    return addToDict(*dict, {*key, *value});
  }
  case SETITEMS: {
    Expected<std::vector<uint32_t>> items = popToMark();
    if (!items)
      return items.takeError();
    Expected<uint32_t> dict = top();
    if (!dict)
      return dict.takeError();
    return addToDict(*dict, *items);
  }
  case APPEND:
  case APPENDS: {
    std::vector<uint32_t> items;
    if (op == APPEND) {
      Expected<uint32_t> item = pop();
      if (!item)
        return item.takeError();
      items.push_back(*item);
    } else {
      Expected<std::vector<uint32_t>> popped = popToMark();
      if (!popped)
        return popped.takeError();
      items = std::move(*popped);
    }
    Expected<uint32_t> list = top();
    if (!list)
      return list.takeError();
    if (values[*list].kind != Kind::List)
      return fail("APPEND(S) on something that is not a list");
    if (values[*list].items.size() + items.size() > kMaxValues)
      return fail("list too large");
    values[*list].items.insert(values[*list].items.end(), items.begin(), items.end());
    return Error::success();
  }
  case BINUNICODE:
  case SHORT_BINUNICODE:
  case BINUNICODE8: {
    Expected<uint64_t> n = readLE(op == SHORT_BINUNICODE ? 1 : op == BINUNICODE ? 4 : 8);
    if (!n)
      return n.takeError();
    Expected<std::string> s = readBytes(*n);
    if (!s)
      return s.takeError();
    Value v;
    v.kind = Kind::Str;
    v.s = std::move(*s);
    return pushNew(std::move(v));
  }
  case BININT:
  case BININT1:
  case BININT2: {
    unsigned n = op == BININT ? 4 : op == BININT1 ? 1 : 2;
    Expected<uint64_t> raw = readLE(n);
    if (!raw)
      return raw.takeError();
    Value v;
    v.kind = Kind::Int;
    v.i = op == BININT ? static_cast<int64_t>(static_cast<int32_t>(*raw))
                       : static_cast<int64_t>(*raw);
    return pushNew(std::move(v));
  }
  case LONG1: {
    Expected<uint64_t> n = readLE(1);
    if (!n)
      return n.takeError();
    if (*n > 8)
      return fail("integer of " + Twine(*n) + " bytes does not fit in 64 bits");
    Expected<uint64_t> raw = readLE(*n);
    if (!raw)
      return raw.takeError();
    uint64_t u = *raw;
    // Two's complement of n bytes: sign-extend.
    if (*n > 0 && *n < 8 && (u >> (8 * *n - 1)) & 1)
      u |= ~uint64_t(0) << (8 * *n);
    Value v;
    v.kind = Kind::Int;
    v.i = static_cast<int64_t>(u);
    return pushNew(std::move(v));
  }
  case NEWTRUE:
  case NEWFALSE: {
    Value v;
    v.kind = Kind::Bool;
    v.i = op == NEWTRUE;
    return pushNew(std::move(v));
  }
  case NONE:
    return pushNew(Value());
  case BINFLOAT: {
    if (Error e = need(8))
      return e;
    uint64_t bits = endian::read64be(pkl.data() + pos);
    pos += 8;
    Value v;
    v.kind = Kind::Float;
    std::memcpy(&v.f, &bits, sizeof(v.f));
    return pushNew(std::move(v));
  }
  case BINPUT:
  case LONG_BINPUT: {
    Expected<uint64_t> key = readLE(op == BINPUT ? 1 : 4);
    if (!key)
      return key.takeError();
    return memoPut(*key);
  }
  case MEMOIZE:
    return memoPut(memo.size());
  case BINGET:
  case LONG_BINGET: {
    Expected<uint64_t> key = readLE(op == BINGET ? 1 : 4);
    if (!key)
      return key.takeError();
    return memoGet(*key);
  }
  case GLOBAL: {
    Expected<std::string> module = readLine();
    if (!module)
      return module.takeError();
    Expected<std::string> name = readLine();
    if (!name)
      return name.takeError();
    return doGlobal(*module, *name);
  }
  case STACK_GLOBAL: {
    Expected<uint32_t> name = pop();
    if (!name)
      return name.takeError();
    Expected<uint32_t> module = pop();
    if (!module)
      return module.takeError();
    if (values[*name].kind != Kind::Str || values[*module].kind != Kind::Str)
      return fail("STACK_GLOBAL needs two strings");
    return doGlobal(values[*module].s, values[*name].s);
  }
  case REDUCE:
    return doReduce();
  case BUILD: {
    // Only OrderedDict state (the state dict's `_metadata`) is expected; it
    // carries nothing about tensor storage and is ignored.
    Expected<uint32_t> state = pop();
    if (!state)
      return state.takeError();
    Expected<uint32_t> obj = top();
    if (!obj)
      return obj.takeError();
    if (values[*obj].kind != Kind::Dict)
      return fail("BUILD on something that is not a dict");
    return Error::success();
  }
  case BINPERSID:
    return doPersistentId();
  default:
    return refuseOpcode(op);
  }
}

Expected<std::vector<PickledTensor>> Unpickler::run() {
  while (!result) {
    if (pos >= pkl.size()) {
      opPos = pos;
      return fail("pickle ends without STOP");
    }
    opPos = pos;
    uint8_t op = pkl[pos++];
    if (Error e = step(op))
      return e;
  }
  const Value &root = values[*result];
  if (root.kind != Kind::Dict)
    return makeError(where + ": the pickled object is not a dict of tensors");
  std::vector<PickledTensor> out;
  for (size_t k = 0; k + 1 < root.items.size(); k += 2) {
    const Value &key = values[root.items[k]];
    const Value &value = values[root.items[k + 1]];
    if (key.kind != Kind::Str)
      return makeError(where + ": state dict has a key that is not a string");
    if (value.kind != Kind::Tensor)
      return makeError(where + ": state dict entry '" + key.s + "' is not a tensor");
    const Value &storage = values[value.storage];
    PickledTensor t;
    t.name = key.s;
    t.dtype = value.dtype;
    t.storageKey = storage.s;
    t.storageNumel = storage.i;
    t.storageOffset = value.i;
    t.shape = value.shape;
    t.stride = value.stride;
    out.push_back(std::move(t));
  }
  return out;
}

Expected<std::vector<PickledTensor>> unpickleStateDict(StringRef where, ArrayRef<uint8_t> pkl) {
  return Unpickler(where, pkl).run();
}

//===----------------------------------------------------------------------===//
// Pickle writer
//===----------------------------------------------------------------------===//

namespace {
class PickleWriter {
public:
  std::string out;

  void op(uint8_t o) { out.push_back(static_cast<char>(o)); }
  void integer(int64_t v) {
    if (v >= 0 && v < 0x100) {
      op(BININT1);
      out.push_back(static_cast<char>(v));
    } else if (v >= 0 && v < 0x10000) {
      op(BININT2);
      le(v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op(BININT);
      le(v, 4);
    } else {
      // LONG1: minimal two's complement little-endian bytes.
      unsigned n = 1;
      while (n < 8 && !(v >= -(int64_t(1) << (8 * n - 1)) && v < (int64_t(1) << (8 * n - 1))))
        ++n;
      op(LONG1);
      out.push_back(static_cast<char>(n));
      le(v, n);
    }
  }
  void string(StringRef s) {
    op(BINUNICODE);
    le(s.size(), 4);
    out += s;
  }
  void global(StringRef module, StringRef name) {
    // Globals are memoized as Python's pickler does; later uses are BINGETs.
    std::string key = (module + "\n" + name).str();
    auto it = memoOf.find(key);
    if (it != memoOf.end()) {
      get(it->second);
      return;
    }
    op(GLOBAL);
    out += (module + "\n" + name + "\n").str();
    memoOf[key] = put();
  }
  void tuple(ArrayRef<int64_t> items) {
    if (items.empty()) {
      op(EMPTY_TUPLE);
      return;
    }
    if (items.size() > 3)
      op(MARK);
    for (int64_t v : items)
      integer(v);
    op(items.size() == 1   ? TUPLE1
       : items.size() == 2 ? TUPLE2
       : items.size() == 3 ? TUPLE3
                           : TUPLE);
  }
  uint32_t put() {
    uint32_t index = nextMemo++;
    if (index < 0x100) {
      op(BINPUT);
      out.push_back(static_cast<char>(index));
    } else {
      op(LONG_BINPUT);
      le(index, 4);
    }
    return index;
  }
  void get(uint32_t index) {
    if (index < 0x100) {
      op(BINGET);
      out.push_back(static_cast<char>(index));
    } else {
      op(LONG_BINGET);
      le(index, 4);
    }
  }

private:
  void le(uint64_t v, unsigned n) {
    for (unsigned k = 0; k < n; ++k)
      out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
  }
  uint32_t nextMemo = 0;
  std::map<std::string, uint32_t> memoOf;
};
} // namespace

std::string pickleStateDict(ArrayRef<PickledTensor> tensors) {
  PickleWriter w;
  w.op(PROTO);
  w.op(2);
  w.global("collections", "OrderedDict");
  w.op(EMPTY_TUPLE);
  w.op(REDUCE);
  w.put();
  if (!tensors.empty())
    w.op(MARK);
  for (const PickledTensor &t : tensors) {
    w.string(t.name);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op(MARK);
    // Persistent id of the storage.
    w.op(MARK);
    w.string("storage");
    w.global("torch", torchStorageName(t.dtype));
    w.string(t.storageKey);
    w.string("cpu");
    w.integer(t.storageNumel);
    w.op(TUPLE);
    w.op(BINPERSID);
    w.integer(t.storageOffset);
    w.tuple(t.shape);
    w.tuple(t.stride);
    w.op(NEWFALSE); // requires_grad
    w.global("collections", "OrderedDict");
    w.op(EMPTY_TUPLE);
    w.op(REDUCE); // backward_hooks = OrderedDict()
    w.op(TUPLE);
    w.op(REDUCE);
  }
  if (!tensors.empty())
    w.op(SETITEMS);
  w.op(STOP);
  return w.out;
}

//===----------------------------------------------------------------------===//
// Checkpoint reader
//===----------------------------------------------------------------------===//

/// True when `stride` is the row-major stride of `shape` (dimensions of size
/// one may have any stride, as in torch's is_contiguous).
static bool isContiguous(ArrayRef<int64_t> shape, ArrayRef<int64_t> stride) {
  for (int64_t d : shape)
    if (d == 0)
      return true;
  int64_t expected = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    if (shape[k] == 1)
      continue;
    if (stride[k] != expected)
      return false;
    expected *= shape[k]; // no overflow: numel was checked by the caller
  }
  return true;
}

Error parseTorchZip(StringRef path, ArrayRef<uint8_t> data, std::vector<TensorInfo> &out) {
  Expected<std::vector<ZipEntry>> entries = readZipDirectory(path, data);
  if (!entries)
    return entries.takeError();

  // The archive folder is whatever prefix data.pkl has ("archive" for recent
  // torch versions, the file's stem for older ones).
  const ZipEntry *pklEntry = nullptr;
  StringMap<const ZipEntry *> byName;
  for (const ZipEntry &e : *entries) {
    byName[e.name] = &e;
    StringRef name = e.name;
    if (!name.consume_back("/data.pkl") || name.empty() || name.contains('/'))
      continue;
    if (pklEntry)
      return makeError(path + ": more than one data.pkl ('" + pklEntry->name + "' and '" + e.name +
                       "')");
    pklEntry = &e;
  }
  if (!pklEntry)
    return makeError(path + ": zip archive has no '<folder>/data.pkl'; not a PyTorch checkpoint");
  std::string folder = StringRef(pklEntry->name).drop_back(strlen("/data.pkl")).str();

  auto entryBytes = [&](const ZipEntry &e) { return data.slice(e.dataOffset, e.size); };

  if (auto it = byName.find(folder + "/byteorder"); it != byName.end()) {
    StringRef order(reinterpret_cast<const char *>(entryBytes(*it->second).data()),
                    it->second->size);
    if (order.trim() != "little")
      return makeError(path + ": " + folder + "/byteorder is '" + order.trim().take_front(32) +
                       "'; only little-endian checkpoints are supported");
  }

  static constexpr uint64_t kMaxPickleBytes = 256u << 20;
  std::string where = (path + ": " + pklEntry->name).str();
  if (pklEntry->size > kMaxPickleBytes)
    return makeError(where + ": " + Twine(pklEntry->size) + " bytes is too large for a state dict");
  ArrayRef<uint8_t> pkl = entryBytes(*pklEntry);
  if (llvm::crc32(pkl) != pklEntry->crc32)
    return makeError(where + ": CRC-32 mismatch; the archive is corrupt");

  Expected<std::vector<PickledTensor>> tensors = unpickleStateDict(where, pkl);
  if (!tensors)
    return tensors.takeError();

  StringSet<> seen;
  for (PickledTensor &t : *tensors) {
    auto err = [&](const Twine &what) {
      return makeError(path + ": tensor '" + t.name + "': " + what);
    };
    if (!seen.insert(t.name).second)
      return err("listed twice in the state dict");
    std::optional<int64_t> numel = checkedNumElements(t.shape);
    if (!numel)
      return err("invalid shape " + formatShape(t.shape));
    if (t.stride.size() != t.shape.size())
      return err("stride " + formatShape(t.stride) + " does not match shape " +
                 formatShape(t.shape));
    if (!isContiguous(t.shape, t.stride))
      return err("not contiguous (shape " + formatShape(t.shape) + ", stride " +
                 formatShape(t.stride) + "); only row-major contiguous tensors are supported");
    std::string entryName = folder + "/data/" + t.storageKey;
    auto it = byName.find(entryName);
    if (it == byName.end())
      return err("storage entry '" + entryName + "' is missing from the archive");
    const ZipEntry &storage = *it->second;
    int64_t elem = dtypeSize(t.dtype);
    int64_t storageBytes;
    if (t.storageNumel < 0 || MulOverflow(t.storageNumel, elem, storageBytes) ||
        static_cast<uint64_t>(storageBytes) > storage.size)
      return err("storage '" + entryName + "' declares " + Twine(t.storageNumel) + " elements of " +
                 dtypeName(t.dtype) + " but holds only " + Twine(storage.size) + " bytes");
    int64_t end;
    if (t.storageOffset < 0 || AddOverflow(t.storageOffset, *numel, end) ||
        (*numel > 0 && end > t.storageNumel))
      return err("elements [" + Twine(t.storageOffset) + ", +" + Twine(*numel) +
                 ") lie outside its storage '" + entryName + "' of " + Twine(t.storageNumel) +
                 " elements");
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.file = path.str();
    info.offset = storage.dataOffset + static_cast<uint64_t>(t.storageOffset) * elem;
    info.nbytes = static_cast<uint64_t>(*numel) * elem;
    out.push_back(std::move(info));
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Checkpoint writer
//===----------------------------------------------------------------------===//

Error writeTorchZip(StringRef path, ArrayRef<TensorSpec> tensors, FillFn fill,
                    ArrayRef<std::pair<std::string, std::string>> aliases) {
  if (Error e = validateTensorSpecs(path, tensors))
    return e;

  std::vector<PickledTensor> entries;
  StringMap<size_t> index;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec &s = tensors[i];
    PickledTensor t;
    t.name = s.name;
    t.dtype = s.dtype;
    t.storageKey = std::to_string(i);
    t.storageNumel = checkedNumElements(s.shape).value_or(0);
    t.shape = s.shape;
    t.stride.assign(s.shape.size(), 1);
    for (size_t k = s.shape.size(); k-- > 1;)
      t.stride[k - 1] = t.stride[k] * std::max<int64_t>(s.shape[k], 1);
    index[s.name] = i;
    entries.push_back(std::move(t));
  }
  for (const auto &[alias, target] : aliases) {
    auto it = index.find(target);
    if (it == index.end())
      return makeError(path + ": alias '" + alias + "' refers to unknown tensor '" + target + "'");
    size_t targetIndex = it->second; // try_emplace below may rehash
    if (!index.try_emplace(alias, targetIndex).second)
      return makeError(path + ": alias '" + alias + "' duplicates a tensor name");
    PickledTensor t = entries[targetIndex];
    t.name = alias;
    entries.push_back(std::move(t));
  }

  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_None);
  if (ec)
    return makeError(path + ": cannot open for writing: " + ec.message());
  if (!os.supportsSeeking())
    return makeError(path + ": output must be a regular file");

  auto writeAll = [&]() -> Error {
    ZipWriter zip(os);
    std::string pkl = pickleStateDict(entries);
    if (Error e = zip.addEntry("archive/data.pkl", arrayRefFromStringRef(pkl)))
      return e;
    if (Error e = zip.addEntry("archive/byteorder", arrayRefFromStringRef("little")))
      return e;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (Error e = zip.addEntry("archive/data/" + std::to_string(i), tensors[i].nbytes(),
                                 [&](MutableArrayRef<uint8_t> buf) { return fill(i, buf); }))
        return e;
    }
    if (Error e = zip.addEntry("archive/version", arrayRefFromStringRef("3\n")))
      return e;
    zip.finish();
    return Error::success();
  };
  Error err = writeAll();
  os.close();
  if (!err && os.has_error())
    err = makeError(path + ": write failed: " + os.error().message());
  os.clear_error();
  if (err)
    return discardPartial(path, std::move(err));
  return Error::success();
}

} // namespace ssmc::ckpt
