#pragma once
/// The path from a parsed set request (hmi::SetRequest, already validated by
/// the API) to the controller's parameters. Its own file so that the API's
/// fuzz target (fuzz/fuzz_api.cpp) runs it with the controller's validate().
#include <optional>

#include "soleus/controller/types.hpp"
#include "soleus/hmi/backend.hpp"

namespace soleus::app {

/// The controller's parameters of a validated set request (nullopt: unknown mode).
std::optional<controller::SetParams> to_params(const hmi::SetRequest& q);

}  // namespace soleus::app
