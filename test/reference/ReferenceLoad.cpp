//===- ReferenceLoad.cpp - Checkpoint directories for the reference -------===//

#include "test/reference/ReferenceLoad.h"

#include "frontends/checkpoint/Checkpoint.h"

using namespace ssmc::ref;
using llvm::Expected;
using llvm::StringRef;

namespace {

bool isFloat(ssmc::ckpt::DType t) {
  using ssmc::ckpt::DType;
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

Expected<Tensor> readTensor(const ssmc::ckpt::Checkpoint &ck, const ssmc::ckpt::TensorInfo &info) {
  Expected<std::vector<double>> data = ck.readAsF64(info);
  if (!data)
    return data.takeError();
  Tensor t;
  t.shape = info.shape;
  t.data = std::move(*data);
  return t;
}

} // namespace

Expected<Weights> ssmc::ref::loadCheckpoint(StringRef dir) {
  auto ck = ssmc::ckpt::Checkpoint::openDirectory(dir);
  if (!ck)
    return ck.takeError();
  Weights w;
  for (const ssmc::ckpt::TensorInfo &info : (*ck)->tensors()) {
    if (!isFloat(info.dtype))
      continue;
    Expected<Tensor> t = readTensor(**ck, info);
    if (!t)
      return t.takeError();
    w[info.name] = std::move(*t);
  }
  return w;
}

Expected<Model> ssmc::ref::loadModel(StringRef dir) {
  Expected<Config> cfg = parseConfigDir(dir);
  if (!cfg)
    return cfg.takeError();
  auto ck = ssmc::ckpt::Checkpoint::openDirectory(dir);
  if (!ck)
    return ck.takeError();
  auto source = [&](StringRef name, llvm::ArrayRef<int64_t> shape) -> Expected<Tensor> {
    const ssmc::ckpt::TensorInfo *info = (*ck)->find(name);
    if (!info)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "missing tensor '" + name.str() + "' (the model needs shape " +
                                         shapeString(shape) + ") in checkpoint " + dir.str());
    if (!isFloat(info->dtype))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "tensor '" + name.str() + "' has element type " +
                                         ssmc::ckpt::dtypeName(info->dtype).str() +
                                         ", expected a floating-point type");
    if (info->shape != shape.vec()) // checked again by the model; avoids converting a wrong tensor
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "tensor '" + name.str() + "' has shape " + shapeString(info->shape) +
                                         " but the model needs " + shapeString(shape));
    return readTensor(**ck, *info);
  };
  return Model::create(*cfg, source);
}
