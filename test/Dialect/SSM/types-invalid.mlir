// Parse and verification errors of the ssm types.
// RUN: ssmc-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{expected 2 dimensions, got 3}}
func.func private @f(%a: !ssm.conv_state<8x4x2xf32>)

// -----

// expected-error @+1 {{expected 3 dimensions, got 2}}
func.func private @f(%a: !ssm.ssm_state<4x16xf32>)

// -----

// expected-error @+1 {{kv_cache dimensions must be positive}}
func.func private @f(%a: !ssm.kv_cache<8x0xf32>)

// -----

// expected-error @+1 {{ssm_state element type must be a float type, got 'i32'}}
func.func private @f(%a: !ssm.ssm_state<4x16x16xi32>)

// -----

// expected-error @+1 {{conv_state element type must be a float type, got 'index'}}
func.func private @f(%a: !ssm.conv_state<8x4xindex>)

// -----

// expected-error @+1 {{qweight must be a matrix (N x K), got rank 3}}
func.func private @f(%a: !ssm.qweight<8x64x2xi4, group = 32, scale = f16, zero_point = none, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{qweight supports 4- and 8-bit elements, got 3}}
func.func private @f(%a: !ssm.qweight<8x64xi3, group = 32, scale = f16, zero_point = none, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{qweight group (48) must divide K (64)}}
func.func private @f(%a: !ssm.qweight<8x64xi4, group = 48, scale = f16, zero_point = none, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{qweight scale must be a float type, got 'i16'}}
func.func private @f(%a: !ssm.qweight<8x64xi4, group = 32, scale = i16, zero_point = none, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{4-bit qweight needs packing = nibbles_lo_first}}
func.func private @f(%a: !ssm.qweight<8x64xi4, group = 32, scale = f16, zero_point = none, packing = none>)

// -----

// expected-error @+1 {{8-bit qweight needs packing = none}}
func.func private @f(%a: !ssm.qweight<8x64xi8, group = 32, scale = f16, zero_point = none, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{4-bit qweight needs an even group size}}
func.func private @f(%a: !ssm.qweight<8x63xi4, group = 63, scale = f16, zero_point = none, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{unknown zero_point 'affine' (expected none, integer or float)}}
func.func private @f(%a: !ssm.qweight<8x64xi4, group = 32, scale = f16, zero_point = affine, packing = nibbles_lo_first>)

// -----

// expected-error @+1 {{unknown packing 'interleaved' (expected none or nibbles_lo_first)}}
func.func private @f(%a: !ssm.qweight<8x64xi4, group = 32, scale = f16, zero_point = none, packing = interleaved>)

// -----

// expected-error @+1 {{qweight storage must be an integer type, got 'f16'}}
func.func private @f(%a: !ssm.qweight<8x64xf16, group = 32, scale = f16, zero_point = none, packing = none>)
