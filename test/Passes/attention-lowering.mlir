// Structure of the ssm.attention lowering in convert-ssm-to-linalg (the
// numbers are checked by runner-attention.mlir).
// RUN: ssmc-opt %s -split-input-file -convert-ssm-to-linalg | FileCheck %s

// GQA (4 query heads over 2 kv heads: head h reads kv head h floordiv 2),
// partial RoPE (6 of 8 dims) with llama3 frequencies. theta^(-2i/6) =
// 1, 0.0464159, 0.00215443 have wavelengths 6.28, 135.4, 2916 against
// 256/4 = 64 and 256/1 = 256: the first is kept, the last divided by 8 and
// the middle one interpolated, s = (256/135.4 - 1)/3 = 0.29704,
// (1 - s) f/8 + s f = 0.0178664.
// CHECK-DAG: #[[KEYS:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, 0, d2 floordiv 2, d4)>
// CHECK-DAG: #[[VALUES:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d4, 1, d2 floordiv 2, d3)>
// CHECK-LABEL: func.func @attention
// The cache is [batch, capacity, K/V, kv head, dim], both leading dims dynamic.
// CHECK-SAME: %[[POS:[a-z0-9]+]]: tensor<1xi64>, %[[KV:[a-z0-9]+]]: tensor<?x?x2x2x8xbf16>
// CHECK-SAME: -> (tensor<1x3x16xbf16>, tensor<?x?x2x2x8xbf16>)
// q, k, v projections accumulate in f32 and round to bf16, then split heads.
// CHECK: tensor.expand_shape {{.*}} into tensor<1x3x4x8xbf16>
// CHECK: tensor.expand_shape {{.*}} into tensor<1x3x2x8xbf16>
// CHECK: tensor.expand_shape {{.*}} into tensor<1x3x2x8xbf16>
// CHECK: arith.constant dense<[1.000000e+00, 0.0178663{{[0-9]*}}, 2.693043{{[0-9]*}}E-4]> : tensor<3xf32>
// CHECK: linalg.generic {{.*}} ins(%[[POS]], %{{.*}} : tensor<1xi64>, tensor<3xf32>)
// CHECK: arith.sitofp {{.*}} : i64 to f32
// CHECK: math.cos
// CHECK: math.sin
// RoPE of q, then of k; dims >= 6 keep their value.
// CHECK: } -> tensor<1x3x4x8xbf16>
// CHECK: } -> tensor<1x3x2x8xbf16>
// K and V stacked in the cache layout, then one slice per sequence.
// CHECK: } -> tensor<1x3x2x2x8xbf16>
// CHECK: %[[NEW:.*]] = scf.for {{.*}} iter_args(%[[ITER:.*]] = %[[KV]]) -> (tensor<?x?x2x2x8xbf16>)
// CHECK: tensor.insert_slice {{.*}} into %[[ITER]]
// CHECK: scf.yield
// Only the written prefix of the cache is read.
// CHECK: arith.maxsi
// CHECK: %[[WINDOW:.*]] = tensor.extract_slice %[[NEW]][0, 0, 0, 0, 0] [1, %{{.*}}, 2, 2, 8]
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[KEYS]], #{{.*}}], {{.*}} ins(%{{.*}}, %[[WINDOW]] : tensor<1x3x4x8xbf16>, tensor<1x?x2x2x8xbf16>) outs(%{{.*}} : tensor<1x3x4x?xf32>)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[VALUES]], #{{.*}}], {{.*}} ins(%{{.*}}, %[[WINDOW]] : tensor<1x3x4x?xf32>, tensor<1x?x2x2x8xbf16>) outs(%{{.*}} : tensor<1x3x4x8xf32>)
// CHECK: arith.divf
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: tensor.collapse_shape {{.*}} into tensor<1x3x32xbf16>
// CHECK: } -> tensor<1x3x16xbf16>
// CHECK-NEXT: return %{{.*}}, %[[NEW]] : tensor<1x3x16xbf16>, tensor<?x?x2x2x8xbf16>
// CHECK-NOT: ssm.attention
func.func @attention(%x: tensor<1x3x16xbf16>, %len: tensor<1xi32>, %pos: tensor<1xi64>,
                     %kv: !ssm.kv_cache<2x8xbf16>, %q: tensor<32x16xbf16>, %k: tensor<16x16xbf16>,
                     %v: tensor<16x16xbf16>, %o: tensor<16x32xbf16>)
    -> (tensor<1x3x16xbf16>, !ssm.kv_cache<2x8xbf16>) {
  %y, %kv1 = ssm.attention %x, lengths %len, positions %pos, cache %kv,
      weights(%q, %k, %v, %o) <heads = 4, kv_heads = 2, head_dim = 8, rope = <theta = 10000.0, dim = 6, scaling = llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 256>>
      : (tensor<1x3x16xbf16>, tensor<1xi32>, tensor<1xi64>, !ssm.kv_cache<2x8xbf16>, tensor<32x16xbf16>,
         tensor<16x16xbf16>, tensor<16x16xbf16>, tensor<16x32xbf16>) -> (tensor<1x3x16xbf16>, !ssm.kv_cache<2x8xbf16>)
  return %y, %kv1 : tensor<1x3x16xbf16>, !ssm.kv_cache<2x8xbf16>
}

// -----

// Dynamic batch and length; an f32 cache under a bf16 model stores the
// rounded bf16 keys and values widened to f32.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: tensor<?x?x2x1x4xf32>, {{.*}} -> (tensor<?x?x8xbf16>, tensor<?x?x2x1x4xf32>)
// CHECK: outs(%{{.*}} : tensor<?x?x2x1x4xf32>)
// CHECK-NEXT: ^bb0(%{{.*}}: bf16, %{{.*}}: bf16, %{{.*}}: f32):
// CHECK: arith.select {{.*}} : bf16
// CHECK-NEXT: arith.extf {{.*}} : bf16 to f32
// CHECK: scf.for
// CHECK: return {{.*}} : tensor<?x?x8xbf16>, tensor<?x?x2x1x4xf32>
// CHECK-NOT: ssm.attention
func.func @dynamic(%x: tensor<?x?x8xbf16>, %len: tensor<?xi32>, %pos: tensor<?xi64>,
                   %kv: !ssm.kv_cache<1x4xf32>, %q: tensor<8x8xbf16>, %k: tensor<4x8xbf16>,
                   %v: tensor<4x8xbf16>, %o: tensor<8x8xbf16>)
    -> (tensor<?x?x8xbf16>, !ssm.kv_cache<1x4xf32>) {
  %y, %kv1 = ssm.attention %x, lengths %len, positions %pos, cache %kv,
      weights(%q, %k, %v, %o) <heads = 2, kv_heads = 1, head_dim = 4, rope = <theta = 10000.0, dim = 4>>
      : (tensor<?x?x8xbf16>, tensor<?xi32>, tensor<?xi64>, !ssm.kv_cache<1x4xf32>, tensor<8x8xbf16>,
         tensor<4x8xbf16>, tensor<4x8xbf16>, tensor<8x8xbf16>) -> (tensor<?x?x8xbf16>, !ssm.kv_cache<1x4xf32>)
  return %y, %kv1 : tensor<?x?x8xbf16>, !ssm.kv_cache<1x4xf32>
}
