func.func @f() {
  %0 = ssm.weight "" : tensor<4xf32>
  return
}
