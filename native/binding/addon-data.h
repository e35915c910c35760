// Per-environment state of the addon: the JS classes it constructs from C++.
#pragma once

#include <napi.h>

namespace sqnode {

struct AddonData {
    Napi::FunctionReference model_class;
    Napi::FunctionReference session_class;
    Napi::FunctionReference doc_session_class;
};

} // namespace sqnode
