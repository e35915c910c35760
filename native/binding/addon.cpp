// The N-API entry point: validates arguments, starts workers, resolves promises. Nothing else.
#include <napi.h>

#include "addon-data.h"
#include "doc-session-wrap.h"
#include "model-wrap.h"
#include "session-wrap.h"

namespace sqnode {

namespace {

Napi::Value system_info(const Napi::CallbackInfo& info) {
    const sq::SystemInfo si = sq::system_info();
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("simd", si.simd);
    out.Set("hardwareThreads", si.hardware_threads);
    out.Set("availableMemory", static_cast<double>(si.available_memory));
    Napi::Object cuda = Napi::Object::New(info.Env());
    cuda.Set("compiled", si.cuda_compiled);
    cuda.Set("devices", si.cuda_devices);
    cuda.Set("device", si.cuda_device);
    out.Set("cuda", cuda);
    // The sparsities a new document pack is calibrated for (a loaded pack reports its own).
    const std::vector<float> ladder = sq::IngestParams{}.calibration.targets;
    Napi::Array sparsities = Napi::Array::New(info.Env(), ladder.size());
    for (size_t i = 0; i < ladder.size(); ++i) sparsities.Set(static_cast<uint32_t>(i), static_cast<double>(ladder[i]));
    out.Set("squeezeSparsities", sparsities);
    return out;
}

} // namespace

} // namespace sqnode

static Napi::Object init_addon(Napi::Env env, Napi::Object exports) {
    using namespace sqnode;
    auto* data = new AddonData();
    data->model_class = Napi::Persistent(ModelWrap::define(env));
    data->session_class = Napi::Persistent(SessionWrap::define(env));
    data->doc_session_class = Napi::Persistent(DocSessionWrap::define(env));
    env.SetInstanceData(data);
    exports.Set("loadModel", Napi::Function::New(env, ModelWrap::load, "loadModel"));
    exports.Set("systemInfo", Napi::Function::New(env, system_info, "systemInfo"));
    return exports;
}

NODE_API_MODULE(squeeze, init_addon)
