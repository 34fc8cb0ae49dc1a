//===- WeightSynthesis.cpp - Seeded weights, one rule for generator and runtime ===//
//
// Compiled with -ffp-contract=off (runtime/CMakeLists.txt): a fused a*b+c
// would round differently from the separate operations the rule specifies.
//
//===----------------------------------------------------------------------===//

#include "runtime/WeightSynthesis.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ssmc {
namespace synth {

const char *elementName(Element e) {
  switch (e) {
  case Element::F32:
    return "f32";
  case Element::BF16:
    return "bf16";
  case Element::F16:
    return "f16";
  }
  return "?";
}

bool parseElement(const std::string &name, Element &out) {
  for (Element e : {Element::F32, Element::BF16, Element::F16})
    if (name == elementName(e)) {
      out = e;
      return true;
    }
  return false;
}

const char *distributionName(Distribution d) {
  switch (d) {
  case Distribution::Uniform:
    return "uniform";
  case Distribution::LogOfUniform:
    return "log_of_uniform";
  case Distribution::InvSoftplusLogUniform:
    return "inv_softplus_of_log_uniform";
  }
  return "?";
}

bool parseDistribution(const std::string &name, Distribution &out) {
  for (Distribution d : {Distribution::Uniform, Distribution::LogOfUniform,
                         Distribution::InvSoftplusLogUniform})
    if (name == distributionName(d)) {
      out = d;
      return true;
    }
  return false;
}

//===----------------------------------------------------------------------===//
// Float conversions
//===----------------------------------------------------------------------===//


uint16_t floatToBF16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    // NaN: keep sign and the top payload bits, and force the quiet bit so that
    // truncating the payload cannot turn it into an infinity.
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  // Round to nearest even on the 16 dropped bits. Overflow carries into the
  // exponent and yields infinity, which is the correctly rounded result.
  uint32_t lsb = (u >> 16) & 1u;
  return static_cast<uint16_t>((u + 0x7fffu + lsb) >> 16);
}

float bf16ToFloat(uint16_t h) { return bitsFloat(static_cast<uint32_t>(h) << 16); }

/// Shifts `m` right by `s` (1..31) bits, rounding to nearest even.
static uint32_t shiftRightRoundEven(uint32_t m, unsigned s) {
  uint32_t q = m >> s;
  uint32_t rem = m & ((1u << s) - 1u);
  uint32_t half = 1u << (s - 1);
  if (rem > half || (rem == half && (q & 1u)))
    ++q;
  return q;
}

uint16_t floatToF16(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) // NaN: quiet, keep the top payload bits.
    return sign | 0x7e00u | static_cast<uint16_t>((a >> 13) & 0x3ffu);
  if (a == 0x7f800000u)
    return sign | 0x7c00u;
  int exp = static_cast<int>(a >> 23) - 127; // unbiased; float subnormals give -127
  if (exp > 15)
    return sign | 0x7c00u;
  if (exp >= -14) {
    // Normal half: rebias the exponent, round the 23-bit fraction to 10 bits.
    // A carry out of the fraction correctly bumps the exponent (up to inf).
    uint32_t biased = (static_cast<uint32_t>(exp + 15) << 23) | (a & 0x7fffffu);
    uint32_t h = shiftRightRoundEven(biased, 13);
    return sign | static_cast<uint16_t>(h > 0x7c00u ? 0x7c00u : h);
  }
  // Subnormal half (unit 2^-24): value = m * 2^(exp-23) = m * 2^(exp+1) units,
  // with m the 24-bit significand.
  unsigned shift = static_cast<unsigned>(-exp - 1); // >= 14
  if (shift > 24)
    return sign; // below half the smallest subnormal
  uint32_t m = (a & 0x7fffffu) | 0x800000u;
  return sign | static_cast<uint16_t>(shiftRightRoundEven(m, shift));
}

float f16ToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t frac = h & 0x3ffu;
  if (exp == 0x1f)
    return bitsFloat(sign | 0x7f800000u | (frac << 13));
  if (exp != 0)
    return bitsFloat(sign | ((exp - 15 + 127) << 23) | (frac << 13));
  if (frac == 0)
    return bitsFloat(sign);
  // Subnormal: frac * 2^-24, exact in float.
  float v = static_cast<float>(frac) * 0x1p-24f;
  return sign ? -v : v;
}

//===----------------------------------------------------------------------===//
// Random numbers
//===----------------------------------------------------------------------===//

namespace {

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/// xoshiro256** (Blackman and Vigna), seeded from splitmix64.
class Xoshiro256 {
public:
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t &w : s)
      w = splitmix64(seed);
  }
  uint64_t next() {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t s[4];
};

uint64_t blockSeed(uint64_t seed, uint64_t hash, uint64_t block) {
  uint64_t state = seed;
  uint64_t a = splitmix64(state) ^ hash;
  uint64_t b = splitmix64(a) ^ (block * 0xD1B54A32D192ED03ull);
  return splitmix64(b);
}

//===----------------------------------------------------------------------===//
// Rounding to the generated type
//===----------------------------------------------------------------------===//

/// Moves an encoded value that is exactly +-0 or +-1 one unit in the last
/// place away from it (towards where the unrounded value lay).
template <typename Bits>
Bits avoidZeroAndOne(Bits bits, Bits signMask, Bits oneBits, double value) {
  Bits magnitude = bits & Bits(~signMask);
  Bits sign = value < 0 ? signMask : Bits(0);
  if (magnitude == 0)
    return Bits(sign | 1);
  if (magnitude == oneBits)
    return Bits(sign | (std::fabs(value) < 1.0 ? oneBits - 1 : oneBits + 1));
  return bits;
}

/// The generated value's bits (the low 16 for the half types).
template <Element G> inline uint32_t generate(double v) {
  if (G == Element::BF16)
    return avoidZeroAndOne<uint16_t>(floatToBF16(float(v)), 0x8000, 0x3F80, v);
  if (G == Element::F16)
    return avoidZeroAndOne<uint16_t>(floatToF16(float(v)), 0x8000, 0x3C00, v);
  return avoidZeroAndOne<uint32_t>(floatBits(float(v)), 0x80000000u, 0x3F800000u, v);
}

float widen(uint32_t bits, Element e) {
  switch (e) {
  case Element::BF16:
    return bf16ToFloat(static_cast<uint16_t>(bits));
  case Element::F16:
    return f16ToFloat(static_cast<uint16_t>(bits));
  case Element::F32:
    break;
  }
  return bitsFloat(bits);
}

void storeLE(uint8_t *dst, uint32_t bits, Element stored) {
  dst[0] = static_cast<uint8_t>(bits);
  dst[1] = static_cast<uint8_t>(bits >> 8);
  if (stored == Element::F32) {
    dst[2] = static_cast<uint8_t>(bits >> 16);
    dst[3] = static_cast<uint8_t>(bits >> 24);
  }
}

/// The loop of one block, for one distribution (`sample` maps u to a value)
/// and generated type.
template <Element G, typename Sample>
void fillLoop(Xoshiro256 &rng, int64_t count, Element stored, uint8_t *out, Sample sample) {
  const unsigned size = elementBytes(stored);
  if (G == stored) {
    for (int64_t i = 0; i < count; ++i, out += size)
      storeLE(out, generate<G>(sample(rng.uniform())), stored);
    return;
  }
  for (int64_t i = 0; i < count; ++i, out += size) {
    float f = widen(generate<G>(sample(rng.uniform())), G);
    uint32_t bits = stored == Element::F32    ? floatBits(f)
                    : stored == Element::BF16 ? floatToBF16(f)
                                              : floatToF16(f);
    storeLE(out, bits, stored);
  }
}

template <typename Sample>
void fillLoop(Xoshiro256 &rng, int64_t count, Element generated, Element stored, uint8_t *out,
              Sample sample) {
  switch (generated) {
  case Element::F32:
    return fillLoop<Element::F32>(rng, count, stored, out, sample);
  case Element::BF16:
    return fillLoop<Element::BF16>(rng, count, stored, out, sample);
  case Element::F16:
    return fillLoop<Element::F16>(rng, count, stored, out, sample);
  }
}

} // namespace

uint64_t nameHash(const char *name, size_t length) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (size_t i = 0; i < length; ++i) {
    h ^= static_cast<unsigned char>(name[i]);
    h *= 0x100000001B3ull;
  }
  return h;
}

void fillBlock(const Init &init, uint64_t seed, uint64_t tensorNameHash, int64_t numElements,
               int64_t block, Element generated, Element stored, uint8_t *out) {
  int64_t begin = block * kBlockElements;
  int64_t count = std::min(numElements, begin + kBlockElements) - begin;
  if (count <= 0)
    return;
  Xoshiro256 rng(blockSeed(seed, tensorNameHash, uint64_t(block)));
  const double lo = init.lo, hi = init.hi;
  switch (init.kind) {
  case Distribution::Uniform: {
    const double width = hi - lo;
    fillLoop(rng, count, generated, stored, out,
             [=](double u) { return lo + width * u; });
    return;
  }
  case Distribution::LogOfUniform: {
    const double width = hi - lo;
    fillLoop(rng, count, generated, stored, out,
             [=](double u) { return std::log(lo + width * u); });
    return;
  }
  case Distribution::InvSoftplusLogUniform: {
    const double logLo = std::log(lo), logHi = std::log(hi);
    const double width = logHi - logLo;
    fillLoop(rng, count, generated, stored, out, [=](double u) {
      double dt = std::exp(logLo + width * u);
      return dt + std::log(-std::expm1(-dt));
    });
    return;
  }
  }
}

} // namespace synth
} // namespace ssmc
