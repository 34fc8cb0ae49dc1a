//===- Artifact.h - The .ssmx artifact format: writer and reader ----------===//
//
// One file holds a compiled model: a fixed little-endian header, a JSON
// manifest, the code section (a shared object exporting the entry points of
// ssmc/abi.h) and the weight section (64-byte aligned, memory-mapped as is).
//
//   offset 0    header (ArtifactHeader::kBytes bytes)
//               manifest (UTF-8 JSON)
//               code (ELF shared object)
//   64-aligned  weights
//
// The header carries CRC-32s of the manifest and of the code, and a cheap
// weight checksum (CRC-32 over the first and last MiB plus the size) so that
// loading a multi-GiB artifact does not read every weight page.
//
// The compiler writes artifacts with ArtifactWriter; the runtime reads them
// with ArtifactReader. Both share these definitions, so there is one format.
//
//===----------------------------------------------------------------------===//

#ifndef SSMC_RUNTIME_ARTIFACT_H
#define SSMC_RUNTIME_ARTIFACT_H

#include "runtime/Json.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ssmc {
namespace rt {

constexpr uint32_t kArtifactFormatVersion = 1;
constexpr uint64_t kWeightAlignment = 64;
/// Bytes at each end of the weight section covered by its checksum.
constexpr uint64_t kWeightChecksumWindow = 1u << 20;

uint32_t crc32(const void *data, size_t size, uint32_t crc = 0);
/// CRC-32 of the first and last kWeightChecksumWindow bytes and of the size.
uint32_t weightSectionChecksum(const uint8_t *data, uint64_t size);

struct ArtifactHeader {
  static constexpr size_t kBytes = 128;
  static const char kMagic[8]; // "SSMX\0\0\0\1"

  uint32_t formatVersion = kArtifactFormatVersion;
  uint64_t fileBytes = 0;
  uint64_t manifestOffset = 0, manifestBytes = 0;
  uint64_t codeOffset = 0, codeBytes = 0;
  uint64_t weightsOffset = 0, weightsBytes = 0;
  uint32_t manifestCrc = 0, codeCrc = 0, weightsChecksum = 0;

  /// Fixed little-endian encoding, independent of the host's struct layout.
  /// The last four bytes are a CRC-32 of the preceding ones.
  void encode(uint8_t out[kBytes]) const;
  /// Decodes and checks magic and header CRC; false with `error` otherwise.
  bool decode(const uint8_t *in, size_t size, std::string &error);
};

/// Element types that states and weights may use, and their byte sizes.
/// Returns 0 for names the runtime does not know (for weights: allowed,
/// e.g. packed quantized types; for states: rejected).
size_t elementTypeBytes(const std::string &dtype);

struct StateSpec {
  std::string name;
  std::string dtype;
  uint64_t perSequenceElements = 0;
  bool growsWithContext = false;
  uint64_t perTokenElements = 0;
};

/// How the runtime fills a synthesized weight (runtime/WeightSynthesis.h):
/// the distribution of its elements and the type they are generated in
/// before conversion to the weight's dtype.
struct WeightInit {
  std::string distribution; ///< synth::distributionName
  double lo = 0, hi = 0;
  std::string generatedDtype; ///< "f32", "bf16", "f16"
};

struct WeightSpec {
  std::string name;
  uint64_t offset = 0; // within the weight section
  uint64_t bytes = 0;
  std::string dtype;
  std::vector<int64_t> shape;
  /// Synthesized artifacts only (Manifest::synthetic).
  WeightInit init;
};

/// An artifact whose weight section is not in the file: the runtime
/// allocates `sectionBytes` and fills every weight at load from `seed` with
/// the rule `rule` (synth::kRuleName) and the weight's `init`.
struct SyntheticWeights {
  bool enabled = false;
  std::string rule;
  uint64_t seed = 0;
  uint64_t sectionBytes = 0;
};

struct Manifest {
  uint32_t formatVersion = kArtifactFormatVersion;
  std::string ssmcVersion;
  std::string family;
  std::string target; // "host-x86_64", "aarch64", "cuda-sm90", ...
  std::vector<std::string> cpuFeatures;
  std::string dtype;
  int64_t vocabSize = 0;
  JsonValue hyperParameters = JsonValue::makeObject();
  /// hyper_parameters.max_prefill_tokens: most batch-tokens per prefill
  /// call (0: not given; the runtime's default applies).
  int64_t maxPrefillTokens = 0;
  uint32_t abiVersion = 0;
  std::string prefillEntry;
  std::string decodeEntry;
  std::vector<StateSpec> states;
  uint64_t scratchPerToken = 0;
  uint64_t scratchFixed = 0;
  std::vector<WeightSpec> weights;
  SyntheticWeights synthetic;

  /// Bytes of the weight section the code reads: the file's, or the
  /// synthesized one's.
  uint64_t weightSectionBytes(uint64_t fileWeightBytes) const {
    return synthetic.enabled ? synthetic.sectionBytes : fileWeightBytes;
  }

  JsonValue toJson() const;
  /// Checks the schema (types, required fields, sane values); false with an
  /// error naming the offending field otherwise.
  static bool fromJson(const JsonValue &json, Manifest &out,
                       std::string &error);
};

/// The CPU architecture a target string's code section runs on ("x86_64",
/// "aarch64"; CUDA targets have x86-64 host code), or an empty string for
/// targets the runtime cannot launch.
std::string targetArchitecture(const std::string &target);
/// The compute capability of a CUDA target ("cuda-sm90" -> 90), 0 otherwise.
unsigned cudaTargetSm(const std::string &target);
/// Architecture of the machine running this code ("x86_64", "aarch64", ...).
const char *hostArchitecture();
/// Whether the host CPU supports a named feature ("avx2", "fma", "dotprod",
/// ...): x86 uses __builtin_cpu_supports and /proc/cpuinfo flags, aarch64
/// getauxval(AT_HWCAP) and /proc/cpuinfo Features.
bool hostHasCpuFeature(const std::string &feature);
/// Checks that code for `manifest` can run here; false with `error` if not.
bool checkTargetRunsOnHost(const Manifest &manifest, std::string &error);

/// Writes a complete artifact from raw sections. The manifest text is written
/// verbatim, which lets tests produce syntactically broken manifests with
/// valid checksums.
bool writeArtifactFile(const std::string &path, const std::string &manifest,
                       const std::vector<uint8_t> &code,
                       const uint8_t *weights, uint64_t weightsBytes,
                       std::string &error);

/// Builds an artifact: add weights (laid out 64-byte aligned), fill in the
/// manifest, attach the code, write.
class ArtifactWriter {
public:
  Manifest &manifest() { return artifactManifest; }
  void setCode(std::vector<uint8_t> code) { codeBytes = std::move(code); }
  /// Appends a weight, records it in the manifest's weight table.
  void addWeight(const std::string &name, const std::string &dtype,
                 std::vector<int64_t> shape, const void *data, uint64_t bytes);
  /// Records a weight the runtime synthesizes at load (laid out like
  /// addWeight's, no bytes in the file). An artifact holds either kind of
  /// weights, not both: the first synthesized weight marks the manifest
  /// synthetic with `seed` (write() fails on a mix).
  void addSyntheticWeight(const std::string &name, const std::string &dtype,
                          std::vector<int64_t> shape, uint64_t bytes, const WeightInit &init,
                          uint64_t seed);
  bool write(const std::string &path, std::string &error) const;

private:
  Manifest artifactManifest;
  std::vector<uint8_t> codeBytes;
  std::vector<uint8_t> weightBytes;
  uint64_t sectionEnd = 0; ///< end of the last weight, stored or synthesized
  bool mixed = false;      ///< stored and synthesized weights were both added
};

/// A validated, memory-mapped artifact. Sections point into the mapping and
/// stay valid for the reader's lifetime.
class ArtifactReader {
public:
  ArtifactReader() = default;
  ~ArtifactReader();
  ArtifactReader(const ArtifactReader &) = delete;
  ArtifactReader &operator=(const ArtifactReader &) = delete;

  struct Options {
    /// Check that the target architecture and CPU features match the host.
    bool checkTarget = true;
  };

  /// Maps and validates `path`. Every failure yields a message starting with
  /// the path and saying what is wrong.
  bool open(const std::string &path, std::string &error);
  bool open(const std::string &path, const Options &options,
            std::string &error);

  const std::string &path() const { return filePath; }
  const ArtifactHeader &header() const { return fileHeader; }
  const Manifest &manifest() const { return fileManifest; }
  const std::string &manifestText() const { return manifestJson; }
  const uint8_t *code() const { return base + fileHeader.codeOffset; }
  uint64_t codeBytes() const { return fileHeader.codeBytes; }
  /// The weight section stored in the file (empty for synthesized weights:
  /// Model holds those).
  const uint8_t *weights() const { return base + fileHeader.weightsOffset; }
  uint64_t weightsBytes() const { return fileHeader.weightsBytes; }

private:
  bool validate(const Options &options, std::string &error);
  void unmap();

  std::string filePath;
  const uint8_t *base = nullptr;
  size_t mappedBytes = 0;
  ArtifactHeader fileHeader;
  Manifest fileManifest;
  std::string manifestJson;
};

} // namespace rt
} // namespace ssmc

#endif // SSMC_RUNTIME_ARTIFACT_H
