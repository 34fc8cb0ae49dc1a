//===- Artifact.cpp - The .ssmx artifact format: writer and reader --------===//

#include "runtime/Artifact.h"
#include "runtime/WeightSynthesis.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace ssmc {
namespace rt {

//===----------------------------------------------------------------------===//
// Checksums
//===----------------------------------------------------------------------===//

static const uint32_t *crcTable() {
  static uint32_t table[256];
  static std::once_flag once;
  std::call_once(once, [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  });
  return table;
}

uint32_t crc32(const void *data, size_t size, uint32_t crc) {
  const uint32_t *table = crcTable();
  const uint8_t *p = static_cast<const uint8_t *>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

static void putU32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
static void putU64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
static uint32_t getU32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
static uint64_t getU64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

uint32_t weightSectionChecksum(const uint8_t *data, uint64_t size) {
  uint64_t head = size < kWeightChecksumWindow ? size : kWeightChecksumWindow;
  uint32_t crc = crc32(data, head);
  if (size > head) {
    uint64_t tailStart = size - kWeightChecksumWindow;
    if (tailStart < head)
      tailStart = head; // windows overlap: cover each byte once
    crc = crc32(data + tailStart, size - tailStart, crc);
  }
  uint8_t sizeBytes[8];
  putU64(sizeBytes, size);
  return crc32(sizeBytes, sizeof(sizeBytes), crc);
}

//===----------------------------------------------------------------------===//
// Header
//===----------------------------------------------------------------------===//

const char ArtifactHeader::kMagic[8] = {'S', 'S', 'M', 'X', 0, 0, 0, 1};

// Field offsets of the encoded header.
enum : size_t {
  kOffMagic = 0,
  kOffVersion = 8,
  kOffHeaderBytes = 12,
  kOffFileBytes = 16,
  kOffManifestOffset = 24,
  kOffManifestBytes = 32,
  kOffCodeOffset = 40,
  kOffCodeBytes = 48,
  kOffWeightsOffset = 56,
  kOffWeightsBytes = 64,
  kOffManifestCrc = 72,
  kOffCodeCrc = 76,
  kOffWeightsChecksum = 80,
  kOffHeaderCrc = ArtifactHeader::kBytes - 4,
};

void ArtifactHeader::encode(uint8_t out[kBytes]) const {
  std::memset(out, 0, kBytes);
  std::memcpy(out + kOffMagic, kMagic, sizeof(kMagic));
  putU32(out + kOffVersion, formatVersion);
  putU32(out + kOffHeaderBytes, static_cast<uint32_t>(kBytes));
  putU64(out + kOffFileBytes, fileBytes);
  putU64(out + kOffManifestOffset, manifestOffset);
  putU64(out + kOffManifestBytes, manifestBytes);
  putU64(out + kOffCodeOffset, codeOffset);
  putU64(out + kOffCodeBytes, codeBytes);
  putU64(out + kOffWeightsOffset, weightsOffset);
  putU64(out + kOffWeightsBytes, weightsBytes);
  putU32(out + kOffManifestCrc, manifestCrc);
  putU32(out + kOffCodeCrc, codeCrc);
  putU32(out + kOffWeightsChecksum, weightsChecksum);
  putU32(out + kOffHeaderCrc, crc32(out, kOffHeaderCrc));
}

bool ArtifactHeader::decode(const uint8_t *in, size_t size,
                            std::string &error) {
  if (size < kBytes) {
    error = "file is " + std::to_string(size) + " bytes, smaller than the " +
            std::to_string(kBytes) + "-byte header (truncated?)";
    return false;
  }
  if (std::memcmp(in, kMagic, 4) != 0) {
    error = "bad magic: not an .ssmx artifact";
    return false;
  }
  uint32_t version = getU32(in + kOffVersion);
  if (std::memcmp(in, kMagic, sizeof(kMagic)) != 0 ||
      version != kArtifactFormatVersion) {
    error = "unsupported artifact format version " + std::to_string(version) +
            " (this runtime reads version " +
            std::to_string(kArtifactFormatVersion) + ")";
    return false;
  }
  if (getU32(in + kOffHeaderCrc) != crc32(in, kOffHeaderCrc)) {
    error = "header checksum mismatch (corrupted header)";
    return false;
  }
  if (getU32(in + kOffHeaderBytes) != kBytes) {
    error = "header size field is " +
            std::to_string(getU32(in + kOffHeaderBytes)) + ", expected " +
            std::to_string(kBytes);
    return false;
  }
  formatVersion = version;
  fileBytes = getU64(in + kOffFileBytes);
  manifestOffset = getU64(in + kOffManifestOffset);
  manifestBytes = getU64(in + kOffManifestBytes);
  codeOffset = getU64(in + kOffCodeOffset);
  codeBytes = getU64(in + kOffCodeBytes);
  weightsOffset = getU64(in + kOffWeightsOffset);
  weightsBytes = getU64(in + kOffWeightsBytes);
  manifestCrc = getU32(in + kOffManifestCrc);
  codeCrc = getU32(in + kOffCodeCrc);
  weightsChecksum = getU32(in + kOffWeightsChecksum);
  return true;
}

//===----------------------------------------------------------------------===//
// Manifest
//===----------------------------------------------------------------------===//

size_t elementTypeBytes(const std::string &dtype) {
  static const struct {
    const char *name;
    size_t bytes;
  } kTypes[] = {{"f64", 8}, {"f32", 4}, {"f16", 2}, {"bf16", 2},
                {"i64", 8}, {"i32", 4}, {"i16", 2}, {"i8", 1},
                {"u8", 1},  {"u32", 4}};
  for (const auto &t : kTypes)
    if (dtype == t.name)
      return t.bytes;
  return 0;
}

static JsonValue stringArray(const std::vector<std::string> &values) {
  JsonValue array = JsonValue::makeArray();
  for (const std::string &v : values)
    array.push(JsonValue::makeString(v));
  return array;
}

static JsonValue u64(uint64_t v) {
  return JsonValue::makeInt(static_cast<int64_t>(v));
}

JsonValue Manifest::toJson() const {
  JsonValue root = JsonValue::makeObject();
  root.set("format_version", u64(formatVersion));
  root.set("ssmc_version", JsonValue::makeString(ssmcVersion));
  root.set("family", JsonValue::makeString(family));
  root.set("target", JsonValue::makeString(target));
  root.set("cpu_features", stringArray(cpuFeatures));
  root.set("dtype", JsonValue::makeString(dtype));
  root.set("vocab_size", JsonValue::makeInt(vocabSize));
  root.set("hyper_parameters", hyperParameters);
  root.set("abi_version", u64(abiVersion));
  JsonValue entries = JsonValue::makeObject();
  entries.set("prefill", JsonValue::makeString(prefillEntry));
  entries.set("decode", JsonValue::makeString(decodeEntry));
  root.set("entry_points", std::move(entries));
  JsonValue stateArray = JsonValue::makeArray();
  for (const StateSpec &s : states) {
    JsonValue state = JsonValue::makeObject();
    state.set("name", JsonValue::makeString(s.name));
    state.set("dtype", JsonValue::makeString(s.dtype));
    state.set("per_sequence_elements", u64(s.perSequenceElements));
    state.set("grows_with_context", JsonValue::makeBool(s.growsWithContext));
    state.set("per_token_elements", u64(s.perTokenElements));
    stateArray.push(std::move(state));
  }
  root.set("states", std::move(stateArray));
  JsonValue scratch = JsonValue::makeObject();
  scratch.set("per_token", u64(scratchPerToken));
  scratch.set("fixed", u64(scratchFixed));
  root.set("scratch", std::move(scratch));
  JsonValue weightArray = JsonValue::makeArray();
  for (const WeightSpec &w : weights) {
    JsonValue weight = JsonValue::makeObject();
    weight.set("name", JsonValue::makeString(w.name));
    weight.set("offset", u64(w.offset));
    weight.set("bytes", u64(w.bytes));
    weight.set("dtype", JsonValue::makeString(w.dtype));
    JsonValue shape = JsonValue::makeArray();
    for (int64_t d : w.shape)
      shape.push(JsonValue::makeInt(d));
    weight.set("shape", std::move(shape));
    if (synthetic.enabled) {
      JsonValue init = JsonValue::makeObject();
      init.set("distribution", JsonValue::makeString(w.init.distribution));
      init.set("low", JsonValue::makeDouble(w.init.lo));
      init.set("high", JsonValue::makeDouble(w.init.hi));
      init.set("generated_dtype", JsonValue::makeString(w.init.generatedDtype));
      weight.set("init", std::move(init));
    }
    weightArray.push(std::move(weight));
  }
  root.set("weights", std::move(weightArray));
  if (synthetic.enabled) {
    JsonValue synth = JsonValue::makeObject();
    synth.set("rule", JsonValue::makeString(synthetic.rule));
    synth.set("seed", u64(synthetic.seed));
    synth.set("section_bytes", u64(synthetic.sectionBytes));
    root.set("synthetic_weights", std::move(synth));
  }
  return root;
}

namespace {
/// Typed field access that records the first schema error with its path.
class FieldReader {
public:
  explicit FieldReader(std::string &error) : error(error) {}

  const JsonValue *member(const JsonValue &obj, const std::string &path,
                          const char *key, JsonValue::Kind kind,
                          const char *kindName) {
    const JsonValue *v = obj.find(key);
    if (!v)
      return failNull(path + key + " is missing");
    if (v->kind() != kind)
      return failNull(path + key + " must be " + kindName);
    return v;
  }

  bool string(const JsonValue &obj, const std::string &path, const char *key,
              std::string &out, bool nonEmpty = true) {
    const JsonValue *v =
        member(obj, path, key, JsonValue::Kind::String, "a string");
    if (!v)
      return false;
    if (nonEmpty && v->getString().empty())
      return fail(path + key + " must not be empty");
    out = v->getString();
    return true;
  }

  bool integer(const JsonValue &obj, const std::string &path, const char *key,
               int64_t min, int64_t max, int64_t &out) {
    const JsonValue *v = obj.find(key);
    if (!v)
      return fail(path + key + " is missing");
    if (!v->isInteger())
      return fail(path + key + " must be an integer");
    if (v->getInt() < min || v->getInt() > max)
      return fail(path + key + " = " + std::to_string(v->getInt()) +
                  " is out of range [" + std::to_string(min) + ", " +
                  std::to_string(max) + "]");
    out = v->getInt();
    return true;
  }

  bool u64(const JsonValue &obj, const std::string &path, const char *key,
           uint64_t &out) {
    int64_t v;
    if (!integer(obj, path, key, 0, INT64_MAX, v))
      return false;
    out = static_cast<uint64_t>(v);
    return true;
  }

  bool fail(const std::string &message) {
    if (error.empty())
      error = message;
    return false;
  }

private:
  const JsonValue *failNull(const std::string &message) {
    fail(message);
    return nullptr;
  }
  std::string &error;
};
} // namespace

bool Manifest::fromJson(const JsonValue &json, Manifest &out,
                        std::string &error) {
  error.clear();
  FieldReader r(error);
  Manifest m;
  if (!json.isObject())
    return r.fail("manifest must be a JSON object");
  int64_t i64;
  if (!r.integer(json, "", "format_version", 0, UINT32_MAX, i64))
    return false;
  m.formatVersion = static_cast<uint32_t>(i64);
  if (m.formatVersion != kArtifactFormatVersion)
    return r.fail("manifest format_version " + std::to_string(i64) +
                  " is not supported (expected " +
                  std::to_string(kArtifactFormatVersion) + ")");
  if (!r.string(json, "", "ssmc_version", m.ssmcVersion) ||
      !r.string(json, "", "family", m.family) ||
      !r.string(json, "", "target", m.target) ||
      !r.string(json, "", "dtype", m.dtype))
    return false;
  const JsonValue *features = r.member(json, "", "cpu_features",
                                       JsonValue::Kind::Array, "an array");
  if (!features)
    return false;
  for (const JsonValue &f : features->getArray()) {
    if (!f.isString() || f.getString().empty())
      return r.fail("cpu_features entries must be non-empty strings");
    m.cpuFeatures.push_back(f.getString());
  }
  if (!r.integer(json, "", "vocab_size", 1, INT32_MAX, m.vocabSize))
    return false;
  const JsonValue *hyper = r.member(json, "", "hyper_parameters",
                                    JsonValue::Kind::Object, "an object");
  if (!hyper)
    return false;
  m.hyperParameters = *hyper;
  if (hyper->find("max_prefill_tokens") &&
      !r.integer(*hyper, "hyper_parameters.", "max_prefill_tokens", 1, INT32_MAX,
                 m.maxPrefillTokens))
    return false;
  if (!r.integer(json, "", "abi_version", 0, UINT32_MAX, i64))
    return false;
  m.abiVersion = static_cast<uint32_t>(i64);
  const JsonValue *entries = r.member(json, "", "entry_points",
                                      JsonValue::Kind::Object, "an object");
  if (!entries || !r.string(*entries, "entry_points.", "prefill",
                            m.prefillEntry) ||
      !r.string(*entries, "entry_points.", "decode", m.decodeEntry))
    return false;

  const JsonValue *states =
      r.member(json, "", "states", JsonValue::Kind::Array, "an array");
  if (!states)
    return false;
  std::set<std::string> names;
  for (size_t i = 0; i < states->getArray().size(); ++i) {
    const JsonValue &s = states->getArray()[i];
    std::string path = "states[" + std::to_string(i) + "].";
    if (!s.isObject())
      return r.fail(path.substr(0, path.size() - 1) + " must be an object");
    StateSpec spec;
    if (!r.string(s, path, "name", spec.name) ||
        !r.string(s, path, "dtype", spec.dtype) ||
        !r.u64(s, path, "per_sequence_elements", spec.perSequenceElements))
      return false;
    const JsonValue *grows = r.member(s, path, "grows_with_context",
                                      JsonValue::Kind::Bool, "a boolean");
    if (!grows)
      return false;
    spec.growsWithContext = grows->getBool();
    if (!r.u64(s, path, "per_token_elements", spec.perTokenElements))
      return false;
    if (elementTypeBytes(spec.dtype) == 0)
      return r.fail(path + "dtype '" + spec.dtype +
                    "' is not a known element type");
    if (!spec.growsWithContext && spec.perTokenElements != 0)
      return r.fail(path + "per_token_elements must be 0 for a state that "
                           "does not grow with context");
    if (spec.perSequenceElements == 0 && spec.perTokenElements == 0)
      return r.fail(path + "state '" + spec.name + "' has no elements");
    // Bound sizes so that later products cannot overflow 64 bits.
    const uint64_t kMaxElements = uint64_t(1) << 40;
    if (spec.perSequenceElements > kMaxElements ||
        spec.perTokenElements > kMaxElements)
      return r.fail(path + "element count is implausibly large");
    if (!names.insert(spec.name).second)
      return r.fail("duplicate state name '" + spec.name + "'");
    m.states.push_back(std::move(spec));
  }

  const JsonValue *scratch =
      r.member(json, "", "scratch", JsonValue::Kind::Object, "an object");
  if (!scratch || !r.u64(*scratch, "scratch.", "per_token", m.scratchPerToken) ||
      !r.u64(*scratch, "scratch.", "fixed", m.scratchFixed))
    return false;
  if (m.scratchPerToken > (uint64_t(1) << 40) ||
      m.scratchFixed > (uint64_t(1) << 48))
    return r.fail("scratch sizes are implausibly large");

  if (const JsonValue *synth = json.find("synthetic_weights")) {
    const std::string path = "synthetic_weights.";
    if (!synth->isObject())
      return r.fail("synthetic_weights must be an object");
    if (!r.string(*synth, path, "rule", m.synthetic.rule) ||
        !r.u64(*synth, path, "seed", m.synthetic.seed) ||
        !r.u64(*synth, path, "section_bytes", m.synthetic.sectionBytes))
      return false;
    if (m.synthetic.rule != synth::kRuleName)
      return r.fail("the weights are synthesized by rule '" + m.synthetic.rule +
                    "', which this runtime does not know (it knows '" + synth::kRuleName +
                    "')");
    if (m.synthetic.sectionBytes > (uint64_t(1) << 48))
      return r.fail("synthetic_weights.section_bytes is implausibly large");
    m.synthetic.enabled = true;
  }

  const JsonValue *weights =
      r.member(json, "", "weights", JsonValue::Kind::Array, "an array");
  if (!weights)
    return false;
  names.clear();
  for (size_t i = 0; i < weights->getArray().size(); ++i) {
    const JsonValue &w = weights->getArray()[i];
    std::string path = "weights[" + std::to_string(i) + "].";
    if (!w.isObject())
      return r.fail(path.substr(0, path.size() - 1) + " must be an object");
    WeightSpec spec;
    if (!r.string(w, path, "name", spec.name) ||
        !r.u64(w, path, "offset", spec.offset) ||
        !r.u64(w, path, "bytes", spec.bytes) ||
        !r.string(w, path, "dtype", spec.dtype))
      return false;
    const JsonValue *shape =
        r.member(w, path, "shape", JsonValue::Kind::Array, "an array");
    if (!shape)
      return false;
    for (const JsonValue &d : shape->getArray()) {
      if (!d.isInteger() || d.getInt() < 0)
        return r.fail(path + "shape entries must be non-negative integers");
      spec.shape.push_back(d.getInt());
    }
    if (m.synthetic.enabled) {
      synth::Element element;
      if (!synth::parseElement(spec.dtype, element))
        return r.fail(path + "dtype '" + spec.dtype +
                      "' cannot be synthesized (f32, bf16 or f16)");
      const JsonValue *init =
          r.member(w, path, "init", JsonValue::Kind::Object, "an object");
      if (!init)
        return false;
      std::string initPath = path + "init.";
      if (!r.string(*init, initPath, "distribution", spec.init.distribution) ||
          !r.string(*init, initPath, "generated_dtype", spec.init.generatedDtype))
        return false;
      synth::Distribution kind;
      if (!synth::parseDistribution(spec.init.distribution, kind))
        return r.fail(initPath + "distribution '" + spec.init.distribution +
                      "' is not one this runtime knows");
      if (!synth::parseElement(spec.init.generatedDtype, element))
        return r.fail(initPath + "generated_dtype '" + spec.init.generatedDtype +
                      "' is not f32, bf16 or f16");
      const JsonValue *lo = r.member(*init, initPath, "low", JsonValue::Kind::Number, "a number");
      const JsonValue *hi =
          lo ? r.member(*init, initPath, "high", JsonValue::Kind::Number, "a number") : nullptr;
      if (!hi)
        return false;
      spec.init.lo = lo->getDouble();
      spec.init.hi = hi->getDouble();
      // The log-based kinds take logarithms of the bounds (or of values
      // between them).
      bool positive = kind == synth::Distribution::Uniform ||
                      (spec.init.lo > 0 && spec.init.hi > 0);
      if (!std::isfinite(spec.init.lo) || !std::isfinite(spec.init.hi) ||
          spec.init.lo > spec.init.hi || !positive)
        return r.fail(initPath + "low/high are not a valid range for '" +
                      spec.init.distribution + "'");
    }
    if (!names.insert(spec.name).second)
      return r.fail("duplicate weight name '" + spec.name + "'");
    m.weights.push_back(std::move(spec));
  }
  out = std::move(m);
  return true;
}

//===----------------------------------------------------------------------===//
// Target checks
//===----------------------------------------------------------------------===//

unsigned cudaTargetSm(const std::string &target) {
  if (target == "cuda-sm80")
    return 80;
  if (target == "cuda-sm90")
    return 90;
  return 0;
}

std::string targetArchitecture(const std::string &target) {
  if (target == "host-x86_64" || target == "x86_64")
    return "x86_64";
  if (target == "host-aarch64" || target == "aarch64")
    return "aarch64";
  // The code section of a CUDA artifact is x86-64 host code driving the GPU.
  if (cudaTargetSm(target) != 0)
    return "x86_64";
  return "";
}

const char *hostArchitecture() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "unknown";
#endif
}

/// Feature words the kernel lists in /proc/cpuinfo ("flags" on x86,
/// "Features" on aarch64); covers features the fast paths do not know.
static const std::set<std::string> &cpuinfoFeatures() {
  static std::set<std::string> features;
  static std::once_flag once;
  std::call_once(once, [] {
    FILE *f = std::fopen("/proc/cpuinfo", "r");
    if (!f)
      return;
    char line[8192];
    while (std::fgets(line, sizeof(line), f)) {
      if (std::strncmp(line, "flags", 5) != 0 &&
          std::strncmp(line, "Features", 8) != 0)
        continue;
      const char *colon = std::strchr(line, ':');
      if (!colon)
        continue;
      std::string word;
      for (const char *p = colon + 1;; ++p) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\0') {
          if (!word.empty())
            features.insert(word);
          word.clear();
          if (*p == '\0')
            break;
        } else {
          word += *p;
        }
      }
      break; // every core lists the same features
    }
    std::fclose(f);
  });
  return features;
}

bool hostHasCpuFeature(const std::string &feature) {
#if defined(__x86_64__)
  // __builtin_cpu_supports needs literal names, hence the table.
#define SSMC_X86_FEATURE(name)                                                 \
  if (feature == name)                                                         \
    return __builtin_cpu_supports(name);
  SSMC_X86_FEATURE("sse4.2")
  SSMC_X86_FEATURE("avx")
  SSMC_X86_FEATURE("avx2")
  SSMC_X86_FEATURE("fma")
  SSMC_X86_FEATURE("avx512f")
  SSMC_X86_FEATURE("avx512bw")
  SSMC_X86_FEATURE("avx512dq")
  SSMC_X86_FEATURE("avx512vl")
#undef SSMC_X86_FEATURE
  // cpuinfo spells dotted names with underscores ("sse4_2", "avx512_vnni").
  std::string spelled = feature;
  for (char &c : spelled)
    if (c == '.')
      c = '_';
  if (cpuinfoFeatures().count(spelled))
    return true;
  if (spelled.rfind("avx512", 0) == 0 && spelled.size() > 6 &&
      spelled[6] != '_' &&
      cpuinfoFeatures().count("avx512_" + spelled.substr(6)))
    return true;
  return false;
#elif defined(__aarch64__)
  unsigned long hwcap = getauxval(AT_HWCAP);
  unsigned long hwcap2 = getauxval(AT_HWCAP2);
  (void)hwcap2;
  if (feature == "neon" || feature == "asimd")
    return hwcap & HWCAP_ASIMD;
#ifdef HWCAP_ASIMDDP
  if (feature == "dotprod")
    return hwcap & HWCAP_ASIMDDP;
#endif
#ifdef HWCAP_ASIMDHP
  if (feature == "fp16" || feature == "fullfp16")
    return hwcap & HWCAP_ASIMDHP;
#endif
#ifdef HWCAP_SVE
  if (feature == "sve")
    return hwcap & HWCAP_SVE;
#endif
#ifdef HWCAP2_SVE2
  if (feature == "sve2")
    return hwcap2 & HWCAP2_SVE2;
#endif
#ifdef HWCAP2_I8MM
  if (feature == "i8mm")
    return hwcap2 & HWCAP2_I8MM;
#endif
#ifdef HWCAP2_BF16
  if (feature == "bf16")
    return hwcap2 & HWCAP2_BF16;
#endif
  if (feature == "dotprod")
    return cpuinfoFeatures().count("asimddp");
  return cpuinfoFeatures().count(feature) != 0;
#else
  return cpuinfoFeatures().count(feature) != 0;
#endif
}

bool checkTargetRunsOnHost(const Manifest &manifest, std::string &error) {
  std::string arch = targetArchitecture(manifest.target);
  if (arch.empty()) {
    if (manifest.target.rfind("cuda", 0) == 0)
      error = "target '" + manifest.target +
              "' is not a CUDA target this runtime knows (cuda-sm80, cuda-sm90)";
    else if (manifest.target.rfind("metal", 0) == 0)
      error = "target '" + manifest.target +
              "' needs a device launcher, which this runtime does not have";
    else
      error = "unknown target '" + manifest.target + "'";
    return false;
  }
  if (arch != hostArchitecture()) {
    error = "artifact was compiled for " + arch + " (target '" +
            manifest.target + "') but this host is " + hostArchitecture();
    return false;
  }
  for (const std::string &feature : manifest.cpuFeatures) {
    if (!hostHasCpuFeature(feature)) {
      error = "artifact requires CPU feature '" + feature +
              "', which this host's CPU does not support";
      return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

static uint64_t alignUp(uint64_t v, uint64_t alignment) {
  return (v + alignment - 1) / alignment * alignment;
}

bool writeArtifactFile(const std::string &path, const std::string &manifest,
                       const std::vector<uint8_t> &code,
                       const uint8_t *weights, uint64_t weightsBytes,
                       std::string &error) {
  ArtifactHeader header;
  header.manifestOffset = ArtifactHeader::kBytes;
  header.manifestBytes = manifest.size();
  header.codeOffset = header.manifestOffset + header.manifestBytes;
  header.codeBytes = code.size();
  header.weightsOffset =
      alignUp(header.codeOffset + header.codeBytes, kWeightAlignment);
  header.weightsBytes = weightsBytes;
  header.fileBytes = header.weightsOffset + weightsBytes;
  header.manifestCrc = crc32(manifest.data(), manifest.size());
  header.codeCrc = crc32(code.data(), code.size());
  header.weightsChecksum = weightSectionChecksum(weights, weightsBytes);
  uint8_t encoded[ArtifactHeader::kBytes];
  header.encode(encoded);

  // Write next to the destination and rename, so that a reader never sees a
  // half-written artifact.
  std::string tmpPath = path + ".tmp";
  FILE *f = std::fopen(tmpPath.c_str(), "wb");
  if (!f) {
    error = path + ": cannot create: " + std::strerror(errno);
    return false;
  }
  static const uint8_t zeros[kWeightAlignment] = {};
  uint64_t padding =
      header.weightsOffset - (header.codeOffset + header.codeBytes);
  bool ok = std::fwrite(encoded, 1, sizeof(encoded), f) == sizeof(encoded) &&
            std::fwrite(manifest.data(), 1, manifest.size(), f) ==
                manifest.size() &&
            (code.empty() ||
             std::fwrite(code.data(), 1, code.size(), f) == code.size()) &&
            (padding == 0 || std::fwrite(zeros, 1, padding, f) == padding) &&
            (weightsBytes == 0 ||
             std::fwrite(weights, 1, weightsBytes, f) == weightsBytes);
  int savedErrno = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    savedErrno = errno;
  }
  if (!ok) {
    std::remove(tmpPath.c_str());
    error = path + ": write failed: " + std::strerror(savedErrno);
    return false;
  }
  if (std::rename(tmpPath.c_str(), path.c_str()) != 0) {
    error = path + ": cannot rename into place: " + std::strerror(errno);
    std::remove(tmpPath.c_str());
    return false;
  }
  return true;
}

void ArtifactWriter::addWeight(const std::string &name,
                               const std::string &dtype,
                               std::vector<int64_t> shape, const void *data,
                               uint64_t bytes) {
  WeightSpec spec;
  spec.name = name;
  spec.dtype = dtype;
  spec.shape = std::move(shape);
  spec.offset = alignUp(sectionEnd, kWeightAlignment);
  spec.bytes = bytes;
  mixed |= artifactManifest.synthetic.enabled;
  weightBytes.resize(spec.offset);
  const uint8_t *p = static_cast<const uint8_t *>(data);
  weightBytes.insert(weightBytes.end(), p, p + bytes);
  sectionEnd = weightBytes.size();
  artifactManifest.weights.push_back(std::move(spec));
}

void ArtifactWriter::addSyntheticWeight(const std::string &name,
                                        const std::string &dtype,
                                        std::vector<int64_t> shape,
                                        uint64_t bytes, const WeightInit &init,
                                        uint64_t seed) {
  SyntheticWeights &synthetic = artifactManifest.synthetic;
  if (!synthetic.enabled) {
    mixed |= !weightBytes.empty() || !artifactManifest.weights.empty();
    synthetic.enabled = true;
    synthetic.rule = synth::kRuleName;
    synthetic.seed = seed;
  }
  mixed |= synthetic.seed != seed;
  WeightSpec spec;
  spec.name = name;
  spec.dtype = dtype;
  spec.shape = std::move(shape);
  spec.offset = alignUp(sectionEnd, kWeightAlignment);
  spec.bytes = bytes;
  spec.init = init;
  sectionEnd = spec.offset + bytes;
  synthetic.sectionBytes = sectionEnd;
  artifactManifest.weights.push_back(std::move(spec));
}

bool ArtifactWriter::write(const std::string &path, std::string &error) const {
  if (mixed) {
    error = path + ": an artifact holds either stored or synthesized weights "
                   "(with one seed), not both";
    return false;
  }
  std::string text = artifactManifest.toJson().serialize(1);
  return writeArtifactFile(path, text, codeBytes, weightBytes.data(),
                           weightBytes.size(), error);
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

ArtifactReader::~ArtifactReader() { unmap(); }

void ArtifactReader::unmap() {
  if (base)
    munmap(const_cast<uint8_t *>(base), mappedBytes);
  base = nullptr;
  mappedBytes = 0;
}

bool ArtifactReader::open(const std::string &path, std::string &error) {
  return open(path, Options(), error);
}

bool ArtifactReader::open(const std::string &path, const Options &options,
                          std::string &error) {
  unmap();
  filePath = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = path + ": not a regular file";
    ::close(fd);
    return false;
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < ArtifactHeader::kBytes) {
    ::close(fd);
    error = path + ": file is " + std::to_string(size) +
            " bytes, smaller than the " +
            std::to_string(ArtifactHeader::kBytes) +
            "-byte header (truncated?)";
    return false;
  }
  void *mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int mapErrno = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) {
    error = path + ": mmap failed: " + std::strerror(mapErrno);
    return false;
  }
  base = static_cast<const uint8_t *>(mapping);
  mappedBytes = size;
  std::string message;
  if (!validate(options, message)) {
    error = path + ": " + message;
    unmap();
    return false;
  }
  return true;
}

/// `offset + bytes <= limit` without overflow.
static bool inRange(uint64_t offset, uint64_t bytes, uint64_t limit) {
  return offset <= limit && bytes <= limit - offset;
}

bool ArtifactReader::validate(const Options &options, std::string &error) {
  ArtifactHeader &h = fileHeader;
  if (!h.decode(base, mappedBytes, error))
    return false;
  if (h.fileBytes != mappedBytes) {
    error = "file is " + std::to_string(mappedBytes) +
            " bytes but its header says " + std::to_string(h.fileBytes) +
            (mappedBytes < h.fileBytes ? " (truncated)" : " (trailing data)");
    return false;
  }
  struct Section {
    const char *name;
    uint64_t offset, bytes;
  } sections[] = {{"manifest", h.manifestOffset, h.manifestBytes},
                  {"code", h.codeOffset, h.codeBytes},
                  {"weight", h.weightsOffset, h.weightsBytes}};
  for (const Section &s : sections) {
    if (s.offset < ArtifactHeader::kBytes ||
        !inRange(s.offset, s.bytes, mappedBytes)) {
      error = std::string(s.name) + " section [" + std::to_string(s.offset) +
              ", +" + std::to_string(s.bytes) + ") lies outside the file (" +
              std::to_string(mappedBytes) + " bytes)";
      return false;
    }
  }
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      if (sections[i].offset < sections[j].offset + sections[j].bytes &&
          sections[j].offset < sections[i].offset + sections[i].bytes) {
        error = std::string(sections[i].name) + " and " + sections[j].name +
                " sections overlap";
        return false;
      }
  if (h.weightsOffset % kWeightAlignment != 0) {
    error = "weight section offset " + std::to_string(h.weightsOffset) +
            " is not " + std::to_string(kWeightAlignment) + "-byte aligned";
    return false;
  }
  if (crc32(base + h.manifestOffset, h.manifestBytes) != h.manifestCrc) {
    error = "manifest checksum mismatch (corrupted manifest)";
    return false;
  }
  if (crc32(base + h.codeOffset, h.codeBytes) != h.codeCrc) {
    error = "code section checksum mismatch (corrupted code)";
    return false;
  }
  if (weightSectionChecksum(base + h.weightsOffset, h.weightsBytes) !=
      h.weightsChecksum) {
    error = "weight section checksum mismatch (corrupted weights)";
    return false;
  }

  manifestJson.assign(reinterpret_cast<const char *>(base + h.manifestOffset),
                      h.manifestBytes);
  JsonValue json;
  std::string jsonError;
  if (!parseJson(manifestJson, json, jsonError)) {
    error = "malformed manifest JSON: " + jsonError;
    return false;
  }
  if (!Manifest::fromJson(json, fileManifest, jsonError)) {
    error = "invalid manifest: " + jsonError;
    return false;
  }
  if (fileManifest.synthetic.enabled && h.weightsBytes != 0) {
    error = "the manifest says the weights are synthesized at load, but the "
            "file holds a weight section of " +
            std::to_string(h.weightsBytes) + " bytes";
    return false;
  }
  const uint64_t sectionBytes = fileManifest.weightSectionBytes(h.weightsBytes);
  for (const WeightSpec &w : fileManifest.weights) {
    if (!inRange(w.offset, w.bytes, sectionBytes)) {
      error = "weight '" + w.name + "' at [" + std::to_string(w.offset) +
              ", +" + std::to_string(w.bytes) +
              ") lies outside the weight section (" +
              std::to_string(sectionBytes) + " bytes" +
              (fileManifest.synthetic.enabled ? ", synthesized" : "") + ")";
      return false;
    }
    size_t elementBytes = elementTypeBytes(w.dtype);
    if (elementBytes == 0)
      continue; // packed/quantized types: the compiler owns their layout
    uint64_t elements = 1;
    bool overflow = false;
    for (int64_t d : w.shape) {
      if (d != 0 && elements > UINT64_MAX / static_cast<uint64_t>(d))
        overflow = true;
      elements *= static_cast<uint64_t>(d);
    }
    if (overflow || elements > UINT64_MAX / elementBytes ||
        elements * elementBytes != w.bytes) {
      error = "weight '" + w.name + "' has " + std::to_string(w.bytes) +
              " bytes, which does not match its " + w.dtype + " shape";
      return false;
    }
  }
  if (options.checkTarget && !checkTargetRunsOnHost(fileManifest, error))
    return false;
  return true;
}

} // namespace rt
} // namespace ssmc
