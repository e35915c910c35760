#include "tensor-type.h"

namespace sq {

TensorTypeTraits tensor_type_traits(uint32_t type_id) {
    switch (static_cast<TensorType>(type_id)) {
        case TensorType::F32:  return {"F32", 1, 4, true};
        case TensorType::F16:  return {"F16", 1, 2, true};
        case TensorType::BF16: return {"BF16", 1, 2, true};
        case TensorType::Q4_0: return {"Q4_0", 32, 18, true};
        case TensorType::Q4_1: return {"Q4_1", 32, 20, true};
        case TensorType::Q5_0: return {"Q5_0", 32, 22, true};
        case TensorType::Q5_1: return {"Q5_1", 32, 24, true};
        case TensorType::Q8_0: return {"Q8_0", 32, 34, true};
        case TensorType::Q8_1: return {"Q8_1", 32, 36, false};
        case TensorType::Q2_K: return {"Q2_K", 256, 84, false};
        case TensorType::Q3_K: return {"Q3_K", 256, 110, false};
        case TensorType::Q4_K: return {"Q4_K", 256, 144, true};
        case TensorType::Q5_K: return {"Q5_K", 256, 176, true};
        case TensorType::Q6_K: return {"Q6_K", 256, 210, true};
        case TensorType::Q8_K: return {"Q8_K", 256, 292, false};
    }
    return {nullptr, 0, 0, false};
}

} // namespace sq
