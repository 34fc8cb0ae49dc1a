//===- SafetensorsTest.cpp - safetensors reader, writers, shards ----------===//

#include "CheckpointTestUtils.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <cstring>

using namespace llvm;
using namespace ssmc::ckpt;
using namespace ssmc::ckpt::test;

namespace {

/// Opens `path`, failing the test with the message if that errors.
std::unique_ptr<Checkpoint> openOk(StringRef path) {
  Expected<std::unique_ptr<Checkpoint>> ck =
      sys::fs::is_directory(path) ? Checkpoint::openDirectory(path) : Checkpoint::openFile(path);
  if (!ck) {
    ADD_FAILURE() << toString(ck.takeError());
    return nullptr;
  }
  return std::move(*ck);
}

/// Checks that `ck` holds exactly `specs` (by name), with the bytes fillPattern
/// wrote for spec index i.
void expectTensors(const Checkpoint &ck, ArrayRef<TensorSpec> specs) {
  ASSERT_EQ(ck.tensors().size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo *t = ck.find(specs[i].name);
    ASSERT_NE(t, nullptr) << specs[i].name;
    EXPECT_EQ(t->dtype, specs[i].dtype) << specs[i].name;
    EXPECT_EQ(t->shape, specs[i].shape) << specs[i].name;
    EXPECT_EQ(t->nbytes, specs[i].nbytes()) << specs[i].name;
    ArrayRef<uint8_t> bytes = ck.bytes(*t);
    std::vector<uint8_t> expected = patternBytes(i, specs[i].nbytes());
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), expected) << specs[i].name;
  }
  for (size_t i = 1; i < ck.tensors().size(); ++i)
    EXPECT_LT(ck.tensors()[i - 1].name, ck.tensors()[i].name) << "tensors() must be sorted";
}

/// A safetensors header of one tensor entry (plus `extra` entries).
std::string header(StringRef entry, StringRef extra = "") {
  return ("{\"w\": " + entry + (extra.empty() ? "" : ", ") + extra + "}").str();
}

} // namespace

TEST(Safetensors, RoundTripEveryDtype) {
  TempDir dir;
  std::string path = dir.path("model.safetensors");
  std::vector<TensorSpec> specs = everyDtypeSpecs();
  ASSERT_EQ(errorMessage(writeSafetensors(path, specs, fillPattern, {{"format", "pt"}})), "");
  std::unique_ptr<Checkpoint> ck = openOk(path);
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->format(), Format::Safetensors);
  expectTensors(*ck, specs);
  EXPECT_EQ(ck->files(), std::vector<std::string>{path});
  EXPECT_EQ(ck->find("missing"), nullptr);
  for (const TensorInfo &t : ck->tensors())
    EXPECT_EQ(t.file, path);
}

TEST(Safetensors, UpstreamLayout) {
  TempDir dir;
  std::string path = dir.path("a.safetensors");
  std::vector<TensorSpec> specs = {{"b", DType::F32, {2}}, {"a", DType::BF16, {3}}};
  ASSERT_EQ(errorMessage(writeSafetensors(path, specs, fillPattern, {{"format", "pt"}})), "");
  std::string bytes = readFile(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = support::endian::read64le(bytes.data());
  EXPECT_EQ(n % 8, 0u) << "header padded to 8 bytes";
  ASSERT_EQ(bytes.size(), 8 + n + 8 + 6);
  std::string head = bytes.substr(8, n);
  // Compact JSON, metadata first, tensors in the given order, space padding.
  EXPECT_EQ(StringRef(head).rtrim(' '),
            "{\"__metadata__\":{\"format\":\"pt\"},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}");
  std::vector<uint8_t> first = patternBytes(0, 8);
  EXPECT_EQ(bytes.substr(8 + n, 8), std::string(first.begin(), first.end()));
  // Without metadata there is no __metadata__ key at all.
  ASSERT_EQ(errorMessage(writeSafetensors(path, specs, fillPattern)), "");
  EXPECT_EQ(readFile(path).find("__metadata__"), std::string::npos);
}

TEST(Safetensors, ReadAsFloat) {
  TempDir dir;
  std::string path = dir.path("f.safetensors");
  const float values[] = {1.5f, -0.25f, 3.0f, 65504.0f};
  std::vector<TensorSpec> specs = {{"f32", DType::F32, {4}},   {"f16", DType::F16, {2, 2}},
                                   {"bf16", DType::BF16, {4}}, {"f64", DType::F64, {4}},
                                   {"i32", DType::I32, {4}},   {"b", DType::Bool, {1}}};
  auto fill = [&](size_t i, MutableArrayRef<uint8_t> out) -> Error {
    for (size_t k = 0; k < 4 && i < 4; ++k) {
      switch (specs[i].dtype) {
      case DType::F32: {
        uint32_t u;
        std::memcpy(&u, &values[k], 4);
        support::endian::write32le(out.data() + 4 * k, u);
        break;
      }
      case DType::F16:
        support::endian::write16le(out.data() + 2 * k, floatToF16(values[k]));
        break;
      case DType::BF16:
        support::endian::write16le(out.data() + 2 * k, floatToBF16(values[k]));
        break;
      default: {
        double d = values[k];
        uint64_t u;
        std::memcpy(&u, &d, 8);
        support::endian::write64le(out.data() + 8 * k, u);
      }
      }
    }
    return Error::success();
  };
  ASSERT_EQ(errorMessage(writeSafetensors(path, specs, fill)), "");
  std::unique_ptr<Checkpoint> ck = openOk(path);
  ASSERT_TRUE(ck);
  for (const char *name : {"f32", "f16", "bf16", "f64"}) {
    Expected<std::vector<float>> f = ck->readAsF32(*ck->find(name));
    ASSERT_TRUE(bool(f)) << errorMessage(f.takeError());
    Expected<std::vector<double>> d = ck->readAsF64(*ck->find(name));
    ASSERT_TRUE(bool(d)) << errorMessage(d.takeError());
    ASSERT_EQ(f->size(), 4u);
    for (size_t k = 0; k < 4; ++k) {
      // 65504 is exact in f16 but rounds to 65536 in bf16.
      float expected = StringRef(name) == "bf16" ? bf16ToFloat(floatToBF16(values[k])) : values[k];
      EXPECT_EQ((*f)[k], expected) << name << "[" << k << "]";
      EXPECT_EQ((*d)[k], static_cast<double>(expected)) << name << "[" << k << "]";
    }
  }
  EXPECT_ERROR_CONTAINS(ck->readAsF32(*ck->find("i32")).takeError(), "i32", "I32", path.c_str());
  EXPECT_ERROR_CONTAINS(ck->readAsF64(*ck->find("b")).takeError(), "'b'", "BOOL");
  TensorInfo foreign = *ck->find("f32");
  foreign.file = "/elsewhere";
  EXPECT_ERROR_CONTAINS(ck->readAsF32(foreign).takeError(), "not a tensor of this checkpoint");
  EXPECT_TRUE(ck->bytes(foreign).empty());
}

TEST(Safetensors, FillErrorAbortsWrite) {
  TempDir dir;
  std::string path = dir.path("x.safetensors");
  std::vector<TensorSpec> specs = {{"a", DType::F32, {2}}, {"b", DType::F32, {2}}};
  int calls = 0;
  auto fill = [&](size_t i, MutableArrayRef<uint8_t>) -> Error {
    ++calls;
    if (i == 1)
      return makeError("generator failed on b");
    return Error::success();
  };
  EXPECT_ERROR_CONTAINS(writeSafetensors(path, specs, fill), "generator failed on b");
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(sys::fs::exists(path)) << "partial file left behind";
}

TEST(Safetensors, WriterRejectsBadSpecs) {
  TempDir dir;
  std::string path = dir.path("x.safetensors");
  std::vector<TensorSpec> dup = {{"a", DType::F32, {2}}, {"a", DType::F32, {2}}};
  EXPECT_ERROR_CONTAINS(writeSafetensors(path, dup, fillPattern), "duplicate", "'a'");
  std::vector<TensorSpec> neg = {{"n", DType::F32, {2, -1}}};
  EXPECT_ERROR_CONTAINS(writeSafetensors(path, neg, fillPattern), "'n'", "invalid shape");
  std::vector<TensorSpec> meta = {{"__metadata__", DType::F32, {1}}};
  EXPECT_ERROR_CONTAINS(writeSafetensors(path, meta, fillPattern), "__metadata__");
}

//===----------------------------------------------------------------------===//
// Validation of crafted files
//===----------------------------------------------------------------------===//

TEST(SafetensorsErrors, TooSmall) {
  TempDir dir;
  std::string path = dir.path("tiny.safetensors");
  writeFile(path, "abc");
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "too small");
}

TEST(SafetensorsErrors, HeaderLengthBeyondFile) {
  TempDir dir;
  std::string path = dir.path("long.safetensors");
  std::string bytes =
      safetensorsBytes(header(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), 4);
  bytes[0] = static_cast<char>(bytes[0] + 100);
  writeFile(path, bytes);
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "header length",
                        "exceeds the file size");
}

TEST(SafetensorsErrors, AbsurdHeaderLength) {
  TempDir dir;
  std::string path = dir.path("huge.safetensors");
  std::string bytes(16, '\0');
  bytes[7] = 0x40; // 2^62
  writeFile(path, bytes);
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "absurdly large");
}

TEST(SafetensorsErrors, MalformedJson) {
  TempDir dir;
  std::string path = dir.path("bad.safetensors");
  writeFile(path, safetensorsBytes(R"({"w": {"dtype": "F32",)", 0));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "malformed", "JSON",
                        "[1:"); // the parser's position
  writeFile(path, safetensorsBytes("[1, 2]", 0));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "not a JSON object");
  // Deep nesting would overflow the recursive JSON parser: refused up front.
  // Brackets inside strings do not count.
  writeFile(path, safetensorsBytes(std::string(1000000, '[') + std::string(1000000, ']'), 0));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "nests deeper");
  writeFile(path, safetensorsBytes("{\"" + std::string(1000, '[') +
                                       "\\\"\": {\"dtype\": \"U8\", "
                                       "\"shape\": [], \"data_offsets\": [0, 1]}}",
                                   1));
  EXPECT_EQ(openError(path), "");
}

TEST(SafetensorsErrors, UnknownDtype) {
  TempDir dir;
  std::string path = dir.path("dt.safetensors");
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]})"), 1));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'",
                        "unknown dtype 'F8_E5M2'");
}

TEST(SafetensorsErrors, NegativeDimension) {
  TempDir dir;
  std::string path = dir.path("neg.safetensors");
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]})"), 0));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'", "negative");
}

TEST(SafetensorsErrors, SizeMismatch) {
  TempDir dir;
  std::string path = dir.path("size.safetensors");
  writeFile(path, safetensorsBytes(
                      header(R"({"dtype":"BF16","shape":[2,3],"data_offsets":[0,24]})"), 24));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'", "24 bytes",
                        "needs 12");
}

TEST(SafetensorsErrors, ShapeOverflow) {
  TempDir dir;
  std::string path = dir.path("ovf.safetensors");
  writeFile(path, safetensorsBytes(header(R"({"dtype":"F64","shape":[4294967296,4294967296],)"
                                          R"("data_offsets":[0,0]})"),
                                   0));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'", "too large");
}

TEST(SafetensorsErrors, OffsetsOutOfRange) {
  TempDir dir;
  std::string path = dir.path("range.safetensors");
  // The data section holds 8 bytes but the tensor ends at 16 (a truncated file).
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"), 8));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'",
                        "out of range");
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})"), 8));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'");
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), 8));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'",
                        "non-negative");
}

TEST(SafetensorsErrors, Overlap) {
  TempDir dir;
  std::string path = dir.path("overlap.safetensors");
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})",
                                    R"("v": {"dtype":"F32","shape":[2],"data_offsets":[4,12]})"),
                             12));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'", "'v'",
                        "overlap");
  // Empty tensors share no bytes, and gaps are tolerated.
  writeFile(path,
            safetensorsBytes(header(R"({"dtype":"F32","shape":[0],"data_offsets":[4,4]})",
                                    R"("v": {"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("u": {"dtype":"F32","shape":[1],"data_offsets":[8,12]})"),
                             12));
  EXPECT_EQ(openError(path), "");
}

TEST(SafetensorsErrors, DuplicateName) {
  TempDir dir;
  std::string path = dir.path("dup.safetensors");
  const char *entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const char *other = R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})";
  writeFile(path, safetensorsBytes(header(entry, (Twine("\"w\": ") + other).str()), 8));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'", "twice");
  // The same name spelled with an escape.
  writeFile(path, safetensorsBytes(header(entry, (Twine("\"\\u0077\": ") + other).str()), 8));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'", "twice");
  // Equal keys inside different entries are not tensor names.
  writeFile(path, safetensorsBytes(header(entry, (Twine("\"v\": ") + other).str()), 8));
  EXPECT_EQ(openError(path), "");
  writeFile(path,
            safetensorsBytes(R"({"a\"b": {"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1));
  EXPECT_EQ(openError(path), "");
}

TEST(SafetensorsErrors, MalformedEntries) {
  TempDir dir;
  std::string path = dir.path("entries.safetensors");
  const char *entries[] = {
      R"("oops")",
      R"({"shape":[1],"data_offsets":[0,4]})",
      R"({"dtype":"F32","data_offsets":[0,4]})",
      R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})",
      R"({"dtype":"F32","shape":[1],"data_offsets":[0]})",
      R"({"dtype":"F32","shape":[1],"data_offsets":["0","4"]})",
  };
  for (const char *entry : entries) {
    writeFile(path, safetensorsBytes(header(entry), 4));
    EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "'w'");
  }
  writeFile(path, safetensorsBytes(R"({"__metadata__": {"a": 1}})", 0));
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(path).takeError(), path.c_str(), "__metadata__");
}

//===----------------------------------------------------------------------===//
// Sharded checkpoints and directory detection
//===----------------------------------------------------------------------===//

TEST(Sharded, RoundTrip) {
  TempDir dir;
  std::vector<TensorSpec> specs = everyDtypeSpecs();
  specs.push_back({"big", DType::F32, {64}}); // 256 bytes: a shard of its own
  ASSERT_EQ(errorMessage(writeShardedSafetensors(dir.str(), specs, fillPattern, 100)), "");
  std::unique_ptr<Checkpoint> ck = openOk(dir.str());
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->format(), Format::Safetensors);
  expectTensors(*ck, specs);
  std::vector<std::string> files = ck->files();
  ASSERT_GE(files.size(), 3u);
  size_t n = files.size();
  for (size_t s = 0; s < n; ++s) {
    std::string name =
        "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(n) + ".safetensors";
    EXPECT_EQ(files[s], dir.path(name));
  }
  EXPECT_EQ(ck->find("big")->file, files.back());

  // The index: total size and a name-sorted weight map.
  std::string index = readFile(dir.path("model.safetensors.index.json"));
  Expected<json::Value> parsed = json::parse(index);
  ASSERT_TRUE(bool(parsed)) << errorMessage(parsed.takeError());
  uint64_t total = 0;
  for (const TensorSpec &s : specs)
    total += s.nbytes();
  EXPECT_EQ(parsed->getAsObject()->getObject("metadata")->getInteger("total_size"),
            static_cast<int64_t>(total));
  EXPECT_EQ(parsed->getAsObject()->getObject("weight_map")->size(), specs.size());
  EXPECT_LT(index.find("\"big\""), index.find("\"empty\""));

  // The index can also be opened as a file.
  EXPECT_EQ(openError(dir.path("model.safetensors.index.json")), "");
}

TEST(Sharded, FillIndicesAreGlobal) {
  TempDir dir;
  std::vector<TensorSpec> specs = {
      {"a", DType::F32, {8}}, {"b", DType::F32, {8}}, {"c", DType::F32, {8}}};
  std::vector<size_t> seen;
  auto fill = [&](size_t i, MutableArrayRef<uint8_t> out) {
    seen.push_back(i);
    return fillPattern(i, out);
  };
  ASSERT_EQ(errorMessage(writeShardedSafetensors(dir.str(), specs, fill, 32)), "");
  EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 2}));
  std::unique_ptr<Checkpoint> ck = openOk(dir.str());
  ASSERT_TRUE(ck);
  expectTensors(*ck, specs);
  EXPECT_EQ(ck->files().size(), 3u);
}

namespace {
/// Writes two shards: s1 = {a, b}, s2 = {c}, and an index from `weightMap`.
void writeShardPair(const TempDir &dir, StringRef weightMap) {
  std::vector<TensorSpec> s1 = {{"a", DType::F32, {2}}, {"b", DType::F32, {2}}};
  std::vector<TensorSpec> s2 = {{"c", DType::F32, {2}}};
  ASSERT_EQ(errorMessage(writeSafetensors(dir.path("s1.safetensors"), s1, fillPattern)), "");
  ASSERT_EQ(errorMessage(writeSafetensors(dir.path("s2.safetensors"), s2, fillPattern)), "");
  writeFile(dir.path("model.safetensors.index.json"),
            ("{\"metadata\": {}, \"weight_map\": {" + weightMap + "}}").str());
}
} // namespace

TEST(ShardedErrors, Consistent) {
  TempDir dir;
  writeShardPair(dir, R"("a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors")");
  EXPECT_EQ(openError(dir.str()), "");
}

TEST(ShardedErrors, MissingShard) {
  TempDir dir;
  writeShardPair(dir, R"("a": "s1.safetensors", "b": "s1.safetensors", "c": "s3.safetensors")");
  std::string index = dir.path("model.safetensors.index.json");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(),
                        "s3.safetensors", "'c'", "missing");
}

TEST(ShardedErrors, TensorNotInMap) {
  TempDir dir;
  writeShardPair(dir, R"("a": "s1.safetensors", "c": "s2.safetensors")");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), "'b'", "s1.safetensors",
                        "not listed");
}

TEST(ShardedErrors, MapEntryNotInShard) {
  TempDir dir;
  writeShardPair(dir, R"("a": "s1.safetensors", "b": "s1.safetensors", "c": "s2.safetensors",)"
                      R"("d": "s2.safetensors")");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), "'d'", "s2.safetensors",
                        "not in");
}

TEST(ShardedErrors, WrongShard) {
  TempDir dir;
  writeShardPair(dir, R"("a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors")");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), "'b'", "s1.safetensors",
                        "s2.safetensors");
}

TEST(ShardedErrors, DuplicateAcrossShards) {
  TempDir dir;
  std::vector<TensorSpec> s = {{"a", DType::F32, {2}}};
  ASSERT_EQ(errorMessage(writeSafetensors(dir.path("s1.safetensors"), s, fillPattern)), "");
  ASSERT_EQ(errorMessage(writeSafetensors(dir.path("s2.safetensors"), s, fillPattern)), "");
  ASSERT_EQ(
      errorMessage(writeSafetensors(dir.path("s2.safetensors"),
                                    {{"a", DType::F32, {2}}, {"b", DType::F32, {2}}}, fillPattern)),
      "");
  writeFile(dir.path("model.safetensors.index.json"),
            R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), "duplicate", "'a'",
                        "s1.safetensors", "s2.safetensors");
}

TEST(ShardedErrors, BadIndex) {
  TempDir dir;
  std::string index = dir.path("model.safetensors.index.json");
  writeFile(index, "{\"weight_map\": ");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(),
                        "malformed JSON");
  writeFile(index, "{\"weight_map\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(),
                        "nests deeper");
  writeFile(index, R"({"metadata": {}})");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(),
                        "weight_map");
  writeFile(index, R"({"weight_map": {"a": 3}})");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(), "'a'");
  writeFile(index, R"({"weight_map": {"a": "../outside.safetensors"}})");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(), "'a'",
                        "outside");
  writeFile(index, R"({"weight_map": {"a": "/etc/passwd"}})");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), index.c_str(), "'a'",
                        "outside");
  // A shard that is not a weight file: its own error, naming it.
  writeFile(dir.path("junk.safetensors"), "not a weight file at all");
  writeFile(index, R"({"weight_map": {"a": "junk.safetensors"}})");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), "junk.safetensors");
}

TEST(Directory, DetectionOrder) {
  TempDir dir;
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.str()).takeError(), dir.str().c_str(),
                        "no weights found");
  EXPECT_ERROR_CONTAINS(Checkpoint::openDirectory(dir.path("nope")).takeError(), "not a directory");
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(dir.path("nope.safetensors")).takeError(),
                        "nope.safetensors", "cannot open");
  EXPECT_ERROR_CONTAINS(Checkpoint::openFile(dir.str()).takeError(), "is a directory");

  std::vector<TensorSpec> zipSpecs = {{"from.zip", DType::F32, {1}}};
  ASSERT_EQ(errorMessage(writeTorchZip(dir.path("pytorch_model.bin"), zipSpecs, fillPattern)), "");
  std::unique_ptr<Checkpoint> ck = openOk(dir.str());
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->format(), Format::TorchZip);

  std::vector<TensorSpec> stSpecs = {{"from.st", DType::F32, {1}}};
  ASSERT_EQ(errorMessage(writeSafetensors(dir.path("model.safetensors"), stSpecs, fillPattern)),
            "");
  ck = openOk(dir.str());
  ASSERT_TRUE(ck);
  EXPECT_EQ(ck->format(), Format::Safetensors);
  EXPECT_NE(ck->find("from.st"), nullptr);

  ASSERT_EQ(errorMessage(writeShardedSafetensors(dir.str(), {{"from.index", DType::F32, {1}}},
                                                 fillPattern, 1 << 20)),
            "");
  ck = openOk(dir.str());
  ASSERT_TRUE(ck);
  EXPECT_NE(ck->find("from.index"), nullptr);
}
