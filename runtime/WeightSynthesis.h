//===- WeightSynthesis.h - Seeded weights, one rule for generator and runtime ===//
//
// The seeded random weights of `ssmc make-model` (frontends/hf/ModelGenerator)
// and of artifacts compiled with `--synthetic-weights`, which the runtime
// fills at load: one implementation, so that a synthetic artifact computes
// exactly what the compiled make-model checkpoint of the same preset and seed
// computes. Plain C++17 with no dependencies (the runtime links neither LLVM
// nor MLIR); compiled with -ffp-contract=off so that every machine computes
// the same bits.
//
// The rule ("ssmc-seeded-v1"): a tensor of N elements is cut into blocks of
// kBlockElements; block b of the tensor named `name` draws from xoshiro256**
// seeded by splitmix64 from (seed, FNV-1a(name), b). Element i of the block
// is the i-th draw u (53 random bits, uniform in [0, 1)) mapped through the
// tensor's distribution in double, rounded once to the generated element type
// (round to nearest even), and moved one unit in the last place away from an
// exact 0 or +-1 (so that a weight a bug ignores always shows). Where the
// stored type differs from the generated one (Mamba-2's D is generated in f32
// next to bf16 weights), the generated value is converted as the compiler
// converts weights (round to nearest even). Which distribution each tensor
// gets is the generator's business (by role); the artifact's manifest records
// it per tensor, so the runtime needs no model knowledge.
//
//===----------------------------------------------------------------------===//
#ifndef SSMC_RUNTIME_WEIGHTSYNTHESIS_H
#define SSMC_RUNTIME_WEIGHTSYNTHESIS_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace ssmc {
namespace synth {

/// The name the manifest records for this rule.
constexpr const char *kRuleName = "ssmc-seeded-v1";
/// Elements per independently seeded block.
constexpr int64_t kBlockElements = int64_t(1) << 16;

enum class Element { F32, BF16, F16 };
/// "f32", "bf16", "f16".
const char *elementName(Element e);
/// Accepts the names elementName writes; false for anything else.
bool parseElement(const std::string &name, Element &out);
inline unsigned elementBytes(Element e) { return e == Element::F32 ? 4 : 2; }

enum class Distribution {
  Uniform,              ///< U(lo, hi)
  LogOfUniform,         ///< log(U(lo, hi))
  InvSoftplusLogUniform ///< softplus^-1(exp(U(log lo, log hi)))
};
/// "uniform", "log_of_uniform", "inv_softplus_of_log_uniform".
const char *distributionName(Distribution d);
bool parseDistribution(const std::string &name, Distribution &out);

/// How the elements of one tensor are drawn.
struct Init {
  Distribution kind = Distribution::Uniform;
  double lo = 0, hi = 0;
};

/// FNV-1a of a tensor name: the per-tensor part of the seed.
uint64_t nameHash(const char *name, size_t length);
inline uint64_t nameHash(const std::string &name) { return nameHash(name.data(), name.size()); }

/// Blocks of a tensor of `numElements` elements.
inline int64_t numBlocks(int64_t numElements) {
  return (numElements + kBlockElements - 1) / kBlockElements;
}

/// Writes elements [block * kBlockElements, min(numElements, (block + 1) *
/// kBlockElements)) of a tensor of `numElements`, drawn from `init` with
/// `seed` and `tensorNameHash` and generated as `generated` (see the rule
/// above), to `out` (the block's first element), stored little-endian as
/// `stored`.
void fillBlock(const Init &init, uint64_t seed, uint64_t tensorNameHash, int64_t numElements,
               int64_t block, Element generated, Element stored, uint8_t *out);

/// Float conversions (also those of the checkpoint readers and writers):
/// narrowing rounds to nearest even, keeps NaNs quiet NaNs and infinities
/// infinite (f16 saturates to infinity); widening is exact.
/// The bits of an f32 and back (no conversion).
inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

uint16_t floatToBF16(float f);
float bf16ToFloat(uint16_t h);
uint16_t floatToF16(float f);
float f16ToFloat(uint16_t h);

} // namespace synth
} // namespace ssmc

#endif // SSMC_RUNTIME_WEIGHTSYNTHESIS_H
