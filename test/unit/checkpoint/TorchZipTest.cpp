//===- TorchZipTest.cpp - PyTorch zip reader/writer and the unpickler -----===//

#include "CheckpointTestUtils.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cstdio>
#include <cstdlib>

using namespace llvm;
using namespace ssmc::ckpt;
using namespace ssmc::ckpt::test;

namespace {

/// Builds pickle byte streams opcode by opcode.
struct Pickle {
  std::string s;
  Pickle &op(uint8_t o) {
    s.push_back(static_cast<char>(o));
    return *this;
  }
  Pickle &le(uint64_t v, unsigned n) {
    for (unsigned k = 0; k < n; ++k)
      s.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    return *this;
  }
  Pickle &proto(uint8_t v) { return op(0x80).op(v); }
  Pickle &global(StringRef module, StringRef name) {
    op('c');
    s += (module + "\n" + name + "\n").str();
    return *this;
  }
  Pickle &str(StringRef v) {
    op('X').le(v.size(), 4);
    s += v;
    return *this;
  }
  Pickle &shortStr(StringRef v) {
    op(0x8c).op(static_cast<uint8_t>(v.size()));
    s += v;
    return *this;
  }
  Pickle &int1(uint8_t v) { return op('K').op(v); }
  Pickle &int4(int32_t v) { return op('J').le(static_cast<uint32_t>(v), 4); }
  Pickle &put(uint8_t i) { return op('q').op(i); }
  Pickle &get(uint8_t i) { return op('h').op(i); }
  Pickle &ints(ArrayRef<int64_t> v) {
    op('(');
    for (int64_t x : v)
      int4(static_cast<int32_t>(x));
    return op('t');
  }
  /// `_rebuild_tensor_v2` call pushing one tensor, in the style of torch.save.
  Pickle &tensor(StringRef storageType, StringRef key, int64_t numel, int64_t offset,
                 ArrayRef<int64_t> shape, ArrayRef<int64_t> stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", storageType).str(key).str("cpu").int4(numel).op('t');
    op('Q').int4(offset).ints(shape).ints(stride).op(0x89);
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
};

/// A protocol-2 OrderedDict header; finish with `.op('u').op('.')`.
Pickle orderedDictStart() {
  Pickle p;
  p.proto(2).global("collections", "OrderedDict").op(')').op('R').op('(');
  return p;
}

/// A torch-style archive holding `pkl` as archive/data.pkl and the storages.
std::string torchArchive(const std::string &pkl,
                         std::vector<std::pair<std::string, std::string>> storages,
                         bool forceZip64 = false, StringRef folder = "archive") {
  std::vector<std::pair<std::string, std::string>> entries;
  entries.push_back({(folder + "/data.pkl").str(), pkl});
  entries.push_back({(folder + "/byteorder").str(), "little"});
  for (auto &[key, bytes] : storages)
    entries.push_back({(folder + "/data/" + key).str(), bytes});
  entries.push_back({(folder + "/version").str(), "3\n"});
  return zipBytes(entries, forceZip64);
}

std::string errorOfArchive(const TempDir &dir, const std::string &bytes) {
  std::string path = dir.path("pytorch_model.bin");
  writeFile(path, bytes);
  return openError(path);
}

std::unique_ptr<Checkpoint> openOk(StringRef path) {
  Expected<std::unique_ptr<Checkpoint>> ck = Checkpoint::openFile(path);
  if (!ck) {
    ADD_FAILURE() << toString(ck.takeError());
    return nullptr;
  }
  return std::move(*ck);
}

#define EXPECT_CONTAINS(haystack, needle)                                                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                                 \
      << "'" << (haystack) << "' lacks '" << (needle) << "'"

/// Runs test/unit/checkpoint/verify_torch_zip.py (Python's zipfile and
/// pickle, no torch) on `path` and returns its output; skips when python3 or
/// the source tree is not available.
std::optional<std::string> pythonSummary(StringRef path) {
  const char *src = std::getenv("SSMC_SRC_ROOT");
  ErrorOr<std::string> python = sys::findProgramByName("python3");
  if (!src || !python)
    return std::nullopt;
  SmallString<256> script(src);
  sys::path::append(script, "test", "unit", "checkpoint", "verify_torch_zip.py");
  std::string cmd = *python + " " + std::string(script) + " " + path.str() + " 2>&1";
  FILE *pipe = popen(cmd.c_str(), "r");
  if (!pipe)
    return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
    out.append(buf, n);
  int status = pclose(pipe);
  if (status != 0)
    return "python failed (" + std::to_string(status) + "): " + out;
  return out;
}

} // namespace

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST(TorchZip, RoundTripEveryDtypeWithAlias) {
  TempDir dir;
  std::string path = dir.path("pytorch_model.bin");
  std::vector<TensorSpec> specs = everyDtypeSpecs();
  ASSERT_EQ(
      errorMessage(writeTorchZip(path, specs, fillPattern,
                                 {{"lm_head.weight", "model.f32"}, {"tied.bool", "model.bool"}})),
      "");
  std::unique_ptr<Checkpoint> ck = openOk(path);
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->format(), Format::TorchZip);
  ASSERT_EQ(ck->tensors().size(), specs.size() + 2);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo *t = ck->find(specs[i].name);
    ASSERT_NE(t, nullptr) << specs[i].name;
    EXPECT_EQ(t->dtype, specs[i].dtype);
    EXPECT_EQ(t->shape, specs[i].shape);
    EXPECT_EQ(t->file, path);
    EXPECT_EQ(t->offset % 64, 0u) << "storage data is 64-byte aligned: " << specs[i].name;
    ArrayRef<uint8_t> bytes = ck->bytes(*t);
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), patternBytes(i, specs[i].nbytes()))
        << specs[i].name;
  }
  // Tied weights: both keys listed, same bytes in the file.
  const TensorInfo *head = ck->find("lm_head.weight");
  const TensorInfo *emb = ck->find("model.f32");
  ASSERT_TRUE(head && emb);
  EXPECT_EQ(head->offset, emb->offset);
  EXPECT_EQ(head->shape, emb->shape);
  EXPECT_EQ(head->dtype, DType::F32);
  EXPECT_EQ(ck->find("tied.bool")->offset, ck->find("model.bool")->offset);

  Expected<std::vector<float>> f = ck->readAsF32(*head);
  ASSERT_TRUE(bool(f)) << errorMessage(f.takeError());
  EXPECT_EQ(f->size(), 15u);
}

TEST(TorchZip, WriterErrors) {
  TempDir dir;
  std::string path = dir.path("pytorch_model.bin");
  std::vector<TensorSpec> specs = {{"a", DType::F32, {2}}};
  EXPECT_ERROR_CONTAINS(writeTorchZip(path, specs, fillPattern, {{"b", "nope"}}), "'b'", "'nope'");
  EXPECT_ERROR_CONTAINS(writeTorchZip(path, specs, fillPattern, {{"a", "a"}}), "'a'", "duplicate");
  auto failing = [](size_t, MutableArrayRef<uint8_t>) -> Error { return makeError("no weights"); };
  EXPECT_ERROR_CONTAINS(writeTorchZip(path, specs, failing), "no weights");
  EXPECT_FALSE(sys::fs::exists(path));
}

TEST(TorchZip, PythonAcceptsWrittenArchive) {
  TempDir dir;
  std::string path = dir.path("pytorch_model.bin");
  std::vector<TensorSpec> specs = {
      {"w", DType::BF16, {2, 3}}, {"big.index", DType::I64, {70000}}, {"s", DType::F32, {}}};
  ASSERT_EQ(errorMessage(writeTorchZip(path, specs, fillPattern, {{"w.tied", "w"}})), "");
  std::optional<std::string> out = pythonSummary(path);
  if (!out)
    GTEST_SKIP() << "python3 or SSMC_SRC_ROOT not available";
  EXPECT_EQ(*out, "w BFloat16Storage 0 cpu 6 0 [2, 3] [3, 1] False 0\n"
                  "big.index LongStorage 1 cpu 70000 0 [70000] [1] False 0\n"
                  "s FloatStorage 2 cpu 1 0 [] [] False 0\n"
                  "w.tied BFloat16Storage 0 cpu 6 0 [2, 3] [3, 1] False 0\n");
}

TEST(TorchZip, Zip64RoundTrip) {
  TempDir dir;
  std::string path = dir.path("zip64.bin");
  PickledTensor t;
  t.name = "x";
  t.dtype = DType::F32;
  t.storageKey = "0";
  t.storageNumel = 3;
  t.shape = {3};
  t.stride = {1};
  std::string data = std::string("\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40", 12);
  std::string bytes = torchArchive(pickleStateDict({t}), {{"0", data}}, /*forceZip64=*/true);
  // The end record defers to the ZIP64 records.
  ASSERT_GE(bytes.size(), 22u);
  StringRef eocd = StringRef(bytes).take_back(22);
  EXPECT_EQ(support::endian::read32le(eocd.data() + 16), 0xffffffffu);
  EXPECT_EQ(support::endian::read16le(eocd.data() + 10), 0xffff);

  Expected<std::vector<ZipEntry>> entries =
      readZipDirectory("zip64.bin", arrayRefFromStringRef(bytes));
  ASSERT_TRUE(bool(entries)) << errorMessage(entries.takeError());
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[2].name, "archive/data/0");
  EXPECT_EQ((*entries)[2].size, 12u);
  EXPECT_EQ((*entries)[2].dataOffset % 64, 0u);
  EXPECT_EQ((*entries)[2].crc32, llvm::crc32(arrayRefFromStringRef(data)));

  writeFile(path, bytes);
  std::unique_ptr<Checkpoint> ck = openOk(path);
  ASSERT_TRUE(ck);
  Expected<std::vector<float>> f = ck->readAsF32(*ck->find("x"));
  ASSERT_TRUE(bool(f)) << errorMessage(f.takeError());
  EXPECT_EQ(*f, (std::vector<float>{1.0f, 2.0f, 3.0f}));

  if (std::optional<std::string> out = pythonSummary(path)) {
    EXPECT_EQ(*out, "x FloatStorage 0 cpu 3 0 [3] [1] False 0\n");
  }
}

TEST(TorchZip, Zip64Errors) {
  PickledTensor t{"x", DType::F32, "0", 1, 0, {1}, {1}};
  std::string good = torchArchive(pickleStateDict({t}), {{"0", std::string(4, '\0')}}, true);
  size_t locator = good.size() - 22 - 20;
  ASSERT_EQ(support::endian::read32le(good.data() + locator), 0x07064b50u);
  // The locator points at garbage.
  std::string bad = good;
  support::endian::write64le(&bad[locator + 8], 3);
  EXPECT_ERROR_CONTAINS(readZipDirectory("z.bin", arrayRefFromStringRef(bad)).takeError(), "z.bin",
                        "ZIP64 end-of-central-directory record");
  // Locator missing although the end record needs it.
  bad = good;
  bad[locator] = 'X';
  EXPECT_ERROR_CONTAINS(readZipDirectory("z.bin", arrayRefFromStringRef(bad)).takeError(), "z.bin",
                        "ZIP64");
  // The ZIP64 record claims a directory beyond the file.
  bad = good;
  uint64_t record = support::endian::read64le(good.data() + locator + 8);
  support::endian::write64le(&bad[record + 48], 1ull << 40);
  EXPECT_ERROR_CONTAINS(readZipDirectory("z.bin", arrayRefFromStringRef(bad)).takeError(), "z.bin",
                        "central directory");
  // A ZIP64 extra field too short for the values it must hold.
  bad = good;
  size_t cd = support::endian::read64le(good.data() + record + 48);
  support::endian::write16le(&bad[cd + 46 + 16 + 2], 8); // data.pkl's zip64 extra: 24 -> 8
  EXPECT_ERROR_CONTAINS(readZipDirectory("z.bin", arrayRefFromStringRef(bad)).takeError(), "z.bin",
                        "archive/data.pkl", "ZIP64 extra");
}

TEST(TorchZip, OtherArchiveFolderAndProtocol4) {
  // Older torch versions name the folder after the file; protocol 4 adds
  // FRAME, SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL.
  TempDir dir;
  Pickle p;
  p.proto(4).op(0x95).le(0, 8);
  p.shortStr("collections").shortStr("OrderedDict").op(0x93).op(0x94); // memo 0
  p.op(')').op('R').op(0x94).op('(');
  p.shortStr("w").op(0x94);
  p.shortStr("torch._utils").shortStr("_rebuild_tensor_v2").op(0x93).op(0x94).op('(');
  p.op('(')
      .shortStr("storage")
      .shortStr("torch")
      .shortStr("HalfStorage")
      .op(0x93)
      .shortStr("0")
      .shortStr("cuda:0")
      .int1(4)
      .op('t')
      .op('Q');
  p.int1(0).int1(2).int1(2).op(0x86).int1(2).int1(1).op(0x86).op(0x89);
  p.get(0).op(')').op('R').op('t').op('R');
  // A parameter wrapping a view at offset 1 of the same storage, size-1 dims with odd strides.
  p.shortStr("v").op(0x94);
  p.shortStr("torch._utils").shortStr("_rebuild_parameter").op(0x93);
  p.shortStr("torch._utils").shortStr("_rebuild_tensor_v2").op(0x93).op('(');
  p.op('(')
      .shortStr("storage")
      .shortStr("torch")
      .shortStr("HalfStorage")
      .op(0x93)
      .shortStr("0")
      .shortStr("cuda:0")
      .int1(4)
      .op('t')
      .op('Q');
  p.int1(1).int1(3).int1(1).op(0x86).int1(1).int1(7).op(0x86).op(0x88);
  p.get(0).op(')').op('R').op('t').op('R').op(0x88).get(0).op(')').op('R').op(0x87).op('R');
  p.op('u');
  // state: {'_metadata': OrderedDict({'': {'version': 1}})}, applied with BUILD.
  p.op('}')
      .shortStr("_metadata")
      .get(0)
      .op(')')
      .op('R')
      .shortStr("")
      .op('}')
      .shortStr("version")
      .int1(1)
      .op('s')
      .op('s')
      .op('s')
      .op('b')
      .op('.');
  std::string path = dir.path("model.bin");
  writeFile(path, zipBytes({{"model/data.pkl", p.s},
                            {"model/data/0", std::string(8, '\x11')},
                            {"model/version", "3\n"}}));
  std::unique_ptr<Checkpoint> ck = openOk(path);
  ASSERT_TRUE(ck);
  ASSERT_EQ(ck->tensors().size(), 2u);
  const TensorInfo *w = ck->find("w");
  const TensorInfo *v = ck->find("v");
  ASSERT_TRUE(w && v);
  EXPECT_EQ(w->dtype, DType::F16);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(v->shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(v->offset, w->offset + 2);
  EXPECT_EQ(v->nbytes, 6u);
}

TEST(TorchZip, PlainDictAndLongInts) {
  TempDir dir;
  Pickle p;
  p.proto(2).op('}').op('(').str("a");
  p.global("torch._utils", "_rebuild_tensor_v2").op('(');
  p.op('(').str("storage").global("torch", "ByteStorage").str("k").str("cpu");
  p.op(0x8a).op(2).le(300, 2);                                           // LONG1 300
  p.op('t').op('Q').op(0x8a).op(0).op('(').op(0x8a).op(1).op(3).op('t'); // offset LONG1 0
  p.op('(').int1(1).op('t').op(0x89).op('}').op('t').op('R').op('u').op('.');
  std::string path = dir.path("p.bin");
  writeFile(path, zipBytes({{"archive/data.pkl", p.s}, {"archive/data/k", std::string(300, 'x')}}));
  std::unique_ptr<Checkpoint> ck = openOk(path);
  ASSERT_TRUE(ck);
  ASSERT_NE(ck->find("a"), nullptr);
  EXPECT_EQ(ck->find("a")->dtype, DType::U8);
  EXPECT_EQ(ck->find("a")->nbytes, 3u);
}

//===----------------------------------------------------------------------===//
// Hostile and malformed pickles
//===----------------------------------------------------------------------===//

TEST(TorchZipErrors, HostilePickleRefused) {
  TempDir dir;
  Pickle p;
  p.proto(2).global("os", "system").str("echo pwned > /tmp/ssmc-pwned").op(0x85).op('R').op('.');
  std::string msg = errorOfArchive(dir, torchArchive(p.s, {}));
  EXPECT_CONTAINS(msg, "pytorch_model.bin");
  EXPECT_CONTAINS(msg, "archive/data.pkl");
  EXPECT_CONTAINS(msg, "refusing global 'os.system' at byte 2");

  Pickle q;
  q.proto(4)
      .shortStr("builtins")
      .shortStr("eval")
      .op(0x93)
      .shortStr("1+1")
      .op(0x85)
      .op('R')
      .op('.');
  msg = errorOfArchive(dir, torchArchive(q.s, {}));
  EXPECT_CONTAINS(msg, "refusing global 'builtins.eval'");

  // Allowed module, other name; allowed name, other module.
  Pickle r;
  r.proto(2).global("torch._utils", "_rebuild_from_type").op('.');
  EXPECT_CONTAINS(errorOfArchive(dir, torchArchive(r.s, {})),
                  "refusing global 'torch._utils._rebuild_from_type'");
  Pickle s;
  s.proto(2).global("collections\x01", "OrderedDict").op('.');
  EXPECT_CONTAINS(errorOfArchive(dir, torchArchive(s.s, {})),
                  "refusing global 'collections?.OrderedDict'");
}

TEST(TorchZipErrors, OpcodesRefused) {
  struct Case {
    uint8_t op;
    const char *shown;
  };
  const Case cases[] = {{'i', "0x69 ('i')"}, {'o', "0x6f ('o')"}, {0x81, "0x81"},
                        {0x82, "0x82"},      {'P', "0x50 ('P')"}, {'S', "0x53 ('S')"},
                        {'B', "0x42 ('B')"}, {'I', "0x49 ('I')"}, {0x00, "0x00"}};
  for (const Case &c : cases) {
    Pickle p;
    p.proto(2).op('}').op(c.op).s += "garbage\n";
    Expected<std::vector<PickledTensor>> r =
        unpickleStateDict("f.bin: archive/data.pkl", arrayRefFromStringRef(p.s));
    EXPECT_ERROR_CONTAINS(r.takeError(), "f.bin: archive/data.pkl: refusing pickle opcode", c.shown,
                          "at byte 3");
  }
}

TEST(TorchZipErrors, MalformedPickles) {
  // String literals with NULs: keep their full length.
  auto lit = [](auto &&chars) { return std::string(chars, sizeof(chars) - 1); };
  const std::pair<std::string, const char *> cases[] = {
      {"", "without STOP"},
      {lit("\x80\x02}"), "without STOP"},
      {lit("\x80\x02."), "underflow"},
      {lit("\x80\x09}."), "protocol 9"},
      {lit("\x80\x02X\xff\xff\xff\x00"), "truncated"},
      {lit("\x80\x02h\x05."), "memo entry 5"},
      {lit("\x80\x02(}u."), "underflow"}, // SETITEMS cannot reach below its MARK
      {lit("\x80\x02}K\x01s."), "underflow"},
      {lit("\x80\x02]K\x01K\x02s."), "not a dict"},
      {lit("\x80\x02}K\x01K\x02s."), "not a string"},
      {lit("\x80\x02}X\x01\x00\x00\x00"
           "aK\x02s."),
       "'a' is not a tensor"},
      {lit("\x80\x02K\x01."), "not a dict of tensors"},
      {lit("\x80\x02t."), "no MARK"},
      {lit("\x80\x02}(K\x01u."), "odd number"},
      {lit("\x80\x02\x8a\x09"), "does not fit"},
      {lit("\x80\x02"
           "cos\nsys"),
       "unterminated"},
      {lit("\x80\x02}K\x01R."), "not an allowed global"},
      {lit("\x80\x02"
           "ccollections\nOrderedDict\nK\x01R."),
       "not a tuple"},
      {lit("\x80\x02"
           "ccollections\nOrderedDict\n(K\x01tR."),
       "with arguments"},
      {lit("\x80\x02"
           "ctorch\nFloatStorage\n)R."),
       "storage class"},
      {lit("\x80\x02"
           "ctorch._utils\n_rebuild_tensor_v2\n)R."),
       "6 or 7 arguments"},
      {lit("\x80\x02"
           "ctorch._utils\n_rebuild_tensor_v2\n(K\x00K\x00)))\x89}tR."),
       "not a storage"},
      {lit("\x80\x02X\x01\x00\x00\x00"
           "xQ."),
       "persistent id"},
      {lit("\x80\x02(X\x07\x00\x00\x00"
           "storageX\x01\x00\x00\x00"
           "xX\x01\x00\x00\x00"
           "0X\x03\x00\x00\x00"
           "cpuK\x01tQ."),
       "storage type"},
      {lit("\x80\x02]K\x01"
           "b."),
       "BUILD"},
  };
  for (const auto &[bytes, needle] : cases) {
    Expected<std::vector<PickledTensor>> r =
        unpickleStateDict("where", arrayRefFromStringRef(bytes));
    EXPECT_ERROR_CONTAINS(r.takeError(), "where: ", needle);
  }
}

TEST(TorchZipErrors, DeepAndCyclicStructures) {
  // A list appended to itself, and very deep nesting: no crash, no leak-driven blowup.
  Pickle cyc;
  cyc.proto(2).op(']').put(0).get(0).op('a').op('}').op('.');
  Expected<std::vector<PickledTensor>> r = unpickleStateDict("w", arrayRefFromStringRef(cyc.s));
  ASSERT_TRUE(bool(r)) << errorMessage(r.takeError());
  EXPECT_TRUE(r->empty());

  Pickle deep;
  deep.proto(2);
  for (int i = 0; i < 200000; ++i)
    deep.op(']');
  for (int i = 0; i < 199999; ++i)
    deep.op('a');
  deep.op('.');
  EXPECT_ERROR_CONTAINS(unpickleStateDict("w", arrayRefFromStringRef(deep.s)).takeError(),
                        "not a dict");

  Pickle marks;
  marks.proto(2);
  for (int i = 0; i < 70000; ++i)
    marks.op('(');
  EXPECT_ERROR_CONTAINS(unpickleStateDict("w", arrayRefFromStringRef(marks.s)).takeError(), "MARK");
}

TEST(TorchZipErrors, NonContiguousTensor) {
  TempDir dir;
  Pickle p = orderedDictStart();
  p.str("layers.0.weight").tensor("FloatStorage", "0", 6, 0, {2, 3}, {1, 2});
  p.op('u').op('.');
  std::string msg = errorOfArchive(dir, torchArchive(p.s, {{"0", std::string(24, '\0')}}));
  EXPECT_CONTAINS(msg, "pytorch_model.bin");
  EXPECT_CONTAINS(msg, "'layers.0.weight'");
  EXPECT_CONTAINS(msg, "not contiguous");
  EXPECT_CONTAINS(msg, "[1, 2]");

  Pickle q = orderedDictStart();
  q.str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3});
  q.op('u').op('.');
  EXPECT_CONTAINS(errorOfArchive(dir, torchArchive(q.s, {{"0", std::string(24, '\0')}})),
                  "does not match shape");
}

TEST(TorchZipErrors, StorageBounds) {
  TempDir dir;
  // The view runs past the end of its storage.
  Pickle p = orderedDictStart();
  p.str("w").tensor("FloatStorage", "0", 6, 4, {3}, {1});
  p.op('u').op('.');
  std::string msg = errorOfArchive(dir, torchArchive(p.s, {{"0", std::string(24, '\0')}}));
  EXPECT_CONTAINS(msg, "pytorch_model.bin");
  EXPECT_CONTAINS(msg, "'w'");
  EXPECT_CONTAINS(msg, "outside its storage 'archive/data/0'");

  // The storage claims more elements than its entry holds.
  Pickle q = orderedDictStart();
  q.str("w").tensor("DoubleStorage", "0", 6, 0, {6}, {1});
  q.op('u').op('.');
  msg = errorOfArchive(dir, torchArchive(q.s, {{"0", std::string(24, '\0')}}));
  EXPECT_CONTAINS(msg, "'w'");
  EXPECT_CONTAINS(msg, "holds only 24 bytes");

  // Negative offset and dims.
  Pickle r = orderedDictStart();
  r.str("w").tensor("FloatStorage", "0", 6, -1, {2}, {1});
  r.op('u').op('.');
  EXPECT_CONTAINS(errorOfArchive(dir, torchArchive(r.s, {{"0", std::string(24, '\0')}})),
                  "outside its storage");
  Pickle s = orderedDictStart();
  s.str("w").tensor("FloatStorage", "0", 6, 0, {-2}, {1});
  s.op('u').op('.');
  EXPECT_CONTAINS(errorOfArchive(dir, torchArchive(s.s, {{"0", std::string(24, '\0')}})),
                  "invalid shape");

  // The storage entry is missing.
  Pickle t = orderedDictStart();
  t.str("w").tensor("FloatStorage", "7", 6, 0, {6}, {1});
  t.op('u').op('.');
  msg = errorOfArchive(dir, torchArchive(t.s, {{"0", std::string(24, '\0')}}));
  EXPECT_CONTAINS(msg, "'w'");
  EXPECT_CONTAINS(msg, "'archive/data/7' is missing");

  // A repeated key.
  Pickle u = orderedDictStart();
  u.str("w").tensor("FloatStorage", "0", 6, 0, {6}, {1});
  u.str("w").tensor("FloatStorage", "0", 6, 0, {6}, {1});
  u.op('u').op('.');
  EXPECT_CONTAINS(errorOfArchive(dir, torchArchive(u.s, {{"0", std::string(24, '\0')}})),
                  "'w': listed twice");
}

TEST(TorchZipErrors, ArchiveLevel) {
  TempDir dir;
  Pickle p = orderedDictStart();
  p.str("w").tensor("FloatStorage", "0", 1, 0, {1}, {1});
  p.op('u').op('.');
  std::string good = torchArchive(p.s, {{"0", std::string(4, '\0')}});
  ASSERT_EQ(errorOfArchive(dir, good), "");

  // Big-endian byte order.
  std::string msg = errorOfArchive(dir, zipBytes({{"archive/data.pkl", p.s},
                                                  {"archive/byteorder", "big"},
                                                  {"archive/data/0", std::string(4, '\0')}}));
  EXPECT_CONTAINS(msg, "archive/byteorder is 'big'");

  // No data.pkl; two of them.
  msg = errorOfArchive(dir, zipBytes({{"archive/data/0", "x"}}));
  EXPECT_CONTAINS(msg, "no '<folder>/data.pkl'");
  msg = errorOfArchive(dir, zipBytes({{"a/data.pkl", p.s}, {"b/data.pkl", p.s}}));
  EXPECT_CONTAINS(msg, "more than one data.pkl");

  // A compressed entry: patch the method in the central directory.
  std::string bad = good;
  size_t cd = support::endian::read32le(good.data() + good.size() - 22 + 16);
  support::endian::write16le(&bad[cd + 10], 8);
  msg = errorOfArchive(dir, bad);
  EXPECT_CONTAINS(msg, "pytorch_model.bin");
  EXPECT_CONTAINS(msg, "'archive/data.pkl'");
  EXPECT_CONTAINS(msg, "compressed with method 8");

  // Encrypted.
  bad = good;
  support::endian::write16le(&bad[cd + 8], 1);
  EXPECT_CONTAINS(errorOfArchive(dir, bad), "encrypted entries are not supported");

  // A flipped byte in data.pkl fails its CRC before the unpickler runs.
  bad = good;
  size_t pklAt = good.find(p.s);
  ASSERT_NE(pklAt, std::string::npos);
  bad[pklAt + 5] ^= 0x20;
  EXPECT_CONTAINS(errorOfArchive(dir, bad), "CRC-32 mismatch");

  // Truncated: the end record is gone, then the directory is cut.
  EXPECT_CONTAINS(errorOfArchive(dir, good.substr(0, good.size() - 30)),
                  "no end-of-central-directory");
  bad = good;
  support::endian::write32le(&bad[good.size() - 22 + 16], cd + 1000);
  EXPECT_CONTAINS(errorOfArchive(dir, bad), "outside the file");

  // Local header offset pointing elsewhere.
  bad = good;
  support::endian::write32le(&bad[cd + 42], 7);
  EXPECT_CONTAINS(errorOfArchive(dir, bad), "local header not found");

  // An entry whose data would run into the central directory.
  bad = good;
  support::endian::write32le(&bad[cd + 20], 1u << 20);
  support::endian::write32le(&bad[cd + 24], 1u << 20);
  EXPECT_CONTAINS(errorOfArchive(dir, bad), "runs past");

  // Legacy torch format and non-zip junk.
  EXPECT_CONTAINS(errorOfArchive(dir, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20", 10)),
                  "legacy");
  EXPECT_CONTAINS(errorOfArchive(dir, "PK\x03\x04 but nothing else at all"),
                  "end-of-central-directory");
}

TEST(TorchZip, ShardedIndex) {
  TempDir dir;
  std::vector<TensorSpec> first = {{"a", DType::F32, {2}}, {"b", DType::BF16, {3}}};
  std::vector<TensorSpec> second = {{"c", DType::I64, {1}}};
  ASSERT_EQ(errorMessage(writeTorchZip(dir.path("pytorch_model-00001-of-00002.bin"), first,
                                       fillPattern)),
            "");
  ASSERT_EQ(errorMessage(writeTorchZip(dir.path("pytorch_model-00002-of-00002.bin"), second,
                                       fillPattern)),
            "");
  writeFile(dir.path("pytorch_model.bin.index.json"),
            R"({"metadata": {"total_size": 22}, "weight_map": {)"
            R"("a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00001-of-00002.bin",)"
            R"("c": "pytorch_model-00002-of-00002.bin"}})");
  Expected<std::unique_ptr<Checkpoint>> ck = Checkpoint::openDirectory(dir.str());
  ASSERT_TRUE(bool(ck)) << errorMessage(ck.takeError());
  EXPECT_EQ((*ck)->format(), Format::TorchZip);
  ASSERT_EQ((*ck)->tensors().size(), 3u);
  EXPECT_EQ((*ck)->files().size(), 2u);
  EXPECT_EQ((*ck)->find("c")->file, dir.path("pytorch_model-00002-of-00002.bin"));
  ArrayRef<uint8_t> c = (*ck)->bytes(*(*ck)->find("c"));
  EXPECT_EQ(std::vector<uint8_t>(c.begin(), c.end()), patternBytes(0, 8));

  // A safetensors shard among torch shards.
  ASSERT_EQ(errorMessage(writeSafetensors(dir.path("pytorch_model-00002-of-00002.bin"), second,
                                          fillPattern)),
            "");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(),
                        "pytorch_model.bin.index.json", "mixes weight file formats");
}
