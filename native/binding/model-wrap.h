// JS class NativeModel: a loaded GGUF model. Created by the async `loadModel(path)`.
#pragma once

#include <napi.h>

#include <memory>

#include "squeeze.h"


namespace sqnode {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
public:
    static Napi::Function define(Napi::Env env);
    // loadModel(path: string): Promise<NativeModel>
    static Napi::Value load(const Napi::CallbackInfo& info);

    explicit ModelWrap(const Napi::CallbackInfo& info);
    // Gives a freshly constructed NativeModel its engine model.
    static void adopt(Napi::Object obj, std::shared_ptr<sq::Model> model);

private:
    Napi::Value info(const Napi::CallbackInfo& info);
    Napi::Value metadata(const Napi::CallbackInfo& info);
    Napi::Value create_session(const Napi::CallbackInfo& info);
    Napi::Value create_doc_session(const Napi::CallbackInfo& info);
    Napi::Value fingerprint(const Napi::CallbackInfo& info);

    std::shared_ptr<sq::Model> model_;
};

} // namespace sqnode
