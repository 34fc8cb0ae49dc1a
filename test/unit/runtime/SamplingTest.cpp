//===- SamplingTest.cpp - Greedy and temperature/top-p sampling -----------===//

#include "ssmc/ssmc.h"

#include "runtime/Runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace {

TEST(RuntimeSampling, SplitMixGoldenValues) {
  // splitmix64 from seed 0: fixed values make draws reproducible everywhere.
  uint64_t state = 0;
  EXPECT_EQ(ssmc::rt::nextRandom(&state), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(ssmc::rt::nextRandom(&state), 0x6E789E6AA1B965F4ull);
}

TEST(RuntimeSampling, GreedyIsArgmax) {
  std::vector<float> logits = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f};
  EXPECT_EQ(ssmc_sample(logits.data(), 5, 0.0f, 1.0f, nullptr), 1);
  EXPECT_EQ(ssmc_sample(logits.data(), 5, -1.0f, 0.5f, nullptr), 1);
  logits[0] = std::numeric_limits<float>::quiet_NaN();
  logits[4] = 7.0f;
  EXPECT_EQ(ssmc_sample(logits.data(), 5, 0.0f, 1.0f, nullptr), 4);
  // +inf wins even when sampling.
  uint64_t rng = 1;
  logits[2] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(ssmc_sample(logits.data(), 5, 1.0f, 1.0f, &rng), 2);
}

TEST(RuntimeSampling, InvalidArguments) {
  std::vector<float> logits = {1.0f, 2.0f};
  uint64_t rng = 0;
  EXPECT_EQ(ssmc_sample(nullptr, 2, 0.0f, 1.0f, &rng), -1);
  EXPECT_EQ(ssmc_sample(logits.data(), 0, 0.0f, 1.0f, &rng), -1);
  EXPECT_EQ(ssmc_sample(logits.data(), 2, 1.0f, 0.0f, &rng), -1);
  EXPECT_EQ(ssmc_sample(logits.data(), 2, 1.0f, NAN, &rng), -1);
  EXPECT_EQ(ssmc_sample(logits.data(), 2, NAN, 1.0f, &rng), -1);
  EXPECT_EQ(ssmc_sample(logits.data(), 2, 1.0f, 1.0f, nullptr), -1);
  std::vector<float> nans(3, NAN);
  EXPECT_EQ(ssmc_sample(nans.data(), 3, 0.0f, 1.0f, &rng), -1);
}

std::vector<double> frequencies(const std::vector<float> &logits, float temp,
                                float topP, uint64_t seed, int draws) {
  std::vector<double> counts(logits.size(), 0);
  uint64_t rng = seed;
  for (int i = 0; i < draws; ++i) {
    int32_t t = ssmc_sample(logits.data(), static_cast<int32_t>(logits.size()),
                            temp, topP, &rng);
    EXPECT_GE(t, 0);
    if (t >= 0)
      counts[t] += 1.0 / draws;
  }
  return counts;
}

TEST(RuntimeSampling, TemperatureOneFollowsSoftmax) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f),
                               std::log(0.2f)};
  std::vector<double> f = frequencies(logits, 1.0f, 1.0f, 42, 20000);
  EXPECT_NEAR(f[0], 0.5, 0.02);
  EXPECT_NEAR(f[1], 0.3, 0.02);
  EXPECT_NEAR(f[2], 0.2, 0.02);
}

TEST(RuntimeSampling, TopPKeepsTheSmallestLikelySet) {
  std::vector<float> logits = {std::log(0.2f), std::log(0.5f),
                               std::log(0.3f)};
  // 0.5 + 0.3 reaches 0.6: token 0 is cut, the rest renormalized.
  std::vector<double> f = frequencies(logits, 1.0f, 0.6f, 9, 20000);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_NEAR(f[1], 0.625, 0.02);
  EXPECT_NEAR(f[2], 0.375, 0.02);
  // A tiny top_p keeps only the most likely token.
  f = frequencies(logits, 1.0f, 0.01f, 9, 1000);
  EXPECT_NEAR(f[1], 1.0, 1e-9);
}

TEST(RuntimeSampling, TemperatureSharpensAndFlattens) {
  std::vector<float> logits = {0.0f, 1.0f, 2.0f, 3.0f};
  std::vector<double> cold = frequencies(logits, 0.05f, 1.0f, 3, 2000);
  EXPECT_GT(cold[3], 0.99);
  std::vector<double> hot = frequencies(logits, 1000.0f, 1.0f, 3, 20000);
  for (double p : hot)
    EXPECT_NEAR(p, 0.25, 0.02);
}

TEST(RuntimeSampling, SeededDrawsAreDeterministic) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i)
    logits[i] = std::sin(0.7f * i);
  auto draw = [&](uint64_t seed) {
    std::vector<int32_t> tokens;
    uint64_t rng = seed;
    for (int i = 0; i < 16; ++i)
      tokens.push_back(ssmc_sample(logits.data(), 50, 0.8f, 0.9f, &rng));
    return tokens;
  };
  EXPECT_EQ(draw(123), draw(123));
  EXPECT_NE(draw(123), draw(124));
  // Golden draws: the same on every machine and build.
  std::vector<int32_t> golden = draw(2026);
  EXPECT_EQ(golden, (std::vector<int32_t>{40, 30, 19, 12, 13, 10, 9, 13, 3,
                                          11, 3, 45, 3, 2, 28, 20}));
}

} // namespace
