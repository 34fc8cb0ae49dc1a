//===- ConversionTest.cpp - dtype names and bf16/f16 conversions ----------===//
//
// The conversions are checked against a slow reference that rounds by
// comparing distances to the neighbouring representable values in double.
//
//===----------------------------------------------------------------------===//

#include "CheckpointTestUtils.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace ssmc::ckpt;
using namespace ssmc::ckpt::test;

namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// Round-to-nearest-even of a finite |x| onto the non-negative encodings
/// [0, infCode) whose values `valueOf` increases with the code; `overflowValue`
/// is the value the infinity code stands for when rounding (the next power of
/// two past the largest finite value), as IEEE 754 rounding prescribes.
template <typename ValueOf>
uint32_t referenceRound(double ax, uint32_t infCode, double overflowValue, ValueOf valueOf) {
  auto val = [&](uint32_t c) { return c == infCode ? overflowValue : valueOf(c); };
  if (ax >= overflowValue)
    return infCode;
  uint32_t lo = 0, hi = infCode; // val(lo) <= ax < val(hi)
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (val(mid) <= ax)
      lo = mid;
    else
      hi = mid;
  }
  double dlo = ax - val(lo), dhi = val(hi) - ax;
  if (dlo < dhi)
    return lo;
  if (dhi < dlo)
    return hi;
  return (lo & 1) ? hi : lo;
}

uint16_t referenceBF16(float f) {
  double ax = std::fabs(static_cast<double>(f));
  uint32_t code = referenceRound(ax, 0x7f80, std::ldexp(1.0, 128), [](uint32_t c) {
    return static_cast<double>(bf16ToFloat(static_cast<uint16_t>(c)));
  });
  return static_cast<uint16_t>(code | (std::signbit(f) ? 0x8000u : 0u));
}

/// Value of a finite non-negative half encoding, from the IEEE formula.
double halfValue(uint32_t c) {
  uint32_t e = c >> 10, m = c & 0x3ff;
  if (e == 0)
    return std::ldexp(static_cast<double>(m), -24);
  return std::ldexp(1.0 + m / 1024.0, static_cast<int>(e) - 15);
}

uint16_t referenceF16(float f) {
  double ax = std::fabs(static_cast<double>(f));
  uint32_t code = referenceRound(ax, 0x7c00, 65536.0, halfValue);
  return static_cast<uint16_t>(code | (std::signbit(f) ? 0x8000u : 0u));
}

} // namespace

TEST(DType, NamesSizesAndParsing) {
  const DType all[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                       DType::I32, DType::I16, DType::I8,   DType::U8,  DType::Bool};
  const unsigned sizes[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
  for (size_t i = 0; i < std::size(all); ++i) {
    EXPECT_EQ(dtypeSize(all[i]), sizes[i]);
    llvm::Expected<DType> back = parseDType(dtypeName(all[i]));
    ASSERT_TRUE(bool(back)) << errorMessage(back.takeError());
    EXPECT_EQ(*back, all[i]);
  }
  EXPECT_EQ(dtypeName(DType::Bool), "BOOL");
  EXPECT_ERROR_CONTAINS(parseDType("F8_E4M3").takeError(), "unknown dtype", "F8_E4M3");
  EXPECT_ERROR_CONTAINS(parseDType("f32").takeError(), "unknown dtype");
  EXPECT_ERROR_CONTAINS(parseDType("").takeError(), "unknown dtype");
}

TEST(DType, SpecSizes) {
  TensorSpec s{"x", DType::BF16, {3, 4}};
  EXPECT_EQ(s.nbytes(), 24u);
  TensorSpec scalar{"y", DType::F64, {}};
  EXPECT_EQ(scalar.nbytes(), 8u);
  TensorInfo info;
  info.shape = {2, 0, 5};
  EXPECT_EQ(info.numElements(), 0);
}

TEST(BF16, KnownValues) {
  EXPECT_EQ(floatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBF16(-2.0f), 0xc000);
  EXPECT_EQ(floatToBF16(0.0f), 0x0000);
  EXPECT_EQ(floatToBF16(-0.0f), 0x8000);
  // Exactly halfway between 0x3f80 and 0x3f81: ties to the even 0x3f80.
  EXPECT_EQ(floatToBF16(floatOf(0x3f808000u)), 0x3f80);
  // Halfway between 0x3f81 and 0x3f82: ties to the even 0x3f82.
  EXPECT_EQ(floatToBF16(floatOf(0x3f818000u)), 0x3f82);
  EXPECT_EQ(floatToBF16(floatOf(0x3f808001u)), 0x3f81);
  EXPECT_EQ(floatToBF16(floatOf(0x3f807fffu)), 0x3f80);
  // Overflow rounds to infinity; infinities stay.
  EXPECT_EQ(floatToBF16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBF16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(floatToBF16(-std::numeric_limits<float>::infinity()), 0xff80);
  // Subnormals round like everything else.
  EXPECT_EQ(floatToBF16(floatOf(0x00000001u)), 0x0000);
  EXPECT_EQ(floatToBF16(floatOf(0x00018000u)), 0x0002);
  EXPECT_EQ(bf16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bitsOf(bf16ToFloat(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(bf16ToFloat(0xff80)));
}

TEST(BF16, NaNIsPreserved) {
  // A NaN whose payload lives only in the low bits must not become infinity.
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu, 0x7fa00000u}) {
    uint16_t h = floatToBF16(floatOf(nan));
    EXPECT_TRUE(std::isnan(bf16ToFloat(h))) << std::hex << nan;
    EXPECT_EQ(h >> 15, nan >> 31) << "sign of " << std::hex << nan;
  }
  EXPECT_TRUE(std::isnan(bf16ToFloat(0x7fc1)));
}

TEST(BF16, MatchesReferenceRounding) {
  // Every bf16 value, and the floats just below, at and above each midpoint.
  for (uint32_t hi = 0; hi < 0x10000; ++hi) {
    for (uint32_t lo : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) {
      float f = floatOf((hi << 16) | lo);
      if (std::isnan(f))
        continue;
      ASSERT_EQ(floatToBF16(f), referenceBF16(f)) << std::hex << bitsOf(f);
    }
    if (!std::isnan(bf16ToFloat(static_cast<uint16_t>(hi))))
      ASSERT_EQ(floatToBF16(bf16ToFloat(static_cast<uint16_t>(hi))), hi);
  }
}

TEST(F16, KnownValues) {
  EXPECT_EQ(floatToF16(1.0f), 0x3c00);
  EXPECT_EQ(floatToF16(-2.0f), 0xc000);
  EXPECT_EQ(floatToF16(0.0f), 0x0000);
  EXPECT_EQ(floatToF16(-0.0f), 0x8000);
  EXPECT_EQ(floatToF16(65504.0f), 0x7bff);   // largest finite
  EXPECT_EQ(floatToF16(65519.996f), 0x7bff); // just below the overflow threshold
  EXPECT_EQ(floatToF16(65520.0f), 0x7c00);   // ties to even = infinity
  EXPECT_EQ(floatToF16(1e10f), 0x7c00);
  EXPECT_EQ(floatToF16(-1e10f), 0xfc00);
  EXPECT_EQ(floatToF16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(floatToF16(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
  EXPECT_EQ(floatToF16(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToF16(std::ldexp(1.0f, -25)), 0x0000); // tie with zero: even
  EXPECT_EQ(floatToF16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(floatToF16(std::ldexp(3.0f, -25)), 0x0002);    // tie between 1 and 2: even
  EXPECT_EQ(floatToF16(std::ldexp(1023.0f, -24)), 0x03ff); // largest subnormal
  EXPECT_EQ(floatToF16(std::ldexp(2047.0f, -25)), 0x0400); // rounds up into the normals
  EXPECT_EQ(floatToF16(-std::ldexp(1.0f, -24)), 0x8001);
  EXPECT_EQ(floatToF16(std::ldexp(1.0f, -30)), 0x0000);
  EXPECT_EQ(floatToF16(floatOf(0x00000001u)), 0x0000); // float subnormal
  EXPECT_EQ(f16ToFloat(0x3c00), 1.0f);
  EXPECT_EQ(f16ToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16ToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f16ToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(bitsOf(f16ToFloat(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(f16ToFloat(0x7c00)));
  EXPECT_TRUE(std::isinf(f16ToFloat(0xfc00)) && f16ToFloat(0xfc00) < 0);
}

TEST(F16, NaNIsPreserved) {
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0xff800001u, 0x7fffffffu}) {
    uint16_t h = floatToF16(floatOf(nan));
    EXPECT_TRUE(std::isnan(f16ToFloat(h))) << std::hex << nan;
    EXPECT_EQ(h >> 15, nan >> 31);
  }
  for (uint16_t h : {0x7c01, 0x7e00, 0xfe00, 0x7fff})
    EXPECT_TRUE(std::isnan(f16ToFloat(h)));
}

TEST(F16, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16ToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f))
      continue;
    if ((h & 0x7fff) < 0x7c00)
      ASSERT_EQ(static_cast<double>(std::fabs(f)), halfValue(h & 0x7fff)) << std::hex << h;
    ASSERT_EQ(floatToF16(f), h) << std::hex << h;
  }
}

TEST(F16, MatchesReferenceRounding) {
  // Midpoints between neighbouring halves and one float ulp either side.
  for (uint32_t c = 0; c < 0x7c00; ++c) {
    double next = c + 1 == 0x7c00 ? 65536.0 : halfValue(c + 1);
    float mid = static_cast<float>((halfValue(c) + next) / 2); // exact: 12 bits
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), -mid}) {
      ASSERT_EQ(floatToF16(f), referenceF16(f)) << std::hex << bitsOf(f);
    }
  }
  // A spread of arbitrary bit patterns.
  uint32_t state = 12345;
  for (int i = 0; i < 300000; ++i) {
    state = state * 1664525u + 1013904223u;
    float f = floatOf(state);
    if (std::isnan(f) || std::isinf(f))
      continue;
    ASSERT_EQ(floatToF16(f), referenceF16(f)) << std::hex << state;
  }
}

namespace {
std::vector<uint8_t> le32(std::initializer_list<uint32_t> words) {
  std::vector<uint8_t> out;
  for (uint32_t w : words)
    for (int b = 0; b < 4; ++b)
      out.push_back(static_cast<uint8_t>(w >> (8 * b)));
  return out;
}
std::vector<uint16_t> halves(const std::vector<uint8_t> &bytes) {
  std::vector<uint16_t> out;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2)
    out.push_back(static_cast<uint16_t>(bytes[i] | (bytes[i + 1] << 8)));
  return out;
}
std::vector<uint8_t> le16(std::initializer_list<uint16_t> codes) {
  std::vector<uint8_t> out;
  for (uint16_t c : codes) {
    out.push_back(static_cast<uint8_t>(c));
    out.push_back(static_cast<uint8_t>(c >> 8));
  }
  return out;
}
} // namespace

TEST(ConvertElements, F32ToBF16RoundsToNearestEven) {
  // 1.0; ties 0x3f808000 -> even 0x3f80 and 0x3f818000 -> even 0x3f82; just
  // above a tie rounds up; -inf, +inf; a signalling NaN with low payload bits
  // only (plain truncation would give infinity); the largest float overflows
  // to infinity.
  std::vector<uint8_t> in = le32({0x3f800000u, 0x3f808000u, 0x3f818000u, 0x3f808001u,
                                  0xff800000u, 0x7f800000u, 0x7f800001u, 0x7f7fffffu});
  std::vector<uint8_t> out(in.size() / 2);
  ASSERT_EQ(errorMessage(convertFloatElements(DType::F32, in, DType::BF16, out)), "");
  std::vector<uint16_t> got = halves(out);
  EXPECT_EQ(got[0], 0x3f80);
  EXPECT_EQ(got[1], 0x3f80);
  EXPECT_EQ(got[2], 0x3f82);
  EXPECT_EQ(got[3], 0x3f81);
  EXPECT_EQ(got[4], 0xff80);
  EXPECT_EQ(got[5], 0x7f80);
  EXPECT_TRUE(std::isnan(bf16ToFloat(got[6])));
  EXPECT_NE(got[6] & 0x0040, 0) << "NaN must come out quiet";
  EXPECT_EQ(got[7], 0x7f80);
}

TEST(ConvertElements, WideningIsExactAndNarrowingRoundTrips) {
  std::vector<uint8_t> bf = le16({0x3f80, 0xc049, 0x0001, 0x7f80, 0xffc0, 0x8000});
  std::vector<uint8_t> f32(bf.size() * 2);
  ASSERT_EQ(errorMessage(convertFloatElements(DType::BF16, bf, DType::F32, f32)), "");
  for (size_t i = 0; i < bf.size() / 2; ++i) {
    uint32_t w = f32[4 * i] | f32[4 * i + 1] << 8 | f32[4 * i + 2] << 16 |
                 uint32_t(f32[4 * i + 3]) << 24;
    EXPECT_EQ(w, uint32_t(halves(bf)[i]) << 16) << i;
  }
  std::vector<uint8_t> back(bf.size());
  ASSERT_EQ(errorMessage(convertFloatElements(DType::F32, f32, DType::BF16, back)), "");
  EXPECT_EQ(back, bf);

  // f16 -> f32 -> f16 for every finite half.
  std::vector<uint8_t> allHalves, wide, again;
  for (uint32_t h = 0; h < 0x10000; ++h)
    if ((h & 0x7c00) != 0x7c00 || (h & 0x3ff) == 0) // skip NaNs
      for (uint8_t b : le16({static_cast<uint16_t>(h)}))
        allHalves.push_back(b);
  wide.resize(allHalves.size() * 2);
  again.resize(allHalves.size());
  ASSERT_EQ(errorMessage(convertFloatElements(DType::F16, allHalves, DType::F32, wide)), "");
  ASSERT_EQ(errorMessage(convertFloatElements(DType::F32, wide, DType::F16, again)), "");
  EXPECT_EQ(again, allHalves);
}

TEST(ConvertElements, HalfToBFloatGoesThroughFloat) {
  // f16 1.0 = bf16 0x3f80; f16 1+2^-8 (0x3c04, f32 0x3f808000) is a tie in
  // bf16 -> even 0x3f80, 1+3*2^-8 (0x3c0c, f32 0x3f818000) -> even 0x3f82;
  // f16 65504 (0x7bff, f32 0x477fe000) rounds up to bf16 0x4780; f16 -inf ->
  // bf16 -inf; f16 NaN -> bf16 NaN.
  std::vector<uint8_t> in = le16({0x3c00, 0x3c04, 0x3c0c, 0x7bff, 0xfc00, 0x7e00});
  std::vector<uint8_t> out(in.size());
  ASSERT_EQ(errorMessage(convertFloatElements(DType::F16, in, DType::BF16, out)), "");
  std::vector<uint16_t> got = halves(out);
  EXPECT_EQ(got[0], 0x3f80);
  EXPECT_EQ(got[1], 0x3f80);
  EXPECT_EQ(got[2], 0x3f82);
  EXPECT_EQ(got[3], 0x4780);
  EXPECT_EQ(got[4], 0xff80);
  EXPECT_TRUE(std::isnan(bf16ToFloat(got[5])));
  // bf16 -> f16: 1e10 overflows to inf, 1.0 is exact.
  std::vector<uint8_t> in2 = le16({floatToBF16(1e10f), 0x3f80});
  std::vector<uint8_t> out2(in2.size());
  ASSERT_EQ(errorMessage(convertFloatElements(DType::BF16, in2, DType::F16, out2)), "");
  EXPECT_EQ(halves(out2)[0], 0x7c00);
  EXPECT_EQ(halves(out2)[1], 0x3c00);
}

TEST(ConvertElements, SameTypeCopiesAndBadArgumentsFail) {
  std::vector<uint8_t> in = le32({0x12345678u, 0x7fc00001u}), out(8);
  ASSERT_EQ(errorMessage(convertFloatElements(DType::F32, in, DType::F32, out)), "");
  EXPECT_EQ(out, in);
  std::vector<uint8_t> small(3);
  EXPECT_ERROR_CONTAINS(convertFloatElements(DType::F32, in, DType::BF16, small), "F32", "BF16",
                        "8 input bytes", "3 output bytes");
  std::vector<uint8_t> odd(5), four(4);
  EXPECT_ERROR_CONTAINS(convertFloatElements(DType::F32, odd, DType::BF16, four),
                        "input bytes do not match");
  EXPECT_ERROR_CONTAINS(convertFloatElements(DType::I32, in, DType::F32, out), "cannot convert",
                        "I32");
  EXPECT_ERROR_CONTAINS(convertFloatElements(DType::F32, in, DType::F64, out), "cannot convert",
                        "F64");
}
